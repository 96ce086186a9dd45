//! The machine's own cgroup: layout detection (pure cgroup2 or hybrid), creation with limits and
//! the device policy, moving the container in, and removal (also of residue left by a killed
//! wharf).
//!
//! Where (see docs/launcher.md):
//! - cgroup2: `/wharf/<name>` below the hierarchy's root; when the host runs systemd
//!   (`/run/systemd/system` exists) `/machine.slice/wharf-<name>.scope/payload` in a transient
//!   scope systemd makes (made directly when systemd is not on the bus); with `--keep-unit`
//!   `<wharf's own cgroup>/payload`. In the last two wharf moves itself to `…/supervisor`.
//! - hybrid hosts, only for the v1 controllers a `--property=` needs (`memory`, `pids`, `cpu`):
//!   `<caller's cgroup>/wharf/<name>` (v1 has no "no internal processes" rule, so the caller's
//!   own limits keep applying).
//!
//! The device policy is a cgroup device eBPF program on the cgroup2 directory, on every host
//! (it is checked before the v1 `devices` controller). PID 1 is cloned straight into the
//! cgroup2 directory (`clone3(CLONE_INTO_CGROUP)`); only v1 directories need a migration
//! through `cgroup.procs`, whose first write of a run costs an RCU grace period (several ms).
//!
//! `<name>` is the machine name made safe for a directory name; a machine name already running
//! (its lock `/run/wharf/cgroup/<name>.lock` held by a live wharf) gets `<name>-2`, `-3`, ….
//! Holding the lock also makes an existing directory of that name residue of a dead wharf: its
//! processes are killed and it is removed before the new one is made.

use std::fs;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use wharf_sys::lock::{try_lock, LockKind};
use wharf_sys::process::Pid;

use crate::devices::{self, DevRule};
use crate::limits::Property;

/// The v1 controllers a machine may join on hybrid hosts (when a `--property=` needs one).
pub const V1_CONTROLLERS: [&str; 3] = ["memory", "pids", "cpu"];
/// Controllers enabled for machines on cgroup2 (those the hierarchy offers).
const V2_CONTROLLERS: [&str; 4] = ["cpu", "io", "memory", "pids"];
const LOCK_DIR: &str = "/run/wharf/cgroup";

/// How the host's cgroups are mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Where cgroup2 is mounted (`/sys/fs/cgroup` or `/sys/fs/cgroup/unified`).
    pub unified: PathBuf,
    /// Hybrid hosts: (controller, mount point, the caller's cgroup in that hierarchy).
    pub v1: Vec<(&'static str, PathBuf, PathBuf)>,
    /// The host runs systemd: machines go below `machine.slice`.
    pub systemd: bool,
    /// `--keep-unit`: wharf's own cgroup2 directory (relative to the root), the cgroup of a
    /// unit that delegates its subtree; the machine goes to `<own>/payload` and wharf moves
    /// itself to `<own>/supervisor` (cgroup2 allows no processes beside child cgroups).
    pub keep_unit: Option<PathBuf>,
}

impl Layout {
    /// The running host's layout. `WHARF_CGROUP_LAYOUT=unified` ignores v1 controllers on hybrid
    /// hosts (the cgroup2-only code path, device policy by BPF).
    pub fn detect() -> Result<Layout> {
        let mountinfo =
            fs::read_to_string("/proc/self/mountinfo").context("read /proc/self/mountinfo")?;
        let own = fs::read_to_string("/proc/self/cgroup").context("read /proc/self/cgroup")?;
        let force_unified = std::env::var("WHARF_CGROUP_LAYOUT").is_ok_and(|v| v == "unified");
        let systemd = Path::new("/run/systemd/system").is_dir();
        Layout::from_tables(&mountinfo, &own, force_unified, systemd)
    }

