//! Installing a seccomp filter (a classic BPF program) and `no_new_privs`.

use std::io;

/// One classic BPF instruction (`struct sock_filter`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// `struct sock_fprog`.
#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

const _: () = assert!(std::mem::size_of::<SockFilter>() == 8);

/// The kernel's limit on a classic BPF program (`BPF_MAXINSNS`).
pub const MAX_INSNS: usize = 4096;

/// Install `prog` as a seccomp filter on the calling thread
/// (`seccomp(SECCOMP_SET_MODE_FILTER, flags, prog)`); with `all_threads`, on every thread of the
/// process (`SECCOMP_FILTER_FLAG_TSYNC`). Needs `no_new_privs` or CAP_SYS_ADMIN. The filter is
/// inherited across fork and exec and can never be removed.
pub fn install_filter(prog: &[SockFilter], all_threads: bool) -> io::Result<()> {
    if prog.is_empty() || prog.len() > MAX_INSNS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("seccomp program of {} instructions", prog.len()),
        ));
    }
    let fprog = SockFprog {
        len: prog.len() as u16,
        filter: prog.as_ptr(),
    };
    let flags: libc::c_ulong = if all_threads {
        libc::SECCOMP_FILTER_FLAG_TSYNC
    } else {
        0
    };
    // SAFETY: `fprog` points to `prog`, a live slice of `#[repr(C)]` sock_filter structs whose
    // length (checked ≤ 4096 above) is in `len`; both outlive the call, and the kernel copies the
    // program before returning. No other pointer is passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER as libc::c_ulong,
            flags,
            &fprog as *const SockFprog,
        )
    };
    match r {
        0 => Ok(()),
        -1 => Err(io::Error::last_os_error()),
        tid => Err(io::Error::other(format!(
            "thread {tid} could not be synchronized to the seccomp filter"
        ))),
    }
}

/// `prctl(PR_SET_NO_NEW_PRIVS, 1)`: execve never grants privileges again (setuid bits and file
/// capabilities are ignored) for this process and its descendants.
pub fn set_no_new_privs() -> io::Result<()> {
    rustix::thread::set_no_new_privs(true).map_err(Into::into)
}

/// The calling thread's seccomp mode (`prctl(PR_GET_SECCOMP)`): 0 none, 2 filter.
pub fn mode() -> io::Result<u32> {
    let s = std::fs::read_to_string("/proc/thread-self/status")?;
    s.lines()
        .find_map(|l| l.strip_prefix("Seccomp:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| io::Error::other("no Seccomp: line in /proc/thread-self/status"))
}
