//! `wharf shell`: a new process inside a running machine — its namespaces, cgroup, root,
//! capability bounding set and seccomp filter, as the machine's own processes get them.

use std::ffi::{CString, OsString};
use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use wharf_sys::ns::{self, Forked};
use wharf_sys::process::{self, Exit};

use crate::seccomp::{self, SyscallFilter};
use crate::user;

/// What to run in the machine.
#[derive(Debug, Clone, Default)]
pub struct ShellRequest {
    /// A user name or UID of the machine's /etc/passwd (default root).
    pub user: Option<String>,
    /// The command (default: the user's login shell, `-l`).
    pub command: Vec<OsString>,
    /// `TERM` to pass (the caller's, when it is on a terminal).
    pub term: Option<String>,
    /// The machine's `--system-call-filter=` additions (as its processes got them).
    pub syscall_filter: SyscallFilter,
    /// Run on a new pty of the machine (its devpts), forwarded to our stdio (interactive use).
    pub pty: bool,
}

/// The namespaces joined, in order (the mount namespace last: its paths change the view).
const NAMESPACES: [(&str, libc::c_int); 5] = [
    ("cgroup", libc::CLONE_NEWCGROUP),
    ("ipc", libc::CLONE_NEWIPC),
    ("uts", libc::CLONE_NEWUTS),
    ("net", libc::CLONE_NEWNET),
    ("mnt", libc::CLONE_NEWNS),
];

/// Whether `ns` (an open /proc/PID/ns/NAME) is our own namespace of that kind.
fn same_namespace(ns: &File, name: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    let ours = std::fs::metadata(format!("/proc/self/ns/{name}"));
    match (ns.metadata(), ours) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// A field of /proc/PID/status (`CapBnd:`, `NoNewPrivs:`).
fn status_field(status: &str, key: &str) -> Option<String> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim().to_string())
}

/// Run `req` inside the machine whose PID 1 is `leader` (host PID) and whose processes live in
/// cgroup2 directory `cgroup`; wait for it and return its exit status (128 + signal when
/// killed). Must be called while the process has a single thread.
pub fn run(leader: u32, req: &ShellRequest) -> Result<i32> {
    let proc_dir = PathBuf::from(format!("/proc/{leader}"));
    let status = std::fs::read_to_string(proc_dir.join("status"))
        .with_context(|| format!("read {}/status", proc_dir.display()))?;
    let bounding = status_field(&status, "CapBnd:")
        .and_then(|v| u64::from_str_radix(&v, 16).ok())
        .context("read the machine's capability bounding set")?;
    let nnp = status_field(&status, "NoNewPrivs:").is_some_and(|v| v == "1");
    // Where the leader's cgroup is, seen from the host.
    let cg_text = std::fs::read_to_string(proc_dir.join("cgroup")).context("read its cgroup")?;
    let cg_rel = cg_text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .context("the machine has no cgroup2 cgroup")?
        .to_string();
    let unified = crate::cgroup::Layout::detect()?.unified;
    let cg_procs = unified
        .join(cg_rel.trim_start_matches('/'))
        .join("cgroup.procs");
    // A machine with a user namespace: that one first (it owns the others, and joining it gives
    // the shell the machine root's capabilities there, never the host's). Namespaces the
    // machine shares with us (the host network) are not joined: a process of the machine's
    // user namespace could not join them.
    let mut fds = Vec::new();
    for (name, flag) in std::iter::once(("user", libc::CLONE_NEWUSER)).chain(NAMESPACES) {
        let p = proc_dir.join("ns").join(name);
        let f = File::open(&p).with_context(|| format!("open {}", p.display()))?;
        if same_namespace(&f, name) {
            continue;
        }
        fds.push((f, flag, name));
    }
    let pid_ns = File::open(proc_dir.join("ns/pid")).context("open the PID namespace")?;
    let root = File::open(proc_dir.join("root")).context("open the machine's root")?;
    let last_cap = wharf_sys::caps::last_cap().context("read cap_last_cap")?;
    // The machine's PID 1 resource limits, as its own processes inherit them.
    let rlimits =
        crate::limits::rlimits_of(leader).context("read the machine's resource limits")?;
    let filter = seccomp::program(seccomp::Abi::native(), bounding, &req.syscall_filter);

    let chan = if req.pty {
        Some(wharf_sys::socket::seqpacket_pair().context("socketpair")?)
    } else {
        None
    };
    // Children are born in the machine's PID namespace.
    ns::setns(pid_ns.as_fd(), libc::CLONE_NEWPID).context("join the PID namespace")?;
    match process::fork().context("fork")? {
        Forked::Child => {
            let chan = chan.map(|(parent, child)| {
                drop(parent);
                child
            });
            let Err(e) = child(
                &cg_procs,
                &fds,
                &root,
                req,
                bounding,
                last_cap,
                &filter,
                nnp,
                &rlimits,
                chan.as_ref(),
            );
            eprintln!("wharf: shell: {e:#}");
            std::process::exit(127);
        }
        Forked::Parent(pid) => {
            if let Some((parent, child_end)) = chan {
                drop(child_end);
                let mut buf = [0u8; 1];
                let master = wharf_sys::socket::recv(&parent, &mut buf)
                    .ok()
                    .and_then(|(_, mut fds)| fds.pop());
                if let Some(master) = master {
                    forward(master, pid);
                }
            }
            Ok(match process::wait_pid(pid).context("wait")? {
                Exit::Code(c) => c,
                Exit::Signal(s) => 128 + s,
            })
        }
    }
}

