//! wharf-launcher: run a command inside a machine image, isolated as systemd-nspawn does.
//!
//! Process layout (nspawn's `--as-pid2` behaviour, always): `wharf` clones a child into new
//! mount, PID, UTS, IPC and cgroup namespaces. That child is PID 1 of the new PID namespace: it
//! builds the mount table, pivots into the image, restricts the capability bounding set, starts
//! the payload (PID 2) and then acts as a minimal init — it reaps every zombie re-parented to it,
//! forwards SIGTERM/SIGINT/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 to the payload and exits with the
//! payload's status (128 + signal when the payload was killed). When it exits the kernel kills
//! whatever is left in the namespace, so nothing outlives a run. A stub init is used instead of
//! running the payload as PID 1 because ordinary commands neither reap orphans nor get default
//! signal handling as PID 1 (SIGTERM/SIGINT would be ignored).
//!
//! Setup errors and a command that cannot be executed are sent to `wharf` over a close-on-exec
//! pipe and reported as one error line (exit status 1).

pub mod caps;
pub mod cgroup;
pub mod devices;
pub mod limits;
pub mod seccomp;
mod setup;

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use wharf_sys::ns::{self, Forked, Namespaces};
use wharf_sys::process;

/// systemd-nspawn's default retained capability set (26 capabilities) as a bit mask.
pub const DEFAULT_CAPS: u64 = 0xfdec_afff;

/// The PATH every payload starts with.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A `--bind`/`--bind-ro` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub src: PathBuf,
    pub dst: PathBuf,
    pub read_only: bool,
}

impl Bind {
    /// Parse `SRC[:DST]` (both absolute; DST defaults to SRC).
    pub fn parse(spec: &str, read_only: bool) -> Result<Bind> {
        let mut parts = spec.splitn(3, ':');
        let src = parts.next().unwrap_or_default();
        let dst = parts.next().filter(|d| !d.is_empty()).unwrap_or(src);
        if let Some(opts) = parts.next() {
            bail!("bind mount options {opts:?} are not supported yet");
        }
        for p in [src, dst] {
            if !p.starts_with('/') {
                bail!("invalid bind mount {spec:?}: paths must be absolute");
            }
        }
        Ok(Bind {
            src: PathBuf::from(src),
            dst: PathBuf::from(dst),
            read_only,
        })
    }
}

/// Everything a run needs.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The image's root directory on the host.
    pub root: PathBuf,
    /// Machine name: the default hostname.
    pub machine: String,
    pub hostname: Option<String>,
    /// `-E` assignments, applied after the defaults.
    pub setenv: Vec<(String, String)>,
    pub chdir: Option<PathBuf>,
    pub read_only: bool,
    pub binds: Vec<Bind>,
    /// `--tmpfs` destinations.
    pub tmpfs: Vec<PathBuf>,
    /// The command and its arguments.
    pub command: Vec<OsString>,
    /// `--capability=` / `--drop-capability=`.
    pub caps: caps::CapOptions,
    /// `--system-call-filter=`.
    pub syscall_filter: seccomp::SyscallFilter,
    /// `--no-new-privileges=yes`: set no_new_privs after the capability drop.
    pub no_new_privileges: bool,
    /// `--property=` cgroup limits.
    pub properties: Vec<limits::Property>,
    /// `--rlimit=`, `--oom-score-adjust=`, `--cpu-affinity=`, `--personality=`.
    pub limits: limits::ProcessLimits,
}

/// Parse a `-E VAR=VALUE` assignment.
pub fn parse_setenv(s: &str) -> Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() && !k.contains('\0') && !v.contains('\0') => {
            Ok((k.to_string(), v.to_string()))
        }
        _ => bail!("invalid environment assignment {s:?}: expected VAR=VALUE"),
    }
}

/// The payload's environment: `container=wharf`, `PATH`, `HOME`, `TERM` (from the caller, if
/// set), then `-E` values. Nothing else of the caller's environment.
pub fn environment(cfg: &Config) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("container".into(), "wharf".into()),
        ("PATH".into(), DEFAULT_PATH.into()),
        ("HOME".into(), "/root".into()),
    ];
    if let Ok(term) = std::env::var("TERM") {
        env.push(("TERM".into(), term));
    }
    for (k, v) in &cfg.setenv {
        env.retain(|(ek, _)| ek != k);
        env.push((k.clone(), v.clone()));
    }
    env
}