    /// The layout described by a mountinfo and a /proc/self/cgroup text.
    pub fn from_tables(
        mountinfo: &str,
        self_cgroup: &str,
        force_unified: bool,
        systemd: bool,
    ) -> Result<Layout> {
        let mut unified: Option<PathBuf> = None;
        let mut v1 = Vec::new();
        for line in mountinfo.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let Some(mount_point) = left.split(' ').nth(4) else {
                continue;
            };
            let mut r = right.split(' ');
            let (fstype, super_opts) = (r.next(), r.nth(1).unwrap_or(""));
            match fstype {
                Some("cgroup2") => {
                    // Prefer the canonical places over other mounts of the same hierarchy.
                    let better = match &unified {
                        None => true,
                        Some(u) => {
                            u != Path::new("/sys/fs/cgroup")
                                && (mount_point == "/sys/fs/cgroup"
                                    || mount_point == "/sys/fs/cgroup/unified")
                        }
                    };
                    if better {
                        unified = Some(PathBuf::from(mount_point));
                    }
                }
                Some("cgroup") if !force_unified => {
                    for ctrl in V1_CONTROLLERS {
                        if super_opts.split(',').any(|o| o == ctrl)
                            && !v1.iter().any(|(c, _, _)| *c == ctrl)
                        {
                            let own = own_v1_path(self_cgroup, ctrl).unwrap_or_else(|| "/".into());
                            v1.push((ctrl, PathBuf::from(mount_point), own));
                        }
                    }
                }
                _ => {}
            }
        }
        let Some(unified) = unified else {
            bail!("cgroup2 is not mounted; hosts with only cgroup v1 are not supported");
        };
        Ok(Layout {
            unified,
            v1,
            systemd,
            keep_unit: None,
        })
    }

    /// This layout with `--keep-unit`: the machine below the caller's own cgroup2 directory.
    pub fn keeping_unit(self) -> Result<Layout> {
        let own = fs::read_to_string("/proc/self/cgroup").context("read /proc/self/cgroup")?;
        self.keeping_unit_of(&own)
    }

    /// [`Layout::keeping_unit`] for a /proc/self/cgroup text.
    pub fn keeping_unit_of(mut self, self_cgroup: &str) -> Result<Layout> {
        let own = self_cgroup
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .context("--keep-unit: wharf is in no cgroup2 cgroup")?;
        let rel = PathBuf::from(own.trim_start_matches('/'));
        if rel.as_os_str().is_empty() {
            bail!("--keep-unit: wharf runs in the root cgroup, not in a unit's delegated cgroup");
        }
        // A restart of wharf inside the same unit finds itself in `supervisor` already.
        let rel = match rel.file_name() {
            Some(n) if n == "supervisor" => rel.parent().map(Path::to_path_buf).unwrap_or(rel),
            _ => rel,
        };
        self.keep_unit = Some(rel);
        Ok(self)
    }

    /// The machine's cgroup2 directory below the hierarchy root, for leaf name `leaf`.
    pub fn v2_relative(&self, leaf: &str) -> PathBuf {
        if let Some(own) = &self.keep_unit {
            own.join("payload")
        } else if self.systemd {
            PathBuf::from(format!("machine.slice/wharf-{leaf}.scope"))
        } else {
            Path::new("wharf").join(leaf)
        }
    }
}

/// The caller's cgroup in v1 hierarchy `ctrl` (relative, without the leading `/`).
fn own_v1_path(self_cgroup: &str, ctrl: &str) -> Option<PathBuf> {
    self_cgroup.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
        ctrls
            .split(',')
            .any(|c| c == ctrl)
            .then(|| PathBuf::from(path.trim_start_matches('/')))
    })
}

/// A machine name as a cgroup directory name: ASCII letters, digits, `-` and `_` kept, anything
/// else `_` (no dots: names like `memory.max` would clash with interface files).
pub fn leaf_name(machine: &str) -> String {
    let s: String = machine
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        "machine".into()
    } else {
        s
    }
}

