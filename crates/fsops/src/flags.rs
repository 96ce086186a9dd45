//! Inode flags: clearing immutable and append-only, through `wharf_sys::fsflags`.
//!
//! Only ever call these on fds of regular files and directories: on device nodes the ioctl
//! would reach the device driver.

use std::io;

use rustix::fd::BorrowedFd;
use rustix::io::Errno;
use wharf_sys::fsflags::{get_flags, set_flags, FS_APPEND_FL, FS_IMMUTABLE_FL};

/// Clear `FS_IMMUTABLE_FL` and `FS_APPEND_FL` if set. Returns whether anything was changed.
/// Filesystems without inode flags (ENOTTY, EOPNOTSUPP, EINVAL) count as "nothing set".
pub(crate) fn clear_immutable_append(fd: BorrowedFd<'_>) -> io::Result<bool> {
    let flags = match get_flags(fd) {
        Ok(f) => f,
        Err(e) if unsupported(&e) => return Ok(false),
        Err(e) => return Err(e),
    };
    let sticky = FS_IMMUTABLE_FL | FS_APPEND_FL;
    if flags & sticky == 0 {
        return Ok(false);
    }
    set_flags(fd, flags & !sticky)?;
    Ok(true)
}

fn unsupported(e: &io::Error) -> bool {
    let unsupported = [Errno::NOTTY, Errno::OPNOTSUPP, Errno::INVAL];
    e.raw_os_error()
        .is_some_and(|raw| unsupported.iter().any(|u| u.raw_os_error() == raw))
}
