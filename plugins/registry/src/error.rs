//! The error type of this crate: a kind to branch on and one lowercase line that names the
//! registry (or file) and the reason, fit to be printed after `wharf: `.

use std::io;
use std::path::Path;

/// What went wrong, coarsely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Bad argument (reference, options, layout tag).
    InvalidArgument,
    /// The registry has no such repository, manifest or blob.
    NotFound,
    /// Authentication failed or is required (401, token server refused).
    Unauthorized,
    /// Authenticated but not allowed (403 / DENIED).
    Denied,
    /// Rate limited (429 / TOOMANYREQUESTS) beyond the retry budget.
    TooManyRequests,
    /// The registry answered something malformed or unverifiable (digest, size, media type).
    InvalidData,
    /// Connect, TLS, timeout or a broken transfer, beyond the retry budget.
    Network,
    /// Plain http or an unverifiable certificate would be needed (and `insecure` is off).
    Insecure,
    /// Any other unexpected HTTP status.
    Http,
    /// Local file system error (the blob cache or the layout).
    Io,
    /// The cancel flag was raised.
    Cancelled,
}

/// A registry client error: kind plus a one-line message.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub kind: ErrorKind,
    message: String,
    #[source]
    source: Option<io::Error>,
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            source: None,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// `{op} {path}: {source}` for a local file system failure.
    pub(crate) fn io(op: &str, path: &Path, source: io::Error) -> Error {
        Error {
            kind: ErrorKind::Io,
            message: format!("{op} {}: {source}", path.display()),
            source: Some(source),
        }
    }

    pub(crate) fn cancelled() -> Error {
        Error::new(ErrorKind::Cancelled, "operation cancelled")
    }

    /// the same error with `prefix: ` in front of the message.
    pub(crate) fn context(mut self, prefix: impl std::fmt::Display) -> Error {
        self.message = format!("{prefix}: {}", self.message);
        self
    }

    /// Whether the same request could succeed later (network trouble, 5xx, 408, 429).
    pub(crate) fn is_transient(&self) -> bool {
        matches!(self.kind, ErrorKind::Network | ErrorKind::TooManyRequests)
    }
}

impl From<wharf_oci_format::Error> for Error {
    fn from(e: wharf_oci_format::Error) -> Error {
        let kind = match e.kind() {
            wharf_oci_format::ErrorKind::InvalidReference => ErrorKind::InvalidArgument,
            _ => ErrorKind::InvalidData,
        };
        Error::new(kind, e.message())
    }
}

impl From<Error> for wharf_core::Error {
    fn from(e: Error) -> wharf_core::Error {
        match e.kind {
            ErrorKind::Cancelled => wharf_core::Error::Cancelled,
            ErrorKind::InvalidArgument => wharf_core::Error::InvalidArgument(e.message),
            _ => wharf_core::Error::InvalidData(e.message),
        }
    }
}
