//! The one error type of the crate: a kind to match on and a lowercase message naming what was
//! wrong and why.

/// What went wrong, for callers that react differently (e.g. retry with another Accept header
/// on [`ErrorKind::UnsupportedMediaType`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// not JSON, or JSON of the wrong shape (missing or mistyped fields)
    Json,
    /// a digest string that is not `sha256:<64 hex>` or `sha512:<128 hex>` (lowercase)
    InvalidDigest,
    /// an image reference (`[host[:port]/]name[:tag][@digest]`) that breaks the grammar
    InvalidReference,
    /// a media type this crate knows but that is wrong in this place, or an unknown one where
    /// only known types are acceptable (layers, manifests)
    UnsupportedMediaType,
    /// `schemaVersion` other than 2, `rootfs.type` other than `layers`, Docker schema 1
    UnsupportedSchema,
    /// no index entry for the wanted platform
    NoMatchingPlatform,
    /// content whose digest differs from the one its descriptor names
    DigestMismatch,
    /// content whose size differs from the one its descriptor names
    SizeMismatch,
    /// `oci-layout` or docker-archive `manifest.json` content that cannot be used (bad version,
    /// unsafe paths)
    InvalidLayout,
    /// input larger than [`crate::MAX_MANIFEST_SIZE`]
    TooLarge,
}

/// An error with its [`ErrorKind`] and a one-line lowercase message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub kind: ErrorKind,
    message: String,
}

impl Error {
    /// builds an error; the message should name the thing and the reason, in lowercase.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// a JSON error for `what` (e.g. "image manifest"), keeping serde's line/column detail in
    /// the message (not as a source, so a printed chain does not repeat it).
    pub(crate) fn json(what: &str, err: serde_json::Error) -> Error {
        Error::new(ErrorKind::Json, format!("invalid {what}: {err}"))
    }
}

/// refuses input above [`crate::MAX_MANIFEST_SIZE`] before any parsing.
pub(crate) fn check_size(what: &str, bytes: &[u8]) -> Result<(), Error> {
    if bytes.len() > crate::MAX_MANIFEST_SIZE {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!(
                "{what} is {} bytes, more than the {} byte limit",
                bytes.len(),
                crate::MAX_MANIFEST_SIZE
            ),
        ));
    }
    Ok(())
}

/// parses `bytes` as a JSON object into `T` after the size check (serde would also fill a
/// struct from an array; the formats here are objects).
pub(crate) fn from_json<'a, T: serde::Deserialize<'a>>(
    what: &str,
    bytes: &'a [u8],
) -> Result<T, Error> {
    from_json_starting(what, bytes, b'{', "an object")
}

/// like [`from_json`] for a top-level JSON array.
pub(crate) fn from_json_array<'a, T: serde::Deserialize<'a>>(
    what: &str,
    bytes: &'a [u8],
) -> Result<T, Error> {
    from_json_starting(what, bytes, b'[', "an array")
}

fn from_json_starting<'a, T: serde::Deserialize<'a>>(
    what: &str,
    bytes: &'a [u8],
    open: u8,
    kind: &str,
) -> Result<T, Error> {
    check_size(what, bytes)?;
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|&b| b != open) {
        return Err(Error::new(
            ErrorKind::Json,
            format!("invalid {what}: expected {kind}"),
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| Error::json(what, e))
}
