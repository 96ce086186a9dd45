//! btrfs subvolumes, snapshots, read-only flag, child subvolumes and qgroups.
//!
//! Every ioctl here is issued only on a descriptor verified (by `fstatfs` + `fstat`) to be a
//! directory or regular file on a btrfs filesystem: the btrfs ioctl numbers (magic `0x94`) collide
//! with other drivers, so issuing them on an arbitrary fd could do something else entirely. On any
//! other descriptor the functions fail with `ENOTTY`, like the kernel does for an unknown ioctl.
//!
//! The raw ABI (structs, opcodes) lives in `btrfs/abi.rs`, the `TREE_SEARCH` walker in
//! `btrfs/search.rs`; subvolume and qgroup operations are in `btrfs/subvol.rs` and
//! `btrfs/qgroup.rs`, re-exported here.

use std::io;
use std::os::fd::BorrowedFd;

use rustix::fs::FileType;

mod abi;
mod qgroup;
mod search;
mod subvol;

pub use qgroup::{
    qgroup_assign, qgroup_create, qgroup_destroy, qgroup_info, qgroup_set_limit, qgroupid,
    quota_disable, quota_enable, quota_enable_simple, quota_enabled, quota_rescan_wait, QgroupInfo,
};
pub use subvol::{
    child_subvolumes, fs_sync, is_subvolume, set_subvol_read_only, snapshot, subvol_create,
    subvol_destroy, subvol_destroy_by_id, subvol_id, subvol_read_only, subvol_sync_wait,
    ChildSubvol,
};

/// `f_type` of a btrfs filesystem as reported by `statfs`.
pub const BTRFS_SUPER_MAGIC: u32 = 0x9123_683E;

/// inode number of the root directory of every subvolume (`BTRFS_FIRST_FREE_OBJECTID`).
pub const BTRFS_FIRST_FREE_OBJECTID: u64 = 256;

/// whether `fd` lives on a btrfs filesystem (`fstatfs` `f_type`).
pub fn is_btrfs(fd: BorrowedFd<'_>) -> io::Result<bool> {
    Ok(crate::fs::fs_magic(fd)? == u64::from(BTRFS_SUPER_MAGIC))
}

/// a descriptor checked to be a directory or regular file on btrfs: the only kind the private
/// ioctl wrappers in `abi` accept.
#[derive(Clone, Copy)]
pub(crate) struct BtrfsFd<'a> {
    fd: BorrowedFd<'a>,
    is_dir: bool,
    ino: u64,
}

impl<'a> BtrfsFd<'a> {
    /// checks `fd`; `ENOTTY` when it is not a directory or regular file on btrfs.
    pub(crate) fn new(fd: BorrowedFd<'a>) -> io::Result<Self> {
        Self::check(fd)?.ok_or_else(not_btrfs)
    }

    /// like [`BtrfsFd::new`], but `Ok(None)` instead of the `ENOTTY` error.
    pub(crate) fn check(fd: BorrowedFd<'a>) -> io::Result<Option<Self>> {
        if !is_btrfs(fd)? {
            return Ok(None);
        }
        let st = rustix::fs::fstat(fd)?;
        let ft = FileType::from_raw_mode(st.st_mode);
        if ft != FileType::Directory && ft != FileType::RegularFile {
            return Ok(None);
        }
        Ok(Some(Self {
            fd,
            is_dir: ft == FileType::Directory,
            ino: st.st_ino,
        }))
    }

    /// a checked directory; `ENOTDIR` when it is a regular file.
    pub(crate) fn dir(fd: BorrowedFd<'a>) -> io::Result<Self> {
        let this = Self::new(fd)?;
        if !this.is_dir {
            return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
        }
        Ok(this)
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'a> {
        self.fd
    }

    /// whether this is the root directory of a subvolume.
    pub(crate) fn is_subvolume_root(&self) -> bool {
        self.is_dir && self.ino == BTRFS_FIRST_FREE_OBJECTID
    }
}

/// the error for "this is not btrfs", as the kernel reports an unknown ioctl.
pub(crate) fn not_btrfs() -> io::Error {
    io::Error::from_raw_os_error(libc::ENOTTY)
}
