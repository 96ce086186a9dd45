//! The storage backend seam: how image trees are created, snapshotted, marked read-only, measured
//! and limited on a particular filesystem.
//!
//! Every method has a default that answers [`BackendError::Unsupported`], so a backend implements
//! only what its filesystem can do and the store falls back to plain directory operations for the
//! rest.

use std::io;
use std::path::{Path, PathBuf};

/// What a backend created for a new image tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreeKind {
    /// A plain directory.
    Directory,
    /// A native sub-filesystem (a btrfs subvolume).
    Subvolume,
}

/// Space accounting of one image tree, when the filesystem keeps it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub referenced: u64,
    pub exclusive: u64,
    pub limit: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The backend cannot do this here; the reason names the filesystem or image.
    #[error("{0}")]
    Unsupported(String),
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

impl BackendError {
    pub fn io(op: &'static str, path: &Path, source: io::Error) -> Self {
        BackendError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// A filesystem-specific way of storing image trees. Paths given to the methods are absolute.
pub trait StorageBackend: Send + Sync {
    /// Short name for messages and `show-image` (e.g. "btrfs").
    fn name(&self) -> &'static str;

    /// Whether this backend manages trees stored in directory `dir`.
    fn probe(&self, dir: &Path) -> bool;

    /// Whether `path` is one of this backend's native trees (e.g. a btrfs subvolume).
    fn is_native_tree(&self, _path: &Path) -> bool {
        false
    }

    /// Create a new, empty native tree at `path` (its parent exists, `path` does not).
    fn create_tree(&self, path: &Path) -> Result<TreeKind, BackendError> {
        Err(BackendError::Unsupported(format!(
            "{} cannot create trees at {}",
            self.name(),
            path.display()
        )))
    }

    /// Make `dst` (which does not exist) a snapshot of native tree `src`, including nested
    /// native trees, read-only if asked.
    fn snapshot(&self, src: &Path, _dst: &Path, _read_only: bool) -> Result<(), BackendError> {
        Err(BackendError::Unsupported(format!(
            "{} cannot snapshot {}",
            self.name(),
            src.display()
        )))
    }

    /// Remove native tree `path` and every native tree nested in it.
    fn remove_tree(&self, path: &Path) -> Result<(), BackendError> {
        Err(BackendError::Unsupported(format!(
            "{} cannot remove {}",
            self.name(),
            path.display()
        )))
    }

    /// The native read-only flag of `path`.
    fn read_only(&self, path: &Path) -> Result<bool, BackendError> {
        Err(BackendError::Unsupported(format!(
            "{} has no read-only flag for {}",
            self.name(),
            path.display()
        )))
    }

    /// Set or clear the native read-only flag of `path`.
    fn set_read_only(&self, path: &Path, _read_only: bool) -> Result<(), BackendError> {
        Err(BackendError::Unsupported(format!(
            "{} has no read-only flag for {}",
            self.name(),
            path.display()
        )))
    }

    /// Space accounting of `path`; `Ok(None)` when the filesystem keeps none right now.
    fn usage(&self, _path: &Path) -> Result<Option<Usage>, BackendError> {
        Ok(None)
    }

    /// Limit the space `path` may reference (`None` removes the limit).
    fn set_limit(&self, path: &Path, _bytes: Option<u64>) -> Result<(), BackendError> {
        Err(BackendError::Unsupported(format!(
            "size limits are not supported by {} for {}",
            self.name(),
            path.display()
        )))
    }
}
