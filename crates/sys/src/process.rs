//! Children and signals for the launcher's stub init.

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

/// Send signal number `sig` to `pid`.
pub fn kill(pid: Pid, sig: i32) -> io::Result<()> {
    let sig = Signal::from_named_raw(sig).ok_or_else(|| io::Error::other("bad signal"))?;
    rustix::process::kill_process(pid, sig).map_err(Into::into)
}

/// A close-on-exec pipe: (read end, write end).
pub fn pipe_cloexec() -> io::Result<(OwnedFd, OwnedFd)> {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(Into::into)
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
