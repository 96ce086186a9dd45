//! Machines running in the background (`wharf start`, `list`, `status`, `poweroff`, …): the
//! state directory and what can be learnt about a running machine from /proc and its cgroup.
//! There is no daemon: each machine has a supervisor (a detached `wharf` running the launcher,
//! see docs/machines.md) and an entry in the state directory:
//!
//! - `<dir>/<name>.lock`: an OFD lock held by the supervisor for as long as it lives (it is
//!   taken by `wharf start` before anything else: two starts of one name resolve to one);
//! - `<dir>/<name>/state.json`: [`State`], written once the machine is running;
//! - `<dir>/<name>/console.log`: the machine's console output (kept after the machine ends);
//! - `<dir>/<name>/notify`: the socket on which the supervisor reports READY=1.
//!
//! An entry whose lock is free or whose supervisor PID now names another process (start time
//! differs) is stale: [`Registry::check`] reports it as gone and cleans it up.

pub mod bind;
pub mod copy;
pub mod copytree;
pub mod netinfo;
mod proc;
pub mod shell;
pub mod unit;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use wharf_sys::lock::{try_lock, LockKind};

pub use proc::{
    cgroup_procs, console_tail, kill_cgroup, leader_of, machine_cgroup, os_name, remove_cgroup,
    start_time, uid_range,
};

/// Where state lives unless `--state-dir`/`$WHARF_STATE_DIR` says otherwise.
pub const DEFAULT_STATE_DIR: &str = "/run/wharf/machines";

/// What `wharf start` records about a running machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub name: String,
    /// The supervisor (a `wharf` process running the launcher).
    pub supervisor: u32,
    /// The supervisor's start time (clock ticks since boot, /proc/PID/stat field 22): tells a
    /// live supervisor from a recycled PID.
    pub supervisor_start: u64,
    /// PID 1 of the machine (host PID) when it started; a reboot makes a new one (see
    /// [`leader_of`]).
    pub leader: u32,
    /// Seconds since the epoch.
    pub since: u64,
    pub image: PathBuf,
    /// The machine's cgroup2 directory (absolute, below the cgroup2 mount).
    pub cgroup: PathBuf,
    pub console_log: PathBuf,
    /// The `--system-call-filter=` values the machine was started with (for `shell`).
    #[serde(default)]
    pub syscall_filter: Vec<String>,
}

/// A machine entry as found on disk.
#[derive(Debug)]
pub enum Entry {
    /// Supervisor alive.
    Running(State),
    /// Supervisor dead: the entry was stale (and has now been cleaned).
    Gone(State),
}

/// The state directory.
#[derive(Debug, Clone)]
pub struct Registry {
    pub dir: PathBuf,
}

/// Check a machine name: it becomes a file name and a cgroup name.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !ok {
        bail!("invalid machine name {name:?}: use up to 64 letters, digits, '-', '_' and '.'");
    }
    Ok(())
}

