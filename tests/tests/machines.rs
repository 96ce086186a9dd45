//! `wharf start`, `list`, `status`, `poweroff`, `reboot`, `terminate`, `kill` with the Debian
//! image: machines in the background under a wharf supervisor, without a daemon.
//!
//! Every test has its own state directory (`WHARF_STATE_DIR`, never /run/wharf/machines) and
//! machine name, terminates its machine on drop (also when an assertion fails), and bounds
//! every wait.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use wharf_tests::started::Started as Machine;
use wharf_tests::Run;

/// Wait (at most `limit`) for `f` to hold.
fn wait_until(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn start_list_status_poweroff() {
    let m = Machine::new("mach-basic");
    m.start();
    let list = m.list();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["name"], "mach-basic");
    assert_eq!(list[0]["os"], "Debian GNU/Linux 12 (bookworm)");
    let leader = list[0]["leader"].as_u64().unwrap();
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{leader}/comm"))
            .unwrap()
            .trim(),
        "systemd"
    );
    let st = m.status();
    assert_eq!(st["leader"].as_u64(), Some(leader));
    let cgroup = PathBuf::from(st["cgroup"].as_str().unwrap());
    assert!(cgroup.join("cgroup.procs").exists(), "{st}");
    let procs = st["processes"].as_array().unwrap();
    assert!(
        procs.iter().any(|p| p["pid"].as_u64() == Some(leader)),
        "{st}"
    );
    // Booted to READY=1: the console shows systemd's progress.
    let console = st["console"].as_array().unwrap();
    assert!(!console.is_empty() && console.len() <= 10, "{st}");
    let log = std::fs::read_to_string(st["console_log"].as_str().unwrap()).unwrap();
    assert!(log.contains("multi-user.target"), "{log}");
    // A second start of a running machine fails with one clear line.
    let r = m.run(&["start", "mach-basic"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.stderr.contains("machine mach-basic is already running"),
        "{r:?}"
    );

    m.ok(&["poweroff", "mach-basic", "--timeout", "60"]);
    assert!(m.list().is_empty());
    assert!(!cgroup.exists(), "{} left behind", cgroup.display());
    assert!(!m.state_file().exists());
    let r = m.run(&["status", "mach-basic"]);
    assert!(r.stderr.contains("not running"), "{r:?}");
}

#[test]
fn reboot_gets_a_new_leader_then_poweroff() {
    let m = Machine::new("mach-reboot");
    m.start();
    let first = m.status()["leader"].as_u64().unwrap();
    m.ok(&["reboot", "mach-reboot"]);
    wait_until(LIMIT * 2, "a new leader after reboot", || {
        let l = m.status()["leader"].as_u64().unwrap();
        l != first
            && std::fs::read_to_string(format!("/proc/{l}/comm"))
                .is_ok_and(|c| c.trim() == "systemd")
    });
    let list = m.list();
    assert_eq!(list.len(), 1, "{list:?}");
    m.ok(&["poweroff", "mach-reboot"]);
    assert!(m.list().is_empty());
}

#[test]
fn supervisor_killed_list_recovers() {
    let m = Machine::new("mach-crash");
    m.start();
    let st = m.status();
    let sup = st["supervisor"].as_u64().unwrap();
    let leader = st["leader"].as_u64().unwrap();
    let cgroup = PathBuf::from(st["cgroup"].as_str().unwrap());
    assert!(Command::new("kill")
        .args(["-9", &sup.to_string()])
        .status()
        .unwrap()
        .success());
    // The machine does not outlive its supervisor (parent-death signal on PID 1); list finds
    // the stale entry, reports it and cleans it (state and cgroup).
    wait_until(LIMIT, "the leader to die", || {
        !Path::new(&format!("/proc/{leader}")).exists()
            || std::fs::read_to_string(format!("/proc/{leader}/stat"))
                .is_ok_and(|s| s.contains(") Z "))
    });
    let r = m.ok(&["list", "--json"]);
    assert_eq!(r.stdout.trim(), "[]", "{r:?}");
    assert!(r.stderr.contains("stale entry cleaned"), "{r:?}");
    assert!(!m.state_file().exists());
    wait_until(LIMIT, "the cgroup to go", || !cgroup.exists());
    // The name is free again.
    m.start();
    assert_eq!(m.list().len(), 1);
    m.ok(&["terminate", "mach-crash"]);
    assert!(m.list().is_empty());
}

