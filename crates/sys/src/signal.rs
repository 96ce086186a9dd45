//! Signal masks and synchronous signal waiting for the launcher's processes.
//!
//! The stub init and the container child do not use signal handlers: they block the signals
//! they care about and collect them with `sigtimedwait`, which needs no async-signal-safe code.

use std::io;
use std::mem::MaybeUninit;
use std::time::Duration;

/// `SIGRTMIN` as the C library defines it (glibc reserves the first real-time signals).
pub fn sigrtmin() -> i32 {
    libc::SIGRTMIN()
}

/// `SIGRTMAX`.
pub fn sigrtmax() -> i32 {
    libc::SIGRTMAX()
}

fn set_of(signals: &[i32]) -> io::Result<libc::sigset_t> {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the sigset_t behind the valid pointer.
    if unsafe { libc::sigemptyset(set.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: sigemptyset succeeded, so the set is initialised.
    let mut set = unsafe { set.assume_init() };
    for &s in signals {
        // SAFETY: `set` is an initialised sigset_t; invalid numbers make sigaddset fail (EINVAL).
        if unsafe { libc::sigaddset(&mut set, s) } != 0 {
            return Err(io::Error::other(format!("invalid signal number {s}")));
        }
    }
    Ok(set)
}

fn mask(how: libc::c_int, signals: &[i32]) -> io::Result<()> {
    let set = set_of(signals)?;
    // SAFETY: `set` is initialised; the old-set pointer may be null.
    if unsafe { libc::pthread_sigmask(how, &set, std::ptr::null_mut()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Block `signals` in the calling thread (inherited by children and kept across exec).
pub fn block(signals: &[i32]) -> io::Result<()> {
    mask(libc::SIG_BLOCK, signals)
}

/// Reset every signal to its default action and unblock all signals: the state a freshly
/// executed program expects (Rust's runtime ignores SIGPIPE, and the caller may have handlers).
pub fn reset_all() -> io::Result<()> {
    for s in 1..=sigrtmax() {
        if s == libc::SIGKILL || s == libc::SIGSTOP {
            continue;
        }
        // SAFETY: installing SIG_DFL touches no memory of ours; errors (glibc-internal signals)
        // are ignored on purpose.
        unsafe { libc::signal(s, libc::SIG_DFL) };
    }
    mask(libc::SIG_SETMASK, &[])
}

/// Restore the default action of SIGPIPE (Rust's runtime ignores it), so a command line tool
/// whose reader goes away (`wharf list-images | head -1`) ends quietly like any Unix tool
/// instead of failing on EPIPE. Sockets are unaffected: Rust sends with MSG_NOSIGNAL.
pub fn default_sigpipe() {
    // SAFETY: installing SIG_DFL for SIGPIPE touches no memory of ours.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

/// Wait for one of `signals` (which must be blocked) for at most `timeout` (forever: `None`).
/// Returns the signal number, or `None` on timeout.
pub fn wait(signals: &[i32], timeout: Option<Duration>) -> io::Result<Option<i32>> {
    let set = set_of(signals)?;
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    loop {
        let ts_ptr = ts
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: `set` is initialised, the siginfo pointer may be null and `ts_ptr` is null or
        // points at a live timespec.
        let r = unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), ts_ptr) };
        if r >= 0 {
            return Ok(Some(r));
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EAGAIN) => return Ok(None),
            Some(libc::EINTR) => continue,
            _ => return Err(e),
        }
    }
}

/// Parse a signal name (`SIGTERM`, `TERM`, `RTMIN+3`, `SIGRTMIN+3`) or number.
pub fn parse(name: &str) -> Option<i32> {
    if let Ok(n) = name.parse::<i32>() {
        return (1..=sigrtmax()).contains(&n).then_some(n);
    }
    let n = name.strip_prefix("SIG").unwrap_or(name);
    if let Some(rest) = n.strip_prefix("RTMIN") {
        let off = if rest.is_empty() {
            0
        } else {
            rest.strip_prefix('+')?.parse::<i32>().ok()?
        };
        let s = sigrtmin() + off;
        return (s <= sigrtmax()).then_some(s);
    }
    if let Some(rest) = n.strip_prefix("RTMAX") {
        let off = if rest.is_empty() {
            0
        } else {
            rest.strip_prefix('-')?.parse::<i32>().ok()?
        };
        let s = sigrtmax() - off;
        return (s >= sigrtmin()).then_some(s);
    }
    NAMES.iter().find(|(k, _)| *k == n).map(|(_, v)| *v)
}

/// The name of signal `sig` (`SIGTERM`, `SIGRTMIN+3`), or its number.
pub fn name(sig: i32) -> String {
    if let Some((k, _)) = NAMES.iter().find(|(_, v)| *v == sig) {
        return format!("SIG{k}");
    }
    if sig >= sigrtmin() && sig <= sigrtmax() {
        return format!("SIGRTMIN+{}", sig - sigrtmin());
    }
    sig.to_string()
}

const NAMES: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(parse("SIGTERM"), Some(15));
        assert_eq!(parse("TERM"), Some(15));
        assert_eq!(parse("9"), Some(9));
        assert_eq!(parse("SIGRTMIN+3"), Some(sigrtmin() + 3));
        assert_eq!(parse("RTMIN+3"), Some(sigrtmin() + 3));
        assert_eq!(parse("SIGNOPE"), None);
        assert_eq!(parse("0"), None);
        assert_eq!(parse("RTMIN+999"), None);
        assert_eq!(name(15), "SIGTERM");
        assert_eq!(name(sigrtmin() + 3), "SIGRTMIN+3");
    }

    #[test]
    fn wait_times_out() {
        block(&[libc::SIGUSR2]).unwrap();
        assert_eq!(
            wait(&[libc::SIGUSR2], Some(Duration::from_millis(1))).unwrap(),
            None
        );
    }
}
