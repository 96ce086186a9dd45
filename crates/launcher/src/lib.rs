//! wharf-launcher: run a command or boot an init system inside a machine image, isolated as
//! systemd-nspawn does (see docs/launcher.md).
//!
//! Process layout: `wharf` creates the machine's cgroup ([`cgroup`], with the device policy of
//! [`devices`] and the `--property=` limits of [`limits`]) and clones a child into new mount,
//! PID, UTS and IPC namespaces and straight into that cgroup ([`child`]); once wharf has put the
//! cgroup in force the child enters a new cgroup namespace rooted there. That child is PID 1 of the new PID namespace: it builds
//! the mount table ([`setup`], [`runhost`], [`etc`]), allocates the console ([`console`]),
//! applies the resource limits, the capability sets ([`caps`]), the seccomp filter
//! ([`seccomp`]) and no_new_privs, and then
//! - executes the command as PID 1 (default, nspawn without `-a`/`-b`),
//! - forks the command as PID 2 and stays as a stub init ([`init`], `--as-pid2`), or
//! - executes the image's init system (`--boot`).
//!
//! wharf meanwhile supervises ([`supervise`]): forwards the console, relays sd_notify, turns
//! SIGINT/SIGTERM into the kill signal, and maps how PID 1 ended to its exit status — restarting
//! the machine in-process when it rebooted.

pub mod caps;
pub mod cgroup;
mod child;
mod console;
pub mod devices;
mod etc;
mod exec;
pub mod hostbus;
mod identity;
mod init;
pub mod limits;
pub mod machine;
pub mod network;
pub mod root;
mod runhost;
pub mod seccomp;
pub mod settings;
mod setup;
mod supervise;
mod user;
pub mod userns;

use std::ffi::OsString;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use wharf_sys::ns::{self, Forked, Namespaces};
use wharf_sys::process::{self, Exit, Pid};

pub use console::ConsoleMode;
pub use etc::{LinkJournal, ResolvConf, Timezone};
pub use exec::INITS;
pub use identity::{parse_setenv, Id128, DEFAULT_PATH};
pub use init::STUB_NAME;
pub use root::{Overlay, Tmpfs, Volatile};
pub use user::User;

/// systemd-nspawn's default retained capability set (26 capabilities) as a bit mask.
pub const DEFAULT_CAPS: u64 = 0xfdec_afff;

const CAP_NET_BIND_SERVICE: u32 = 10;

/// Exit status reserved for "the machine asked to be restarted" (`--on-reboot=exit`), as
/// nspawn's `EXIT_FORCE_RESTART`. A PID 1 that itself exits with 133 is reported as 1.
pub const EXIT_RESTART: i32 = 133;

/// A `--bind`/`--bind-ro` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub src: PathBuf,
    pub dst: PathBuf,
    pub read_only: bool,
    /// Include the mounts below `src` (`rbind`, the default); `norbind`: only `src`'s own.
    pub recursive: bool,
    /// `idmap`: attached through a mount idmapped with the machine's user namespace, so host
    /// files show the same owners inside (needs `-U`/`--private-users=`).
    pub idmap: bool,
}

impl Bind {
    /// Parse `SRC[:DST[:OPTIONS]]` (both absolute; DST defaults to SRC; OPTIONS a comma list
    /// of `rbind`, `norbind`, `idmap`, `noidmap`; `rootidmap`/`owneridmap` are refused).
    pub fn parse(spec: &str, read_only: bool) -> Result<Bind> {
        let mut parts = spec.splitn(3, ':');
        let src = parts.next().unwrap_or_default();
        let dst = parts.next().filter(|d| !d.is_empty()).unwrap_or(src);
        let mut recursive = true;
        let mut idmap = false;
        if let Some(opts) = parts.next() {
            for o in opts.split(',').filter(|o| !o.is_empty()) {
                match o {
                    "rbind" => recursive = true,
                    "norbind" => recursive = false,
                    "noidmap" => idmap = false,
                    "idmap" => idmap = true,
                    "rootidmap" | "owneridmap" => bail!(
                        "invalid bind mount {spec:?}: {o} is not supported (use idmap)"
                    ),
                    other => bail!(
                        "invalid bind mount {spec:?}: unknown option {other:?} (use rbind, norbind, idmap or noidmap)"
                    ),
                }
            }
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
            recursive,
            idmap,
        })
    }
}