impl Registry {
    /// `dir`, else `$WHARF_STATE_DIR`, else [`DEFAULT_STATE_DIR`].
    pub fn new(dir: Option<PathBuf>) -> Registry {
        let dir = dir
            .or_else(|| std::env::var_os("WHARF_STATE_DIR").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR));
        Registry { dir }
    }

    pub fn machine_dir(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
    pub fn lock_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.lock"))
    }
    pub fn state_path(&self, name: &str) -> PathBuf {
        self.machine_dir(name).join("state.json")
    }
    pub fn console_path(&self, name: &str) -> PathBuf {
        self.machine_dir(name).join("console.log")
    }
    pub fn notify_path(&self, name: &str) -> PathBuf {
        self.machine_dir(name).join("notify")
    }

    /// Open the lock file of `name` and try to lock it: `None` when a live supervisor (or a
    /// start in progress) holds it.
    pub fn try_lock(&self, name: &str) -> Result<Option<File>> {
        check_name(name)?;
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("create state directory {}", self.dir.display()))?;
        let path = self.lock_path(name);
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("open {}", path.display()))?;
        if try_lock(f.as_fd(), LockKind::Exclusive)
            .with_context(|| format!("lock {}", path.display()))?
        {
            Ok(Some(f))
        } else {
            Ok(None)
        }
    }

    /// Write `state` (atomically: a temporary file renamed over the old one).
    pub fn write_state(&self, state: &State) -> Result<()> {
        let path = self.state_path(&state.name);
        let tmp = path.with_extension("json.tmp");
        let mut f = File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
        let text = serde_json::to_vec_pretty(state).context("encode machine state")?;
        f.write_all(&text)
            .with_context(|| format!("write {}", tmp.display()))?;
        fs::rename(&tmp, &path).with_context(|| format!("rename to {}", path.display()))
    }

    /// The state of `name` as written, if any (no liveness check).
    pub fn read_state(&self, name: &str) -> Result<Option<State>> {
        let path = self.state_path(name);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("read {}", path.display())),
        };
        if bytes.len() > 1 << 20 {
            bail!("{}: too large", path.display());
        }
        let s = serde_json::from_slice(&bytes)
            .with_context(|| format!("{}: invalid machine state", path.display()))?;
        Ok(Some(s))
    }

    /// Names with a state file, sorted.
    pub fn names(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let rd = match fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e).with_context(|| format!("read {}", self.dir.display())),
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if check_name(&name).is_ok() && e.path().join("state.json").is_file() {
                out.push(name);
            }
        }
        out.sort();
        Ok(out)
    }

    /// The entry of `name`: running, gone (stale, now cleaned) or absent (`None`).
    pub fn check(&self, name: &str) -> Result<Option<Entry>> {
        let Some(state) = self.read_state(name)? else {
            return Ok(None);
        };
        let alive = start_time(state.supervisor) == Some(state.supervisor_start);
        // The lock: free means no supervisor, whatever the PID says.
        let lock = self.try_lock(name)?;
        if alive && lock.is_none() {
            return Ok(Some(Entry::Running(state)));
        }
        if lock.is_some() {
            self.clean(&state);
        }
        Ok(Some(Entry::Gone(state)))
    }

    /// Remove what a dead supervisor left behind: processes still in the machine's cgroup (a
    /// machine never outlives its supervisor for long: PID 1 has a parent-death signal), the
    /// cgroup directories, the state and notify socket (the console log is kept).
    pub fn clean(&self, state: &State) {
        if machine_cgroup_ok(&state.cgroup) {
            let _ = kill_cgroup(&state.cgroup);
            let _ = remove_cgroup(&state.cgroup, std::time::Duration::from_secs(5));
        }
        self.remove_state(&state.name);
    }

    /// Remove the state file and notify socket of `name`.
    pub fn remove_state(&self, name: &str) {
        let _ = fs::remove_file(self.state_path(name));
        let _ = fs::remove_file(self.notify_path(name));
    }
}

/// Only ever touch cgroups that look like wharf machine cgroups below a cgroup2 mount.
fn machine_cgroup_ok(p: &Path) -> bool {
    p.is_absolute()
        && p.starts_with("/sys/fs/cgroup")
        && p.components().count() > 4
        && !p
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        check_name("deb").unwrap();
        check_name("a.b-c_d").unwrap();
        for bad in ["", ".x", "-x", "a/b", "..", &"x".repeat(65), "a b"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn state_round_trip_and_stale() {
        let t = tempfile::tempdir().unwrap();
        let r = Registry::new(Some(t.path().to_path_buf()));
        fs::create_dir_all(r.machine_dir("m")).unwrap();
        let s = State {
            name: "m".into(),
            // No process has this PID and start time.
            supervisor: std::process::id(),
            supervisor_start: 0,
            leader: 1,
            since: 1,
            image: "/x".into(),
            cgroup: "/nonexistent".into(),
            console_log: r.console_path("m"),
            syscall_filter: vec![],
        };
        r.write_state(&s).unwrap();
        assert_eq!(r.read_state("m").unwrap().unwrap(), s);
        assert_eq!(r.names().unwrap(), ["m"]);
        match r.check("m").unwrap() {
            Some(Entry::Gone(g)) => assert_eq!(g, s),
            other => panic!("{other:?}"),
        }
        assert!(r.read_state("m").unwrap().is_none());
        assert!(r.names().unwrap().is_empty());
        // A held lock with a live supervisor: running.
        let me = State {
            supervisor_start: start_time(std::process::id()).unwrap(),
            ..s
        };
        r.write_state(&me).unwrap();
        let _held = r.try_lock("m").unwrap().unwrap();
        assert!(matches!(r.check("m").unwrap(), Some(Entry::Running(_))));
    }
}
