//! Registration with systemd-machined (`--register=`, `--keep-unit`), against the real
//! machined of Debian's systemd-container on a private bus (tests/src/machined.rs): a machine
//! run the way wharf@.service runs it is registered under its unit, shows in `machinectl list`
//! and `wharf list`, and is unregistered when it stops; without a bus nothing is said; a
//! machine machined cannot place is a warning with `auto` and an error with `yes`.

use std::fs;
use std::process::Stdio;
use std::time::{Duration, Instant};

use wharf_tests::machine::store_named;
use wharf_tests::machined::{Machined, UnitCgroup};
use wharf_tests::{wharf, Run};

#[test]
fn a_keep_unit_machine_is_registered_under_its_unit() {
    let bus = Machined::start();
    let name = "mdreg";
    let s = store_named(name);
    let unit = UnitCgroup::new(name);
    let mut child = unit
        .command(
            &s.root,
            &[
                "run",
                "-M",
                name,
                "--keep-unit",
                "--register=yes",
                "sleep",
                "600",
            ],
        )
        .env("DBUS_SYSTEM_BUS_ADDRESS", &bus.address)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    bus.wait_listed(name, true);

    // machined knows it as wharf's container, with PID 1 in the unit's payload cgroup.
    let payload = unit.service.join("payload");
    let procs = fs::read_to_string(payload.join("cgroup.procs")).unwrap();
    let leader = procs.lines().next().expect("PID 1 in payload").to_string();
    assert_eq!(bus.property(name, "Leader"), format!("u {leader}"));
    assert_eq!(
        bus.property(name, "Unit"),
        format!("s \"wharf@{name}.service\"")
    );
    assert_eq!(bus.property(name, "Class"), "s \"container\"");
    assert_eq!(bus.property(name, "Service"), "s \"wharf\"");
    assert_eq!(
        bus.property(name, "RootDirectory"),
        format!("s \"{}\"", s.root.join(name).display())
    );
    // wharf itself moved to the unit's supervisor cgroup.
    let sup = fs::read_to_string(unit.service.join("supervisor/cgroup.procs")).unwrap();
    assert_eq!(sup.trim(), child.id().to_string());
    let listing = bus.machinectl_list();
    let row = listing
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("machinectl list: {listing}"));
    assert!(row.contains("container") && row.contains("wharf"), "{row}");
    // … and `wharf list` shows the foreground machine too.
    let l: Run = wharf(&s.root)
        .args(["list", "--json"])
        .output()
        .unwrap()
        .into();
    assert!(l.ok, "{l:?}");
    let v: serde_json::Value = serde_json::from_str(&l.stdout).unwrap();
    let m = v
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("{}", l.stdout));
    assert_eq!(m["leader"].to_string(), leader);

    // Stopped: unregistered, the payload cgroup gone.
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let out = wait_with_timeout(&mut child, Duration::from_secs(30));
    bus.wait_listed(name, false);
    assert!(!payload.exists());
    assert!(!out.contains("warning"), "{out}");
}

