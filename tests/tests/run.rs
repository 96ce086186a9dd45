//! `wharf run`: a command inside a real Debian image with new namespaces, a private mount table,
//! restricted /proc, /sys and /dev, the nspawn capability set and a clean environment.

use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use wharf_tests::machine::{host_mounts_with, processes_with, run_deb, sh_deb, store};
use wharf_tests::{fails, ok, run, wharf};

#[test]
fn exit_status_is_the_payloads() {
    let s = store();
    assert_eq!(run_deb(&s, &["/bin/true"]).code, Some(0));
    assert_eq!(run_deb(&s, &["/bin/false"]).code, Some(1));
    assert_eq!(run_deb(&s, &["sh", "-c", "exit 7"]).code, Some(7));
    // 133 is reserved for "restart requested" (as nspawn): a PID 1 exiting with it gives 1.
    assert_eq!(run_deb(&s, &["sh", "-c", "exit 133"]).code, Some(1));
    // A payload killed by a signal: 255 (nspawn's stub init), with --as-pid2 where the
    // payload is not PID 1 (PID 1 cannot be killed from inside its namespace).
    assert_eq!(
        run_deb(&s, &["-a", "sh", "-c", "kill -9 $$"]).code,
        Some(255)
    );
    assert_eq!(run_deb(&s, &["-a", "sh", "-c", "exit 7"]).code, Some(7));
    // Options after the command belong to the command.
    let r = run_deb(&s, &["echo", "-n", "--read-only", "-E"]);
    assert_eq!(r.stdout, "--read-only -E", "{r:?}");
}

#[test]
fn hostname_pid_and_namespaces() {
    let s = store();
    assert_eq!(
        ok(&s.root, &["run", "-M", "deb", "hostname"]).stdout,
        "deb\n"
    );
    assert_eq!(
        ok(
            &s.root,
            &["run", "-M", "deb", "--hostname=box1", "hostname"]
        )
        .stdout,
        "box1\n"
    );
    // -D: the directory's name.
    let dir = s.root.join("deb");
    assert_eq!(
        ok(&s.root, &["run", "-D", dir.to_str().unwrap(), "hostname"]).stdout,
        "deb\n"
    );
    // The command is PID 1 and no host process is visible.
    let out = sh_deb(
        &s,
        &[],
        "cat /proc/1/comm; echo $$; ls /proc | grep -c '^[0-9]'",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..2], ["sh", "1"], "{out}");
    assert!(lines[2].parse::<u32>().unwrap() < 10, "{out}");
    // With --as-pid2, wharf's stub init is PID 1 and the command PID 2.
    let out = sh_deb(&s, &["-a"], "cat /proc/1/comm; echo $$");
    assert_eq!(out, "wharf-init\n2\n");
    // New mount, pid, uts, ipc and cgroup namespaces; the host's net namespace.
    for ns in ["mnt", "pid", "uts", "ipc", "cgroup", "net"] {
        let host = fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        let inside = ok(
            &s.root,
            &[
                "run",
                "-M",
                "deb",
                "readlink",
                &format!("/proc/self/ns/{ns}"),
            ],
        )
        .stdout;
        let same = inside.trim() == host.to_str().unwrap();
        assert_eq!(same, ns == "net", "{ns}: host {host:?}, inside {inside}");
    }
}

