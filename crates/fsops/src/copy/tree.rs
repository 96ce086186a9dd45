//! The iterative tree walk of [`super::copy_tree`].

use std::collections::HashMap;
use std::ffi::{CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::Statx;
use rustix::io::Errno;

use super::file::DataCopier;
use super::meta::{self, Node};
use super::{CopyOptions, CopyStats};
use crate::error::Context;
use crate::walk::{
    fstatx, inode_key, join, open_dir_path, read_names, DirHandle, Frame, InodeKey, MountRef,
    Window,
};
use crate::FsError;

/// One directory being copied.
pub(super) struct CopyFrame {
    pub(super) src: DirHandle,
    pub(super) dst: DirHandle,
    pub(super) names: std::vec::IntoIter<CString>,
    /// Metadata of the source directory, applied to the destination when it is done.
    pub(super) st: Statx,
}

impl Frame for CopyFrame {
    fn close(&mut self) {
        self.src.close();
        self.dst.close();
    }

    fn reopen_from(&mut self, child: &Self) -> rustix::io::Result<()> {
        self.src.reopen_from(&child.src)?;
        self.dst.reopen_from(&child.dst)
    }
}

/// State of one `copy_tree` call.
pub(super) struct TreeCopy<'o, 'a> {
    pub(super) src_root: &'o Path,
    pub(super) dst_root: &'o Path,
    /// Path of the current directory relative to both roots.
    pub(super) rel: PathBuf,
    pub(super) mount: MountRef,
    /// Kept open for `linkat()` of hardlinks relative to the destination root.
    pub(super) dst_root_fd: OwnedFd,
    pub(super) dst_root_key: InodeKey,
    /// Source inode of multiply-linked non-directories → first destination path (relative).
    pub(super) links: HashMap<InodeKey, PathBuf>,
    pub(super) data: DataCopier<'o, 'a>,
    pub(super) stats: CopyStats,
    pub(super) proc_ok: bool,
}

impl TreeCopy<'_, '_> {
    pub(super) fn src_path(&self, name: &CStr) -> PathBuf {
        join(&self.src_root.join(&self.rel), name)
    }

    pub(super) fn dst_path(&self, name: &CStr) -> PathBuf {
        join(&self.dst_root.join(&self.rel), name)
    }

    fn src_dir(&self) -> PathBuf {
        self.src_root.join(&self.rel)
    }

    fn dst_dir(&self) -> PathBuf {
        self.dst_root.join(&self.rel)
    }

    /// Apply the source directory's metadata to the finished destination directory.
    fn finish_dir(&self, frame: &CopyFrame, is_root: bool) -> Result<(), FsError> {
        meta::apply_fd(frame.src.fd(), frame.dst.fd(), &frame.st, is_root)
            .map_err(|e| e.into_fs(|| self.src_dir(), || self.dst_dir()))
    }
}

pub(super) fn run(src: &Path, dst: &Path, opts: &CopyOptions) -> Result<CopyStats, FsError> {
    let src_fd = open_dir_path(src).ctx("open", || src)?;
    let src_st = fstatx(src_fd.as_fd()).ctx("statx", || src)?;
    let dst_fd = open_dir_path(dst).ctx("open", || dst)?;
    let dst_st = fstatx(dst_fd.as_fd()).ctx("statx", || dst)?;
    let dst_root_fd = dst_fd.try_clone().ctx("dup", || dst)?;
    // A default ACL on the destination root would be inherited by every new entry; the root
    // gets the source's xattrs at the end anyway.
    meta::remove_xattr_if_present(&Node::Fd(dst_fd.as_fd()), c"system.posix_acl_default")
        .ctx("removexattr", || dst)?;

    let mut t = TreeCopy {
        src_root: src,
        dst_root: dst,
        rel: PathBuf::new(),
        mount: MountRef::of(&src_st),
        dst_root_fd,
        dst_root_key: inode_key(&dst_st),
        links: HashMap::new(),
        data: DataCopier::new(opts),
        stats: CopyStats::default(),
        proc_ok: meta::proc_fd_usable(),
    };
    t.data.check_cancel()?;
    let names = read_names(src_fd.as_fd()).ctx("readdir", || src)?;
    let mut frames = vec![CopyFrame {
        src: DirHandle::new(src_fd, &src_st),
        dst: DirHandle::new(dst_fd, &dst_st),
        names: names.into_iter(),
        st: src_st,
    }];
    let mut window = Window::default();
    while let Some(top) = frames.last_mut() {
        t.data.check_cancel()?;
        let next = top.names.next();
        if let Some(name) = next {
            if let Some(child) = t.entry(top.src.fd(), top.dst.fd(), &name)? {
                t.rel.push(OsStr::from_bytes(name.to_bytes()));
                frames.push(child);
                window.pushed(&mut frames);
            }
            continue;
        }
        let is_root = frames.len() == 1;
        t.finish_dir(frames.last().expect("stack is not empty"), is_root)?;
        window
            .popping(&mut frames)
            .map_err(|e| reopen_error(&t, e))?;
        frames.pop();
        t.rel.pop();
    }
    Ok(t.stats)
}

fn reopen_error(t: &TreeCopy<'_, '_>, e: Errno) -> FsError {
    let mut parent = t.src_dir();
    parent.pop();
    FsError::io("reopen parent directory", parent, e)
}
