//! The btrfs storage backend: new images are subvolumes, clones are (recursive) snapshots,
//! read-only is the subvolume flag, and size limits are qgroup limits, with quotas enabled only
//! when a limit is asked for (implicit quotas stall hosts with many snapshots, systemd#41903).
//!
//! All ioctls come from `wharf-sys`; this crate only decides which to issue.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use wharf_core::{BackendError, StorageBackend, TreeKind, Usage};
use wharf_sys::btrfs;

/// The btrfs backend. Stateless; every call works from paths.
#[derive(Debug, Default, Clone, Copy)]
pub struct Btrfs;

impl StorageBackend for Btrfs {
    fn name(&self) -> &'static str {
        "btrfs"
    }

    fn probe(&self, dir: &Path) -> bool {
        File::open(dir)
            .and_then(|f| btrfs::is_btrfs(f.as_fd()))
            .unwrap_or(false)
    }

    fn is_native_tree(&self, path: &Path) -> bool {
        File::open(path)
            .and_then(|f| btrfs::is_subvolume(f.as_fd()))
            .unwrap_or(false)
    }

    fn create_tree(&self, path: &Path) -> Result<TreeKind, BackendError> {
        let (parent, name) = split(path)?;
        let dir = open(&parent)?;
        match btrfs::subvol_create(dir.as_fd(), name) {
            Ok(()) => Ok(TreeKind::Subvolume),
            Err(e) if not_btrfs(&e) => Err(BackendError::Unsupported(format!(
                "{} is not on btrfs",
                parent.display()
            ))),
            Err(e) => Err(BackendError::io("create subvolume", path, e)),
        }
    }

    fn snapshot(&self, src: &Path, dst: &Path, read_only: bool) -> Result<(), BackendError> {
        let source = open(src)?;
        let children = btrfs::child_subvolumes(source.as_fd())
            .map_err(|e| BackendError::io("list nested subvolumes", src, e))?;
        let (parent, name) = split(dst)?;
        let dst_parent = open(&parent)?;
        let top_ro = read_only && children.is_empty();
        btrfs::snapshot(source.as_fd(), dst_parent.as_fd(), name, top_ro)
            .map_err(|e| snapshot_error(src, e))?;
        if children.is_empty() {
            return Ok(());
        }
        // Nested subvolumes appear as empty directories in a snapshot: replace each by a
        // snapshot of the original, parents first, all writable until the end.
        let result = (|| {
            let mut make_ro = Vec::new();
            for child in &children {
                let placeholder = dst.join(&child.path);
                std::fs::remove_dir(&placeholder)
                    .map_err(|e| BackendError::io("remove placeholder", &placeholder, e))?;
                let child_src = open(&src.join(&child.path))?;
                let was_ro = btrfs::subvol_read_only(child_src.as_fd())
                    .map_err(|e| BackendError::io("get subvolume flags", &child.path, e))?;
                let (cparent, cname) = split(&placeholder)?;
                let cdir = open(&cparent)?;
                btrfs::snapshot(child_src.as_fd(), cdir.as_fd(), cname, false)
                    .map_err(|e| snapshot_error(&src.join(&child.path), e))?;
                if was_ro || read_only {
                    make_ro.push(placeholder);
                }
            }
            if read_only {
                make_ro.push(dst.to_path_buf());
            }
            // Deepest first, so no parent is read-only while a child still changes.
            make_ro.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
            for p in make_ro {
                self.set_read_only(&p, true)?;
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = self.remove_tree(dst);
        }
        result
    }

    fn remove_tree(&self, path: &Path) -> Result<(), BackendError> {
        let top = open(path)?;
        let children = btrfs::child_subvolumes(top.as_fd())
            .map_err(|e| BackendError::io("list nested subvolumes", path, e))?;
        let quota = btrfs::quota_enabled(top.as_fd()).unwrap_or(false);
        // Deleting entries needs every containing subvolume writable.
        self.set_read_only(path, false)?;
        for child in &children {
            self.set_read_only(&path.join(&child.path), false)?;
        }
        for child in children.iter().rev() {
            destroy(&path.join(&child.path), quota.then_some(child.id))?;
        }
        let id = btrfs::subvol_id(top.as_fd()).ok();
        drop(top);
        destroy(path, if quota { id } else { None })
    }

    fn read_only(&self, path: &Path) -> Result<bool, BackendError> {
        let f = open(path)?;
        btrfs::subvol_read_only(f.as_fd())
            .map_err(|e| BackendError::io("get subvolume flags", path, e))
    }

    fn set_read_only(&self, path: &Path, read_only: bool) -> Result<(), BackendError> {
        let f = open(path)?;
        btrfs::set_subvol_read_only(f.as_fd(), read_only)
            .map_err(|e| BackendError::io("set subvolume read-only flag", path, e))
    }

    fn usage(&self, path: &Path) -> Result<Option<Usage>, BackendError> {
        let f = open(path)?;
        if !btrfs::quota_enabled(f.as_fd()).unwrap_or(false) {
            return Ok(None);
        }
        let id =
            btrfs::subvol_id(f.as_fd()).map_err(|e| BackendError::io("subvolume id", path, e))?;
        let info = btrfs::qgroup_info(f.as_fd(), id)
            .map_err(|e| BackendError::io("read qgroup", path, e))?;
        Ok(info.map(|q| Usage {
            referenced: q.referenced,
            exclusive: q.exclusive,
            limit: q.max_referenced,
        }))
    }

    fn set_limit(&self, path: &Path, bytes: Option<u64>) -> Result<(), BackendError> {
        let f = open(path)?;
        let id =
            btrfs::subvol_id(f.as_fd()).map_err(|e| BackendError::io("subvolume id", path, e))?;
        // Issue the quota ioctls from the parent: their transaction is charged to the qgroup of
        // the fd's subvolume, so from inside a full subvolume even lifting its limit fails EDQUOT.
        let parent = path.parent().map(open).transpose()?;
        let fd = parent.as_ref().unwrap_or(&f).as_fd();
        if !btrfs::quota_enabled(fd).map_err(|e| BackendError::io("query quota", path, e))? {
            btrfs::quota_enable(fd).map_err(|e| BackendError::io("enable quota", path, e))?;
        }
        btrfs::qgroup_set_limit(fd, id, bytes)
            .map_err(|e| BackendError::io("set qgroup limit", path, e))
    }
}

/// Destroy subvolume `path` (which has no nested subvolumes left), and its qgroup if given.
fn destroy(path: &Path, qgroup: Option<u64>) -> Result<(), BackendError> {
    let (parent, name) = split(path)?;
    let dir = open(&parent)?;
    btrfs::subvol_destroy(dir.as_fd(), name)
        .map_err(|e| BackendError::io("delete subvolume", path, e))?;
    if let Some(id) = qgroup {
        // Drop the level-0 qgroup of the deleted subvolume. Best effort: right after the delete
        // the kernel answers EBUSY until its cleaner ran, and later removes it by itself (ENOENT).
        let _ = btrfs::qgroup_destroy(dir.as_fd(), id);
    }
    Ok(())
}

fn open(path: &Path) -> Result<File, BackendError> {
    File::open(path).map_err(|e| BackendError::io("open", path, e))
}

fn split(path: &Path) -> Result<(PathBuf, &OsStr), BackendError> {
    match (path.parent(), path.file_name()) {
        (Some(p), Some(n)) => Ok((p.to_path_buf(), n)),
        _ => Err(BackendError::Unsupported(format!(
            "{} has no parent directory",
            path.display()
        ))),
    }
}

fn not_btrfs(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(code) if code == rustix_errno::NOTTY || code == rustix_errno::OPNOTSUPP)
}

fn snapshot_error(src: &Path, e: io::Error) -> BackendError {
    if not_btrfs(&e) || e.raw_os_error() == Some(rustix_errno::XDEV) {
        BackendError::Unsupported(format!("cannot snapshot {} here", src.display()))
    } else {
        BackendError::io("snapshot", src, e)
    }
}

/// The errno values this crate distinguishes (Linux numbers).
mod rustix_errno {
    pub const NOTTY: i32 = 25;
    pub const XDEV: i32 = 18;
    pub const OPNOTSUPP: i32 = 95;
}
