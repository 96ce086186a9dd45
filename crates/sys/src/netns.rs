//! Network namespaces: opening, entering and creating them, one thread at a time.
//!
//! A network namespace is a property of a *thread*. wharf-net never moves the launcher's main
//! thread: to act inside a machine's namespace it starts a short-lived thread, calls
//! [`enter_netns`] there, creates a netlink socket (which stays bound to the namespace it was
//! created in) and lets the thread end.

use std::fs::File;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};

use rustix::thread::{LinkNameSpaceType, UnshareFlags};

/// Opens the network namespace of process `pid` (`/proc/PID/ns/net`), e.g. a machine's PID 1.
pub fn open_netns(pid: u32) -> io::Result<OwnedFd> {
    Ok(File::open(format!("/proc/{pid}/ns/net"))?.into())
}

/// Opens the network namespace of the calling thread (`/proc/thread-self/ns/net`).
pub fn open_current_netns() -> io::Result<OwnedFd> {
    Ok(File::open("/proc/thread-self/ns/net")?.into())
}

/// Moves the calling thread (only it) into the network namespace `fd` (`setns(fd,
/// CLONE_NEWNET)`). Fails with `EINVAL` when `fd` is not a network namespace.
pub fn enter_netns(fd: BorrowedFd<'_>) -> io::Result<()> {
    rustix::thread::move_into_link_name_space(fd, Some(LinkNameSpaceType::Network))
        .map_err(Into::into)
}

/// Moves the calling thread (only it) into a new, empty network namespace
/// (`unshare(CLONE_NEWNET)`): only a down loopback device, no addresses, no rules. Child
/// processes spawned from this thread afterwards start in it.
pub fn unshare_netns() -> io::Result<()> {
    // SAFETY: `unshare_unsafe` is unsafe only because `CLONE_FILES` (and `CLONE_FS`) would split
    // the fd table or filesystem context between threads, invalidating descriptors other threads
    // hold. Only `CLONE_NEWNET` is passed: it changes which network namespace new sockets of this
    // thread belong to and touches no memory, fd table or filesystem state another thread relies on.
    unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWNET) }.map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn unshare_then_enter_back() {
        std::thread::spawn(|| {
            let before = open_current_netns().unwrap();
            let before_ino = rustix::fs::fstat(&before).unwrap().st_ino;
            unshare_netns().unwrap();
            let inside = open_current_netns().unwrap();
            assert_ne!(rustix::fs::fstat(&inside).unwrap().st_ino, before_ino);
            enter_netns(before.as_fd()).unwrap();
            let back = open_current_netns().unwrap();
            assert_eq!(rustix::fs::fstat(&back).unwrap().st_ino, before_ino);
            // not a network namespace
            let f = File::open("/proc/self/ns/uts").unwrap();
            assert!(enter_netns(f.as_fd()).is_err());
        })
        .join()
        .unwrap();
    }
}