#[test]
fn proc_and_sys_are_restricted() {
    let s = store();
    let r = run_deb(&s, &["sh", "-c", "echo evil > /proc/sys/kernel/hostname"]);
    assert_ne!(r.code, Some(0), "{r:?}");
    assert!(r.stderr.contains("Read-only file system"), "{r:?}");
    // Masked files read as empty (or do not exist on this kernel).
    let out = sh_deb(
        &s,
        &[],
        "for f in kcore kallsyms keys timer_list sched_debug; do \
           if [ -e /proc/$f ]; then echo $f $(head -c 100 /proc/$f | wc -c); fi; done",
    );
    for line in out.lines() {
        assert!(line.ends_with(" 0"), "not masked: {line}");
    }
    assert!(out.contains("kallsyms 0"), "{out}");
    assert_ne!(run_deb(&s, &["touch", "/sys/x"]).code, Some(0));
    assert_ne!(
        run_deb(&s, &["sh", "-c", "echo 1 > /sys/kernel/profiling"]).code,
        Some(0)
    );
    // Mount flags as seen from inside.
    let mi = sh_deb(&s, &[], "cat /proc/self/mountinfo");
    let opts = |dst: &str| -> String {
        mi.lines()
            .find(|l| l.split(' ').nth(4) == Some(dst))
            .unwrap_or_else(|| panic!("{dst} not mounted: {mi}"))
            .split(' ')
            .nth(5)
            .unwrap()
            .to_string()
    };
    for ro in [
        "/proc/sys",
        "/proc/irq",
        "/proc/bus",
        "/proc/fs",
        "/sys",
        "/run/host",
    ] {
        assert!(opts(ro).starts_with("ro,"), "{ro}: {}", opts(ro));
    }
    for rw in ["/", "/proc", "/dev", "/dev/pts", "/dev/shm", "/run", "/tmp"] {
        assert!(opts(rw).starts_with("rw"), "{rw}: {}", opts(rw));
    }
    // tmpfs with nspawn's size limits (percentages of the host's RAM, shown in KiB).
    let mem_kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    for (tmpfs, size_kib, inodes) in [
        ("/dev", 4096, 65536),
        ("/dev/shm", mem_kib / 10, 409600),
        ("/run", mem_kib / 5, 819200),
        ("/tmp", mem_kib / 10, 409600),
    ] {
        let line = mi
            .lines()
            .find(|l| l.split(' ').nth(4) == Some(tmpfs))
            .unwrap();
        assert!(line.contains(" - tmpfs "), "{line}");
        let opt = |k: &str| -> u64 {
            line.rsplit(' ')
                .next()
                .unwrap()
                .split(',')
                .find_map(|o| o.strip_prefix(k))
                .unwrap_or_else(|| panic!("{tmpfs}: no {k} in {line}"))
                .trim_end_matches('k')
                .parse()
                .unwrap()
        };
        // The kernel rounds the size to whole pages.
        assert!(opt("size=").abs_diff(size_kib) <= 8, "{tmpfs}: {line}");
        assert_eq!(opt("nr_inodes="), inodes, "{tmpfs}: {line}");
    }
    // The machine's own POSIX message queues (as nspawn), so systemd inside finds them mounted.
    assert!(opts("/dev/mqueue").starts_with("rw,nosuid,nodev,noexec"));
    let mq = mi
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/dev/mqueue"));
    assert!(mq.unwrap().contains(" - mqueue "), "{mi}");
    // Every mount is shared (inside the machine only: `nothing_leaks_to_the_host`), as nspawn
    // leaves them for the init system.
    for l in mi.lines() {
        assert!(l.contains(" shared:"), "not shared: {l}");
    }
}

