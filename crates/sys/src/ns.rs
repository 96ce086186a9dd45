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
