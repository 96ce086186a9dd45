//! The error type of every operation of this crate.

use std::path::PathBuf;

/// An error from a tree operation: which syscall-level operation failed on which path, or
/// cancellation.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// An I/O operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// Short name of the operation (`"open"`, `"mknod"`, `"setxattr"` …).
        op: &'static str,
        /// The path the operation was applied to.
        path: PathBuf,
        /// The underlying OS error (part of the message, so not also reported as a source:
        /// error chains print it once).
        source: std::io::Error,
    },
    /// The cancel flag of [`crate::CopyOptions`] was set.
    #[error("copy cancelled")]
    Cancelled,
}

impl FsError {
    /// The [`std::io::ErrorKind`] of an I/O error; `None` for [`FsError::Cancelled`].
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            FsError::Io { source, .. } => Some(source.kind()),
            FsError::Cancelled => None,
        }
    }

    /// The raw `errno` of an I/O error, if it came from the OS.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            FsError::Io { source, .. } => source.raw_os_error(),
            FsError::Cancelled => None,
        }
    }

    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
        err: impl Into<std::io::Error>,
    ) -> Self {
        FsError::Io {
            op,
            path: path.into(),
            source: err.into(),
        }
    }
}

/// Extension to attach an operation name and a (lazily built) path to a rustix result.
pub(crate) trait Context<T> {
    fn ctx<P: Into<PathBuf>>(
        self,
        op: &'static str,
        path: impl FnOnce() -> P,
    ) -> Result<T, FsError>;
}

impl<T, E: Into<std::io::Error>> Context<T> for Result<T, E> {
    fn ctx<P: Into<PathBuf>>(
        self,
        op: &'static str,
        path: impl FnOnce() -> P,
    ) -> Result<T, FsError> {
        self.map_err(|e| FsError::io(op, path(), e))
    }
}