/// How the machine starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartMode {
    /// The command is PID 1 (nspawn's default).
    #[default]
    Pid1,
    /// `-a/--as-pid2`: a stub init is PID 1, the command PID 2.
    Pid2,
    /// `-b/--boot`: the image's init system is PID 1; the command line are its arguments.
    Boot,
}

/// `--on-reboot=`: what a `reboot()` inside the machine does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnReboot {
    /// Tear the machine down and start it again in the same wharf process (nspawn without
    /// `--keep-unit`).
    #[default]
    Restart,
    /// Exit with [`EXIT_RESTART`] (133) and leave the restart to a supervisor (nspawn with
    /// `--keep-unit`, whose unit has `RestartForceExitStatus=133`).
    Exit,
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
    /// `--tmpfs=PATH[:OPTIONS]`.
    pub tmpfs: Vec<Tmpfs>,
    /// The command and its arguments (with `--boot`: the init system's arguments).
    pub command: Vec<OsString>,

    // --- Process flow, console and identity ---
    /// PID 1 = command, stub init, or the image's init system.
    pub mode: StartMode,
    /// Sent to PID 1 on the first SIGINT/SIGTERM to wharf (`--kill-signal=`; default
    /// SIGRTMIN+3 with `--boot`, none otherwise: wharf then kills the machine at once).
    pub kill_signal: Option<i32>,
    pub on_reboot: OnReboot,
    pub console: ConsoleMode,
    /// `--uuid=`/`--machine-id=` (used when the image has no machine ID of its own).
    pub uuid: Option<Id128>,
    /// `-u/--user=`: a name or UID from the image's /etc/passwd.
    pub user: Option<String>,
    /// `--notify-ready=yes`: report READY=1 to wharf's service manager only when the machine
    /// does, instead of right after the start.
    pub notify_ready: bool,
    pub resolv_conf: ResolvConf,
    pub timezone: Timezone,
    pub link_journal: LinkJournal,

    // --- Root and custom mounts (root/) ---
    /// `root` is a raw disk image file (`-i`, or a `.raw` image of the store).
    pub raw_image: bool,
    /// `-x/--ephemeral`: run on a throw-away snapshot or overlay of the image.
    pub ephemeral: bool,
    pub volatile: Volatile,
    /// `--overlay=`/`--overlay-ro=`.
    pub overlays: Vec<Overlay>,
    /// `--inaccessible=` paths.
    pub inaccessible: Vec<PathBuf>,
    // --- Security and resources ---
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
    // --- Network ---
    /// `--private-network`, `-n`, `--network-*=`, `-p` (network.rs, wharf-net).
    pub network: network::Network,
    // --- User namespace (userns.rs) ---
    /// `-U`, `--private-users=`.
    pub private_users: userns::PrivateUsers,
    /// `--private-users-ownership=` (`None`: nspawn's default for the mode).
    pub private_users_ownership: Option<userns::Ownership>,
    // --- Host integration (hostbus/) ---
    /// `--register=`: registration with systemd-machined.
    pub register: hostbus::machined::Register,
    /// `--keep-unit`: the machine's cgroup goes below wharf's own (the cgroup of a unit with
    /// `Delegate=yes`, such as `wharf@.service`) instead of one of wharf's making.
    pub keep_unit: bool,
    /// Told about problems that do not stop the machine (a refused registration), one line
    /// each.
    pub warn: Option<fn(&str)>,
    /// Called on every start once PID 1 sits in its cgroup, before it goes on.
    pub on_start: StartHook,
}