/// What to put in place for a machine.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub machine: String,
    pub devices: Vec<DevRule>,
    pub properties: Vec<Property>,
    /// On a systemd host, outside `--keep-unit`: ask systemd for a scope
    /// (`machine.slice/wharf-<leaf>.scope`, see [`crate::hostbus::systemd`]) and nest in it.
    pub transient_scope: bool,
}

/// A machine's cgroups, removed on drop (by the process that made them).
#[derive(Debug)]
pub struct MachineCgroup {
    /// The leaf name (`<machine>` or `<machine>-N`).
    pub leaf: String,
    /// The cgroup2 directory.
    pub v2: PathBuf,
    /// Hybrid hosts: (controller, directory) of the v1 controllers the properties need.
    pub v1: Vec<(&'static str, PathBuf)>,
    /// Every v1 directory of this name (residue of a killed wharf may sit in any of them).
    v1_all: Vec<PathBuf>,
    lock: Option<OwnedFd>,
    owner: u32,
    /// What it was made from (for [`MachineCgroup::recreate`]).
    layout: Layout,
    req: Request,
    /// Why the transient scope was not made (the cgroup was then made directly).
    pub warning: Option<String>,
}

impl MachineCgroup {
    /// Create the machine's cgroups with its limits and device policy.
    pub fn create(layout: &Layout, req: &Request) -> Result<MachineCgroup> {
        let base = leaf_name(&req.machine);
        fs::create_dir_all(LOCK_DIR).with_context(|| format!("create {LOCK_DIR}"))?;
        let mut taken = None;
        for n in 1..=64 {
            let leaf = if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            };
            let path = Path::new(LOCK_DIR).join(format!("{leaf}.lock"));
            if let Some(fd) = lock_exclusive(&path)? {
                taken = Some((leaf, fd));
                break;
            }
        }
        let Some((leaf, lock)) = taken else {
            bail!("64 machines named {base} are running already");
        };
        let mut layout = layout.clone();
        let mut warning = None;
        if req.transient_scope && layout.systemd && layout.keep_unit.is_none() {
            let unit = format!("wharf-{leaf}.scope");
            let description = format!("wharf machine {}", req.machine);
            match crate::hostbus::systemd::start_scope(&unit, "machine.slice", &description) {
                Ok(true) => layout = layout.keeping_unit()?,
                Ok(false) => {}
                Err(e) => {
                    warning = Some(format!(
                        "{e:#}; the machine's cgroup is made directly (systemd does not know it)"
                    ))
                }
            }
        }
        let layout = &layout;
        let v1_all: Vec<(&'static str, PathBuf)> = layout
            .v1
            .iter()
            .map(|(c, mount, own)| (*c, mount.join(own).join("wharf").join(&leaf)))
            .collect();
        let offered =
            fs::read_to_string(layout.unified.join("cgroup.controllers")).unwrap_or_default();
        let needed = |c: &str| {
            req.properties.iter().any(|p| p.controller() == c)
                && !offered.split_whitespace().any(|o| o == c)
        };
        let cg = MachineCgroup {
            v2: layout.unified.join(layout.v2_relative(&leaf)),
            v1: v1_all.iter().filter(|(c, _)| needed(c)).cloned().collect(),
            v1_all: v1_all.into_iter().map(|(_, d)| d).collect(),
            leaf,
            lock: Some(lock),
            owner: std::process::id(),
            layout: layout.clone(),
            req: req.clone(),
            warning,
        };
        // Residue of a killed wharf that held this name.
        cg.remove_dirs().context("remove a stale cgroup")?;
        // And of killed wharfs under other names (ephemeral machines get random names, so a
        // next start of the same name never comes): every machine cgroup whose lock nobody
        // holds. Best effort; a failure here does not stop this start.
        sweep_stale(layout, &cg.leaf);
        cg.make()?;
        Ok(cg)
    }