#[test]
fn dev_has_exactly_the_expected_nodes() {
    let s = store();
    let out = sh_deb(&s, &[], "ls -A /dev");
    let names: Vec<&str> = out.lines().collect();
    // fuse and net/tun as nspawn: when the host's node opens.
    let opens = |p: &str| {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(p)
            .is_ok()
    };
    let mut want = vec![
        "fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin",
        "stdout", "tty", "urandom", "zero",
    ];
    if opens("/dev/fuse") {
        want.push("fuse");
    }
    if opens("/dev/net/tun") {
        want.push("net");
    }
    want.sort_unstable();
    assert_eq!(names, want, "{out}");
    // The machine can use them (the device policy allows both), with the host's permissions.
    for (node, maj_min) in [("/dev/fuse", "a:e5"), ("/dev/net/tun", "a:c8")] {
        if !opens(node) {
            continue;
        }
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(node).unwrap().permissions().mode() & 0o777;
        let got = sh_deb(
            &s,
            &[],
            &format!("stat -c '%F %a %t:%T' {node}; exec 3<>{node} && echo opened"),
        );
        assert_eq!(
            got,
            format!("character special file {mode:o} {maj_min}\nopened\n"),
            "{node}"
        );
    }
    let out = sh_deb(
        &s,
        &[],
        "stat -c '%n %F %a %t:%T' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty; \
         readlink /dev/ptmx /dev/fd /dev/stdin; stat -c %a /dev; \
         echo hi > /dev/null; head -c 4 /dev/zero | wc -c",
    );
    for line in [
        "/dev/null character special file 666 1:3",
        "/dev/zero character special file 666 1:5",
        "/dev/full character special file 666 1:7",
        "/dev/random character special file 666 1:8",
        "/dev/urandom character special file 666 1:9",
        "/dev/tty character special file 666 5:0",
        "pts/ptmx",
        "/proc/self/fd",
        "/proc/self/fd/0",
        "755",
        "4",
    ] {
        assert!(out.lines().any(|l| l == line), "{line:?} missing in {out}");
    }
    // A fresh devpts instance: no host ptys.
    assert_eq!(sh_deb(&s, &[], "ls /dev/pts"), "ptmx\n");
}

#[test]
fn read_only_root() {
    let s = store();
    let r = run_deb(&s, &["--read-only", "touch", "/x"]);
    assert_ne!(r.code, Some(0), "{r:?}");
    assert!(r.stderr.contains("Read-only file system"), "{r:?}");
    assert!(!s.root.join("deb/x").exists());
    // /tmp and /run stay writable tmpfs, and nothing lands in the image.
    sh_deb(&s, &["--read-only"], "touch /tmp/a /run/b");
    assert!(!s.root.join("deb/tmp/a").exists());
    // Without --read-only the root is writable and writes reach the image.
    sh_deb(&s, &[], "touch /x");
    assert!(s.root.join("deb/x").exists());
}

#[test]
fn bind_bind_ro_and_tmpfs() {
    let s = store();
    let src = s.scratch.join("shared");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("in"), "from host\n").unwrap();
    let file = s.scratch.join("single");
    fs::write(&file, "one file\n").unwrap();
    let rw = format!("{}:/mnt/rw", src.display());
    let ro = format!("{}:/srv/ro", src.display());
    let single = format!("{}:/etc/single", file.display());
    let out = sh_deb(
        &s,
        &[
            &format!("--bind={rw}"),
            &format!("--bind-ro={ro}"),
            &format!("--bind-ro={single}"),
            "--tmpfs=/var/scratch",
        ],
        "cat /mnt/rw/in; echo back > /mnt/rw/out; cat /etc/single; \
         if touch /srv/ro/nope 2>/dev/null; then echo WROTE; fi; \
         touch /var/scratch/t && grep ' /var/scratch ' /proc/self/mountinfo | grep -c tmpfs",
    );
    assert_eq!(out, "from host\none file\n1\n");
    assert_eq!(fs::read_to_string(src.join("out")).unwrap(), "back\n");
    assert!(!src.join("nope").exists());
    // Same path inside as outside when DST is omitted.
    let same = format!("--bind={}", src.display());
    let out = sh_deb(&s, &[&same], &format!("cat {}/in", src.display()));
    assert_eq!(out, "from host\n");
    fails(
        &s.root,
        &["run", "-M", "deb", "--bind=/no/such/dir:/mnt", "true"],
        "/no/such/dir",
    );
    fails(
        &s.root,
        &["run", "-M", "deb", "--bind=relative:/mnt", "true"],
        "must be absolute",
    );
}