/// A callback with PID 1 (host PID) and the machine's cgroup2 directory: how `wharf run`
/// records a machine in the state directory so that `wharf list` shows it.
#[derive(Clone, Default)]
pub struct StartHook(pub Option<Arc<StartFn>>);

/// What a [`StartHook`] calls: (PID 1, the cgroup2 directory).
pub type StartFn = dyn Fn(u32, &Path) + Send + Sync;

impl std::fmt::Debug for StartHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "StartHook(set)"
        } else {
            "StartHook(none)"
        })
    }
}

impl Config {
    /// The kill signal in effect: `--kill-signal`, else SIGRTMIN+3 when booting.
    pub fn effective_kill_signal(&self) -> Option<i32> {
        self.kill_signal
            .or_else(|| (self.mode == StartMode::Boot).then(|| wharf_sys::signal::sigrtmin() + 3))
    }
}

/// Parse a signal name or number (`SIGRTMIN+3`, `TERM`, `15`).
pub fn parse_signal(s: &str) -> Result<i32> {
    wharf_sys::signal::parse(s).with_context(|| format!("invalid signal {s:?}"))
}

/// What the parent gathers before cloning (the child gets a copy).
pub(crate) struct Prepared {
    pub os_release: Vec<u8>,
    /// (name below /dev, rdev, permissions) of the device nodes to copy into /dev.
    pub devices: Vec<(&'static str, u64, u32)>,
    pub last_cap: u32,
    /// Whether each bind source (in `cfg.binds` order) is a directory.
    pub bind_dirs: Vec<bool>,
    pub hostname: String,
    pub id: Id128,
    /// The console mode for this run (`autopipe` resolved).
    pub console: ConsoleMode,
    pub user: Option<User>,
    /// root's login shell from the image (for a shell without `-u`).
    pub root_shell: Option<String>,
    pub env: Vec<(String, String)>,
    pub etc: etc::Plan,
    pub strict_journal: bool,
    /// What the child needs of the staged root (root/).
    pub root: root::ChildPlan,
    /// The capabilities the payload keeps (bounding, effective, permitted, inheritable).
    pub caps: u64,
    /// The seccomp program, built here and installed right before the payload starts.
    pub seccomp: Vec<seccomp::SockFilter>,
    /// Every resource limit of the payload (nspawn's defaults, then `--rlimit=`).
    pub rlimits: Vec<limits::Rlimit1>,
    /// `--network-namespace-path=`, opened before the clone; PID 1 joins it first.
    pub netns_path: Option<std::os::fd::OwnedFd>,
    /// The machine gets a user namespace.
    pub userns: bool,
}

fn prepare(cfg: &Config) -> Result<Prepared> {
    if !cfg.root.is_dir() {
        bail!("{} is not a directory", cfg.root.display());
    }
    let root = identity::open_root(&cfg.root)?;
    exec::check_image(cfg, &root)?;
    let os_release = ["/etc/os-release", "/usr/lib/os-release"]
        .iter()
        .find_map(|p| std::fs::read(p).ok())
        .unwrap_or_default();
    let mut devices = Vec::new();
    for name in ["null", "zero", "full", "random", "urandom", "tty"] {
        let p = Path::new("/dev").join(name);
        let md = std::fs::metadata(&p).with_context(|| format!("stat {}", p.display()))?;
        devices.push((name, md.rdev(), 0o666));
    }
    // As nspawn: fuse and net/tun too when the host's node is there and opens (a module that
    // is not loaded, or a node that is not a character device, leaves them out), with the
    // host node's permissions.
    for name in ["fuse", "net/tun"] {
        let p = Path::new("/dev").join(name);
        let opens = std::fs::OpenOptions::new().read(true).write(true).open(&p);
        if let (Ok(f), Ok(md)) = (opens, std::fs::metadata(&p)) {
            // In a user namespace the node is the host's, bound in: owned by a UID the machine
            // does not map, so only one everybody may use is worth having.
            let usable = !cfg.private_users.enabled() || md.mode() & 0o006 == 0o006;
            if md.file_type().is_char_device() && usable {
                devices.push((name, md.rdev(), md.mode() & 0o777));
            }
            drop(f);
        }
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
    let passwd = identity::read_image_file(&root, "etc/passwd", user::MAX_DB)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let user = match &cfg.user {
        Some(spec) => {
            let group = identity::read_image_file(&root, "etc/group", user::MAX_DB)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            Some(user::resolve(spec, &passwd, &group)?)
        }
        None => None,
    };
    let root_shell = user::resolve("root", &passwd, "").ok().map(|u| u.shell);
    let id = identity::machine_id(cfg, &root)?;
    let console = cfg.console.resolve();
    let term = console.has_pty().then(identity::term_for_pty);
    let login = match &user {
        Some(u) => identity::Login {
            name: u.name.clone(),
            home: u.home.clone(),
        },
        None => identity::Login::default(),
    };
    let env = identity::environment(cfg, &id, term.as_deref(), &login);
    let etc = etc::plan(cfg, &id, cfg.read_only)?;
    let last_cap = wharf_sys::caps::last_cap().context("read cap_last_cap")?;
    let host_bounding = wharf_sys::caps::bounding_set().context("read the bounding set")?;
    cfg.network.validate()?;
    let userns = cfg.private_users.enabled();
    if userns {
        if matches!(cfg.volatile, Volatile::Yes | Volatile::Overlay) {
            bail!("--volatile=yes and --volatile=overlay do not work with a user namespace yet (-U, --private-users=)");
        }
        if cfg.overlays.iter().any(|o| o.upper == Some(None)) {
            bail!("--overlay= with a temporary upper layer does not work with a user namespace yet (-U, --private-users=): give an upper directory");
        }
        if cfg.network.namespace_path.is_some() {
            bail!("--network-namespace-path= does not work with a user namespace (-U, --private-users=): the namespace belongs to the host's");
        }
    }
    if let Some(b) = cfg.binds.iter().find(|b| b.idmap && !userns) {
        bail!(
            "--bind={}:{}:idmap needs a user namespace (-U or --private-users=)",
            b.src.display(),
            b.dst.display()
        );
    }
    let netns_path = cfg.network.open_path()?;
    let mut cap_opts = cfg.caps;
    if cfg.network.new_netns() {
        // As nspawn: a private network keeps CAP_NET_ADMIN (unless dropped).
        cap_opts.add |= 1 << network::CAP_NET_ADMIN;
    } else if userns && cfg.caps.add & (1 << CAP_NET_BIND_SERVICE) == 0 {
        // As nspawn (systemd#11889): on the host's network a user namespace's root may not
        // bind ports below 1024, so services would believe they can and fail; unless asked for.
        cap_opts.drop |= 1 << CAP_NET_BIND_SERVICE;
    }
    let (caps, _) = caps::retained(cap_opts, host_bounding, last_cap);
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
        hostname,
        id,
        console,
        user,
        root_shell,
        env,
        etc,
        strict_journal: matches!(cfg.link_journal, LinkJournal::Host | LinkJournal::Guest),
        root: root::ChildPlan::default(),
        caps,
        seccomp,
        rlimits,
        netns_path,
        userns,
    })
}

