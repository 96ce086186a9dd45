//! Namespaces: creating a child process in new namespaces, and the UTS hostname.

use std::io;

use rustix::process::Pid;

/// Which namespaces a [`clone_into_namespaces`] child gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Namespaces {
    pub mount: bool,
    pub pid: bool,
    pub uts: bool,
    pub ipc: bool,
    pub cgroup: bool,
    /// A new, empty network namespace (`CLONE_NEWNET`).
    pub net: bool,
    /// A new user namespace (`CLONE_NEWUSER`), owning every other namespace created with it.
    /// Its UID/GID maps are empty until the parent writes them.
    pub user: bool,
}

impl Namespaces {
    fn clone_flags(self) -> libc::c_int {
        let mut f = 0;
        for (on, flag) in [
            (self.mount, libc::CLONE_NEWNS),
            (self.pid, libc::CLONE_NEWPID),
            (self.uts, libc::CLONE_NEWUTS),
            (self.ipc, libc::CLONE_NEWIPC),
            (self.cgroup, libc::CLONE_NEWCGROUP),
            (self.net, libc::CLONE_NEWNET),
            (self.user, libc::CLONE_NEWUSER),
        ] {
            if on {
                f |= flag;
            }
        }
        f
    }
}

/// Which side of a [`clone_into_namespaces`] we are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forked {
    /// In the new child (PID 1 of a new PID namespace when `pid` was asked for).
    Child,
    /// In the caller; the child's PID as seen from here.
    Parent(Pid),
}

/// `clone(SIGCHLD | CLONE_NEW…)` with fork semantics (no new stack): the child continues from
/// this call with a copy-on-write copy of the address space.
///
/// Like `fork`, this must be called while the process has a single thread (the child gets only
/// the calling thread, so locks held by other threads would stay locked forever). The caller (the
/// launcher) calls it before it starts any thread.
pub fn clone_into_namespaces(ns: Namespaces) -> io::Result<Forked> {
    // Enforce the single-thread precondition instead of trusting callers: with only the calling
    // thread alive, no other thread can start one between this check and the clone.
    let threads = std::fs::read_dir("/proc/self/task")?.count();
    if threads != 1 {
        return Err(io::Error::other(format!(
            "cannot clone into new namespaces from a process with {threads} threads"
        )));
    }
    let flags = (ns.clone_flags() | libc::SIGCHLD) as libc::c_ulong;
    // SAFETY: raw clone with a null stack pointer behaves like fork(2): the child runs on a
    // copy-on-write copy of the caller's stack and memory, so no Rust object is shared or
    // aliased between the two processes. The remaining pointer arguments (parent_tid, child_tid,
    // tls) are null and unused because no CLONE_*SETTID/SETTLS flag is passed. The single-thread
    // precondition is documented above; the glibc PID cache no longer exists (glibc ≥ 2.25).
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_int>(),
            std::ptr::null_mut::<libc::c_int>(),
            0 as libc::c_ulong,
        )
    };
    match r {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(
            Pid::from_raw(pid as i32).ok_or_else(|| io::Error::other("clone returned bad pid"))?,
        )),
    }
}

/// `clone_args` of clone3(2), up to `cgroup` (CLONE_ARGS_SIZE_VER2 = 88 bytes).
#[repr(C)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}
const _: () = assert!(std::mem::size_of::<CloneArgs>() == 88);

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Like [`clone_into_namespaces`], but the child starts in the cgroup2 directory `cgroup` (an
/// open directory, e.g. `O_PATH`) through `clone3(CLONE_INTO_CGROUP)`, Linux ≥ 5.7. Unlike
/// writing the PID into `cgroup.procs` afterwards, this does not take the cgroup core's global
/// thread-group lock for writing, which costs an RCU grace period (milliseconds) per run.
/// Errors with `ENOSYS` (or `E2BIG`) on older kernels: callers fall back to a migration.
pub fn clone_into_namespaces_in_cgroup(
    ns: Namespaces,
    cgroup: std::os::fd::BorrowedFd<'_>,
) -> io::Result<Forked> {
    use std::os::fd::AsRawFd;
    let threads = std::fs::read_dir("/proc/self/task")?.count();
    if threads != 1 {
        return Err(io::Error::other(format!(
            "cannot clone into new namespaces from a process with {threads} threads"
        )));
    }
    let args = CloneArgs {
        flags: ns.clone_flags() as u64 | CLONE_INTO_CGROUP,
        pidfd: 0,
        child_tid: 0,
        parent_tid: 0,
        exit_signal: libc::SIGCHLD as u64,
        stack: 0,
        stack_size: 0,
        tls: 0,
        set_tid: 0,
        set_tid_size: 0,
        cgroup: cgroup.as_raw_fd() as u64,
    };
    // SAFETY: as for `clone_into_namespaces`: without CLONE_VM and with no stack (stack = 0,
    // which clone3 allows only without CLONE_VM) the child runs on a copy-on-write copy of the
    // caller's memory, so nothing is shared or aliased; no *SETTID/SETTLS/PIDFD flag is passed,
    // so the kernel writes to no pointer of ours. `args` lives across the call and its exact
    // size is passed. The single-thread precondition is checked above.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match r {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(
            Pid::from_raw(pid as i32).ok_or_else(|| io::Error::other("clone3 returned bad pid"))?,
        )),
    }
}

/// Set the hostname of the current UTS namespace.
pub fn set_hostname(name: &str) -> io::Result<()> {
    rustix::system::sethostname(name.as_bytes()).map_err(Into::into)
}

/// `unshare(CLONE_NEWCGROUP)`: a new cgroup namespace rooted at the calling process's current
/// cgroups (in every hierarchy). The launcher's child calls it after the parent moved it into
/// the machine's cgroups.
pub fn unshare_cgroup() -> io::Result<()> {
    // SAFETY: only CLONE_NEWCGROUP is passed. The safety concern of `unshare_unsafe` is
    // CLONE_FILES (threads losing access to each other's descriptors); a new cgroup namespace
    // changes no memory, descriptor or thread state, so no Rust invariant can be broken.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWCGROUP) }
        .map_err(Into::into)
}

/// `prctl(PR_SET_PDEATHSIG, SIGKILL)`: the calling process is killed when its parent thread
/// exits. A parent that died before this call is not noticed (in a new PID namespace `getppid`
/// is 0 either way): callers check, e.g. through a pipe from the parent.
pub fn kill_with_parent() -> io::Result<()> {
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
        .map_err(Into::into)
}

/// `setns(fd, nstype)`: join the namespace `fd` refers to (a `/proc/PID/ns/*` file or a
/// pidfd); `nstype` is one `CLONE_NEW*` flag (checked by the kernel against the fd) or 0.
/// Joining a PID namespace affects only children forked afterwards; joining a mount namespace
/// needs a single-threaded caller and sets its root and working directory to the namespace's
/// root.
pub fn setns(fd: std::os::fd::BorrowedFd<'_>, nstype: libc::c_int) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: setns(2) takes a file descriptor (borrowed, so open for the whole call) and an
    // integer flag; it reads or writes no memory of ours.
    if unsafe { libc::setns(fd.as_raw_fd(), nstype) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `chroot(".")` then `chdir("/")`: make the working directory the root.
pub fn chroot_here() -> io::Result<()> {
    rustix::process::chroot(".")?;
    rustix::process::chdir("/")?;
    Ok(())
}
