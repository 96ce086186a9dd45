//! wharf@.service under a real systemd: a Debian machine with systemd-container
//! (`scripts/debian-rootfs machined`) is started by wharf and plays the systemd host, with this
//! wharf binary bound in and a second store as its /var/lib/machines. Inside it, `wharf enable`
//! and `systemctl start wharf@inner` boot the inner machine: it lives in the unit's cgroup
//! (`payload`, wharf in `supervisor`), the unit is ready (Type=notify), systemd-machined and
//! `machinectl list` know it under the unit, `wharf list` shows it; a reboot inside restarts the
//! unit (exit 133, RestartForceExitStatus=) and registers the new PID 1; `systemctl stop` powers
//! it off cleanly and machined forgets it.

use wharf_tests::debian;
use wharf_tests::fixtures::{Fs, TestStore};
use wharf_tests::ok;
use wharf_tests::started::Started;

/// `systemctl show -p PROP --value UNIT` inside the host machine.
fn show(host: &Started, unit: &str, prop: &str) -> String {
    host.sh(&["systemctl", "show", "-p", prop, "--value", unit])
}

/// Poll `f` inside the host machine until it returns true (bounded).
fn wait(what: &str, mut f: impl FnMut() -> bool) {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !f() {
        assert!(
            std::time::Instant::now() < end,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn wharf_at_service_under_systemd() {
    // Declared first, dropped last: the host machine (which binds it) is terminated first.
    let inner = TestStore::new(Fs::Host, 0);
    ok(
        &inner.root,
        &["import-tar", debian::tarball().to_str().unwrap(), "inner"],
    );
    let host = Started::from_tarball("sdhost", &debian::tarball_with_machined());
    let bin = wharf_tests::wharf_bin();
    host.start_with(&[
        // The nested launcher loads its device policy (a cgroup BPF program).
        "--system-call-filter=bpf",
        &format!("--bind-ro={}:/usr/local/bin/wharf", bin.display()),
        &format!("--bind={}:/var/lib/machines", inner.root.display()),
    ]);
    let state = host.sh(&["systemctl", "is-system-running", "--wait"]);
    assert!(state == "running" || state == "degraded", "{state}");

    host.ok(&["shell", "sdhost", "wharf", "enable", "inner"]);
    host.ok(&["shell", "sdhost", "systemctl", "daemon-reload"]);
    host.ok(&["shell", "sdhost", "systemctl", "start", "wharf@inner"]);
    let unit = "wharf@inner.service";
    // Type=notify: `start` returned once the inner systemd was ready.
    assert_eq!(show(&host, unit, "SubState"), "running");
    let main = show(&host, unit, "MainPID");
    let cg = show(&host, unit, "ControlGroup");
    assert_eq!(cg, "/machine.slice/wharf@inner.service");
    let in_cg = |sub: &str| host.sh(&["cat", &format!("/sys/fs/cgroup{cg}/{sub}/cgroup.procs")]);
    assert_eq!(in_cg("supervisor"), main, "wharf sits in supervisor");
    let leader = host.sh(&[
        "sh",
        "-c",
        &format!("cat /sys/fs/cgroup{cg}/payload/init.scope/cgroup.procs"),
    ]);
    assert!(!leader.is_empty());

    // machined knows it under the unit, with PID 1 as leader.
    let props = host.sh(&[
        "machinectl",
        "show",
        "inner",
        "-p",
        "Unit",
        "-p",
        "Leader",
        "-p",
        "Class",
        "-p",
        "Service",
    ]);
    for want in [
        format!("Unit={unit}"),
        format!("Leader={leader}"),
        "Class=container".into(),
        "Service=wharf".into(),
    ] {
        assert!(props.lines().any(|l| l == want), "{want} not in {props}");
    }
    let listing = host.sh(&["machinectl", "list", "--no-legend", "--no-pager"]);
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("inner ") && l.contains("container")),
        "{listing}"
    );
    let wl = host.sh(&["wharf", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&wl).unwrap();
    assert_eq!(v[0]["name"], "inner", "{wl}");
    assert_eq!(v[0]["leader"].to_string(), leader, "{wl}");

    // A reboot inside: wharf exits 133, systemd restarts the unit, a new PID 1 registers.
    host.ok(&["shell", "sdhost", "wharf", "reboot", "inner"]);
    wait("the unit to restart", || {
        show(&host, unit, "NRestarts") == "1" && show(&host, unit, "SubState") == "running"
    });
    wait("the new PID 1 in machined", || {
        let l = host.run(&[
            "shell",
            "sdhost",
            "machinectl",
            "show",
            "inner",
            "-p",
            "Leader",
        ]);
        l.ok && l.stdout.trim() != format!("Leader={leader}") && l.stdout.contains("Leader=")
    });

    // Stop: a clean poweroff, the unit succeeds, machined forgets the machine.
    host.ok(&["shell", "sdhost", "systemctl", "stop", unit]);
    assert_eq!(show(&host, unit, "Result"), "success");
    let listing = host.sh(&["machinectl", "list", "--no-legend", "--no-pager"]);
    assert!(!listing.contains("inner"), "{listing}");
    assert_eq!(host.sh(&["wharf", "list", "--json"]), "[]");

    // Outside any unit (`wharf start`): wharf asks systemd for a transient scope with its
    // subtree delegated, and nests in it the same way; machined registers it under the scope.
    host.ok(&["shell", "sdhost", "wharf", "start", "inner"]);
    let scope = "wharf-inner.scope";
    assert_eq!(show(&host, scope, "ActiveState"), "active");
    assert_eq!(show(&host, scope, "Delegate"), "yes");
    assert_eq!(
        show(&host, scope, "ControlGroup"),
        "/machine.slice/wharf-inner.scope"
    );
    let leader = host.sh(&[
        "cat",
        "/sys/fs/cgroup/machine.slice/wharf-inner.scope/payload/init.scope/cgroup.procs",
    ]);
    let props = host.sh(&["machinectl", "show", "inner", "-p", "Unit", "-p", "Leader"]);
    assert!(props.contains(&format!("Unit={scope}")), "{props}");
    assert!(props.contains(&format!("Leader={leader}")), "{props}");
    let st = host.sh(&["wharf", "status", "inner", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&st).unwrap();
    assert_eq!(
        v["cgroup"], "/sys/fs/cgroup/machine.slice/wharf-inner.scope/payload",
        "{st}"
    );
    host.ok(&["shell", "sdhost", "wharf", "poweroff", "inner"]);
    wait("the scope to go", || {
        show(&host, scope, "ActiveState") == "inactive"
    });
    let listing = host.sh(&["machinectl", "list", "--no-legend", "--no-pager"]);
    assert!(!listing.contains("inner"), "{listing}");
    // A command run in the foreground gets its scope too (wharf waits for a scope of that name
    // that is still stopping), and it goes with the command.
    let r = host.run(&[
        "shell",
        "sdhost",
        "sh",
        "-c",
        "wharf start inner && wharf poweroff inner && \
         wharf run -M inner --read-only sh -c 'systemctl --version >/dev/null; echo inside'",
    ]);
    assert!(r.ok, "{r:?}");
    assert_eq!(r.stdout.trim(), "inside", "{r:?}");
    assert!(!r.stderr.contains("warning"), "{r:?}");
    wait("the foreground scope to go", || {
        show(&host, scope, "ActiveState") == "inactive"
    });
    host.ok(&["poweroff", "sdhost"]);
}
