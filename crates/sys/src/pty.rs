//! Pseudo-terminals for the machine console: allocation from the container's own devpts,
//! controlling terminals, raw mode and window sizes.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use rustix::fs::{Mode, OFlags};
use rustix::pty::OpenptFlags;
use rustix::termios::{self, OptionalActions, Termios};

/// Open a new pty master through `/dev/ptmx` of the current mount namespace and return it with
/// the path of its slave (`/dev/pts/N`).
pub fn open_master() -> io::Result<(OwnedFd, PathBuf)> {
    let master =
        rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
    rustix::pty::grantpt(&master)?;
    rustix::pty::unlockpt(&master)?;
    let name = rustix::pty::ptsname(&master, Vec::new())?;
    Ok((master, PathBuf::from(OsString::from_vec(name.into_bytes()))))
}

/// Open the slave at `path` read-write (close-on-exec; the caller dup2s it onto stdio).
pub fn open_slave(path: &std::path::Path) -> io::Result<OwnedFd> {
    rustix::fs::open(
        path,
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(Into::into)
}

/// Start a new session and make `tty` its controlling terminal (`setsid` + `TIOCSCTTY`).
pub fn make_controlling(tty: impl AsFd) -> io::Result<()> {
    // setsid fails with EPERM when we already lead a process group; that is fine.
    let _ = rustix::process::setsid();
    rustix::process::ioctl_tiocsctty(tty).map_err(Into::into)
}

/// Make `fd` the standard input, output and error of this process.
pub fn dup_to_stdio(fd: impl AsFd) -> io::Result<()> {
    rustix::stdio::dup2_stdin(&fd)?;
    rustix::stdio::dup2_stdout(&fd)?;
    rustix::stdio::dup2_stderr(&fd)?;
    Ok(())
}

/// Whether `fd` is a terminal.
pub fn is_tty(fd: impl AsFd) -> bool {
    termios::isatty(fd)
}

/// A terminal switched to raw mode; the old mode comes back on drop.
pub struct RawMode<F: AsFd> {
    fd: F,
    saved: Termios,
}

impl<F: AsFd> RawMode<F> {
    /// Put terminal `fd` into raw mode (no echo, no line editing, no signal keys).
    pub fn enter(fd: F) -> io::Result<Self> {
        let saved = termios::tcgetattr(&fd)?;
        let mut raw = saved.clone();
        raw.make_raw();
        termios::tcsetattr(&fd, OptionalActions::Now, &raw)?;
        Ok(RawMode { fd, saved })
    }
}

impl<F: AsFd> RawMode<F> {
    /// Turn off output post-processing only (`OPOST`: no `\n` → `\r\n`), for a terminal that
    /// shows what another pty already processed (nspawn's forwarder does the same).
    pub fn enter_output(fd: F) -> io::Result<Self> {
        let saved = termios::tcgetattr(&fd)?;
        let mut raw = saved.clone();
        raw.output_modes.remove(termios::OutputModes::OPOST);
        termios::tcsetattr(&fd, OptionalActions::Now, &raw)?;
        Ok(RawMode { fd, saved })
    }
}

impl<F: AsFd> Drop for RawMode<F> {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(&self.fd, OptionalActions::Drain, &self.saved);
    }
}

/// Copy the window size of terminal `from` to terminal `to`.
pub fn copy_window_size(from: impl AsFd, to: impl AsFd) -> io::Result<()> {
    let ws = termios::tcgetwinsize(from)?;
    termios::tcsetwinsize(to, ws).map_err(Into::into)
}

/// Make `fd` non-blocking.
pub fn set_nonblocking(fd: impl AsFd) -> io::Result<()> {
    let fl = rustix::fs::fcntl_getfl(&fd)?;
    rustix::fs::fcntl_setfl(&fd, fl | OFlags::NONBLOCK).map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn master_and_slave_talk() {
        let (master, slave_path) = open_master().unwrap();
        assert!(slave_path.starts_with("/dev/pts/"));
        let slave = open_slave(&slave_path).unwrap();
        assert!(is_tty(&slave));
        let mut s = std::fs::File::from(slave);
        s.write_all(b"hi\n").unwrap();
        let mut m = std::fs::File::from(master);
        let mut buf = [0u8; 16];
        let n = m.read(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"hi"));
    }
}