    /// Empty and remove the machine's cgroups and make them again under the same (still
    /// locked) name, with the same limits and device policy: between two starts of a machine
    /// that rebooted, so the new start finds none of the old one's sub-cgroups, device
    /// programs or counters.
    pub fn recreate(&self) -> Result<()> {
        self.remove_dirs()?;
        self.make()
    }

    /// Make the directories (cgroup2 levels with their controllers enabled, the v1 ones).
    fn make(&self) -> Result<()> {
        let layout = &self.layout;
        if let Some(own) = &layout.keep_unit {
            // The unit's cgroup is ours below its own level: wharf moves into `supervisor`,
            // then the controllers can be enabled for `payload`.
            let own = layout.unified.join(own);
            let sup = own.join("supervisor");
            mkdir(&sup)?;
            write(&sup.join("cgroup.procs"), &std::process::id().to_string())
                .context("--keep-unit: move wharf into its unit's supervisor cgroup")?;
            enable_controllers(&own)?;
            mkdir(&self.v2)?;
        } else {
            // cgroup2: every level below the root, with the controllers the hierarchy offers
            // enabled for the level below.
            let rel = layout.v2_relative(&self.leaf);
            let mut dir = layout.unified.clone();
            for part in rel.iter() {
                enable_controllers(&dir)?;
                dir.push(part);
                mkdir(&dir)?;
            }
        }
        for (_, d) in &self.v1 {
            fs::create_dir_all(d).with_context(|| format!("create cgroup {}", d.display()))?;
        }
        Ok(())
    }

    /// Once PID 1 exists (cloned into the cgroup2 directory, or not yet placed: `migrate_v2`):
    /// attach the device policy, write the limits and move PID 1 into the v1 directories (and
    /// the cgroup2 one). Done while PID 1 builds its mount table, before it may go on.
    pub fn enforce(&self, pid: Pid, migrate_v2: bool) -> Result<()> {
        let prog = devices::ebpf_program(&self.req.devices);
        let fd = wharf_sys::bpf::load_cgroup_device_program(&prog)
            .context("load the device policy BPF program")?;
        let cgfd = self.open_v2()?;
        wharf_sys::bpf::attach_cgroup_device_program(cgfd.as_fd(), fd.as_fd())
            .with_context(|| format!("attach the device policy to {}", self.v2.display()))?;
        for p in &self.req.properties {
            self.apply_property(*p)?;
        }
        self.add_process(pid, migrate_v2)
    }

    /// Write a property into cgroup2 if its controller is there, else into the v1 controller.
    fn apply_property(&self, p: Property) -> Result<()> {
        let ctrl = p.controller();
        let v2_file = p.writes(true)[0].1;
        let (dir, unified) = if self.v2.join(v2_file).exists() {
            (self.v2.clone(), true)
        } else if let Some((_, d)) = self.v1.iter().find(|(c, _)| *c == ctrl) {
            (d.clone(), false)
        } else {
            bail!("--property needs the {ctrl} controller, which this host's cgroups do not offer");
        };
        for (_, file, value) in p.writes(unified) {
            write(&dir.join(file), &value)?;
        }
        Ok(())
    }

    /// Hand the cgroup2 directory to `uid` (and the same GID): the directory and the files a
    /// delegated subtree's owner writes (`cgroup.procs`, `cgroup.threads`,
    /// `cgroup.subtree_control`), as systemd delegates.
    pub fn delegate(&self, uid: u32) -> Result<()> {
        let id = (
            Some(rustix::process::Uid::from_raw(uid)),
            Some(rustix::process::Gid::from_raw(uid)),
        );
        for f in [
            "",
            "cgroup.procs",
            "cgroup.threads",
            "cgroup.subtree_control",
        ] {
            let p = if f.is_empty() {
                self.v2.clone()
            } else {
                self.v2.join(f)
            };
            if f == "cgroup.threads" && !p.exists() {
                continue;
            }
            rustix::fs::chown(&p, id.0, id.1)
                .map_err(io::Error::from)
                .with_context(|| format!("delegate {} to UID {uid}", p.display()))?;
        }
        Ok(())
    }

