//! Errors of the core: a stable [`ErrorKind`], the image or path they concern, and the source.

use std::io;
use std::path::PathBuf;

/// Result with the core [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The stable classification of an [`Error`], for callers that branch on it (exit codes, tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidName,
    InvalidArgument,
    NotFound,
    Exists,
    Busy,
    ReadOnly,
    Unsupported,
    Cancelled,
    /// Input bytes (an archive, a download) are malformed, unsafe or fail verification.
    InvalidData,
    Io,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid image name {:?}: {reason}", shorten(name))]
    InvalidName { name: String, reason: &'static str },
    #[error("{0}")]
    InvalidArgument(String),
    #[error("image {0} not found")]
    NotFound(String),
    #[error("image {0} already exists")]
    Exists(String),
    #[error("image {0} is busy")]
    Busy(String),
    #[error("image {name} is read-only: {why}")]
    ReadOnly { name: String, why: &'static str },
    #[error("{op} is not supported: {why}")]
    Unsupported { op: &'static str, why: String },
    #[error("operation cancelled")]
    Cancelled,
    #[error("{0}")]
    InvalidData(String),
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

/// A name as error messages quote it: at most 64 characters, longer ones cut with "…" (a
/// 100 kB argument must not become a 100 kB error line).
fn shorten(name: &str) -> String {
    match name.char_indices().nth(64) {
        Some((at, _)) => format!("{}…", &name[..at]),
        None => name.to_string(),
    }
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidName { .. } => ErrorKind::InvalidName,
            Error::InvalidArgument(_) => ErrorKind::InvalidArgument,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::Exists(_) => ErrorKind::Exists,
            Error::Busy(_) => ErrorKind::Busy,
            Error::ReadOnly { .. } => ErrorKind::ReadOnly,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::Cancelled => ErrorKind::Cancelled,
            Error::InvalidData(_) => ErrorKind::InvalidData,
            Error::Io { .. } => ErrorKind::Io,
        }
    }

    /// An I/O error with the operation and path it concerns.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

impl From<wharf_fsops::FsError> for Error {
    fn from(e: wharf_fsops::FsError) -> Self {
        match e {
            wharf_fsops::FsError::Cancelled => Error::Cancelled,
            wharf_fsops::FsError::Io { op, path, source } => Error::Io { op, path, source },
        }
    }
}

impl From<crate::backend::BackendError> for Error {
    fn from(e: crate::backend::BackendError) -> Self {
        match e {
            crate::backend::BackendError::Unsupported(why) => Error::Unsupported {
                op: "operation",
                why,
            },
            crate::backend::BackendError::Io { op, path, source } => Error::Io { op, path, source },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_invalid_names_are_cut_in_the_message() {
        let e = Error::InvalidName {
            name: "n".repeat(100_000),
            reason: "name is longer than 200 bytes",
        };
        let msg = e.to_string();
        assert!(msg.len() < 120, "{msg}");
        assert!(msg.contains(&format!("{}…", "n".repeat(64))), "{msg}");
        let short = Error::InvalidName {
            name: "a/b".into(),
            reason: "name contains \"/\"",
        };
        assert_eq!(
            short.to_string(),
            "invalid image name \"a/b\": name contains \"/\""
        );
    }
}
