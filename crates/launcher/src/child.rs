//! The container child: PID 1 of the new PID namespace until it executes the payload (or, with
//! `--as-pid2`, becomes the stub init). Reports setup errors to wharf over the channel and
//! sends it the console master and the kmsg FIFO (SCM_RIGHTS).

use std::convert::Infallible;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, Result};
use wharf_sys::ns::Forked;
use wharf_sys::{process, signal, socket};

use crate::userns::Trees;
use crate::{console, exec, init, Config, Prepared, StartMode};

/// Channel message tags.
pub(crate) const MSG_ERROR: u8 = b'E';
pub(crate) const MSG_FDS: u8 = b'F';
/// wharf → child: PID 1 is in the machine's cgroups, go on.
pub(crate) const MSG_GO: u8 = b'G';
/// wharf → child (user namespace): the UID/GID maps are written; with an idmapped root the
/// detached root tree comes along (SCM_RIGHTS).
pub(crate) const MSG_USERNS: u8 = b'U';

/// Entry point right after the clone. Never returns.
pub(crate) fn main(cfg: &Config, prep: &Prepared, chan: OwnedFd, notify: OwnedFd) -> ! {
    // Handlers inherited from wharf (SIGINT/SIGTERM flags, signal pipes) must not run here.
    let _ = signal::reset_all();
    // Die with wharf. (Had it died already, the wait for MSG_GO below sees EOF.)
    if let Err(e) = wharf_sys::ns::kill_with_parent().context("set the parent-death signal") {
        report(&chan, &e);
        std::process::exit(1);
    }
    let root_tree = match enter_userns(cfg, &chan) {
        Ok(t) => t,
        Err(e) => {
            report(&chan, &e);
            std::process::exit(1);
        }
    };
    if let Err(e) = crate::network::join(prep.netns_path.as_ref()) {
        report(&chan, &e);
        std::process::exit(1);
    }
    let Err(e) = start(cfg, prep, &chan, notify, root_tree);
    report(&chan, &e);
    std::process::exit(1);
}

fn report(chan: &OwnedFd, e: &anyhow::Error) {
    let mut msg = vec![MSG_ERROR];
    msg.extend_from_slice(format!("{e:#}").as_bytes());
    msg.truncate(4000);
    let _ = socket::send(chan, &msg, &[]);
}

/// With a user namespace: wait for wharf to write its maps (and to send the idmapped root
/// tree, if any). PID 1 keeps its host IDs (unmapped in the namespace) until it has pivoted
/// into the image ([`crate::setup::build`]): until then its path lookups on the host tree
/// pass the owner permission bits of root's directories (a store is 0700), which the
/// namespace's root — an unprivileged UID to the host — would not.
fn enter_userns(cfg: &Config, chan: &OwnedFd) -> Result<Trees> {
    if !cfg.private_users.enabled() {
        return Ok(Trees::default());
    }
    let mut b = [0u8; 16];
    let (n, fds) = socket::recv(chan, &mut b).context("wait for the user namespace's maps")?;
    Trees::from_message(&b[..n], fds).context("the parent did not set up the user namespace")
}