    /// The cgroup2 directory, opened (for `clone3(CLONE_INTO_CGROUP)` and BPF attachment).
    pub fn open_v2(&self) -> Result<OwnedFd> {
        fs::File::open(&self.v2)
            .map(OwnedFd::from)
            .with_context(|| format!("open {}", self.v2.display()))
    }

    /// Move process `pid` into the machine's cgroups: the v1 ones, and with `v2` also the
    /// cgroup2 one (when it was not cloned into it).
    fn add_process(&self, pid: Pid, v2: bool) -> Result<()> {
        let pid = pid.as_raw_nonzero().to_string();
        if v2 {
            write(&self.v2.join("cgroup.procs"), &pid)?;
        }
        for (_, d) in &self.v1 {
            write(&d.join("cgroup.procs"), &pid)?;
        }
        Ok(())
    }

    /// Whether the machine lives in a unit systemd knows (`--keep-unit`, or a transient scope).
    pub fn in_unit(&self) -> bool {
        self.layout.keep_unit.is_some()
    }

    /// In the cloned child: let go of the parent's lock and never remove anything from here.
    pub fn leave_in_child(&mut self) {
        self.lock = None;
    }

    /// Kill what is left in the machine's cgroups and remove them (subdirectories first).
    fn remove_dirs(&self) -> Result<()> {
        remove_tree(&self.v2, true)?;
        for d in &self.v1_all {
            remove_tree(d, false)?;
        }
        Ok(())
    }
}

impl Drop for MachineCgroup {
    fn drop(&mut self) {
        if self.owner == std::process::id() && self.lock.is_some() {
            let _ = self.remove_dirs();
        }
    }
}

fn mkdir(d: &Path) -> Result<()> {
    match fs::create_dir(d) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
            Err(e).with_context(|| format!("create cgroup {}", d.display()))
        }
        _ => Ok(()),
    }
}

fn write(path: &Path, value: &str) -> Result<()> {
    fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut f| f.write_all(value.as_bytes()))
        .with_context(|| format!("write {value:?} to {}", path.display()))
}

/// Enable in `dir/cgroup.subtree_control` the machine controllers `dir` offers.
fn enable_controllers(dir: &Path) -> Result<()> {
    let offered = fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let enabled = fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    let want: Vec<String> = V2_CONTROLLERS
        .iter()
        .filter(|c| offered.split_whitespace().any(|o| o == **c))
        .filter(|c| !enabled.split_whitespace().any(|o| o == **c))
        .map(|c| format!("+{c}"))
        .collect();
    if want.is_empty() {
        return Ok(());
    }
    write(&dir.join("cgroup.subtree_control"), &want.join(" "))
}

/// Kill every process in `dir` and below, then remove the directories bottom-up, retrying while
/// the kernel still counts exiting tasks (EBUSY), for up to 5 s.
/// Remove the cgroups of machines whose wharf is gone: directories next to ours whose lock in
/// [`LOCK_DIR`] can be taken. Lock files are never removed (a lock on an unlinked file would let
/// two wharfs hold one name).
fn sweep_stale(layout: &Layout, ours: &str) {
    const MARK: &str = "\u{1}";
    let probe = layout.v2_relative(MARK);
    let (Some(parent), Some(file)) = (probe.parent(), probe.file_name()) else {
        return;
    };
    let file = file.to_string_lossy();
    let Some((prefix, suffix)) = file.split_once(MARK) else {
        return;
    };
    let Ok(entries) = fs::read_dir(layout.unified.join(parent)) else {
        return;
    };
    for e in entries.flatten() {
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(leaf) = name
            .strip_prefix(prefix)
            .and_then(|n| n.strip_suffix(suffix))
        else {
            continue;
        };
        if leaf == ours || leaf.is_empty() || leaf.contains('/') || leaf != leaf_name(leaf) {
            continue;
        }
        let path = Path::new(LOCK_DIR).join(format!("{leaf}.lock"));
        let Ok(f) = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
        else {
            continue;
        };
        let fd = OwnedFd::from(f);
        if !matches!(try_lock(fd.as_fd(), LockKind::Exclusive), Ok(true)) {
            continue; // a live wharf runs this machine
        }
        let _ = remove_tree(&e.path(), true);
        for (_, mount, own) in &layout.v1 {
            let _ = remove_tree(&mount.join(own).join("wharf").join(leaf), false);
        }
    }
}