#[test]
fn environment_chdir_and_capabilities() {
    let s = store();
    let r = wharf(&s.root)
        .args([
            "run",
            "-M",
            "deb",
            "-E",
            "FOO=bar baz",
            "--setenv=HOME=/home/x",
            "env",
        ])
        .env("LEAKED_FROM_HOST", "1")
        .env("TERM", "xterm-test")
        .output()
        .unwrap();
    assert!(r.status.success(), "{r:?}");
    let mut env: Vec<String> = String::from_utf8(r.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    env.sort();
    // container_uuid is random (checked in run_boot.rs); TERM only reaches a pty console.
    let uuid = env
        .iter()
        .position(|l| l.starts_with("container_uuid="))
        .unwrap();
    env.remove(uuid);
    assert_eq!(
        env,
        [
            "FOO=bar baz",
            "HOME=/home/x",
            "LANG=C.UTF-8",
            "LOGNAME=root",
            "NOTIFY_SOCKET=/run/host/notify",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "USER=root",
            "container=wharf",
        ],
        "{env:?}"
    );
    assert_eq!(
        ok(&s.root, &["run", "-M", "deb", "--chdir=/etc", "pwd"]).stdout,
        "/etc\n"
    );
    assert_eq!(ok(&s.root, &["run", "-M", "deb", "pwd"]).stdout, "/\n");
    fails(
        &s.root,
        &["run", "-M", "deb", "-E", "NOEQUALS", "true"],
        "NOEQUALS",
    );

    // Capabilities: nspawn's retained set, limited by what the host has; no_new_privs off.
    let host = fs::read_to_string("/proc/self/status").unwrap();
    let field = |text: &str, key: &str| -> u64 {
        let line = text.lines().find(|l| l.starts_with(key)).unwrap();
        u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    let inside = sh_deb(&s, &[], "cat /proc/self/status");
    let expected = field(&host, "CapBnd:") & 0xfdec_afff;
    assert_eq!(field(&inside, "CapBnd:"), expected, "{inside}");
    assert_eq!(field(&inside, "CapEff:"), expected, "{inside}");
    assert_eq!(field(&inside, "NoNewPrivs:"), 0);
    // Dropped capabilities really are gone: CAP_SYS_MODULE (16) and CAP_NET_ADMIN (12).
    assert_eq!(expected & (1 << 16), 0);
    assert_eq!(expected & (1 << 12), 0);
}

#[test]
fn run_host_contract() {
    let s = store();
    let out = sh_deb(
        &s,
        &[],
        "cat /run/host/container-manager; cat /run/host/os-release",
    );
    let host_os = fs::read_to_string("/etc/os-release")
        .or_else(|_| fs::read_to_string("/usr/lib/os-release"))
        .unwrap();
    assert_eq!(out, format!("wharf\n{host_os}"));
    assert_ne!(
        run_deb(&s, &["touch", "/run/host/x"]).code,
        Some(0),
        "/run/host must be read-only"
    );
}

#[test]
fn nothing_leaks_to_the_host() {
    let s = store();
    let root = s.root.to_str().unwrap().to_string();
    let scratch = s.scratch.join("b");
    fs::create_dir(&scratch).unwrap();
    let bind = format!("--bind={}:/mnt/b", scratch.display());
    let before = fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .count();
    for _ in 0..3 {
        // A background process is killed with the namespace; the mounts vanish with it.
        let r = run_deb(
            &s,
            &[
                &bind,
                "--tmpfs=/mnt/t",
                "sh",
                "-c",
                "sleep 987654 & mount -t tmpfs x /mnt/t; mount -t tmpfs x /mnt/b; \
                 mkdir /mnt/b/sub && mount -t tmpfs x /mnt/b/sub; exit 3",
            ],
        );
        assert_eq!(r.code, Some(3), "{r:?}");
        assert!(processes_with("sleep 987654").is_empty());
    }
    assert!(
        host_mounts_with(&root).is_empty(),
        "{:?}",
        host_mounts_with(&root)
    );
    assert!(host_mounts_with("/run/host").is_empty());
    // Mounts made inside on the bind mount (shared inside the machine) stay inside.
    let b = scratch.to_str().unwrap();
    assert!(host_mounts_with(b).is_empty(), "{:?}", host_mounts_with(b));
    assert!(fs::read_dir(&scratch).unwrap().next().is_none());
    let after = fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .count();
    // Other processes on the machine may mount things meanwhile; ours add none.
    assert!(after <= before + 2, "{before} → {after}");
    assert!(
        processes_with(&root).is_empty(),
        "{:?}",
        processes_with(&root)
    );
}

#[test]
fn sigterm_reaches_the_payload() {
    let s = store();
    let mut child = wharf(&s.root)
        .args(["run", "-M", "deb", "sleep", "876543"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    // wharf and the sleep inside (PID 1 of the machine).
    while processes_with("sleep 876543").len() < 2 {
        assert!(Instant::now() < deadline, "payload never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&child),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    // No kill signal outside --boot: wharf kills the machine at once and reports the signal.
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + 15));
    assert!(processes_with("sleep 876543").is_empty());
}

#[test]
fn clean_errors() {
    let s = store();
    fails(&s.root, &["run", "-M", "nope", "true"], "nope");
    fails(
        &s.root,
        &["run", "-M", "deb", "/no/such/cmd"],
        "/no/such/cmd",
    );
    fails(&s.root, &["run", "-M", "deb", "no-such-cmd"], "no-such-cmd");
    fails(
        &s.root,
        &["run", "-D", "/no/such/dir", "true"],
        "/no/such/dir",
    );
    fails(&s.root, &["run", "true"], "-M NAME, -D DIR or -i FILE.raw");
    // No command: a login shell (here reading an empty stdin).
    let r = run(&s.root, &["run", "-M", "deb"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    fails(
        &s.root,
        &["run", "-M", "deb", "--console=bad", "true"],
        "--console",
    );
    fails(
        &s.root,
        &["run", "-M", "deb", "--kill-signal=NOPE", "true"],
        "NOPE",
    );
    fails(
        &s.root,
        &["run", "-M", "deb", "--uuid=123", "true"],
        "machine ID",
    );
    assert!(Path::new(&s.root).join("deb").is_dir());
}

#[test]
fn a_running_machine_holds_its_image() {
    let s = store();
    let marks = s.scratch.join("marks");
    fs::create_dir_all(&marks).unwrap();
    let mut c = wharf(&s.root);
    c.args(["run", "-M", "deb", "--bind"])
        .arg(format!("{}:/marks", marks.display()))
        .args(["sh", "-c", "touch /marks/up; exec sleep 1000"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut r = wharf_tests::machine::Running::spawn(c);
    wharf_tests::machine::wait_for_file(&marks.join("up"), Duration::from_secs(60), &mut r);
    // Writable machine: the image is locked exclusively, as nspawn does.
    fails(&s.root, &["remove", "deb"], "busy");
    fails(&s.root, &["rename", "deb", "deb2"], "busy");
    fails(
        &s.root,
        &["run", "-M", "deb", "true"],
        "image deb is in use",
    );
    fails(
        &s.root,
        &["run", "-M", "deb", "--read-only", "true"],
        "in use",
    );
    assert!(s.root.join("deb/etc/os-release").exists());
    r.signal(rustix::process::Signal::KILL);
    r.wait(Duration::from_secs(30));
    // The lock went with the process: the image can be used again.
    ok(&s.root, &["run", "-M", "deb", "--read-only", "true"]);
    // Read-only and ephemeral machines share it: both run at once.
    let mut c = wharf(&s.root);
    c.args(["run", "-M", "deb", "--read-only", "--bind"])
        .arg(format!("{}:/marks", marks.display()))
        .args(["sh", "-c", "touch /marks/ro; exec sleep 1000"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut r = wharf_tests::machine::Running::spawn(c);
    wharf_tests::machine::wait_for_file(&marks.join("ro"), Duration::from_secs(60), &mut r);
    ok(&s.root, &["run", "-M", "deb", "-x", "true"]);
    fails(&s.root, &["run", "-M", "deb", "true"], "in use");
    fails(&s.root, &["remove", "deb"], "busy");
}