fn start(
    cfg: &Config,
    prep: &Prepared,
    chan: &OwnedFd,
    notify: OwnedFd,
    root_tree: Trees,
) -> Result<Infallible> {
    let kmsg = crate::setup::build(cfg, prep, &notify, root_tree)?;
    drop(notify);
    // Meanwhile wharf attached the device policy and limits to the machine's cgroups: from here
    // on PID 1 is confined by them, in its own cgroup namespace and with its own cgroup2 view.
    crate::cgroup::enter_in_child(chan, MSG_GO)?;
    crate::cgroup::mount_in_container()?;
    let console = if prep.console.has_pty() {
        Some(console::allocate()?)
    } else {
        None
    };
    {
        let mut fds = vec![kmsg.as_fd()];
        if let Some((master, _)) = &console {
            fds.push(master.as_fd());
        }
        socket::send(chan, &[MSG_FDS], &fds).context("send the console to wharf")?;
    }
    drop(kmsg);
    let slave = console.map(|(master, slave)| {
        drop(master);
        slave
    });

    let path_env = prep
        .env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str())
        .unwrap_or(crate::identity::DEFAULT_PATH);
    let shell = prep
        .user
        .as_ref()
        .map(|u| u.shell.as_str())
        .or(prep.root_shell.as_deref());
    let prog = exec::program(cfg, shell, path_env)?;
    // Every start mode, and with --as-pid2 before the fork so the stub init is limited too (as
    // nspawn's is): resource limits (the kernel's PID-1 defaults), then the capability sets with
    // the seccomp filter, then no_new_privs. Nothing below needs a capability or syscall the
    // payload may not have: the stub only forks, rewrites its own cmdline/environ
    // (PR_SET_MM_MAP, no capability), waits for signals and calls reboot() (CAP_SYS_BOOT, kept
    // unless dropped); the payload's user switch needs CAP_SETUID/CAP_SETGID (kept unless
    // dropped, as with nspawn). The stub has no thread that could be starved by a TasksMax=
    // limit: it waits for signals synchronously.
    crate::limits::apply(&cfg.limits, &prep.rlimits)?;
    crate::caps::apply(
        prep.caps,
        prep.last_cap,
        &prep.seccomp,
        cfg.no_new_privileges,
    )?;

    if cfg.mode == StartMode::Pid2 {
        let sigs = init::signals();
        signal::block(&sigs).context("block signals")?;
        // The stub gets the console as stdio (not as controlling terminal: that is the
        // payload's, in its own session).
        if let Some(s) = &slave {
            console::attach(s, false)?;
        }
        match process::fork().context("fork the payload")? {
            Forked::Child => {
                let _ = signal::reset_all();
                let Err(e) = payload(cfg, prep, slave.as_deref(), &prog);
                report(chan, &e);
                std::process::exit(127);
            }
            Forked::Parent(pid) => {
                let block = env_block(prep);
                // Nothing of wharf stays open in PID 1: the kernel would let the container
                // reach it through /proc/1/fd.
                std::mem::forget(slave);
                let _ = process::close_from(3);
                init::stub(pid, &block);
            }
        }
    }
    payload(cfg, prep, slave.as_deref(), &prog)
}

/// Become the payload: console, working directory, user, exec.
fn payload(
    cfg: &Config,
    prep: &Prepared,
    slave: Option<&Path>,
    prog: &exec::Program,
) -> Result<Infallible> {
    if let Some(s) = slave {
        console::attach(s, true)?;
    } else {
        let _ = rustix::process::setsid();
    }
    let dir = working_dir(cfg, prep);
    std::env::set_current_dir(&dir).with_context(|| format!("chdir to {}", dir.display()))?;
    if let Some(u) = &prep.user {
        process::switch_user(u.uid, u.gid, &u.groups)
            .with_context(|| format!("switch to user {}", u.name))?;
    }
    Err(exec::exec(prog, &prep.env))
}

/// `--chdir`, else the user's home for `-u` (or a login shell) when it exists, else `/`.
fn working_dir(cfg: &Config, prep: &Prepared) -> std::path::PathBuf {
    if let Some(d) = &cfg.chdir {
        return d.clone();
    }
    let home = prep.user.as_ref().map(|u| u.home.clone()).or_else(|| {
        (cfg.command.is_empty() && cfg.mode != StartMode::Boot).then(|| "/root".into())
    });
    match home {
        Some(h) if Path::new(&h).is_dir() => h.into(),
        _ => "/".into(),
    }
}

/// What the stub shows as its environment: `container=` and `container_uuid=`.
fn env_block(prep: &Prepared) -> Vec<u8> {
    let mut b = Vec::new();
    for (k, v) in &prep.env {
        if k == "container" || k == "container_uuid" {
            b.extend_from_slice(format!("{k}={v}").as_bytes());
            b.push(0);
        }
    }
    b
}