fn wait_with_timeout(child: &mut std::process::Child, limit: Duration) -> String {
    let end = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > end {
            let _ = child.kill();
            panic!("wharf did not stop");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    err
}

#[test]
fn without_a_bus_auto_says_nothing_and_yes_fails() {
    let name = "mdnobus";
    let s = store_named(name);
    let nobus = tempfile::tempdir().unwrap();
    let addr = format!("unix:path={}", nobus.path().join("none").display());
    let r: Run = wharf(&s.root)
        .args(["run", "-M", name, "--read-only", "true"])
        .env("DBUS_SYSTEM_BUS_ADDRESS", &addr)
        .output()
        .unwrap()
        .into();
    assert!(r.ok, "{r:?}");
    assert_eq!(r.stderr, "", "{r:?}");
    let r: Run = wharf(&s.root)
        .args(["run", "-M", name, "--read-only", "--register=yes", "true"])
        .env("DBUS_SYSTEM_BUS_ADDRESS", &addr)
        .output()
        .unwrap()
        .into();
    assert!(!r.ok, "{r:?}");
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{r:?}");
    assert!(r.stderr.contains("no D-Bus system bus"), "{r:?}");
    let r: Run = wharf(&s.root)
        .args(["run", "-M", name, "--register=maybe", "true"])
        .output()
        .unwrap()
        .into();
    assert!(!r.ok && r.stderr.contains("--register=maybe"), "{r:?}");
}

#[test]
fn a_machine_outside_any_unit_is_a_warning_with_auto_and_an_error_with_yes() {
    let bus = Machined::start();
    let name = "mdnounit";
    let s = store_named(name);
    // Not --keep-unit: the machine's cgroup is one wharf made, which names no unit.
    let r: Run = wharf(&s.root)
        .args(["run", "-M", name, "--read-only", "sh", "-c", "exit 7"])
        .env("DBUS_SYSTEM_BUS_ADDRESS", &bus.address)
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, Some(7), "{r:?}");
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{r:?}");
    assert!(
        r.stderr.starts_with(&format!(
            "wharf: warning: machine {name} not registered with systemd-machined:"
        )),
        "{r:?}"
    );
    let r: Run = wharf(&s.root)
        .args(["run", "-M", name, "--read-only", "--register=yes", "true"])
        .env("DBUS_SYSTEM_BUS_ADDRESS", &bus.address)
        .output()
        .unwrap()
        .into();
    assert!(!r.ok, "{r:?}");
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{r:?}");
    assert!(r.stderr.contains("systemd-machined"), "{r:?}");
    assert_eq!(bus.list().unwrap(), Vec::<String>::new());
}

#[test]
fn keep_unit_in_the_root_cgroup_is_refused() {
    // The test harness may itself run in the root cgroup or in a unit; a process moved to the
    // root cgroup explicitly is in neither.
    let name = "mdroot";
    let s = store_named(name);
    let root = wharf_tests::machined::unified_mount();
    let r: Run = std::process::Command::new("sh")
        .arg("-c")
        .arg("echo $$ > \"$0\"/cgroup.procs && exec \"$@\"")
        .arg(&root)
        .arg(wharf_tests::wharf_bin())
        .args(["run", "-M", name, "--read-only", "--keep-unit", "true"])
        .env("WHARF_IMAGE_ROOT", &s.root)
        .env("WHARF_STATE_DIR", s.scratch.join("machine-state"))
        .output()
        .unwrap()
        .into();
    assert!(!r.ok, "{r:?}");
    assert!(r.stderr.contains("--keep-unit"), "{r:?}");
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{r:?}");
}

#[test]
fn a_machine_booted_in_the_foreground_is_listed_and_obeys_the_verbs() {
    // `wharf boot NAME` in the foreground (what the wharf@ unit runs): list, status, shell
    // and poweroff work on it; the entry goes with it.
    let m = wharf_tests::started::Started::new("mdfg");
    let mut boot = m
        .cmd()
        .args(["boot", "mdfg", "--console=read-only"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(120);
    loop {
        let r = m.run(&["shell", "mdfg", "systemctl", "is-system-running", "--wait"]);
        if r.stdout.trim() == "running" {
            break;
        }
        assert!(Instant::now() < end, "not running: {r:?}");
        assert!(boot.try_wait().unwrap().is_none(), "wharf boot ended");
        std::thread::sleep(Duration::from_millis(200));
    }
    let listed = m.list();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["name"], "mdfg");
    let st = m.status();
    assert_eq!(st["supervisor"].as_u64(), Some(u64::from(boot.id())));
    assert_eq!(m.sh(&["cat", "/proc/1/comm"]), "systemd");
    m.ok(&["poweroff", "mdfg"]);
    let err = wait_with_timeout(&mut boot, Duration::from_secs(60));
    assert_eq!(boot.wait().unwrap().code(), Some(0), "{err}");
    assert!(m.list().is_empty());
    // Two of the same name: the second runs without an entry (and says nothing about it).
    let first = m
        .cmd()
        .args(["run", "-M", "mdfg", "--read-only", "sleep", "600"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = KillOnDrop(first);
    let end = Instant::now() + Duration::from_secs(30);
    while m.list().is_empty() {
        assert!(Instant::now() < end, "first run not listed");
        std::thread::sleep(Duration::from_millis(100));
    }
    let second = m.run(&["run", "-M", "mdfg", "--read-only", "true"]);
    assert!(second.ok && second.stderr.is_empty(), "{second:?}");
    assert_eq!(m.list().len(), 1);
    m.ok(&["terminate", "mdfg"]);
    drop(guard);
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
