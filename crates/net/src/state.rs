//! Per-machine state files and the lock under the state directory (default /run/wharf/net).
//!
//! `DIR/lock` is taken exclusively (flock) around every setup, teardown and sweep, so two wharf
//! processes never allocate the same address, never race on a zone bridge's creation or removal
//! and never both sweep one stale machine. `DIR/machines/NAME.json` records, before anything is
//! created, everything that will be created for a machine and which process owns it (PID and
//! start time, so a reused PID is not mistaken for the owner); a later start or sweep uses it to
//! remove what a SIGKILLed owner left behind.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::nft::PortForward;

/// Default state directory.
pub const DEFAULT_DIR: &str = "/run/wharf/net";

/// Everything wharf-net created for one machine.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MachineState {
    pub machine: String,
    pub owner_pid: u32,
    /// Start time of the owner (field 22 of /proc/PID/stat), to detect PID reuse.
    pub owner_start: u64,
    /// Host side of the veth (`ve-NAME`/`vb-NAME`); deleting it deletes `host0` too.
    pub host_ifname: Option<String>,
    /// Existing bridge the veth was attached to (never deleted).
    pub bridge: Option<String>,
    /// Zone whose bridge `vz-ZONE` is deleted when its last member leaves.
    pub zone: Option<String>,
    /// Host side address/prefix (plain veth) or the zone bridge's.
    pub host_addr: Option<(Ipv4Addr, u8)>,
    /// Address given to the machine (auto or static), or found by `refresh_ports`.
    pub machine_addr: Option<Ipv4Addr>,
    /// Host interfaces moved into the machine (`--network-interface`).
    pub moved_interfaces: Vec<String>,
    /// macvlan/ipvlan links created inside the machine.
    pub vlan_links: Vec<String>,
    /// Host sides of the extra veth pairs (`--network-veth-extra`), recorded once created (so
    /// a host link of the same name that made the creation fail is never deleted).
    #[serde(default)]
    pub veth_extra: Vec<String>,
    pub ports: Vec<PortForward>,
    pub masquerade: bool,
    /// nftables table (`ip wharf-NAME`), when one was (or will be) written.
    pub nft_table: Option<String>,
}

/// The state directory and its lock.
#[derive(Clone, Debug)]
pub struct StateDir {
    root: PathBuf,
}

/// Held exclusive lock on the state directory; released on drop.
pub struct Lock {
    _file: File,
}

impl StateDir {
    pub fn new(root: impl Into<PathBuf>) -> StateDir {
        StateDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn machines(&self) -> PathBuf {
        self.root.join("machines")
    }

    fn path(&self, machine: &str) -> PathBuf {
        self.machines().join(format!("{machine}.json"))
    }

    /// Takes the exclusive lock, waiting for other wharf processes.
    pub fn lock(&self) -> Result<Lock> {
        let m = self.machines();
        fs::create_dir_all(&m).map_err(|e| Error::file("create", &m, e))?;
        let p = self.root.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(|e| Error::file("open", &p, e))?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| Error::file("lock", &p, e.into()))?;
        Ok(Lock { _file: file })
    }

    /// Reads one machine's state (None if there is none).
    pub fn read(&self, machine: &str) -> Result<Option<MachineState>> {
        let p = self.path(machine);
        match fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| Error::file("parse", &p, std::io::Error::other(e))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::file("read", &p, e)),
        }
    }

    /// Every state file (unreadable or corrupt ones are skipped: they name nothing usable).
    pub fn all(&self) -> Result<Vec<MachineState>> {
        let m = self.machines();
        let rd = match fs::read_dir(&m) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(Error::file("list", &m, e)),
        };
        let mut out = Vec::new();
        for entry in rd.flatten() {
            let name = entry.file_name();
            let Some(machine) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            if let Ok(Some(s)) = self.read(machine) {
                out.push(s);
            }
        }
        out.sort_by(|a, b| a.machine.cmp(&b.machine));
        Ok(out)
    }

    /// Writes a machine's state atomically (temp file + rename).
    pub fn write(&self, s: &MachineState) -> Result<()> {
        let p = self.path(&s.machine);
        let tmp = self.machines().join(format!(".{}.tmp", s.machine));
        let data = serde_json::to_vec_pretty(s).map_err(std::io::Error::other);
        let r = data.and_then(|d| {
            let mut f = File::create(&tmp)?;
            f.write_all(&d)?;
            f.sync_all()?;
            fs::rename(&tmp, &p)
        });
        r.map_err(|e| Error::file("write", &p, e))
    }

    pub fn remove(&self, machine: &str) -> Result<()> {
        let p = self.path(machine);
        match fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::file("remove", &p, e)),
            _ => Ok(()),
        }
    }
}

/// Start time of process `pid` (clock ticks since boot), None if it does not exist.
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm may contain spaces and ')': fields resume after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    // rest starts with field 3 (state); starttime is field 22.
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the owner recorded in `s` still runs.
pub fn owner_alive(s: &MachineState) -> bool {
    process_start(s.owner_pid) == Some(s.owner_start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_listing() {
        let d = tempfile::tempdir().unwrap();
        let sd = StateDir::new(d.path());
        let _l = sd.lock().unwrap();
        assert!(sd.read("a").unwrap().is_none());
        let s = MachineState {
            machine: "a".into(),
            owner_pid: std::process::id(),
            owner_start: process_start(std::process::id()).unwrap(),
            ports: vec!["udp:1:2".parse().unwrap()],
            host_addr: Some((Ipv4Addr::new(10, 231, 0, 0), 31)),
            ..Default::default()
        };
        sd.write(&s).unwrap();
        assert_eq!(sd.read("a").unwrap().unwrap(), s);
        assert!(owner_alive(&s));
        fs::write(d.path().join("machines/bad.json"), b"{").unwrap();
        assert_eq!(sd.all().unwrap(), vec![s.clone()]);
        sd.remove("a").unwrap();
        sd.remove("a").unwrap();
        assert!(sd.all().unwrap().is_empty());
    }

    #[test]
    fn dead_owner() {
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let pid = c.id();
        c.wait().unwrap();
        let s = MachineState {
            owner_pid: pid,
            owner_start: 1,
            ..Default::default()
        };
        assert!(!owner_alive(&s));
        // a live pid with another start time is not the owner either
        let s = MachineState {
            owner_pid: std::process::id(),
            owner_start: 0,
            ..Default::default()
        };
        assert!(!owner_alive(&s));
    }
}