/// Copy stdio <-> the pty master until the shell `pid` ends (it is left to be reaped).
fn forward(master: std::os::fd::OwnedFd, pid: wharf_sys::process::Pid) {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    use rustix::process::{waitid, WaitId, WaitIdOptions};
    let mut f = crate::console::Forwarder::new(master, crate::ConsoleMode::Interactive);
    let timeout = Timespec {
        tv_sec: 0,
        tv_nsec: 100_000_000,
    };
    loop {
        let opts = WaitIdOptions::EXITED | WaitIdOptions::NOWAIT | WaitIdOptions::NOHANG;
        if let Ok(Some(_)) = waitid(WaitId::Pid(pid), opts) {
            f.drain();
            return;
        }
        let stdin = std::io::stdin();
        let poll_master = !f.master_hup && f.master_open;
        let with_stdin = f.stdin_open;
        let mut fds = Vec::new();
        if poll_master {
            fds.push(PollFd::new(&f.master, PollFlags::IN));
        }
        if with_stdin {
            fds.push(PollFd::new(&stdin, PollFlags::IN));
        }
        let _ = poll(&mut fds, Some(&timeout));
        let ready: Vec<bool> = fds.iter().map(|p| !p.revents().is_empty()).collect();
        drop(fds);
        if poll_master && ready.first() == Some(&true) {
            f.pump_out();
        } else if !poll_master {
            // EIO earlier (nobody had the slave open): try again after the timeout.
            f.master_hup = false;
            f.pump_out();
        }
        if with_stdin && ready.last() == Some(&true) {
            f.pump_in();
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn child(
    cg_procs: &Path,
    fds: &[(File, libc::c_int, &str)],
    root: &File,
    req: &ShellRequest,
    bounding: u64,
    last_cap: u32,
    filter: &[seccomp::SockFilter],
    nnp: bool,
    rlimits: &[crate::limits::Rlimit1],
    chan: Option<&std::os::fd::OwnedFd>,
) -> Result<std::convert::Infallible> {
    // "0": the writing process itself.
    std::fs::write(cg_procs, "0")
        .with_context(|| format!("join the cgroup {}", cg_procs.display()))?;
    for (f, flag, name) in fds {
        ns::setns(f.as_fd(), *flag).with_context(|| format!("join the {name} namespace"))?;
    }
    rustix::process::fchdir(root.as_fd()).context("enter the machine's root")?;
    ns::chroot_here().context("chroot into the machine's root")?;
    // With CAP_SYS_RESOURCE still held: hard limits may be raised to the machine's.
    crate::limits::apply_rlimits(rlimits)?;
    // The user, from the machine's own databases (read inside its root).
    let read = |p: &str| -> String {
        std::fs::read(p)
            .ok()
            .filter(|b| b.len() as u64 <= user::MAX_DB)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    let u = &user::resolve(
        req.user.as_deref().unwrap_or("root"),
        &read("/etc/passwd"),
        &read("/etc/group"),
    )?;
    let env = &environment(u, req.term.as_deref());
    let argv: &[OsString] = &if req.command.is_empty() {
        let shell = if u.shell.is_empty() {
            "/bin/sh"
        } else {
            &u.shell
        };
        vec![shell.into(), "-l".into()]
    } else {
        req.command.clone()
    };
    if let Some(chan) = chan {
        // A pty of the machine's own devpts: its slave is the shell's controlling terminal.
        let (master, slave) = wharf_sys::pty::open_master().context("allocate a pty")?;
        wharf_sys::socket::send(chan, &[1], &[master.as_fd()]).context("pass the pty")?;
        drop(master);
        crate::console::attach(&slave, true)?;
    }
    let home = Path::new(&u.home);
    if !u.home.is_empty() && home.is_dir() {
        let _ = std::env::set_current_dir(home);
    }
    let prog = resolve(&argv[0], env)?;
    crate::caps::apply(bounding, last_cap, filter, nnp)?;
    process::switch_user(u.uid, u.gid, &u.groups)
        .with_context(|| format!("switch to user {}", u.name))?;
    let c = |b: &[u8]| CString::new(b).context("NUL byte in an argument");
    let argv = argv
        .iter()
        .map(|a| c(a.as_bytes()))
        .collect::<Result<Vec<_>>>()?;
    let envp = env
        .iter()
        .map(|(k, v)| c(format!("{k}={v}").as_bytes()))
        .collect::<Result<Vec<_>>>()?;
    let e = process::execve(&prog, &argv, &envp);
    bail!("execute {}: {e}", prog.to_string_lossy())
}

/// `name` itself when it has a `/`, else the first executable of that name on `PATH`.
fn resolve(name: &OsString, env: &[(String, String)]) -> Result<CString> {
    use std::os::unix::fs::PermissionsExt;
    let b = name.as_bytes();
    if b.contains(&b'/') {
        return CString::new(b).context("NUL byte in the command");
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str())
        .unwrap_or(crate::DEFAULT_PATH);
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let p = Path::new(dir).join(name);
        if std::fs::metadata(&p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0) {
            return CString::new(p.as_os_str().as_bytes()).context("NUL byte in the command");
        }
    }
    bail!(
        "{}: command not found in the machine",
        name.to_string_lossy()
    )
}

/// A clean environment: `container=wharf`, `PATH`, `TERM`, and the user's `HOME`, `USER`,
/// `LOGNAME`, `SHELL`.
fn environment(u: &user::User, term: Option<&str>) -> Vec<(String, String)> {
    let mut env = vec![
        ("container".to_string(), "wharf".to_string()),
        ("PATH".to_string(), crate::DEFAULT_PATH.to_string()),
        ("TERM".to_string(), term.unwrap_or("dumb").to_string()),
        (
            "HOME".to_string(),
            if u.home.is_empty() {
                "/".into()
            } else {
                u.home.clone()
            },
        ),
        ("USER".to_string(), u.name.clone()),
        ("LOGNAME".to_string(), u.name.clone()),
    ];
    if !u.shell.is_empty() {
        env.push(("SHELL".to_string(), u.shell.clone()));
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_environment() {
        let u = user::User {
            name: "alice".into(),
            uid: 1000,
            gid: 1000,
            groups: vec![],
            home: "/home/alice".into(),
            shell: "/bin/bash".into(),
        };
        let env = environment(&u, None);
        assert!(env.contains(&("container".into(), "wharf".into())));
        assert!(env.contains(&("HOME".into(), "/home/alice".into())));
        assert!(env.contains(&("LOGNAME".into(), "alice".into())));
        assert!(env.contains(&("TERM".into(), "dumb".into())));
    }
}
