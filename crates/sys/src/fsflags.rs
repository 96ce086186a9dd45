//! inode flags (`FS_IOC_GETFLAGS` / `FS_IOC_SETFLAGS`, the `chattr` flags).
//!
//! The ioctl numbers say `long`, but every filesystem reads and writes an `int`; rustix's
//! wrappers pass a `u32`, which is what is used here.

use std::io;
use std::os::fd::BorrowedFd;

use rustix::fs::IFlags;

/// `FS_IMMUTABLE_FL` (`chattr +i`): no writes, renames, links or deletion, even by root,
/// until cleared (needs CAP_LINUX_IMMUTABLE).
pub const FS_IMMUTABLE_FL: u32 = 0x10;
/// `FS_APPEND_FL` (`chattr +a`): writes only append.
pub const FS_APPEND_FL: u32 = 0x20;
/// `FS_NOCOW_FL` (`chattr +C`): no copy-on-write (btrfs); only effective on empty files, or
/// inherited from the directory.
pub const FS_NOCOW_FL: u32 = 0x0080_0000;

/// the inode flags of `fd`. `ENOTTY` (or `EOPNOTSUPP`) on filesystems without them (tmpfs
/// supports only a few, overlayfs and NFS none).
pub fn get_flags(fd: BorrowedFd<'_>) -> io::Result<u32> {
    Ok(rustix::fs::ioctl_getflags(fd)?.bits())
}

/// replaces the inode flags of `fd` with `flags`. Flags the filesystem does not support fail
/// with `EOPNOTSUPP` (or `EINVAL`).
pub fn set_flags(fd: BorrowedFd<'_>, flags: u32) -> io::Result<()> {
    Ok(rustix::fs::ioctl_setflags(
        fd,
        IFlags::from_bits_retain(flags),
    )?)
}

/// sets or clears `FS_IMMUTABLE_FL` on `fd`, keeping the other flags; a no-op when it already
/// has that state.
pub fn set_immutable(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    let old = get_flags(fd)?;
    let new = if on {
        old | FS_IMMUTABLE_FL
    } else {
        old & !FS_IMMUTABLE_FL
    };
    if new == old {
        return Ok(());
    }
    set_flags(fd, new)
}
