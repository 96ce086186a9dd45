//! Children and signals for the launcher's stub init.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::OwnedFd;

pub use rustix::process::{Pid, Signal};
use rustix::process::{WaitOptions, WaitStatus};

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    /// Shell-style status: the exit code, or 128 + the signal number.
    pub fn status(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal(s) => 128 + s,
        }
    }
}

fn exit_of(st: WaitStatus) -> Option<Exit> {
    if let Some(c) = st.exit_status() {
        Some(Exit::Code(c))
    } else {
        st.terminating_signal().map(Exit::Signal)
    }
}

/// Wait for any child to end; `None` when there are no children left. Retries on EINTR.
pub fn wait_any() -> io::Result<Option<(Pid, Exit)>> {
    loop {
        match rustix::process::wait(WaitOptions::empty()) {
            Ok(Some((pid, st))) => {
                if let Some(e) = exit_of(st) {
                    return Ok(Some((pid, e)));
                }
            }
            Ok(None) => return Ok(None),
            Err(rustix::io::Errno::INTR) => continue,
            Err(rustix::io::Errno::CHILD) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Wait for child `pid` to end. Retries on EINTR.
pub fn wait_pid(pid: Pid) -> io::Result<Exit> {
    loop {
        match rustix::process::waitpid(Some(pid), WaitOptions::empty()) {
            Ok(Some((_, st))) => {
                if let Some(e) = exit_of(st) {
                    return Ok(e);
                }
            }
            Ok(None) => return Err(io::Error::other("waitpid returned nothing")),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Send signal number `sig` (real-time signals included) to `pid`.
pub fn kill(pid: Pid, sig: i32) -> io::Result<()> {
    // SAFETY: kill(2) takes plain integers and touches no memory; `pid` is positive.
    if unsafe { libc::kill(pid.as_raw_nonzero().get(), sig) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `kill(-1, sig)`: signal every process this one may signal except itself (inside a PID
/// namespace's init: every other process of the namespace).
pub fn kill_all(sig: i32) -> io::Result<()> {
    // SAFETY: kill(2) takes plain integers and touches no memory.
    if unsafe { libc::kill(-1, sig) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A close-on-exec pipe: (read end, write end).
pub fn pipe_cloexec() -> io::Result<(OwnedFd, OwnedFd)> {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(Into::into)
}

/// Wait for child `pid` without blocking: `None` while it still runs. Retries on EINTR.
pub fn try_wait_pid(pid: Pid) -> io::Result<Option<Exit>> {
    loop {
        match rustix::process::waitpid(Some(pid), WaitOptions::NOHANG) {
            Ok(Some((_, st))) => {
                if let Some(e) = exit_of(st) {
                    return Ok(Some(e));
                }
            }
            Ok(None) => return Ok(None),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Reap every child that has ended, without blocking; returns them.
pub fn reap_ended() -> Vec<(Pid, Exit)> {
    let mut out = Vec::new();
    loop {
        match rustix::process::wait(WaitOptions::NOHANG) {
            Ok(Some((pid, st))) => {
                if let Some(e) = exit_of(st) {
                    out.push((pid, e));
                }
            }
            Err(rustix::io::Errno::INTR) => continue,
            Ok(None) | Err(_) => return out,
        }
    }
}

/// A pidfd for `pid` (pollable: readable once the process has ended).
pub fn pidfd(pid: Pid) -> io::Result<OwnedFd> {
    rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).map_err(Into::into)
}

/// `fork()` (through [`crate::ns::clone_into_namespaces`] with no new namespace, which checks
/// that the caller has a single thread).
pub fn fork() -> io::Result<crate::ns::Forked> {
    crate::ns::clone_into_namespaces(crate::ns::Namespaces::default())
}

/// `execve(path, argv, envp)`. Returns only on failure.
pub fn execve(path: &CStr, argv: &[CString], envp: &[CString]) -> io::Error {
    let mut av: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    av.push(std::ptr::null());
    let mut ev: Vec<*const libc::c_char> = envp.iter().map(|e| e.as_ptr()).collect();
    ev.push(std::ptr::null());
    // SAFETY: `path`, every argv/envp string and both NULL-terminated pointer arrays live until
    // the call returns (on success it never does and the address space is replaced).
    unsafe { libc::execve(path.as_ptr(), av.as_ptr(), ev.as_ptr()) };
    io::Error::last_os_error()
}

/// Become `uid`/`gid` with supplementary `groups` (setgroups, setresgid, setresuid). Applies to
/// the calling thread only: call it in a single-threaded process, right before exec.
pub fn switch_user(uid: u32, gid: u32, groups: &[u32]) -> io::Result<()> {
    use rustix::process::{Gid, Uid};
    use rustix::thread::{set_thread_groups, set_thread_res_gid, set_thread_res_uid};
    let groups: Vec<Gid> = groups.iter().map(|g| Gid::from_raw(*g)).collect();
    set_thread_groups(&groups)?;
    let g = Gid::from_raw(gid);
    set_thread_res_gid(g, g, g)?;
    let u = Uid::from_raw(uid);
    set_thread_res_uid(u, u, u)?;
    Ok(())
}

/// Set the calling thread's filesystem UID and GID (`setfsgid`, `setfsuid`) and return the
/// previous ones: files it creates get these owners, and permission checks use them. Leaving
/// UID 0 drops the filesystem capabilities from the effective set; returning to 0 brings them
/// back (capabilities(7)).
pub fn set_fs_ids(uid: u32, gid: u32) -> (u32, u32) {
    // SAFETY: setfsgid(2)/setfsuid(2) take an integer and change only the calling thread's
    // credentials; no memory of ours is read or written. They cannot fail in a way that needs
    // errno: they return the previous value either way.
    let g = unsafe { libc::setfsgid(gid) } as u32;
    // SAFETY: as above.
    let u = unsafe { libc::setfsuid(uid) } as u32;
    (u, g)
}

/// `reboot(RB_POWER_OFF)` (or `RB_AUTOBOOT` with `restart`). Inside a PID namespace this ends
/// the namespace: its init is reported as killed by SIGINT (power off) or SIGHUP (restart).
pub fn reboot(restart: bool) -> io::Error {
    use rustix::system::RebootCommand;
    let cmd = if restart {
        RebootCommand::Restart
    } else {
        RebootCommand::PowerOff
    };
    match rustix::system::reboot(cmd) {
        Ok(()) => io::Error::other("reboot returned"),
        Err(e) => e.into(),
    }
}

/// Set the calling thread's name (`/proc/self/comm`, at most 15 bytes are kept).
pub fn set_name(name: &str) -> io::Result<()> {
    let c = CString::new(name).map_err(|_| io::Error::other("NUL in name"))?;
    rustix::thread::set_name(&c).map_err(Into::into)
}

/// Close every file descriptor from `first` up.
pub fn close_from(first: u32) -> io::Result<()> {
    // SAFETY: the caller (the stub init, right after forking the payload) owns no Rust object
    // wrapping these descriptors that is used afterwards; the OwnedFds it still holds are
    // leaked with std::mem::forget before this call so nothing closes them twice.
    if unsafe { libc::close_range(first, u32::MAX, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Mark every descriptor from `first` up close-on-exec. A descriptor the caller left open
/// without the flag must not reach the programs wharf executes (a machine's PID 1, the command
/// of `wharf shell`): one naming a host file or directory would lead out of the machine.
pub fn cloexec_from(first: u32) -> io::Result<()> {
    let flag = libc::CLOSE_RANGE_CLOEXEC as libc::c_int;
    // SAFETY: CLOSE_RANGE_CLOEXEC only sets the close-on-exec flag; nothing is closed, so no
    // owner of a descriptor is affected.
    if unsafe { libc::close_range(first, u32::MAX, flag) } == 0 {
        return Ok(());
    }
    // Kernels before 5.11: each open descriptor, as /proc/self/fd lists them.
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd: &i32| u32::try_from(fd).is_ok_and(|fd| fd >= first))
        .collect();
    for fd in fds {
        // SAFETY: F_GETFD/F_SETFD read and set the descriptor flags only; a descriptor closed
        // meanwhile (the directory stream's own) gives EBADF, which is ignored.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
    Ok(())
}

#[repr(C)]
struct PrctlMmMap {
    start_code: u64,
    end_code: u64,
    start_data: u64,
    end_data: u64,
    start_brk: u64,
    brk: u64,
    start_stack: u64,
    arg_start: u64,
    arg_end: u64,
    env_start: u64,
    env_end: u64,
    auxv: *mut u64,
    auxv_size: u32,
    exe_fd: u32,
}
const _: () = assert!(std::mem::size_of::<PrctlMmMap>() == 104);

const PR_SET_MM: libc::c_int = 35;
const PR_SET_MM_MAP: libc::c_ulong = 14;

/// Replace what `/proc/self/cmdline` and `/proc/self/environ` show with `cmdline` and `env`
/// (NUL-separated, NUL-terminated), and wipe the original environment block, so a process
/// forked from wharf shows none of the caller's environment.
///
/// Uses `prctl(PR_SET_MM, PR_SET_MM_MAP)`, which (unlike the `PR_SET_MM_ENV_*` calls nspawn
/// uses) needs no CAP_SYS_RESOURCE when the executable stays the same. The new blocks are
/// leaked on purpose: they must stay valid for the life of the process.
pub fn replace_cmdline_and_environ(cmdline: &[u8], env: &[u8]) -> io::Result<()> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the command name (which may contain spaces) start at field 3.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| io::Error::other("bad /proc/self/stat"))?;
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse::<i64>().unwrap_or(0) as u64)
        .collect();
    // Field n (1-based) is f[n - 3].
    let field = |n: usize| {
        f.get(n - 3)
            .copied()
            .ok_or_else(|| io::Error::other("short stat"))
    };
    let (old_env_start, old_env_end) = (field(50)?, field(51)?);
    let cmd: &'static [u8] = Box::leak(cmdline.to_vec().into_boxed_slice());
    let envb: &'static [u8] = Box::leak(env.to_vec().into_boxed_slice());
    // SAFETY: brk(0) only queries the current program break.
    let brk = unsafe { libc::syscall(libc::SYS_brk, 0usize) } as u64;
    let map = PrctlMmMap {
        start_code: field(26)?,
        end_code: field(27)?,
        start_data: field(45)?,
        end_data: field(46)?,
        start_brk: field(47)?,
        brk,
        start_stack: field(28)?,
        arg_start: cmd.as_ptr() as u64,
        arg_end: cmd.as_ptr() as u64 + cmd.len() as u64,
        env_start: envb.as_ptr() as u64,
        env_end: envb.as_ptr() as u64 + envb.len() as u64,
        auxv: std::ptr::null_mut(),
        auxv_size: 0,
        exe_fd: u32::MAX,
    };
    // SAFETY: `map` is a valid prctl_mm_map whose size is passed along; the kernel only reads
    // it. The arg/env ranges point at leaked (never freed) heap blocks.
    let r = unsafe {
        libc::prctl(
            PR_SET_MM,
            PR_SET_MM_MAP,
            &map as *const PrctlMmMap,
            std::mem::size_of::<PrctlMmMap>(),
            0,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    // Forget the environment in libc (so nothing reads it any more), then wipe the old block.
    // SAFETY: clearenv only resets libc's `environ`; no other thread exists (the caller is a
    // freshly forked single-threaded process) and Rust's env functions take libc's lock.
    unsafe { libc::clearenv() };
    if old_env_end > old_env_start && old_env_end - old_env_start < (1 << 24) {
        // SAFETY: [env_start, env_end) is the kernel-reported initial environment block on this
        // process's stack: mapped and writable for the life of the process. After clearenv
        // nothing refers to its strings any more, so zeroing them affects no live Rust value.
        unsafe {
            std::ptr::write_bytes(
                old_env_start as *mut u8,
                0,
                (old_env_end - old_env_start) as usize,
            )
        };
    }
    Ok(())
}

/// Whether any child is left (reaping one that has ended, if any).
pub fn children_left() -> bool {
    loop {
        match rustix::process::wait(WaitOptions::NOHANG) {
            Ok(_) => return true,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return false,
        }
    }
}

/// `personality(persona)`: the execution domain of the calling process (inherited by children
/// and kept across exec), e.g. `PER_LINUX32` (8) so that `uname -m` reports a 32-bit machine.
pub fn set_personality(persona: u32) -> io::Result<()> {
    // SAFETY: personality(2) takes a plain integer and touches no memory of ours; it only
    // changes a field of the calling task.
    let r = unsafe { libc::personality(libc::c_ulong::from(persona)) };
    if r == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The soft and hard limits of resource `resource` (an `RLIMIT_*` number) of process `pid`
/// (`prlimit(pid, resource, NULL, &old)`: read only). `None` stands for `RLIM_INFINITY`.
pub fn rlimit_of(pid: u32, resource: u32) -> io::Result<(Option<u64>, Option<u64>)> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
    let mut old = libc::rlimit64 {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: prlimit64(2) with a NULL new limit only reads the limits of `pid` into `old`, a
    // valid, writable `struct rlimit64` that lives for the call; the resource number is checked
    // by the kernel (EINVAL).
    let r = unsafe {
        libc::prlimit64(
            pid,
            resource as libc::__rlimit_resource_t,
            std::ptr::null(),
            &mut old,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    let lim = |v: u64| (v != libc::RLIM64_INFINITY).then_some(v);
    Ok((lim(old.rlim_cur), lim(old.rlim_max)))
}