fn remove_tree(dir: &Path, v2: bool) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        kill_all(dir, v2);
        match remove_bottom_up(dir) {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() < deadline && e.raw_os_error() == Some(libc_ebusy()) => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e).with_context(|| format!("remove cgroup {}", dir.display())),
        }
    }
}

const fn libc_ebusy() -> i32 {
    16
}

fn kill_all(dir: &Path, v2: bool) {
    if v2 && fs::write(dir.join("cgroup.kill"), "1").is_ok() {
        return;
    }
    for_each_dir(dir, &mut |d| {
        if let Ok(procs) = fs::read_to_string(d.join("cgroup.procs")) {
            for pid in procs.lines().filter_map(|p| p.trim().parse::<i32>().ok()) {
                if let Some(pid) = Pid::from_raw(pid) {
                    let _ = wharf_sys::process::kill(pid, 9);
                }
            }
        }
    });
}

fn for_each_dir(dir: &Path, f: &mut dyn FnMut(&Path)) {
    f(dir);
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                for_each_dir(&e.path(), f);
            }
        }
    }
}

fn remove_bottom_up(dir: &Path) -> io::Result<()> {
    for e in fs::read_dir(dir)?.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            remove_bottom_up(&e.path())?;
        }
    }
    match fs::remove_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// In the cloned child, once its mount table is built: wait until wharf has put the machine's
/// cgroups in force (a `go` message on the setup channel; EOF = wharf failed or died), then
/// enter a new cgroup namespace rooted there.
pub(crate) fn enter_in_child(chan: &OwnedFd, go: u8) -> Result<()> {
    let mut b = [0u8; 16];
    let (n, _) = wharf_sys::socket::recv(chan, &mut b).context("wait for the cgroup setup")?;
    if n != 1 || b[0] != go {
        bail!("the parent did not finish the cgroup setup");
    }
    wharf_sys::ns::unshare_cgroup().context("create the cgroup namespace")
}

/// The `/sys/fs/cgroup` of a machine: a fresh cgroup2 mount, which in the machine's cgroup
/// namespace shows its own subtree only.
pub fn mount_in_container() -> Result<()> {
    let target = Path::new("/sys/fs/cgroup");
    wharf_sys::mount::mount_fs(
        "cgroup2",
        target,
        wharf_sys::mount::Flags {
            nosuid: true,
            nodev: true,
            noexec: true,
            ..Default::default()
        },
        "",
    )
    .context("mount cgroup2 on /sys/fs/cgroup")
}

/// Create (if needed) and lock `path` exclusively without waiting: the descriptor holds the lock
/// (an OFD lock: released when it closes, also when wharf is killed); `None` when another
/// process holds it.
pub(crate) fn lock_exclusive(path: &Path) -> Result<Option<OwnedFd>> {
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("open {}", path.display()))?;
    let fd = OwnedFd::from(f);
    let got = try_lock(fd.as_fd(), LockKind::Exclusive)
        .with_context(|| format!("lock {}", path.display()))?;
    Ok(got.then_some(fd))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 24 0:26 / /sys/fs/cgroup rw,relatime shared:8 - tmpfs tmpfs rw,mode=755