/// Warnings about `cfg` for the caller to show (e.g. requested capabilities the caller's
/// bounding set lacks, which are left out).
pub fn warnings(cfg: &Config) -> Vec<String> {
    let host = wharf_sys::caps::bounding_set().unwrap_or(u64::MAX);
    let last = wharf_sys::caps::last_cap().unwrap_or(63);
    caps::retained(cfg.caps, host, last).1.into_iter().collect()
}

/// Run the machine and return wharf's exit status:
/// - PID 1 exited with N → N (133, reserved for restarts, becomes 1);
/// - PID 1 killed by a signal (with `--as-pid2`: the command killed by one) → 255;
/// - the machine powered off or halted (`reboot()` inside) → 0;
/// - the machine rebooted → started again, or 133 with [`OnReboot::Exit`];
/// - wharf got SIGINT/SIGTERM and had to kill the machine → 128 + that signal.
///
/// `cancel` is the caller's SIGINT/SIGTERM flag (checked before each start). Must be called
/// while the process has a single thread (every start clones).
pub fn run(cfg: &Config, cancel: Arc<AtomicBool>) -> Result<i32> {
    // The UID range, claimed (a picked one locked) for the whole run.
    let root_owner = std::fs::metadata(&cfg.root)
        .with_context(|| format!("stat {}", cfg.root.display()))?
        .uid();
    let claim = userns::claim(cfg.private_users, &cfg.machine, root_owner)?;
    let range = claim.as_ref().map(|c| c.range);
    let mut ownership =
        userns::Ownership::effective(cfg.private_users_ownership, cfg.private_users);
    // -x: overlays get idmapped lower layers (made with a namespace of the same maps).
    let idmap_ns = match range {
        Some(r)
            if cfg.ephemeral
                && matches!(ownership, userns::Ownership::Map | userns::Ownership::Auto) =>
        {
            Some(userns::namespace_with(r).context("make a user namespace for the overlay")?)
        }
        _ => None,
    };
    // Raw images, --ephemeral, --volatile: mounted/snapshotted once, torn down on return.
    let stage = root::Stage::new(cfg, idmap_ns.as_ref())?;
    drop(idmap_ns);
    if stage.premapped {
        ownership = userns::Ownership::Off;
    }
    let cfg = &stage.cfg;
    let mut prep = prepare(cfg)?;
    prep.root = stage.plan.clone();
    let mut layout = cgroup::Layout::detect()?;
    if cfg.keep_unit {
        layout = layout.keeping_unit()?;
    }
    // Named (and locked) once per run; a restart gets a fresh cgroup of the same name.
    let mut cg = cgroup::MachineCgroup::create(
        &layout,
        &cgroup::Request {
            machine: cfg.machine.clone(),
            devices: devices::rules_for(&cfg.binds),
            properties: cfg.properties.clone(),
            transient_scope: !cfg.keep_unit,
        },
    )
    .context("set up the machine's cgroup")?;
    if let Some(w) = &cg.warning {
        warn(cfg, &format!("machine {}: {w}", cfg.machine));
    }
    let sigs = supervise::Signals::install()?;
    let mut host = supervise::HostNotify::from_env();
    let mut first = true;
    loop {
        if cancel.load(Ordering::Relaxed) {
            bail!("interrupted");
        }
        if !std::mem::take(&mut first) {
            // The old PID namespace is gone, but what its init left behind is not: sub-cgroups
            // made inside, their device programs, counters of exited tasks.
            cg.recreate()
                .context("reset the machine's cgroup for the restart")?;
        }
        let ended = start_once(
            cfg,
            &prep,
            range.map(|r| (r, ownership)),
            &mut cg,
            &sigs,
            &mut host,
        )?;
        if let Some(sig) = ended.interrupted {
            return Ok(128 + sig);
        }
        match ended.exit {
            Exit::Code(EXIT_RESTART) => return Ok(1),
            Exit::Code(c) => return Ok(c),
            Exit::Signal(libc::SIGINT) => return Ok(0),
            Exit::Signal(libc::SIGHUP) => match cfg.on_reboot {
                OnReboot::Restart => continue,
                OnReboot::Exit => return Ok(EXIT_RESTART),
            },
            Exit::Signal(_) => return Ok(255),
        }
    }
}

