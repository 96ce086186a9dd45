//! wharf's side while the machine runs: wait for setup, then one poll loop (single-threaded,
//! so a restart can clone again) over PID 1's pidfd, the termination and window-size signals,
//! the notify socket and the console.

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixDatagram, UnixStream};

use anyhow::{bail, Context, Result};
use rustix::event::{PollFd, PollFlags};
use wharf_sys::process::{self, Exit, Pid};
use wharf_sys::socket;

use crate::child::{MSG_ERROR, MSG_FDS};
use crate::console::{ConsoleMode, Forwarder};

/// SIGINT, SIGTERM and SIGWINCH delivered to self-pipes (no threads, no lost signals).
pub(crate) struct Signals {
    int: UnixStream,
    term: UnixStream,
    winch: UnixStream,
    ids: Vec<signal_hook::SigId>,
}

impl Signals {
    pub fn install() -> Result<Signals> {
        let mut ids = Vec::new();
        let mut pipe = |sig: i32| -> Result<UnixStream> {
            let (r, w) = UnixStream::pair().context("signal pipe")?;
            r.set_nonblocking(true)?;
            w.set_nonblocking(true)?;
            ids.push(signal_hook::low_level::pipe::register(sig, w).context("signal handler")?);
            Ok(r)
        };
        let int = pipe(libc::SIGINT)?;
        let term = pipe(libc::SIGTERM)?;
        let winch = pipe(libc::SIGWINCH)?;
        Ok(Signals {
            int,
            term,
            winch,
            ids,
        })
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

fn drain(s: &UnixStream) -> bool {
    let mut buf = [0u8; 64];
    let mut got = false;
    while let Ok(n) = (&*s).read(&mut buf) {
        if n == 0 {
            break;
        }
        got = true;
    }
    got
}

/// The service manager's `$NOTIFY_SOCKET` (wharf under systemd), if any.
pub(crate) struct HostNotify {
    sock: Option<(UnixDatagram, std::os::unix::net::SocketAddr)>,
    pub ready_sent: bool,
}

impl HostNotify {
    pub fn from_env() -> HostNotify {
        let sock = std::env::var_os("NOTIFY_SOCKET").and_then(|p| {
            use std::os::linux::net::SocketAddrExt;
            let b = std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str()).to_vec();
            let addr = if let Some(name) = b.strip_prefix(b"@") {
                std::os::unix::net::SocketAddr::from_abstract_name(name).ok()?
            } else {
                std::os::unix::net::SocketAddr::from_pathname(std::path::Path::new(&p)).ok()?
            };
            Some((UnixDatagram::unbound().ok()?, addr))
        });
        HostNotify {
            sock,
            ready_sent: false,
        }
    }

    pub fn send(&self, msg: &str) {
        if let Some((s, a)) = &self.sock {
            let _ = s.send_to_addr(msg.as_bytes(), a);
        }
    }

    pub fn ready(&mut self) {
        if !self.ready_sent {
            self.send("READY=1");
            self.ready_sent = true;
        }
    }
}

/// What wharf needs to watch one machine start.
pub(crate) struct Watch<'a> {
    pub pid: Pid,
    pub chan: OwnedFd,
    pub notify: &'a OwnedFd,
    pub console: ConsoleMode,
    pub kill_signal: Option<i32>,
    pub notify_ready: bool,
    /// Called about once a second while it returns `false` (e.g. writing the port forwards
    /// once the machine's DHCP address is known); `None` or `true`: never (again).
    pub tick: Option<&'a mut dyn FnMut() -> bool>,
}

/// How PID 1 ended, and the signal (SIGINT/SIGTERM) that made wharf kill it, if any.
pub(crate) struct Ended {
    pub exit: Exit,
    pub interrupted: Option<i32>,
}

