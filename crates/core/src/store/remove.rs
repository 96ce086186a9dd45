//! Removing entries and changing their read-only marking: the primitives behind remove,
//! rename, read-only, clean and `--force` replacement.

use std::fs::{self, File};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::staging::file_name_of;
use super::Store;
use crate::backend::BackendError;
use crate::error::{Error, Result};
use crate::image::ImageType;
use crate::util::random_hex16;

impl Store {
    /// Delete `path` whatever it is: a native tree through its backend (nested trees too), a
    /// directory (clearing immutable flags), or a file, symlink or device node. Missing = done.
    pub(crate) fn remove_entry(&self, path: &Path) -> Result<()> {
        let meta = match fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io("stat", path, e)),
        };
        if !meta.is_dir() {
            return fs::remove_file(path).map_err(|e| Error::io("remove", path, e));
        }
        if let Some(b) = self.backend_for(path.parent().unwrap_or(path)) {
            if b.is_native_tree(path) {
                match b.remove_tree(path) {
                    Ok(()) => return Ok(()),
                    Err(BackendError::Unsupported(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(wharf_fsops::remove_tree(path)?)
    }

    /// Clear what would make renaming `path` fail (the immutable flag of a directory).
    pub(crate) fn prepare_for_rename(&self, path: &Path) -> Result<()> {
        let meta = fs::symlink_metadata(path).map_err(|e| Error::io("stat", path, e))?;
        if meta.is_dir() {
            set_immutable(path, false)?;
        }
        Ok(())
    }

    /// Move `path` out of sight to `.#NAME<hex>` in its directory (so a crash during deletion
    /// leaves no half image listed) and return the new path.
    pub(crate) fn hide(&self, path: &Path, name: &str) -> Result<PathBuf> {
        self.prepare_for_rename(path)?;
        let dir = path.parent().unwrap_or(Path::new("/"));
        let hidden = dir.join(format!(".#{name}{}", random_hex16()));
        let d = File::open(dir).map_err(|e| Error::io("open", dir, e))?;
        wharf_sys::fs::rename_noreplace(
            d.as_fd(),
            file_name_of(path).as_ref(),
            d.as_fd(),
            file_name_of(&hidden).as_ref(),
        )
        .map_err(|e| Error::io("rename", path, e))?;
        Ok(hidden)
    }

    /// Mark the image at `path` read-only or writable the way systemd does for its type.
    pub(crate) fn mark_read_only(&self, path: &Path, kind: ImageType, ro: bool) -> Result<()> {
        match kind {
            ImageType::Subvolume => {
                let parent = path.parent().unwrap_or(path);
                match self.backend_for(parent) {
                    Some(b) => b.set_read_only(path, ro).map_err(Error::from),
                    None => set_immutable(path, ro),
                }
            }
            ImageType::Directory => set_immutable(path, ro),
            ImageType::Raw => {
                let meta = fs::metadata(path).map_err(|e| Error::io("stat", path, e))?;
                let mode = meta.permissions().mode() & 0o7777;
                let new = if ro { mode & !0o222 } else { mode | 0o200 };
                fs::set_permissions(path, fs::Permissions::from_mode(new))
                    .map_err(|e| Error::io("chmod", path, e))
            }
            ImageType::Block => {
                let meta = fs::metadata(path).map_err(|e| Error::io("stat", path, e))?;
                if !meta.file_type().is_block_device() {
                    return Err(Error::InvalidArgument(format!(
                        "{} is not a block device",
                        path.display()
                    )));
                }
                let f = File::open(path).map_err(|e| Error::io("open", path, e))?;
                wharf_sys::blkdev::set_read_only(f.as_fd(), ro)
                    .map_err(|e| Error::io("set block device read-only", path, e))
            }
        }
    }
}

/// Set or clear FS_IMMUTABLE_FL on directory `path`. Filesystems without inode flags
/// (tmpfs, overlayfs) get a clear error, not a silent success.
pub(crate) fn set_immutable(path: &Path, on: bool) -> Result<()> {
    let f = File::open(path).map_err(|e| Error::io("open", path, e))?;
    match wharf_sys::fsflags::set_immutable(f.as_fd(), on) {
        Ok(()) => Ok(()),
        Err(e) if !on && is_unsupported(&e) => Ok(()),
        Err(e) if is_unsupported(&e) => Err(Error::Unsupported {
            op: "marking a directory read-only",
            why: format!(
                "{} does not support the immutable flag ({})",
                crate::util::fs_name(path),
                path.display()
            ),
        }),
        Err(e) => Err(Error::io("set immutable flag", path, e)),
    }
}

fn is_unsupported(e: &std::io::Error) -> bool {
    use rustix::io::Errno;
    let raw = e.raw_os_error();
    [Errno::NOTTY, Errno::OPNOTSUPP, Errno::INVAL]
        .iter()
        .any(|n| raw == Some(n.raw_os_error()))
}