/// What the parent gathers from the host before cloning.
pub(crate) struct Prepared {
    pub os_release: Vec<u8>,
    /// (name, rdev) of the device nodes to copy into /dev.
    pub devices: Vec<(&'static str, u64)>,
    pub last_cap: u32,
    /// Whether each bind source (in `cfg.binds` order) is a directory.
    pub bind_dirs: Vec<bool>,
    pub env: Vec<(String, String)>,
    pub hostname: String,
    /// The capabilities the payload keeps (bounding, effective, permitted, inheritable).
    pub caps: u64,
    /// The seccomp program, built here and installed right before the payload starts.
    pub seccomp: Vec<seccomp::SockFilter>,
    /// Every resource limit of the payload (nspawn's defaults, then `--rlimit=`).
    pub rlimits: Vec<limits::Rlimit1>,
}

fn prepare(cfg: &Config) -> Result<Prepared> {
    if !cfg.root.is_dir() {
        bail!("{} is not a directory", cfg.root.display());
    }
    if cfg.command.is_empty() {
        bail!("no command given");
    }
    let os_release = ["/etc/os-release", "/usr/lib/os-release"]
        .iter()
        .find_map(|p| std::fs::read(p).ok())
        .unwrap_or_default();
    let mut devices = Vec::new();
    for name in ["null", "zero", "full", "random", "urandom", "tty"] {
        let p = Path::new("/dev").join(name);
        let md = std::fs::metadata(&p).with_context(|| format!("stat {}", p.display()))?;
        devices.push((name, md.rdev()));
    }
    let mut bind_dirs = Vec::new();
    for b in &cfg.binds {
        let md = std::fs::metadata(&b.src)
            .with_context(|| format!("bind mount source {}", b.src.display()))?;
        bind_dirs.push(md.is_dir());
    }
    let hostname = cfg.hostname.clone().unwrap_or_else(|| cfg.machine.clone());
    if hostname.is_empty() || hostname.len() > 64 {
        bail!("invalid hostname {hostname:?}");
    }
    let last_cap = wharf_sys::caps::last_cap().context("read cap_last_cap")?;
    let host_bounding = wharf_sys::caps::bounding_set().context("read the bounding set")?;
    let (caps, _) = caps::retained(cfg.caps, host_bounding, last_cap);
    let seccomp = seccomp::program(seccomp::Abi::native(), caps, &cfg.syscall_filter);
    let pid1 = std::fs::read_to_string("/proc/1/limits").unwrap_or_default();
    let nr_open = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1024 * 1024);
    let rlimits = limits::rlimits(
        &cfg.limits.rlimits,
        limits::host_pid1_limit(&pid1, "Max processes"),
        limits::host_pid1_limit(&pid1, "Max pending signals"),
        nr_open,
    );
    Ok(Prepared {
        os_release,
        devices,
        last_cap,
        bind_dirs,
        env: environment(cfg),
        hostname,
        caps,
        seccomp,
        rlimits,
    })
}

/// Warnings about `cfg` for the caller to show (e.g. requested capabilities the caller's
/// bounding set lacks, which are left out).
pub fn warnings(cfg: &Config) -> Vec<String> {
    let host = wharf_sys::caps::bounding_set().unwrap_or(u64::MAX);
    let last = wharf_sys::caps::last_cap().unwrap_or(63);
    caps::retained(cfg.caps, host, last).1.into_iter().collect()
}

/// Run `cfg.command` inside the image and return its exit status (128 + signal when killed).
/// `cancel` is the caller's SIGINT/SIGTERM flag: when it turns true, SIGTERM is sent to the
/// container's init, which forwards it to the payload.
///
/// Must be called while the process has a single thread.
pub fn run(cfg: &Config, cancel: Arc<AtomicBool>) -> Result<i32> {
    let prep = prepare(cfg)?;
    let layout = cgroup::Layout::detect()?;
    let mut cg = cgroup::MachineCgroup::create(
        &layout,
        &cgroup::Request {
            machine: cfg.machine.clone(),
            devices: devices::rules_for(&cfg.binds),
            properties: cfg.properties.clone(),
        },
    )
    .context("set up the machine's cgroup")?;
    let (err_r, err_w) = process::pipe_cloexec().context("pipe")?;
    let (sync_r, sync_w) = process::pipe_cloexec().context("pipe")?;
    // No CLONE_NEWCGROUP here: the child unshares it once it sits in the machine's cgroups.
    let forked = ns::clone_into_namespaces(Namespaces {
        mount: true,
        pid: true,
        uts: true,
        ipc: true,
        cgroup: false,
    })
    .context("create namespaces")?;
    let pid = match forked {
        Forked::Child => {
            drop(err_r);
            drop(sync_w);
            cg.leave_in_child();
            if let Err(e) = cgroup::enter_in_child(sync_r) {
                let _ = std::fs::File::from(err_w).write_all(format!("{e:#}").as_bytes());
                std::process::exit(1);
            }
            setup::container_init(cfg, prep, err_w);
        }
        Forked::Parent(pid) => pid,
    };
    drop(sync_r);
    drop(err_w);
    if let Err(e) = cg.add_process(pid) {
        let _ = process::kill(pid, signal_hook::consts::SIGKILL);
        let _ = process::wait_pid(pid);
        return Err(e.context("move the machine into its cgroup"));
    }
    let _ = std::fs::File::from(sync_w).write_all(&[1]);
    drop(prep);
    let mut msg = String::new();
    let _ = std::fs::File::from(err_r).read_to_string(&mut msg);
    if !msg.is_empty() {
        let _ = process::wait_pid(pid);
        bail!("{}", msg.trim_end());
    }
    std::thread::spawn(move || {
        while !cancel.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = process::kill(pid, signal_hook::consts::SIGTERM);
    });
    let exit = process::wait_pid(pid).context("wait for the container")?;
    Ok(exit.status())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_specs() {
        assert_eq!(
            Bind::parse("/a", false).unwrap(),
            Bind {
                src: "/a".into(),
                dst: "/a".into(),
                read_only: false
            }
        );
        assert_eq!(Bind::parse("/a:/b", true).unwrap().dst, Path::new("/b"));
        assert!(Bind::parse("a:/b", false).is_err());
        assert!(Bind::parse("/a:b", false).is_err());
    }

    #[test]
    fn env_defaults_and_overrides() {
        let cfg = Config {
            setenv: vec![
                parse_setenv("PATH=/x").unwrap(),
                parse_setenv("A=b=c").unwrap(),
            ],
            ..Config::default()
        };
        let env = environment(&cfg);
        assert!(env.contains(&("container".into(), "wharf".into())));
        assert!(env.contains(&("PATH".into(), "/x".into())));
        assert!(env.contains(&("A".into(), "b=c".into())));
        assert_eq!(env.iter().filter(|(k, _)| k == "PATH").count(), 1);
        assert!(parse_setenv("novalue").is_err());
    }

    #[test]
    fn default_caps_count() {
        assert_eq!(DEFAULT_CAPS.count_ones(), 26);
    }
}
