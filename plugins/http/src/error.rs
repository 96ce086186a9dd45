//! The one error type of this crate. Every message is a single lowercase line that names the URL
//! or file concerned, fit to be printed after `wharf: `.

use std::io;
use std::path::PathBuf;

/// Why a pull failed.
#[derive(thiserror::Error, Debug)]
#[non_exhaustive]
pub enum PullError {
    /// The server (or the file system, for `file://`) has no such file.
    #[error("download of {url} failed: 404 not found")]
    NotFound { url: String },
    /// Any other unexpected HTTP status.
    #[error("download of {url} failed: {status} {}", reason_phrase(*.status))]
    Http { url: String, status: u16 },
    /// TLS handshake or certificate failure.
    #[error("tls error talking to {url}: {reason}")]
    Tls { url: String, reason: String },
    /// DNS, TCP connect, proxy or connect timeout failure.
    #[error("cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    /// The transfer broke off (and could not be resumed within the retry budget).
    #[error("download of {url} failed: {reason}")]
    Transfer { url: String, reason: String },
    /// A resume was impossible or unsafe (the server ignored `Range`, the file changed, …).
    #[error("download of {url} cannot be resumed: {reason}")]
    Resume { url: String, reason: String },
    /// The body ended before the announced `Content-Length`.
    #[error("download of {url} truncated: got {got} of {expected} bytes")]
    Truncated {
        url: String,
        got: u64,
        expected: u64,
    },
    /// A checksum list, signature or sidecar exceeded its size limit.
    #[error("download of {url} failed: larger than {max} bytes")]
    TooLarge { url: String, max: usize },
    /// Neither `<image>.sha256` nor `SHA256SUMS` exists.
    #[error("no checksum list for {url}: neither {per_file} nor {per_directory} exists (use --verify=no to skip verification)")]
    SumsNotFound {
        url: String,
        per_file: String,
        per_directory: String,
    },
    /// The image is not listed in the checksum list.
    #[error("{file} is not listed in {sums_url}")]
    ChecksumMissing { file: String, sums_url: String },
    /// A sidecar is not listed in the checksum list.
    #[error("sidecar {file} is not listed in {sums_url}")]
    SidecarNotListed { file: String, sums_url: String },
    /// The bytes do not have the expected SHA-256; `against` names where the expected value came
    /// from (`SHA256SUMS`, `foo.raw.sha256`, `--verify`).
    #[error("checksum of {url} does not match {against}")]
    ChecksumMismatch { url: String, against: String },
    /// No detached signature next to the checksum list.
    #[error("no signature for {sums_url}: tried {tried} (use --verify=checksum to skip the signature check)")]
    SignatureMissing { sums_url: String, tried: String },
    /// The signature does not verify against any key of the keyring.
    #[error("signature of {file} at {url} is invalid: {reason}")]
    SignatureInvalid {
        file: String,
        url: String,
        reason: String,
    },
    /// Signature verification was asked for but no keyring exists.
    #[error("no keyring for signature verification: create /etc/systemd/import-pubring.gpg or pass --keyring (or use --verify=checksum)")]
    NoKeyring,
    /// The keyring exists but cannot be read or holds no usable key.
    #[error("cannot use keyring {}: {reason}", .path.display())]
    Keyring { path: PathBuf, reason: String },
    /// Not an absolute http, https or file URL.
    #[error("invalid url: {0}")]
    InvalidUrl(String),
    /// Setting up the HTTP client failed.
    #[error("cannot set up the http client: {0}")]
    Client(String),
    /// Local I/O (file:// transport).
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

impl Clone for PullError {
    /// Clones everything; an [`PullError::Io`] source keeps its kind and message.
    fn clone(&self) -> Self {
        use PullError::*;
        match self {
            NotFound { url } => NotFound { url: url.clone() },
            Http { url, status } => Http {
                url: url.clone(),
                status: *status,
            },
            Tls { url, reason } => Tls {
                url: url.clone(),
                reason: reason.clone(),
            },
            Connect { url, reason } => Connect {
                url: url.clone(),
                reason: reason.clone(),
            },
            Transfer { url, reason } => Transfer {
                url: url.clone(),
                reason: reason.clone(),
            },
            Resume { url, reason } => Resume {
                url: url.clone(),
                reason: reason.clone(),
            },
            Truncated { url, got, expected } => Truncated {
                url: url.clone(),
                got: *got,
                expected: *expected,
            },
            TooLarge { url, max } => TooLarge {
                url: url.clone(),
                max: *max,
            },
            SumsNotFound {
                url,
                per_file,
                per_directory,
            } => SumsNotFound {
                url: url.clone(),
                per_file: per_file.clone(),
                per_directory: per_directory.clone(),
            },
            ChecksumMissing { file, sums_url } => ChecksumMissing {
                file: file.clone(),
                sums_url: sums_url.clone(),
            },
            SidecarNotListed { file, sums_url } => SidecarNotListed {
                file: file.clone(),
                sums_url: sums_url.clone(),
            },
            ChecksumMismatch { url, against } => ChecksumMismatch {
                url: url.clone(),
                against: against.clone(),
            },
            SignatureMissing { sums_url, tried } => SignatureMissing {
                sums_url: sums_url.clone(),
                tried: tried.clone(),
            },
            SignatureInvalid { file, url, reason } => SignatureInvalid {
                file: file.clone(),
                url: url.clone(),
                reason: reason.clone(),
            },
            NoKeyring => NoKeyring,
            Keyring { path, reason } => Keyring {
                path: path.clone(),
                reason: reason.clone(),
            },
            InvalidUrl(s) => InvalidUrl(s.clone()),
            Client(s) => Client(s.clone()),
            Io { context, source } => Io {
                context: context.clone(),
                source: io::Error::new(source.kind(), source.to_string()),
            },
        }
    }
}

impl PullError {
    /// Wraps this error into an `io::Error` (for `Read` implementations); [`pull_error`] gets it
    /// back.
    pub(crate) fn into_io(self) -> io::Error {
        let kind = match &self {
            PullError::ChecksumMismatch { .. } | PullError::Truncated { .. } => {
                io::ErrorKind::InvalidData
            }
            PullError::NotFound { .. } => io::ErrorKind::NotFound,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, self)
    }

    /// Whether retrying the same request later could succeed (network trouble, 5xx, 408, 429).
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            PullError::Connect { .. } | PullError::Transfer { .. } => true,
            PullError::Http { status, .. } => *status >= 500 || *status == 408 || *status == 429,
            _ => false,
        }
    }
}

/// The [`PullError`] inside an `io::Error` returned by [`crate::Download`]'s `read`, if any.
pub fn pull_error(err: &io::Error) -> Option<&PullError> {
    err.get_ref()?.downcast_ref::<PullError>()
}

fn reason_phrase(status: u16) -> String {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("unexpected status")
        .to_lowercase()
}
