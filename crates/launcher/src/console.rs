//! The machine console (`--console=`): a pty from the container's own devpts instance that is
//! PID 1's stdio and `/dev/console`, forwarded by wharf to its own stdio; or wharf's stdio
//! passed straight through (`pipe`).

use std::fs;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use wharf_sys::mount as m;
use wharf_sys::pty;

/// `--console=` as nspawn spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConsoleMode {
    /// Forward wharf's stdin to the console and the console to wharf's stdout.
    Interactive,
    /// Forward the console to wharf's stdout only.
    ReadOnly,
    /// A pty console nobody is connected to.
    Passive,
    /// PID 1 gets wharf's stdio; no /dev/console.
    Pipe,
    /// `interactive` when stdin and stdout are terminals, `pipe` otherwise (the default).
    #[default]
    Autopipe,
}

impl ConsoleMode {
    pub fn parse(s: &str) -> Result<ConsoleMode> {
        Ok(match s {
            "interactive" => ConsoleMode::Interactive,
            "read-only" => ConsoleMode::ReadOnly,
            "passive" => ConsoleMode::Passive,
            "pipe" => ConsoleMode::Pipe,
            "autopipe" => ConsoleMode::Autopipe,
            _ => bail!(
                "invalid --console={s:?}: use interactive, read-only, passive, pipe or autopipe"
            ),
        })
    }

    /// The mode to use for this run (`autopipe` decided by looking at stdin/stdout).
    pub fn resolve(self) -> ConsoleMode {
        match self {
            ConsoleMode::Autopipe => {
                if pty::is_tty(io::stdin()) && pty::is_tty(io::stdout()) {
                    ConsoleMode::Interactive
                } else {
                    ConsoleMode::Pipe
                }
            }
            m => m,
        }
    }

    /// Whether PID 1's console is a pty.
    pub fn has_pty(self) -> bool {
        !matches!(self, ConsoleMode::Pipe | ConsoleMode::Autopipe)
    }
}

/// Inside the container (devpts and /dev set up): allocate the console pty and make
/// `/dev/console` its slave (a bind mount over an empty file). Returns (master, slave path).
pub(crate) fn allocate() -> Result<(OwnedFd, PathBuf)> {
    let (master, slave) = pty::open_master().context("allocate the console pty")?;
    let console = Path::new("/dev/console");
    fs::write(console, b"").context("create /dev/console")?;
    fs::set_permissions(console, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .context("chmod /dev/console")?;
    m::bind(&slave, console, false).context("bind the console pty on /dev/console")?;
    Ok((master, slave))
}

/// Make the pty slave our stdio; with `controlling`, in a new session as its controlling tty.
pub(crate) fn attach(slave: &Path, controlling: bool) -> Result<()> {
    let fd = pty::open_slave(slave).with_context(|| format!("open {}", slave.display()))?;
    if controlling {
        pty::make_controlling(&fd).context("make the console the controlling terminal")?;
    }
    pty::dup_to_stdio(&fd).context("attach the console")?;
    Ok(())
}

/// wharf's side of a pty console: copies master ↔ stdio according to the mode.
pub(crate) struct Forwarder {
    pub master: OwnedFd,
    mode: ConsoleMode,
    /// Stdin still open and forwarded.
    pub stdin_open: bool,
    /// The console's output is forwarded (and not ended by an error other than EIO).
    pub master_open: bool,
    /// The last read got EIO: no process has the console open right now. Not an end: an init
    /// system closes and reopens (or vhangup()s) its console while it starts, so the master is
    /// tried again a moment later instead of being polled (it would report POLLHUP at once).
    /// nspawn's pty forwarder treats EIO the same way.
    pub master_hup: bool,
    _raw: Option<pty::RawMode<io::Stdin>>,
    _raw_out: Option<pty::RawMode<io::Stdout>>,
}

impl Forwarder {
    pub fn new(master: OwnedFd, mode: ConsoleMode) -> Forwarder {
        let _ = pty::set_nonblocking(&master);
        let stdin = io::stdin();
        let interactive = mode == ConsoleMode::Interactive;
        // A terminal on stdout must not turn the console's "\r\n" into "\r\r\n".
        let forwards = matches!(mode, ConsoleMode::Interactive | ConsoleMode::ReadOnly);
        let raw_out = if forwards && pty::is_tty(io::stdout()) {
            pty::RawMode::enter_output(io::stdout()).ok()
        } else {
            None
        };
        // Saved after the output change, so dropping `_raw` then `_raw_out` restores all.
        // Raw mode only when we really read keys from a terminal.
        let raw = if interactive && pty::is_tty(&stdin) {
            pty::RawMode::enter(io::stdin()).ok()
        } else {
            None
        };
        let f = Forwarder {
            master,
            mode,
            stdin_open: interactive,
            master_open: forwards,
            master_hup: false,
            _raw: raw,
            _raw_out: raw_out,
        };
        f.resize();
        f
    }

    /// Copy our terminal's window size to the console (on start and SIGWINCH).
    pub fn resize(&self) {
        if pty::is_tty(io::stdout()) {
            let _ = pty::copy_window_size(io::stdout(), &self.master);
        } else if pty::is_tty(io::stdin()) {
            let _ = pty::copy_window_size(io::stdin(), &self.master);
        }
    }

    /// The master is readable (or hung up, see [`Forwarder::master_hup`]): copy what is there
    /// to stdout. Returns false when forwarding ended (EOF, an error other than EIO).
    pub fn pump_out(&mut self) -> bool {
        let mut buf = [0u8; 16384];
        loop {
            match rustix::io::read(&self.master, &mut buf) {
                Ok(0) => {
                    self.master_open = false;
                    return false;
                }
                Err(rustix::io::Errno::IO) => {
                    self.master_hup = true;
                    return true;
                }
                Ok(n) => {
                    self.master_hup = false;
                    if self.mode != ConsoleMode::Passive {
                        let mut out = io::stdout().lock();
                        let _ = out.write_all(&buf[..n]);
                        let _ = out.flush();
                    }
                }
                Err(rustix::io::Errno::AGAIN) => return true,
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) => {
                    self.master_open = false;
                    return false;
                }
            }
        }
    }

    /// Stdin is readable: copy to the master. Stops forwarding at EOF.
    pub fn pump_in(&mut self) {
        let mut buf = [0u8; 4096];
        match rustix::io::read(io::stdin(), &mut buf) {
            Ok(0) | Err(_) => self.stdin_open = false,
            Ok(n) => {
                let mut data = &buf[..n];
                while !data.is_empty() {
                    match rustix::io::write(&self.master, data) {
                        Ok(w) => data = &data[w..],
                        Err(rustix::io::Errno::AGAIN) | Err(rustix::io::Errno::INTR) => {
                            // The console is not reading; wait a moment for room.
                            let _ = rustix::event::poll(
                                &mut [rustix::event::PollFd::new(
                                    &self.master,
                                    rustix::event::PollFlags::OUT,
                                )],
                                None,
                            );
                        }
                        Err(_) => return,
                    }
                }
            }
        }
    }

    /// PID 1 is gone: copy whatever output is left.
    pub fn drain(&mut self) {
        if self.master_open {
            self.pump_out();
        }
    }
}