/// One start of the machine: clone PID 1, move it into the machine's cgroups, let it go on
/// (it then enters its own cgroup namespace, see [`child::main`]) and supervise it.
fn start_once(
    cfg: &Config,
    prep: &Prepared,
    range: Option<(userns::Range, userns::Ownership)>,
    cg: &mut cgroup::MachineCgroup,
    sigs: &supervise::Signals,
    host: &mut supervise::HostNotify,
) -> Result<supervise::Ended> {
    let (chan_parent, chan_child) = wharf_sys::socket::seqpacket_pair().context("socketpair")?;
    let notify = wharf_sys::socket::notify_socket().context("notify socket")?;
    // No CLONE_NEWCGROUP here: the child unshares it once it sits in the machine's cgroups, so
    // that the namespace is rooted there. It starts in the cgroup2 directory (no migration,
    // which would cost an RCU grace period); kernels before 5.7 get a migration instead.
    let namespaces = Namespaces {
        mount: true,
        pid: true,
        uts: true,
        ipc: true,
        cgroup: false,
        net: cfg.network.new_netns(),
        user: range.is_some(),
    };
    if let Some((r, _)) = range {
        // Delegated to the range's root, so that an init system inside manages its subtree.
        cg.delegate(r.base)?;
    }
    let v2 = cg.open_v2()?;
    let (forked, in_v2) = match ns::clone_into_namespaces_in_cgroup(namespaces, v2.as_fd()) {
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::E2BIG)) => {
            (ns::clone_into_namespaces(namespaces), false)
        }
        r => (r, true),
    };
    drop(v2);
    let pid = match forked.context("create namespaces")? {
        Forked::Child => {
            drop(chan_parent);
            cg.leave_in_child();
            child::main(cfg, prep, chan_child, notify);
        }
        Forked::Parent(pid) => pid,
    };
    drop(chan_child);
    if let Some((r, ownership)) = range {
        let prepared = userns::prepare_child(
            &cfg.root,
            &cfg.binds,
            ownership,
            pid.as_raw_nonzero().get(),
            r,
            &chan_parent,
        );
        if let Err(e) = prepared {
            let _ = process::kill(pid, libc::SIGKILL);
            let _ = process::wait_pid(pid);
            return Err(e.context("set up the user namespace"));
        }
    }
    // While PID 1 builds its mount table: the device policy, limits and v1 placement.
    if let Err(e) = cg.enforce(pid, !in_v2) {
        let _ = process::kill(pid, libc::SIGKILL);
        let _ = process::wait_pid(pid);
        return Err(e.context("put the machine's cgroup in force"));
    }
    // The links in the machine's namespace, before PID 1 goes on (so `lo` is up and `host0`
    // exists when init starts); kept until the machine stopped, torn down on every return.
    let mut net = match network::setup(cfg, pid) {
        Ok(n) => n,
        Err(e) => {
            let _ = process::kill(pid, libc::SIGKILL);
            let _ = process::wait_pid(pid);
            return Err(e);
        }
    };
    // With machined, before PID 1 goes on (as nspawn registers before its child runs).
    let registration = match register(cfg, prep, pid, net.as_ref(), cg) {
        Ok(r) => r,
        Err(e) => {
            let _ = process::kill(pid, libc::SIGKILL);
            let _ = process::wait_pid(pid);
            return Err(e);
        }
    };
    if let Some(hook) = &cfg.on_start.0 {
        hook(pid.as_raw_nonzero().get() as u32, &cg.v2);
    }
    // Go: the child waits for this before it enters its cgroup namespace.
    let _ = wharf_sys::socket::send(&chan_parent, &[child::MSG_GO], &[]);
    // Ports to a machine whose address comes from DHCP (`--network-address=none`): written
    // once it has one (checked about once a second).
    let refresh = |n: &mut network::MachineNetwork| matches!(n.refresh_ports(), Ok(Some(_)));
    let mut tick_net = net
        .as_mut()
        .filter(|n| !n.state().ports.is_empty() && n.machine_address().is_none());
    let mut tick = tick_net.as_mut().map(|n| move || refresh(n));
    let ended = supervise::watch(
        supervise::Watch {
            pid,
            chan: chan_parent,
            notify: &notify,
            console: prep.console,
            kill_signal: cfg.effective_kill_signal(),
            notify_ready: cfg.notify_ready,
            tick: tick.as_mut().map(|t| t as &mut dyn FnMut() -> bool),
        },
        sigs,
        host,
    );
    if let Some(r) = registration {
        if let Err(e) = r.unregister() {
            warn(cfg, &format!("machine {}: {e:#}", cfg.machine));
        }
    }
    if let Some(net) = net {
        net.teardown()
            .with_context(|| format!("tear down the network of machine {}", cfg.machine))?;
    }
    ended
}

