//! Inode flags (`FS_IOC_GETFLAGS`/`FS_IOC_SETFLAGS`): clearing immutable and append-only.
//!
//! Uses rustix's safe inode-flag ioctls. Only ever call these on fds of regular files and
//! directories: on device nodes the ioctl would reach the device driver.

use rustix::fd::BorrowedFd;
use rustix::fs::{ioctl_getflags, ioctl_setflags, IFlags};
use rustix::io::{Errno, Result};

/// Clear `FS_IMMUTABLE_FL` and `FS_APPEND_FL` if set. Returns whether anything was changed.
/// Filesystems without inode flags (ENOTTY, EOPNOTSUPP, EINVAL) count as "nothing set".
pub(crate) fn clear_immutable_append(fd: BorrowedFd<'_>) -> Result<bool> {
    let flags = match ioctl_getflags(fd) {
        Ok(f) => f,
        Err(Errno::NOTTY | Errno::OPNOTSUPP | Errno::INVAL) => return Ok(false),
        Err(e) => return Err(e),
    };
    let sticky = IFlags::IMMUTABLE | IFlags::APPEND;
    if !flags.intersects(sticky) {
        return Ok(false);
    }
    ioctl_setflags(fd, flags - sticky)?;
    Ok(true)
}
