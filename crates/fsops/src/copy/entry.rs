//! Creating one destination entry of a tree copy.

use std::ffi::CStr;

use rustix::fd::{AsFd, BorrowedFd};
use rustix::fs::{
    linkat, makedev, mkdirat, mknodat, readlinkat, symlinkat, AtFlags, FileType, Mode, Statx,
};
use rustix::io::Errno;

use super::file::Method;
use super::meta::{self, Node};
use super::tree::{CopyFrame, TreeCopy};
use super::{create_dest, data_result, open_source};
use crate::error::Context;
use crate::walk::{file_type, fstatx, inode_key, lstatx, open_dir_at, read_names, DirHandle};
use crate::FsError;

impl TreeCopy<'_, '_> {
    /// Copy the entry `name` of `src_dir` into `dst_dir`. Returns the frame to push when the
    /// entry is a directory to descend into.
    pub(super) fn entry(
        &mut self,
        src_dir: BorrowedFd<'_>,
        dst_dir: BorrowedFd<'_>,
        name: &CStr,
    ) -> Result<Option<CopyFrame>, FsError> {
        let st = lstatx(src_dir, name).ctx("statx", || self.src_path(name))?;
        let ft = file_type(&st);
        let other_mount = self.mount.is_other(&st);
        if ft == FileType::Directory {
            if inode_key(&st) == self.dst_root_key {
                return Ok(None); // the destination inside the source: do not copy into itself
            }
            mkdirat(dst_dir, name, Mode::from_raw_mode(0o700))
                .ctx("mkdir", || self.dst_path(name))?;
            self.stats.dirs += 1;
            if other_mount {
                self.apply_at(src_dir, dst_dir, name, &st, true)?;
                return Ok(None);
            }
            return self.enter_dir(src_dir, dst_dir, name, &st).map(Some);
        }

        let linked = st.stx_nlink > 1 && !other_mount;
        if linked {
            if let Some(first) = self.links.get(&inode_key(&st)) {
                linkat(
                    self.dst_root_fd.as_fd(),
                    first.as_path(),
                    dst_dir,
                    name,
                    AtFlags::empty(),
                )
                .ctx("link", || self.dst_path(name))?;
                self.stats.hardlinks += 1;
                return Ok(None);
            }
        }
        match ft {
            FileType::RegularFile => self.regular(src_dir, dst_dir, name, &st, other_mount)?,
            FileType::Symlink => {
                let target = readlinkat(src_dir, name, Vec::new())
                    .ctx("readlink", || self.src_path(name))?;
                symlinkat(&target, dst_dir, name).ctx("symlink", || self.dst_path(name))?;
                self.apply_at(src_dir, dst_dir, name, &st, false)?;
                self.stats.symlinks += 1;
            }
            FileType::CharacterDevice
            | FileType::BlockDevice
            | FileType::Fifo
            | FileType::Socket => {
                let dev = match ft {
                    FileType::CharacterDevice | FileType::BlockDevice => {
                        makedev(st.stx_rdev_major, st.stx_rdev_minor)
                    }
                    _ => 0,
                };
                mknodat(dst_dir, name, ft, Mode::from_raw_mode(0o600), dev)
                    .ctx("mknod", || self.dst_path(name))?;
                self.apply_at(src_dir, dst_dir, name, &st, true)?;
                self.stats.specials += 1;
            }
            _ => {
                return Err(FsError::io("copy", self.src_path(name), Errno::INVAL));
            }
        }
        if linked {
            self.links
                .insert(inode_key(&st), crate::walk::join(&self.rel, name));
        }
        Ok(None)
    }

    /// Open both sides of a directory to descend into.
    fn enter_dir(
        &mut self,
        src_dir: BorrowedFd<'_>,
        dst_dir: BorrowedFd<'_>,
        name: &CStr,
        st: &Statx,
    ) -> Result<CopyFrame, FsError> {
        let src_fd = open_dir_at(src_dir, name).ctx("open", || self.src_path(name))?;
        let src_st = fstatx(src_fd.as_fd()).ctx("statx", || self.src_path(name))?;
        if inode_key(&src_st) != inode_key(st) {
            return Err(FsError::io("open", self.src_path(name), Errno::STALE));
        }
        let dst_fd = open_dir_at(dst_dir, name).ctx("open", || self.dst_path(name))?;
        let dst_st = fstatx(dst_fd.as_fd()).ctx("statx", || self.dst_path(name))?;
        let names = read_names(src_fd.as_fd()).ctx("readdir", || self.src_path(name))?;
        Ok(CopyFrame {
            src: DirHandle::new(src_fd, &src_st),
            dst: DirHandle::new(dst_fd, &dst_st),
            names: names.into_iter(),
            st: src_st,
        })
    }

    /// Copy a regular file: create `O_EXCL` 0600, data, owner, xattrs, mode, times.
    fn regular(
        &mut self,
        src_dir: BorrowedFd<'_>,
        dst_dir: BorrowedFd<'_>,
        name: &CStr,
        st: &Statx,
        other_mount: bool,
    ) -> Result<(), FsError> {
        if other_mount {
            // A bind-mounted file: keep the name and metadata, not the other mount's data.
            create_dest(dst_dir, name).ctx("create", || self.dst_path(name))?;
            self.stats.files += 1;
            return self.apply_at(src_dir, dst_dir, name, st, true);
        }
        let src_fd = open_source(src_dir, name, false).ctx("open", || self.src_path(name))?;
        let st = fstatx(src_fd.as_fd()).ctx("statx", || self.src_path(name))?;
        if file_type(&st) != FileType::RegularFile {
            return Err(FsError::io("open", self.src_path(name), Errno::STALE));
        }
        let dst_fd = create_dest(dst_dir, name).ctx("create", || self.dst_path(name))?;
        let method = self.data.copy(src_fd.as_fd(), dst_fd.as_fd(), st.stx_size);
        let method = data_result(method, || self.src_path(name), || self.dst_path(name))?;
        meta::apply_fd(src_fd.as_fd(), dst_fd.as_fd(), &st, false)
            .map_err(|e| e.into_fs(|| self.src_path(name), || self.dst_path(name)))?;
        self.stats.files += 1;
        self.stats.bytes += st.stx_size;
        if method == Method::Reflink {
            self.stats.reflinked_files += 1;
        }
        Ok(())
    }

    /// Metadata of an entry that is handled by name (symlink, special file, mount point).
    fn apply_at(
        &self,
        src_dir: BorrowedFd<'_>,
        dst_dir: BorrowedFd<'_>,
        name: &CStr,
        st: &Statx,
        chmod: bool,
    ) -> Result<(), FsError> {
        let src = Node::at(src_dir, name, self.proc_ok, || self.src_path(name));
        let dst = Node::at(dst_dir, name, self.proc_ok, || self.dst_path(name));
        meta::apply_at(&src, dst_dir, &dst, name, st, chmod)
            .map_err(|e| e.into_fs(|| self.src_path(name), || self.dst_path(name)))
    }
}
