//! open file description (OFD) locks: `fcntl(F_OFD_SETLK)` on the whole file.
//!
//! These are the locks systemd takes on `<dir>/.#<name>.lck`. Unlike classic POSIX record locks
//! they belong to the open file description, not the process: two separate `open()`s of one file
//! conflict even inside a single process, and closing an unrelated fd of the same file does not
//! drop the lock. They are compatible with (and conflict against) POSIX locks of other
//! processes, but not with `flock(2)` locks.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// the kind of lock to take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockKind {
    /// a read lock (`F_RDLCK`); needs an fd opened for reading. Any number may coexist.
    Shared,
    /// a write lock (`F_WRLCK`); needs an fd opened for writing. Conflicts with every other lock.
    Exclusive,
}

fn ofd_setlk(fd: BorrowedFd<'_>, l_type: libc::c_int) -> io::Result<()> {
    let lock = libc::flock {
        l_type: l_type as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        // zero length: the whole file, however far it grows.
        l_len: 0,
        // must be 0 for OFD locks.
        l_pid: 0,
    };
    // SAFETY: `fd` is a valid open descriptor for the duration of the call (it is borrowed), and
    // F_OFD_SETLK reads exactly one `struct flock` from the pointer, which points to an
    // initialised local that outlives the call. The call does not block.
    let r = unsafe {
        libc::fcntl(
            fd.as_raw_fd(),
            libc::F_OFD_SETLK,
            &lock as *const libc::flock,
        )
    };
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// takes (or converts to) a non-blocking whole-file OFD lock of `kind` on `fd`. `Ok(false)` when
/// another open file description holds a conflicting lock (`EAGAIN`/`EACCES`).
pub fn try_lock(fd: BorrowedFd<'_>, kind: LockKind) -> io::Result<bool> {
    let l_type = match kind {
        LockKind::Shared => libc::F_RDLCK,
        LockKind::Exclusive => libc::F_WRLCK,
    };
    match ofd_setlk(fd, l_type) {
        Ok(()) => Ok(true),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EACCES)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// releases the OFD lock held through `fd` (a no-op when none is held). Closing the last fd of
/// the open file description releases it too.
pub fn unlock(fd: BorrowedFd<'_>) -> io::Result<()> {
    ofd_setlk(fd, libc::F_UNLCK)
}