fn warn(cfg: &Config, msg: &str) {
    if let Some(w) = cfg.warn {
        w(msg);
    }
}

/// Register the machine with systemd-machined (see [`hostbus::machined`]): under its name, or
/// its cgroup's name when another machine of that name runs (`NAME-2`). With `--register=auto`
/// a refusal is a warning.
fn register(
    cfg: &Config,
    prep: &Prepared,
    pid: Pid,
    net: Option<&network::MachineNetwork>,
    cg: &cgroup::MachineCgroup,
) -> Result<Option<hostbus::machined::Registration>> {
    use hostbus::machined::{self, Register};
    if cfg.register == Register::No {
        return Ok(None);
    }
    // On a systemd host a cgroup wharf made itself (no unit, no scope: systemd was not
    // reachable) is no unit systemd knows: machined would accept the machine and drop it at
    // once as inactive.
    if cfg.register == Register::Auto && !cg.in_unit() && Path::new("/run/systemd/system").is_dir()
    {
        return Ok(None);
    }
    let name = if cg.leaf == cgroup::leaf_name(&cfg.machine) {
        cfg.machine.clone()
    } else {
        cg.leaf.clone()
    };
    let ifindices = net
        .and_then(|n| n.state().host_ifname.clone())
        .and_then(|i| std::fs::read_to_string(format!("/sys/class/net/{i}/ifindex")).ok())
        .and_then(|s| s.trim().parse().ok())
        .into_iter()
        .collect();
    let m = machined::Machine {
        name: &name,
        id: Some(prep.id.0),
        leader: pid.as_raw_nonzero().get() as u32,
        root: &cfg.root,
        ifindices,
    };
    match machined::register(cfg.register, &m) {
        Ok(r) => Ok(r),
        Err(e) if cfg.register == Register::Auto => {
            warn(
                cfg,
                &format!("machine {name} not registered with systemd-machined: {e:#}"),
            );
            Ok(None)
        }
        Err(e) => Err(e.context(format!("register machine {name} with systemd-machined"))),
    }
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
                read_only: false,
                recursive: true,
                idmap: false,
            }
        );
        assert_eq!(Bind::parse("/a:/b", true).unwrap().dst, Path::new("/b"));
        assert!(Bind::parse("a:/b", false).is_err());
        assert!(Bind::parse("/a:b", false).is_err());
        assert!(!Bind::parse("/a:/b:norbind", false).unwrap().recursive);
        assert!(Bind::parse("/a::rbind", false).unwrap().recursive);
        assert_eq!(
            Bind::parse("/a::norbind", false).unwrap().dst,
            Path::new("/a")
        );
        assert!(Bind::parse("/a:/b:idmap", false).unwrap().idmap);
        assert!(!Bind::parse("/a:/b:idmap,noidmap", false).unwrap().idmap);
        let e = Bind::parse("/a:/b:rootidmap", false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("rootidmap"), "{e}");
        assert!(Bind::parse("/a:/b:bogus", false).is_err());
    }

    #[test]
    fn default_caps_count() {
        assert_eq!(DEFAULT_CAPS.count_ones(), 26);
    }

    #[test]
    fn kill_signal_defaults() {
        let boot = Config {
            mode: StartMode::Boot,
            ..Config::default()
        };
        assert_eq!(
            boot.effective_kill_signal(),
            Some(wharf_sys::signal::sigrtmin() + 3)
        );
        assert_eq!(Config::default().effective_kill_signal(), None);
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert!(parse_signal("SIGFOO").is_err());
    }
}
