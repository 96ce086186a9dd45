//! A real systemd-machined on a private system bus, for the registration tests: a
//! `dbus-daemon` (Debian package dbus-daemon) listening in a temporary directory with a policy
//! that lets root do anything, and `/lib/systemd/systemd-machined` (systemd-container)
//! connected to it. machined runs in a mount namespace of its own with a tmpfs on /run/systemd
//! (it keeps its state there, and `machinectl` wants /run/systemd/system), so the host's
//! /run/systemd is never written. Both are killed on drop, also when a test fails.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const MACHINED: &str = "/lib/systemd/systemd-machined";

const POLICY: &str = r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=SOCKET</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="root"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"#;

/// The private bus with machined on it.
pub struct Machined {
    pub dir: tempfile::TempDir,
    /// `unix:path=…`, for `DBUS_SYSTEM_BUS_ADDRESS`.
    pub address: String,
    daemon: Child,
    machined: Child,
}

/// `cmd` with the private mount namespace machined and machinectl need (see the module).
fn in_private_run_systemd(cmd: &str) -> Command {
    let mut c = Command::new("unshare");
    c.args([
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        &format!("mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system && exec {cmd}"),
    ]);
    c
}

impl Machined {
    pub fn start() -> Machined {
        assert!(
            Path::new(MACHINED).exists(),
            "{MACHINED} is required (Debian package systemd-container)"
        );
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("bus");
        let conf = dir.path().join("bus.conf");
        fs::write(&conf, POLICY.replace("SOCKET", socket.to_str().unwrap())).unwrap();
        let daemon = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", conf.display()))
            .arg("--nofork")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon is required (Debian package dbus-daemon)");
        let address = format!("unix:path={}", socket.display());
        let mut m = Machined {
            dir,
            address,
            daemon,
            // Replaced below once the bus is up.
            machined: Command::new("true").spawn().unwrap(),
        };
        m.wait_for(|| socket.exists(), "the private bus socket");
        let _ = m.machined.wait();
        let log = fs::File::create(m.dir.path().join("machined.log")).unwrap();
        m.machined = in_private_run_systemd(MACHINED)
            .env("DBUS_SYSTEM_BUS_ADDRESS", &m.address)
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("unshare (util-linux)");
        m.wait_for(|| m.list().is_some(), "systemd-machined on the private bus");
        m
    }

    fn wait_for(&self, mut f: impl FnMut() -> bool, what: &str) {
        let end = Instant::now() + Duration::from_secs(20);
        while !f() {
            assert!(
                Instant::now() < end,
                "{what} did not come up: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// machined's own output so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("machined.log")).unwrap_or_default()
    }

    /// `busctl` on the private bus.
    pub fn busctl(&self, args: &[&str]) -> Option<String> {
        let o = Command::new("busctl")
            .arg(format!("--address={}", self.address))
            .args(args)
            .output()
            .expect("busctl (Debian package systemd) is required");
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
    }

    /// The names of the machines machined knows (without `.host`), or `None` before it answers.
    pub fn list(&self) -> Option<Vec<String>> {
        let out = self.busctl(&[
            "--json=short",
            "call",
            "org.freedesktop.machine1",
            "/org/freedesktop/machine1",
            "org.freedesktop.machine1.Manager",
            "ListMachines",
        ])?;
        let v: serde_json::Value = serde_json::from_str(&out).ok()?;
        let rows = v["data"][0].as_array()?;
        Some(
            rows.iter()
                .filter_map(|r| r[0].as_str())
                .filter(|n| *n != ".host")
                .map(str::to_string)
                .collect(),
        )
    }

    /// Wait (bounded) until `name` is registered (`true`) or gone (`false`).
    pub fn wait_listed(&self, name: &str, listed: bool) {
        self.wait_for(
            || {
                self.list()
                    .is_some_and(|l| l.iter().any(|n| n == name) == listed)
            },
            &format!("machine {name} listed={listed} in machined"),
        );
    }

    /// A property of machine `name` (`busctl get-property` output, e.g. `s "x"` or `u 42`).
    pub fn property(&self, name: &str, prop: &str) -> String {
        let out = self
            .busctl(&[
                "--json=short",
                "call",
                "org.freedesktop.machine1",
                "/org/freedesktop/machine1",
                "org.freedesktop.machine1.Manager",
                "GetMachine",
                "s",
                name,
            ])
            .unwrap_or_else(|| panic!("GetMachine {name} failed"));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let path = v["data"][0].as_str().unwrap().to_string();
        self.busctl(&[
            "get-property",
            "org.freedesktop.machine1",
            &path,
            "org.freedesktop.machine1.Machine",
            prop,
        ])
        .unwrap_or_else(|| panic!("get-property {prop} of {name} failed"))
        .trim()
        .to_string()
    }

    /// `machinectl list` against the private machined (in the same kind of namespace).
    pub fn machinectl_list(&self) -> String {
        let o = in_private_run_systemd("machinectl list --no-pager --no-legend")
            .env("DBUS_SYSTEM_BUS_ADDRESS", &self.address)
            .output()
            .expect("unshare");
        assert!(
            o.status.success(),
            "machinectl list: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

impl Drop for Machined {
    fn drop(&mut self) {
        for c in [&mut self.machined, &mut self.daemon] {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A cgroup2 directory shaped like a systemd service with `Delegate=yes`
/// (`wharftest-<random>.slice/wharf@NAME.service`), for `--keep-unit`; on drop, whatever is
/// left in it is killed and the directories are removed.
pub struct UnitCgroup {
    pub slice: PathBuf,
    pub service: PathBuf,
}

impl UnitCgroup {
    pub fn new(name: &str) -> UnitCgroup {
        let unified = unified_mount();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let slice = unified.join(format!("wharftest-{}-{nanos}.slice", std::process::id()));
        let service = slice.join(format!("wharf@{name}.service"));
        fs::create_dir_all(&service).unwrap();
        UnitCgroup { slice, service }
    }

    /// A `wharf` command that runs in the service's cgroup (moved there by `sh` before it
    /// execs wharf).
    pub fn command(&self, root: &Path, args: &[&str]) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg("echo $$ > \"$0\"/cgroup.procs && exec \"$@\"")
            .arg(&self.service)
            .arg(crate::wharf_bin())
            .args(args);
        crate::wharf_env(&mut c, root);
        c
    }
}

impl Drop for UnitCgroup {
    fn drop(&mut self) {
        let _ = fs::write(self.slice.join("cgroup.kill"), "1");
        for _ in 0..100 {
            let mut dirs: Vec<PathBuf> = walk(&self.slice);
            dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
            for d in &dirs {
                let _ = fs::remove_dir(d);
            }
            if !self.slice.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn walk(d: &Path) -> Vec<PathBuf> {
    let mut out = vec![d.to_path_buf()];
    if let Ok(rd) = fs::read_dir(d) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(walk(&e.path()));
            }
        }
    }
    out
}

/// Where cgroup2 is mounted (`/sys/fs/cgroup/unified` on hybrid hosts).
pub fn unified_mount() -> PathBuf {
    let mi = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut found = None;
    for l in mi.lines() {
        if l.contains(" - cgroup2 ") {
            let mp = l.split(' ').nth(4).unwrap();
            if mp == "/sys/fs/cgroup" || mp == "/sys/fs/cgroup/unified" {
                found = Some(PathBuf::from(mp));
            }
        }
    }
    found.expect("cgroup2 is not mounted")
}