#[test]
fn concurrent_starts_make_one_machine() {
    let m = Machine::new("mach-twice");
    let spawn = || {
        let mut c = m.cmd();
        c.args(["start", "mach-twice", "--timeout", "120"]);
        c.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        c.spawn().unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let results: Vec<Run> = [a, b]
        .into_iter()
        .map(|c| c.wait_with_output().unwrap().into())
        .collect();
    let won = results.iter().filter(|r| r.ok).count();
    assert_eq!(won, 1, "{results:?}");
    let lost = results.iter().find(|r| !r.ok).unwrap();
    assert!(
        lost.stderr
            .contains("machine mach-twice is already running"),
        "{lost:?}"
    );
    assert_eq!(m.list().len(), 1);
    // Only one systemd in the machine's cgroup tree.
    let st = m.status();
    let systemds = st["processes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["command"].as_str().unwrap().ends_with("systemd/systemd"))
        .count();
    assert_eq!(systemds, 1, "{st}");
    m.ok(&[
        "kill",
        "mach-twice",
        "--signal=SIGKILL",
        "--kill-whom=leader",
    ]);
    wait_until(LIMIT, "the machine to end after SIGKILL", || {
        m.list().is_empty()
    });
}

#[test]
fn shell_joins_the_machine() {
    let m = Machine::new("mach-shell");
    // The machine's own --system-call-filter= applies to shells too.
    m.start_with(&["--system-call-filter=~chroot"]);
    let leader = m.status()["leader"].as_u64().unwrap();
    let sh = |args: &[&str]| -> String {
        let mut full = vec!["shell", "mach-shell"];
        full.extend_from_slice(args);
        m.ok(&full).stdout.trim().to_string()
    };
    // The machine's hostname (systemd set it from the image's /etc/hostname), UID 0, systemd
    // as PID 1 of the PID namespace joined.
    let etc_hostname =
        std::fs::read_to_string(m.store.root.join("mach-shell/etc/hostname")).unwrap_or_default();
    assert_eq!(sh(&["hostname"]), etc_hostname.trim());
    assert_eq!(sh(&["id", "-u"]), "0");
    assert_eq!(sh(&["cat", "/proc/1/comm"]), "systemd");
    // Every namespace is the leader's.
    for ns in ["mnt", "pid", "uts", "ipc", "cgroup"] {
        let host = std::fs::read_link(format!("/proc/{leader}/ns/{ns}")).unwrap();
        let inside = sh(&["readlink", &format!("/proc/self/ns/{ns}")]);
        assert_eq!(inside, host.to_string_lossy(), "{ns}");
    }
    // The machine's bounding set and a seccomp filter, a clean environment.
    let status = sh(&["cat", "/proc/self/status"]);
    let leader_status = std::fs::read_to_string(format!("/proc/{leader}/status")).unwrap();
    let field = |s: &str, k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
    };
    assert_eq!(field(&status, "CapBnd:"), field(&leader_status, "CapBnd:"));
    assert_eq!(field(&status, "Seccomp:").as_deref(), Some("2"));
    let env = m
        .cmd()
        .args(["shell", "mach-shell", "env"])
        .env("LEAK_CANARY", "secret")
        .output()
        .unwrap();
    let env = String::from_utf8_lossy(&env.stdout).into_owned();
    assert!(env.contains("container=wharf"), "{env}");
    assert!(!env.contains("secret"), "{env}");
    // -u: the user from the machine's passwd; the exit status passes through.
    assert_eq!(sh(&["-u", "nobody", "id", "-un"]), "nobody");
    let r = m.run(&["shell", "mach-shell", "sh", "-c", "exit 7"]);
    assert_eq!(r.code, Some(7), "{r:?}");
    let r = m.run(&["shell", "mach-shell", "chroot", "/", "true"]);
    assert!(r.stderr.contains("Operation not permitted"), "{r:?}");
    let r = m.run(&["shell", "mach-shell", "no-such-command"]);
    assert_eq!(r.code, Some(127), "{r:?}");
    // On a terminal: a pty of the machine's devpts, the exit status still passed through.
    let bin = wharf_tests::wharf_bin();
    let out = Command::new("timeout")
        .args(["60", "script", "-qec"])
        .arg(format!(
            "{} shell mach-shell sh -c 'tty; exit 5'",
            bin.display()
        ))
        .arg("/dev/null")
        .env("WHARF_IMAGE_ROOT", &m.store.root)
        .env("WHARF_STATE_DIR", m.state.path())
        .output()
        .expect("script (bsdutils) is needed");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("/dev/pts/"), "{out:?}");
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    // login: the machine's login(1) on a pty prompts with the machine's hostname (bounded by
    // timeout(1); no password is known, so it never gets further).
    let out = Command::new("timeout")
        .args(["10", "script", "-qec"])
        .arg(format!("{} login mach-shell", bin.display()))
        .arg("/dev/null")
        .env("WHARF_IMAGE_ROOT", &m.store.root)
        .env("WHARF_STATE_DIR", m.state.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("{} login:", etc_hostname.trim())),
        "{out:?}"
    );
    let r = m.run(&["login", "mach-shell"]);
    assert!(r.stderr.contains("login needs a terminal"), "{r:?}");
    m.ok(&["poweroff", "mach-shell"]);
}

#[test]
fn copy_both_ways_confined_to_the_machine() {
    let m = Machine::new("mach-copy");
    m.start();
    let host = tempfile::tempdir().unwrap();
    let src = host.path().join("in.txt");
    std::fs::write(&src, "from the host\n").unwrap();
    m.ok(&["copy-to", "mach-copy", src.to_str().unwrap(), "/root/"]);
    let r = m.ok(&["shell", "mach-copy", "cat", "/root/in.txt"]);
    assert_eq!(r.stdout, "from the host\n");
    m.ok(&[
        "shell",
        "mach-copy",
        "sh",
        "-c",
        "echo from inside > /root/out.txt; ln -s /etc/hostname /root/abs; \
         ln -s ../../../../../etc/os-release /root/up",
    ]);
    let out = host.path().join("out.txt");
    m.ok(&[
        "copy-from",
        "mach-copy",
        "/root/out.txt",
        out.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "from inside\n");
    // Symlinks resolve inside the machine's root, never on the host.
    let up = host.path().join("up");
    m.ok(&["copy-from", "mach-copy", "/root/up", up.to_str().unwrap()]);
    let image_os = std::fs::read_to_string(m.store.root.join("mach-copy/etc/os-release")).unwrap();
    assert_eq!(std::fs::read_to_string(&up).unwrap(), image_os);
    // A symlink as the destination is refused, not written through.
    let r = m.run(&["copy-to", "mach-copy", src.to_str().unwrap(), "/root/abs"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("/root/abs"), "{r:?}");
    let r = m.run(&["copy-from", "mach-copy", "/no/such", out.to_str().unwrap()]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("/no/such"), "{r:?}");
    m.ok(&["terminate", "mach-copy"]);
    assert!(m.list().is_empty());
}