/// Wait for the container's setup, then supervise it until PID 1 ends.
pub(crate) fn watch(mut w: Watch<'_>, sigs: &Signals, host: &mut HostNotify) -> Result<Ended> {
    let mut kept: Vec<OwnedFd> = Vec::new();
    let mut master = None;
    let mut buf = vec![0u8; 4096];
    let mut reset = None;
    loop {
        let (n, mut fds) = match socket::recv(&w.chan, &mut buf) {
            Ok(r) => r,
            // The child closed its end with something of ours unread (it failed before reading
            // it): the kernel reports that once, ahead of the messages still queued for us —
            // among them the child's own error, which is the one worth showing.
            Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) && reset.is_none() => {
                reset = Some(e);
                continue;
            }
            Err(e) => {
                let _ = process::kill(w.pid, libc::SIGKILL);
                let _ = process::wait_pid(w.pid);
                return Err(e).context("container setup channel");
            }
        };
        if n == 0 && fds.is_empty() {
            if let Some(e) = reset {
                // Reset, and no error message followed: the setup failed without saying why.
                let _ = process::kill(w.pid, libc::SIGKILL);
                let _ = process::wait_pid(w.pid);
                return Err(e).context("container setup channel");
            }
            break; // Every copy closed: the payload was executed.
        }
        match buf[0] {
            MSG_ERROR => {
                let msg = String::from_utf8_lossy(&buf[1..n]).into_owned();
                let _ = process::kill(w.pid, libc::SIGKILL);
                let _ = process::wait_pid(w.pid);
                bail!("{}", msg.trim_end());
            }
            MSG_FDS => {
                // [kmsg FIFO, console master?]
                if fds.len() >= 2 {
                    master = Some(fds.remove(1));
                }
                kept.append(&mut fds);
            }
            _ => {}
        }
    }
    drop(w.chan);
    if !w.notify_ready {
        host.ready();
    }

    let pidfd = process::pidfd(w.pid).context("pidfd of the container")?;
    let mut fwd = master.map(|m| Forwarder::new(m, w.console));
    let mut interrupted = None;
    let mut kills = 0;
    let stdin = std::io::stdin();
    let mut last_tick = std::time::Instant::now();
    loop {
        if w.tick.is_some() && last_tick.elapsed() >= std::time::Duration::from_secs(1) {
            last_tick = std::time::Instant::now();
            if w.tick.as_mut().is_some_and(|t| t()) {
                w.tick = None;
            }
        }
        let want_in = fwd.as_ref().is_some_and(|f| f.stdin_open);
        let want_out = fwd.as_ref().is_some_and(|f| f.master_open && !f.master_hup);
        // A hung-up console is retried every 20 ms until someone opens it again.
        let retry_out = fwd.as_ref().is_some_and(|f| f.master_open && f.master_hup);
        let mut pfds = vec![
            PollFd::new(&pidfd, PollFlags::IN),
            PollFd::new(&sigs.int, PollFlags::IN),
            PollFd::new(&sigs.term, PollFlags::IN),
            PollFd::new(&sigs.winch, PollFlags::IN),
            PollFd::new(w.notify, PollFlags::IN),
        ];
        if let (true, Some(f)) = (want_out, &fwd) {
            pfds.push(PollFd::new(&f.master, PollFlags::IN));
        }
        if want_in {
            pfds.push(PollFd::new(&stdin, PollFlags::IN));
        }
        let retry = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 20_000_000,
        };
        let second = rustix::event::Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        };
        let timeout = if retry_out {
            Some(&retry)
        } else if w.tick.is_some() {
            Some(&second)
        } else {
            None
        };
        match rustix::event::poll(&mut pfds, timeout) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e).context("poll"),
        }
        let ready: Vec<bool> = pfds.iter().map(|p| !p.revents().is_empty()).collect();
        drop(pfds);
        let mut i = 5;
        if retry_out {
            if let Some(f) = fwd.as_mut() {
                f.pump_out();
            }
        }
        if want_out {
            if ready[i] {
                if let Some(f) = fwd.as_mut() {
                    f.pump_out();
                }
            }
            i += 1;
        }
        if want_in && ready[i] {
            if let Some(f) = fwd.as_mut() {
                f.pump_in();
            }
        }
        for (sig, pipe) in [(libc::SIGINT, &sigs.int), (libc::SIGTERM, &sigs.term)] {
            if drain(pipe) {
                kills += 1;
                match w.kill_signal {
                    Some(ks) if kills == 1 => {
                        let _ = process::kill(w.pid, ks);
                    }
                    _ => {
                        let _ = process::kill(w.pid, libc::SIGKILL);
                        interrupted = Some(sig);
                    }
                }
            }
        }
        if drain(&sigs.winch) {
            if let Some(f) = &fwd {
                f.resize();
            }
        }
        if ready[4] {
            notify_messages(w.notify, w.pid, w.notify_ready, host);
        }
        if ready[0] {
            break;
        }
    }
    let exit = process::wait_pid(w.pid).context("wait for the container")?;
    if let Some(f) = fwd.as_mut() {
        f.drain();
    }
    drop(kept);
    Ok(Ended { exit, interrupted })
}

/// Handle queued sd_notify datagrams from the container: `READY=1` (relayed to wharf's own
/// service manager with `--notify-ready=yes`) and `STATUS=` (always relayed).
fn notify_messages(sock: &OwnedFd, pid1: Pid, notify_ready: bool, host: &mut HostNotify) {
    let ns_of = |pid: i32| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    let container_ns = ns_of(pid1.as_raw_nonzero().get());
    let mut buf = vec![0u8; 4096];
    while let Ok(Some((n, sender))) = socket::recv_with_pid(sock.as_fd(), &mut buf) {
        // Only processes of this machine count (PID 1 or any process in its PID namespace).
        // The socket is reachable only inside the machine's mount namespace; a sender that
        // has already exited (systemd-notify does at once) cannot be checked and is accepted.
        let ok = sender.is_some_and(|p| {
            p == pid1.as_raw_nonzero().get()
                || match ns_of(p) {
                    Some(ns) => Some(ns) == container_ns,
                    None => !std::path::Path::new(&format!("/proc/{p}")).exists(),
                }
        });
        if !ok {
            continue;
        }
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        for line in text.lines() {
            if line == "READY=1" && notify_ready {
                host.ready();
            } else if let Some(st) = line.strip_prefix("STATUS=") {
                host.send(&format!("STATUS={st}"));
            }
        }
    }
}