32 31 0:27 / /sys/fs/cgroup/cpu rw,relatime shared:9 - cgroup cgroup rw,cpu
33 31 0:28 / /sys/fs/cgroup/cpuacct rw,relatime shared:10 - cgroup cgroup rw,cpuacct
35 31 0:30 / /sys/fs/cgroup/memory rw,relatime shared:12 - cgroup cgroup rw,memory
36 31 0:31 / /sys/fs/cgroup/devices rw,relatime shared:13 - cgroup cgroup rw,devices
39 31 0:34 / /sys/fs/cgroup/pids rw,relatime shared:16 - cgroup cgroup rw,pids
40 31 0:35 / /sys/fs/cgroup/systemd rw,relatime shared:17 - cgroup cgroup rw,name=systemd
41 31 0:36 / /sys/fs/cgroup/unified rw,relatime shared:18 - cgroup2 cgroup2 rw
";
    const HYBRID_SELF: &str = "\
9:name=systemd:/
8:pids:/
5:devices:/
4:memory:/process_api/abc
1:cpu:/
0::/
";
    const UNIFIED: &str = "\
24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:8 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    #[test]
    fn hybrid_layout() {
        let l = Layout::from_tables(HYBRID, HYBRID_SELF, false, false).unwrap();
        assert_eq!(l.unified, Path::new("/sys/fs/cgroup/unified"));
        let find = |c| l.v1.iter().find(|(x, _, _)| *x == c).cloned().unwrap();
        assert_eq!(
            find("memory"),
            (
                "memory",
                "/sys/fs/cgroup/memory".into(),
                "process_api/abc".into()
            )
        );
        assert_eq!(find("cpu").1, Path::new("/sys/fs/cgroup/cpu"));
        assert_eq!(find("pids").2, Path::new(""));
        assert_eq!(l.v1.len(), 3);
        assert_eq!(l.v2_relative("deb"), Path::new("wharf/deb"));
        // Forced cgroup2-only: no v1, devices by BPF.
        let u = Layout::from_tables(HYBRID, HYBRID_SELF, true, false).unwrap();
        assert!(u.v1.is_empty());
        assert_eq!(u.unified, Path::new("/sys/fs/cgroup/unified"));
    }

    #[test]
    fn unified_layout() {
        let l = Layout::from_tables(UNIFIED, "0::/user.slice/x.scope\n", false, true).unwrap();
        assert_eq!(l.unified, Path::new("/sys/fs/cgroup"));
        assert!(l.v1.is_empty());
        assert_eq!(
            l.v2_relative("deb"),
            Path::new("machine.slice/wharf-deb.scope")
        );
        let legacy = HYBRID.replace("cgroup2 cgroup2", "tmpfs tmpfs");
        let e = Layout::from_tables(&legacy, HYBRID_SELF, false, false).unwrap_err();
        assert!(e.to_string().contains("cgroup2 is not mounted"), "{e}");
    }

    #[test]
    fn combined_cpu_controller_mount() {
        let mi = "32 31 0:27 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
                  41 31 0:36 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
        let l = Layout::from_tables(mi, "3:cpu,cpuacct:/a/b\n0::/\n", false, false).unwrap();
        assert_eq!(
            l.v1,
            [("cpu", "/sys/fs/cgroup/cpu,cpuacct".into(), "a/b".into())]
        );
    }

    /// A MachineCgroup over plain directories standing in for cgroupfs (nothing is removed).
    fn fake(v2: &Path, v1: Vec<(&'static str, PathBuf)>) -> MachineCgroup {
        MachineCgroup {
            leaf: "m".into(),
            v2: v2.to_path_buf(),
            v1_all: v1.iter().map(|(_, d)| d.clone()).collect(),
            v1,
            lock: None,
            owner: 0,
            layout: Layout {
                unified: v2.to_path_buf(),
                v1: Vec::new(),
                systemd: false,
                keep_unit: None,
            },
            req: Request::default(),
            warning: None,
        }
    }

    #[test]
    fn properties_go_to_cgroup2_when_the_controller_is_there() {
        let t = tempfile::tempdir().unwrap();
        let v2 = t.path().join("v2");
        fs::create_dir(&v2).unwrap();
        for f in ["memory.max", "pids.max", "cpu.max"] {
            fs::write(v2.join(f), "").unwrap();
        }
        let cg = fake(&v2, vec![]);
        cg.apply_property(Property::MemoryMax(Some(1 << 26)))
            .unwrap();
        cg.apply_property(Property::TasksMax(Some(20))).unwrap();
        cg.apply_property(Property::CpuQuota(50)).unwrap();
        let read = |f: &str| fs::read_to_string(v2.join(f)).unwrap();
        assert_eq!(read("memory.max"), "67108864");
        assert_eq!(read("pids.max"), "20");
        assert_eq!(read("cpu.max"), "50000 100000");
    }

    #[test]
    fn properties_fall_back_to_v1_controllers() {
        let t = tempfile::tempdir().unwrap();
        let v2 = t.path().join("v2");
        let cpu = t.path().join("cpu");
        let mem = t.path().join("memory");
        for d in [&v2, &cpu, &mem] {
            fs::create_dir(d).unwrap();
        }
        for f in ["cpu.cfs_quota_us", "cpu.cfs_period_us"] {
            fs::write(cpu.join(f), "").unwrap();
        }
        fs::write(mem.join("memory.limit_in_bytes"), "").unwrap();
        let cg = fake(&v2, vec![("cpu", cpu.clone()), ("memory", mem.clone())]);
        cg.apply_property(Property::CpuQuota(150)).unwrap();
        cg.apply_property(Property::MemoryMax(None)).unwrap();
        assert_eq!(
            fs::read_to_string(cpu.join("cpu.cfs_quota_us")).unwrap(),
            "150000"
        );
        assert_eq!(
            fs::read_to_string(cpu.join("cpu.cfs_period_us")).unwrap(),
            "100000"
        );
        assert_eq!(
            fs::read_to_string(mem.join("memory.limit_in_bytes")).unwrap(),
            "-1"
        );
        let e = cg.apply_property(Property::TasksMax(Some(5))).unwrap_err();
        assert!(e.to_string().contains("pids controller"), "{e}");
    }

    #[test]
    fn keep_unit_places_the_machine_below_the_callers_cgroup() {
        let base = Layout {
            unified: "/sys/fs/cgroup".into(),
            v1: Vec::new(),
            systemd: true,
            keep_unit: None,
        };
        let unit = "0::/machine.slice/wharf@deb.service\n";
        let l = base.clone().keeping_unit_of(unit).unwrap();
        assert_eq!(
            l.v2_relative("deb"),
            Path::new("machine.slice/wharf@deb.service/payload")
        );
        // wharf restarted inside the unit already sits in `supervisor`.
        let again = "0::/machine.slice/wharf@deb.service/supervisor\n";
        assert_eq!(base.clone().keeping_unit_of(again).unwrap(), l);
        // Hybrid: the named v1 lines do not count.
        let hybrid = "1:name=systemd:/x.service\n0::/system.slice/x.service\n";
        assert_eq!(
            base.clone().keeping_unit_of(hybrid).unwrap().keep_unit,
            Some(PathBuf::from("system.slice/x.service"))
        );
        assert!(base.clone().keeping_unit_of("0::/\n").is_err());
        assert!(base.keeping_unit_of("4:memory:/x\n").is_err());
    }

    #[test]
    fn leaf_names() {
        assert_eq!(leaf_name("deb"), "deb");
        assert_eq!(leaf_name("foo.raw"), "foo_raw");
        assert_eq!(leaf_name("../x"), "___x");
        assert_eq!(leaf_name(""), "machine");
        assert_eq!(leaf_name("cgroup.procs"), "cgroup_procs");
    }
}
