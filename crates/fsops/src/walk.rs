//! Helpers shared by the tree walkers: `statx`, directory listing, and a bounded window of
//! open directory fds for iterative depth-first walks.

use std::ffi::{CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{
    openat, statx, AtFlags, Dir, FileType, Mode, OFlags, Statx, StatxAttributes, StatxFlags,
};
use rustix::io::{Errno, Result};

/// At most this many directory levels keep their fds open; deeper walks close the fds of the
/// outermost open levels and reopen them through `..` on the way back up.
pub(crate) const MAX_OPEN_LEVELS: usize = 64;

const STATX_MASK: StatxFlags = StatxFlags::BASIC_STATS.union(StatxFlags::MNT_ID);

/// `statx(dir, name, AT_SYMLINK_NOFOLLOW)`.
/// Does not trigger automounts (an untriggered autofs mount point is reported as itself).
pub(crate) fn lstatx(dir: BorrowedFd<'_>, name: &CStr) -> Result<Statx> {
    statx(
        dir,
        name,
        AtFlags::SYMLINK_NOFOLLOW | AtFlags::NO_AUTOMOUNT,
        STATX_MASK,
    )
}

/// `statx(fd, "", AT_EMPTY_PATH)`.
pub(crate) fn fstatx(fd: BorrowedFd<'_>) -> Result<Statx> {
    statx(fd, c"", AtFlags::EMPTY_PATH, STATX_MASK)
}

pub(crate) fn file_type(st: &Statx) -> FileType {
    FileType::from_raw_mode(u32::from(st.stx_mode))
}

pub(crate) fn mode_bits(st: &Statx) -> Mode {
    Mode::from_raw_mode(u32::from(st.stx_mode))
}

/// Identity of an inode: (device, inode number).
pub(crate) type InodeKey = (u32, u32, u64);

pub(crate) fn inode_key(st: &Statx) -> InodeKey {
    (st.stx_dev_major, st.stx_dev_minor, st.stx_ino)
}

/// What identifies the mount an entry lives on.
#[derive(Clone, Copy)]
pub(crate) struct MountRef {
    mnt_id: Option<u64>,
    dev: (u32, u32),
}

impl MountRef {
    pub(crate) fn of(root: &Statx) -> Self {
        let mnt_id = (root.stx_mask & StatxFlags::MNT_ID.bits() != 0).then_some(root.stx_mnt_id);
        MountRef {
            mnt_id,
            dev: (root.stx_dev_major, root.stx_dev_minor),
        }
    }

    /// Whether `st` lives on another mount than the walk root. Uses the mount id when the
    /// kernel reports it (so btrfs subvolumes, which have their own `st_dev`, count as the same
    /// mount), else `STATX_ATTR_MOUNT_ROOT`, else `st_dev`.
    pub(crate) fn is_other(&self, st: &Statx) -> bool {
        if let Some(id) = self.mnt_id {
            if st.stx_mask & StatxFlags::MNT_ID.bits() != 0 {
                return st.stx_mnt_id != id;
            }
        }
        if st.stx_attributes_mask.contains(StatxAttributes::MOUNT_ROOT) {
            return st.stx_attributes.contains(StatxAttributes::MOUNT_ROOT);
        }
        (st.stx_dev_major, st.stx_dev_minor) != self.dev
    }
}

/// Open a directory entry as a directory without following symlinks.
pub(crate) fn open_dir_at(dir: BorrowedFd<'_>, name: &CStr) -> Result<OwnedFd> {
    openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Open a path as a directory (symlinks in the path itself are followed).
pub(crate) fn open_dir_path(path: &Path) -> Result<OwnedFd> {
    openat(
        rustix::fs::CWD,
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// All entry names of a directory except `.` and `..`.
pub(crate) fn read_names(dir: BorrowedFd<'_>) -> Result<Vec<CString>> {
    let mut names = Vec::new();
    for entry in Dir::read_from(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name != c"." && name != c".." {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// `base/name` for error messages.
pub(crate) fn join(base: &Path, name: &CStr) -> PathBuf {
    base.join(OsStr::from_bytes(name.to_bytes()))
}

/// A directory fd that may be closed while the walk is deeper and reopened later.
pub(crate) struct DirHandle {
    fd: Option<OwnedFd>,
    key: InodeKey,
}

impl DirHandle {
    pub(crate) fn new(fd: OwnedFd, st: &Statx) -> Self {
        DirHandle {
            fd: Some(fd),
            key: inode_key(st),
        }
    }

    /// The fd; the window guarantees that the frames in use are open.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd
            .as_ref()
            .expect("directory fd of the active frame is open")
            .as_fd()
    }

    pub(crate) fn close(&mut self) {
        self.fd = None;
    }

    /// Reopen through `child/..`, checking that it is still the same directory.
    pub(crate) fn reopen_from(&mut self, child: &DirHandle) -> Result<()> {
        let fd = open_dir_at(child.fd(), c"..")?;
        if inode_key(&fstatx(fd.as_fd())?) != self.key {
            return Err(Errno::STALE);
        }
        self.fd = Some(fd);
        Ok(())
    }
}

/// A stack frame of a walk that holds directory handles.
pub(crate) trait Frame {
    fn close(&mut self);
    /// Reopen this (parent) frame's handles from its child frame.
    fn reopen_from(&mut self, child: &Self) -> Result<()>;
}

/// Keeps only the innermost [`MAX_OPEN_LEVELS`] frames open.
#[derive(Default)]
pub(crate) struct Window {
    lowest_open: usize,
}

impl Window {
    /// Call after pushing a frame.
    pub(crate) fn pushed<F: Frame>(&mut self, frames: &mut [F]) {
        while frames.len() - self.lowest_open > MAX_OPEN_LEVELS {
            frames[self.lowest_open].close();
            self.lowest_open += 1;
        }
    }

    /// Call before popping the last frame: reopens its parent if it was closed.
    pub(crate) fn popping<F: Frame>(&mut self, frames: &mut [F]) -> Result<()> {
        let n = frames.len();
        if n >= 2 && n - 2 < self.lowest_open {
            let (parents, child) = frames.split_at_mut(n - 1);
            parents[n - 2].reopen_from(&child[0])?;
            self.lowest_open = n - 2;
        }
        Ok(())
    }
}
