//! `rm -rf` that never follows symlinks, never crosses mounts, and clears immutable and
//! append-only inode flags where they would block removal.

use std::ffi::{CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{openat, unlinkat, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::error::Context;
use crate::flags::clear_immutable_append;
use crate::walk::{
    file_type, fstatx, lstatx, open_dir_at, open_dir_path, read_names, DirHandle, Frame, MountRef,
    Window,
};
use crate::FsError;

struct RmFrame {
    dir: DirHandle,
    names: std::vec::IntoIter<CString>,
    /// Name of this directory in its parent.
    name: CString,
}

impl Frame for RmFrame {
    fn close(&mut self) {
        self.dir.close();
    }

    fn reopen_from(&mut self, child: &Self) -> rustix::io::Result<()> {
        self.dir.reopen_from(&child.dir)
    }
}

/// Remove `path` and everything below it, like `rm -rf`, without following symlinks or
/// crossing mounts (a mount point inside the tree makes the removal fail with EBUSY; a `path`
/// that is itself a mount point is refused with EBUSY before anything is removed). Clears
/// `FS_IMMUTABLE_FL`/`FS_APPEND_FL` on the top directory and on any inner directory or
/// regular file that needs to change. A missing `path` is Ok.
pub fn remove_tree(path: &Path) -> Result<(), FsError> {
    let name = path.file_name().ok_or_else(|| {
        FsError::io(
            "remove",
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "path has no final component",
            ),
        )
    })?;
    let name = CString::new(name.as_bytes()).map_err(|e| FsError::io("remove", path, e))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let parent_fd = match open_dir_path(parent) {
        Err(Errno::NOENT) => return Ok(()),
        r => r.ctx("open", || parent)?,
    };
    remove_tree_at(parent_fd.as_fd(), &name, path)
}

/// [`remove_tree`] of the entry `name` of the directory `parent` (`name` is never followed:
/// a symlink is unlinked). `path` names the entry in errors. A missing `name` is Ok.
pub fn remove_tree_at(parent_fd: BorrowedFd<'_>, name: &CStr, path: &Path) -> Result<(), FsError> {
    let name = name.to_owned();
    let st = match lstatx(parent_fd, &name) {
        Err(Errno::NOENT) => return Ok(()),
        r => r.ctx("statx", || path)?,
    };
    let ft = file_type(&st);
    if ft != FileType::Directory {
        return remove_file(parent_fd, &name, ft).ctx("unlink", || path);
    }
    let parent_st = fstatx(parent_fd).ctx("statx", || path)?;
    if MountRef::of(&parent_st).is_other(&st) {
        return Err(FsError::io("remove (mount point)", path, Errno::BUSY));
    }

    let top = open_dir_at(parent_fd, &name).ctx("open", || path)?;
    clear_immutable_append(top.as_fd()).ctx("clear inode flags", || path)?;
    let top_st = fstatx(top.as_fd()).ctx("statx", || path)?;
    let mount = MountRef::of(&top_st);
    let names = read_names(top.as_fd()).ctx("readdir", || path)?;
    let mut frames = vec![RmFrame {
        dir: DirHandle::new(top, &top_st),
        names: names.into_iter(),
        name,
    }];
    let mut window = Window::default();
    let mut rel = PathBuf::new();
    let here = |rel: &Path, name: &CStr| path.join(rel).join(OsStr::from_bytes(name.to_bytes()));

    while let Some(top) = frames.last_mut() {
        if let Some(entry) = top.names.next() {
            let dir = top.dir.fd();
            let st = match lstatx(dir, &entry) {
                Err(Errno::NOENT) => continue,
                r => r.ctx("statx", || here(&rel, &entry))?,
            };
            let ft = file_type(&st);
            if ft != FileType::Directory {
                remove_file(dir, &entry, ft).ctx("unlink", || here(&rel, &entry))?;
                continue;
            }
            if mount.is_other(&st) {
                return Err(FsError::io(
                    "remove (mount point)",
                    here(&rel, &entry),
                    Errno::BUSY,
                ));
            }
            let fd = open_dir_at(dir, &entry).ctx("open", || here(&rel, &entry))?;
            clear_immutable_append(fd.as_fd()).ctx("clear inode flags", || here(&rel, &entry))?;
            let st = fstatx(fd.as_fd()).ctx("statx", || here(&rel, &entry))?;
            let names = read_names(fd.as_fd()).ctx("readdir", || here(&rel, &entry))?;
            rel.push(OsStr::from_bytes(entry.to_bytes()));
            frames.push(RmFrame {
                dir: DirHandle::new(fd, &st),
                names: names.into_iter(),
                name: entry,
            });
            window.pushed(&mut frames);
            continue;
        }
        window
            .popping(&mut frames)
            .ctx("reopen parent directory", || path.join(&rel))?;
        let done = frames.pop().expect("stack is not empty");
        rel.pop();
        let parent_dir = frames.last().map_or(parent_fd, |f| f.dir.fd());
        match unlinkat(parent_dir, &done.name, AtFlags::REMOVEDIR) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(e) => return Err(FsError::io("rmdir", here(&rel, &done.name), e)),
        }
    }
    Ok(())
}

/// Unlink a non-directory; if that fails with EPERM and it is a regular file, clear its
/// immutable/append-only flags and retry.
fn remove_file(dir: BorrowedFd<'_>, name: &CStr, ft: FileType) -> std::io::Result<()> {
    match unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(Errno::PERM) if ft == FileType::RegularFile => {
            let fd: OwnedFd = openat(
                dir,
                name,
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            if !clear_immutable_append(fd.as_fd())? {
                return Err(Errno::PERM.into());
            }
            drop(fd);
            Ok(unlinkat(dir, name, AtFlags::empty())?)
        }
        Err(e) => Err(e.into()),
    }
}
