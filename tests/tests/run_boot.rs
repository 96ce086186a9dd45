//! `wharf run` start modes, console, identity and `wharf boot` with the real Debian image:
//! PID 1 vs stub init, exit statuses, reaping, a clean PID-1 environment, console modes,
//! machine/boot IDs, /run/host, users, resolv.conf/timezone/journal options, sd_notify, and
//! systemd booting to multi-user.target, rebooting and powering off.
//!
//! Every wait is bounded; a wharf that outlives a failed assertion is killed with its whole
//! process group (`machine::Running`).

use std::fs;
use std::os::unix::fs::symlink;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use rustix::process::Signal;
use wharf_tests::fixtures::{Fs, TestStore};
use wharf_tests::machine::{run_deb, sh_deb, store, wait_for_file, Running};
use wharf_tests::{fails, ok, run, wharf};

const LIMIT: Duration = Duration::from_secs(120);

#[test]
fn exit_codes_pid1_stub_and_reaping() {
    let s = store();
    for mode in [&[][..], &["-a"][..]] {
        let with = |args: &[&str]| {
            let mut v = mode.to_vec();
            v.extend_from_slice(args);
            run_deb(&s, &v).code
        };
        assert_eq!(with(&["/bin/true"]), Some(0), "{mode:?}");
        assert_eq!(with(&["sh", "-c", "exit 7"]), Some(7), "{mode:?}");
    }
    // Without -a the command is PID 1; with -a it is PID 2 under wharf's stub.
    assert_eq!(sh_deb(&s, &[], "echo $$; cat /proc/1/comm"), "1\nsh\n");
    assert_eq!(
        sh_deb(
            &s,
            &["-a"],
            "echo $$; cat /proc/1/comm; tr '\\0' ' ' < /proc/1/cmdline"
        ),
        "2\nwharf-init\nwharf-init "
    );
    // Orphans re-parented to the stub are reaped: no zombie is left once they exit.
    let out = sh_deb(
        &s,
        &["-a"],
        "sh -c 'sleep 0.2 & exit 0'; sleep 2; \
         cat /proc/[0-9]*/stat | awk '$3 == \"Z\"' | wc -l; ls /proc | grep -c '^[0-9]'",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0", "zombies left: {out}");
    // The stub's /proc/1/environ holds only container= and container_uuid= — none of the
    // caller's environment (nspawn 252 leaks it there).
    let r = wharf(&s.root)
        .args(["run", "-M", "deb", "-a", "sh", "-c"])
        .arg("tr '\\0' '\\n' < /proc/1/environ; ls /proc/1/fd")
        .env("LEAK_CANARY", "secret")
        .output()
        .unwrap();
    assert!(r.status.success(), "{r:?}");
    let out = String::from_utf8(r.stdout).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "container=wharf", "{out}");
    assert!(lines[1].starts_with("container_uuid="), "{out}");
    assert_eq!(lines[2..], ["0", "1", "2"], "stub keeps only stdio: {out}");
    assert!(!out.contains("secret"));
    // A command that cannot be executed: one error line, status 1 (also as PID 2).
    fails(&s.root, &["run", "-M", "deb", "-a", "/no/such"], "/no/such");
}

#[test]
fn identity_run_host_and_users() {
    let s = store();
    let id = "0123456789abcdef0123456789abcdef";
    let out = sh_deb(
        &s,
        &[&format!("--uuid={id}")],
        "echo $container_uuid; cat /run/host/container-uuid; cat /run/host/container-manager; \
         ls /run/host | tr '\\n' ' '; echo; stat -c '%A %n' /run/host/inaccessible/*; \
         stat -c %F /proc/kmsg; stat -c %a /run/host/proc-kmsg; \
         cat /proc/sys/kernel/random/boot_id; head -c 10 /proc/kcore | wc -c; \
         test -S /run/host/notify && echo notify-socket",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "01234567-89ab-cdef-0123-456789abcdef", "{out}");
    assert_eq!(lines[1], lines[0]);
    assert_eq!(lines[2], "wharf");
    assert_eq!(
        lines[3],
        "container-manager container-uuid inaccessible notify os-release proc-kmsg \
         proc-sys-kernel-random-boot-id "
    );
    assert_eq!(
        lines[4..10],
        [
            "b--------- /run/host/inaccessible/blk",
            "c--------- /run/host/inaccessible/chr",
            "d--------- /run/host/inaccessible/dir",
            "p--------- /run/host/inaccessible/fifo",
            "---------- /run/host/inaccessible/reg",
            "s--------- /run/host/inaccessible/sock",
        ],
        "{out}"
    );
    assert_eq!(lines[10..12], ["fifo", "600"], "{out}");
    let boot_id = lines[12];
    let host_boot = fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    assert_ne!(boot_id, host_boot.trim());
    assert_eq!(lines[13..], ["0", "notify-socket"], "{out}");
    // Random IDs differ between runs; the boot ID too.
    let a = sh_deb(
        &s,
        &[],
        "echo $container_uuid; cat /proc/sys/kernel/random/boot_id",
    );
    let b = sh_deb(
        &s,
        &[],
        "echo $container_uuid; cat /proc/sys/kernel/random/boot_id",
    );
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    assert_ne!(a[0], b[0]);
    assert_ne!(a[1], b[1]);
    assert_ne!(a[1], boot_id);
    // The image's own machine ID wins over --uuid (as nspawn).
    let image_id = "fedcba9876543210fedcba9876543210";
    fs::write(s.root.join("deb/etc/machine-id"), format!("{image_id}\n")).unwrap();
    assert_eq!(
        sh_deb(&s, &[&format!("--uuid={id}")], "echo $container_uuid"),
        "fedcba98-7654-3210-fedc-ba9876543210\n"
    );

    // -u: the image's passwd; HOME/USER/LOGNAME and the working directory follow the user.
    fs::create_dir_all(s.root.join("deb/nonexistent")).unwrap();
    let out = sh_deb(
        &s,
        &["-u", "nobody"],
        "id -u; id -g; echo $HOME $USER $LOGNAME; pwd; grep CapEff /proc/self/status",
    );
    assert_eq!(
        out,
        "65534\n65534\n/nonexistent nobody nobody\n/nonexistent\nCapEff:\t0000000000000000\n"
    );
    fs::remove_dir(s.root.join("deb/nonexistent")).unwrap();
    assert_eq!(sh_deb(&s, &["-u", "65534"], "id -un; pwd"), "nobody\n/\n");
    // Supplementary groups from /etc/group.
    let group = s.root.join("deb/etc/group");
    let mut g = fs::read_to_string(&group).unwrap();
    g.push_str("wharftest:x:4242:daemon,nobody\n");
    fs::write(&group, g).unwrap();
    assert_eq!(sh_deb(&s, &["--user=nobody"], "id -G"), "65534 4242\n");
    fails(
        &s.root,
        &["run", "-M", "deb", "-u", "nosuchuser", "true"],
        "user \"nosuchuser\" not found in the image's /etc/passwd",
    );

    // No command: root's login shell from the image, in /root.
    let mut child = wharf(&s.root)
        .args(["run", "-M", "deb"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"echo $0; pwd; exit 4\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(4));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "-bash\n/root\n");
}

#[test]
fn console_modes() {
    let s = store();
    let script = "tty; stat -c %t:%T /dev/console; echo T=$TERM; echo err >&2; exit 3";
    // read-only: a pty from the machine's devpts is stdio and /dev/console; output (stderr
    // included, with the pty's CRLF) reaches wharf's stdout; the exit code passes through.
    let r = wharf(&s.root)
        .args([
            "run",
            "-M",
            "deb",
            "--console=read-only",
            "sh",
            "-c",
            script,
        ])
        .env("TERM", "xterm-test")
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(3), "{r:?}");
    assert_eq!(
        String::from_utf8_lossy(&r.stdout),
        "/dev/pts/0\r\n88:0\r\nT=xterm-test\r\nerr\r\n"
    );
    // pipe (and the default when stdio is not a terminal): wharf's own stdio, no console,
    // no TERM.
    for opts in [&["--console=pipe"][..], &["-P"][..], &[][..]] {
        let mut args = vec!["run", "-M", "deb"];
        args.extend_from_slice(opts);
        args.extend_from_slice(&["sh", "-c", script]);
        let r = run(&s.root, &args);
        assert_eq!(r.code, Some(3), "{opts:?}: {r:?}");
        assert!(r.stdout.starts_with("not a tty\n"), "{opts:?}: {r:?}");
        assert!(r.stdout.ends_with("T=\n"), "{opts:?}: {r:?}");
        assert_eq!(r.stderr.lines().last(), Some("err"), "{r:?}");
    }
    // passive: a console exists but nothing is connected.
    let r = run_deb(&s, &["--console=passive", "sh", "-c", script]);
    assert_eq!((r.code, r.stdout.as_str()), (Some(3), ""), "{r:?}");
    // interactive: stdin reaches the console; all output is drained when PID 1 ends.
    let mut child = wharf(&s.root)
        .args([
            "run",
            "-M",
            "deb",
            "--console=interactive",
            "sh",
            "-c",
            "stty -echo; read x; echo got $x; seq 1 20000 | tail -n 3",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{o:?}");
    let out = String::from_utf8_lossy(&o.stdout).replace('\r', "");
    assert!(out.ends_with("got hello\n19998\n19999\n20000\n"), "{out:?}");
    let r = run_deb(&s, &["--console=read-only", "seq", "1", "50000"]);
    assert!(
        r.stdout.ends_with("49999\r\n50000\r\n"),
        "{}",
        r.stdout.len()
    );
}

#[test]
fn resolv_conf_timezone_and_journal() {
    let s = store();
    let image = s.root.join("deb");
    let resolv = image.join("etc/resolv.conf");
    let host_resolv = fs::read("/etc/resolv.conf").unwrap();
    // off: untouched; copy-host over a regular file; replace-host also over a symlink.
    fs::write(&resolv, "# image\n").unwrap();
    ok(&s.root, &["run", "-M", "deb", "--resolv-conf=off", "true"]);
    assert_eq!(fs::read(&resolv).unwrap(), b"# image\n");
    ok(
        &s.root,
        &["run", "-M", "deb", "--resolv-conf=copy-host", "true"],
    );
    assert_eq!(fs::read(&resolv).unwrap(), host_resolv);
    fs::remove_file(&resolv).unwrap();
    symlink("/run/elsewhere", &resolv).unwrap();
    ok(
        &s.root,
        &["run", "-M", "deb", "--resolv-conf=copy-host", "true"],
    );
    assert!(resolv.is_symlink(), "copy-host must not replace a symlink");
    ok(
        &s.root,
        &["run", "-M", "deb", "--resolv-conf=replace-host", "true"],
    );
    assert_eq!(fs::read(&resolv).unwrap(), host_resolv);
    // bind-host: a read-only bind; the image's file stays as it was.
    fs::write(&resolv, "# image\n").unwrap();
    let out = sh_deb(
        &s,
        &["--resolv-conf=bind-host"],
        "cat /etc/resolv.conf; grep ' /etc/resolv.conf ' /proc/self/mountinfo | cut -d' ' -f6",
    );
    let host_text = String::from_utf8_lossy(&host_resolv);
    assert_eq!(out, format!("{host_text}ro,nosuid,nodev,noexec,relatime\n"));
    assert_eq!(fs::read(&resolv).unwrap(), b"# image\n");
    // auto (default) on a writable image: copied.
    ok(&s.root, &["run", "-M", "deb", "true"]);
    assert_eq!(fs::read(&resolv).unwrap(), host_resolv);

    // --timezone
    let lt = image.join("etc/localtime");
    let host_target = fs::read_link("/etc/localtime").unwrap();
    let zone = host_target
        .to_str()
        .unwrap()
        .split("zoneinfo/")
        .nth(1)
        .unwrap()
        .to_string();
    fs::remove_file(&lt).unwrap();
    fs::write(&lt, "image").unwrap();
    ok(&s.root, &["run", "-M", "deb", "--timezone=off", "true"]);
    assert_eq!(fs::read(&lt).unwrap(), b"image");
    ok(&s.root, &["run", "-M", "deb", "--timezone=symlink", "true"]);
    assert_eq!(
        fs::read_link(&lt).unwrap(),
        Path::new(&format!("../usr/share/zoneinfo/{zone}"))
    );
    ok(&s.root, &["run", "-M", "deb", "--timezone=copy", "true"]);
    assert!(!lt.is_symlink());
    assert_eq!(fs::read(&lt).unwrap(), fs::read("/etc/localtime").unwrap());
    let out = sh_deb(
        &s,
        &["--timezone=bind"],
        "grep -c ' /etc/localtime ' /proc/self/mountinfo",
    );
    assert_eq!(out, "1\n");

    // --link-journal: guest → in the image, symlinked from the host; host → on the host,
    // bound into the machine. Random IDs; host paths removed at the end.
    let gid = "5a1e0000000000000000000000000001";
    let hid = "5a1e0000000000000000000000000002";
    let host_guest = Path::new("/var/log/journal").join(gid);
    let host_host = Path::new("/var/log/journal").join(hid);
    struct Cleanup<'a>(&'a Path, &'a Path);
    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            let _ = fs::remove_file(self.0);
            let _ = fs::remove_dir_all(self.1);
        }
    }
    let _c = Cleanup(&host_guest, &host_host);
    ok(
        &s.root,
        &[
            "run",
            "-M",
            "deb",
            "--link-journal=guest",
            &format!("--uuid={gid}"),
            "true",
        ],
    );
    assert!(image.join("var/log/journal").join(gid).is_dir());
    assert_eq!(
        fs::read_link(&host_guest).unwrap(),
        image.join("var/log/journal").join(gid)
    );
    let out = sh_deb(
        &s,
        &["--link-journal=host", &format!("--uuid={hid}")],
        &format!("echo hi > /var/log/journal/{hid}/probe"),
    );
    assert_eq!(out, "");
    assert_eq!(fs::read(host_host.join("probe")).unwrap(), b"hi\n");
    // The host's own machine ID is refused for host/guest.
    let host_id = fs::read_to_string("/etc/machine-id").unwrap();
    if host_id.trim().len() == 32 {
        fails(
            &s.root,
            &[
                "run",
                "-M",
                "deb",
                "--link-journal=host",
                &format!("--uuid={}", host_id.trim()),
                "true",
            ],
            "the host's",
        );
    }
}

#[test]
fn notify_socket_relays_ready() {
    let s = store();
    let out = s.scratch.join("out");
    fs::create_dir(&out).unwrap();
    let sock_path = s.scratch.join("notify");
    let host = UnixDatagram::bind(&sock_path).unwrap();
    host.set_read_timeout(Some(LIMIT)).unwrap();
    let mut cmd = wharf(&s.root);
    cmd.args([
        "run",
        "-M",
        "deb",
        "--notify-ready=yes",
        &format!("--bind={}:/out", out.display()),
        "sh",
        "-c",
        "touch /out/before; systemd-notify --ready --status=up; exec sleep 1000",
    ])
    .env("NOTIFY_SOCKET", &sock_path)
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    let mut r = Running::spawn(cmd);
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while !got.iter().any(|m: &String| m == "READY=1") {
        let n = host.recv(&mut buf).expect("no READY=1 from wharf");
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    // READY=1 came only after the machine's own readiness.
    assert!(out.join("before").exists());
    while !got.iter().any(|m: &String| m == "STATUS=up") {
        let n = host.recv(&mut buf).expect("no STATUS= from wharf");
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    r.signal(Signal::TERM);
    assert_eq!(r.wait(LIMIT), Some(128 + 15));

    // Default (--notify-ready=no): READY=1 as soon as the machine runs.
    let mut cmd = wharf(&s.root);
    cmd.args(["run", "-M", "deb", "sleep", "1000"])
        .env("NOTIFY_SOCKET", &sock_path)
        .stdout(Stdio::null());
    let mut r = Running::spawn(cmd);
    let n = host.recv(&mut buf).expect("no READY=1 from wharf");
    assert_eq!(&buf[..n], b"READY=1");
    r.signal(Signal::INT);
    assert_eq!(r.wait(LIMIT), Some(128 + 2));
}

/// Install a unit into the image that runs once the boot is finished, plus the wants link.
fn install_probe(image: &Path, script: &str) {
    let dir = image.join("etc/systemd/system");
    fs::write(
        dir.join("wharf-probe.service"),
        format!(
            "[Unit]\nAfter=multi-user.target\n[Service]\nType=simple\n\
             ExecStart=/bin/sh -c '{script}'\n"
        ),
    )
    .unwrap();
    let wants = dir.join("multi-user.target.wants");
    fs::create_dir_all(&wants).unwrap();
    let _ = fs::remove_file(wants.join("wharf-probe.service"));
    symlink(
        "/etc/systemd/system/wharf-probe.service",
        wants.join("wharf-probe.service"),
    )
    .unwrap();
}

const WAIT_BOOTED: &str = "systemctl is-system-running --wait > /var/tmp/state; \
     systemctl --failed --no-legend --plain > /var/tmp/failed";

#[test]
fn boot_reaches_multi_user_and_powers_off() {
    let s = store();
    let image = s.root.join("deb");
    // (`%%` in a unit file is a literal `%`.)
    install_probe(
        &image,
        &format!(
            "{WAIT_BOOTED}; cat /proc/1/comm > /var/tmp/pid1; \
             grep -E \"^(Seccomp|NoNewPrivs):\" /proc/1/status > /var/tmp/pid1-status; \
             stat -f -c %%T /sys/fs/cgroup > /var/tmp/cgroupfs; \
             (mknod /tmp/blk b 7 0 2>&1 || echo refused) > /var/tmp/mknod; \
             systemctl poweroff"
        ),
    );
    // A service's credentials: systemd mounts them in a namespace of its own and moves the
    // mount to /run/credentials/UNIT, which reaches PID 1 only over shared mounts.
    let units = image.join("etc/systemd/system");
    fs::write(
        units.join("wharf-cred.service"),
        "[Unit]\nBefore=wharf-probe.service\n[Service]\nType=oneshot\n\
         SetCredential=probe:credential-seen\n\
         ExecStart=/bin/sh -c 'cat $CREDENTIALS_DIRECTORY/probe > /var/tmp/cred'\n",
    )
    .unwrap();
    symlink(
        "/etc/systemd/system/wharf-cred.service",
        units.join("multi-user.target.wants/wharf-cred.service"),
    )
    .unwrap();
    let console_log = s.scratch.join("console");
    let mut cmd = wharf(&s.root);
    cmd.args(["run", "-M", "deb", "-b", "--console=read-only"])
        .stdout(fs::File::create(&console_log).unwrap())
        .stderr(Stdio::null());
    let mut r = Running::spawn(cmd);
    assert_eq!(r.wait(LIMIT), Some(0), "poweroff must give 0");
    let read = |f: &str| fs::read_to_string(image.join("var/tmp").join(f)).unwrap();
    assert_eq!(read("state"), "running\n");
    assert_eq!(read("failed"), "", "failed units");
    assert_eq!(read("pid1"), "systemd\n");
    assert_eq!(read("cred"), "credential-seen");
    // The init system runs under the seccomp filter (as with nspawn), in a writable cgroup2
    // of its own, and block devices cannot be made.
    assert_eq!(read("pid1-status"), "NoNewPrivs:\t0\nSeccomp:\t2\n");
    assert_eq!(read("cgroupfs"), "cgroup2fs\n");
    assert!(read("mknod").ends_with("Operation not permitted\nrefused\n"));
    let console = fs::read_to_string(&console_log).unwrap();
    assert!(
        console.contains("Welcome to") && console.contains("Debian"),
        "{console}"
    );
    // Pure cgroup2 inside: nothing of the host's v1 hierarchies for systemd to migrate.
    assert!(!console.contains("Failed to migrate"), "{console}");

    // Booting needs an OS tree.
    let bare = s.scratch.join("bare");
    fs::create_dir_all(bare.join("usr")).unwrap();
    fails(
        &s.root,
        &["run", "-b", "-D", bare.to_str().unwrap()],
        "os-release",
    );
    let empty = s.scratch.join("empty");
    fs::create_dir(&empty).unwrap();
    fails(
        &s.root,
        &["run", "-D", empty.to_str().unwrap(), "true"],
        "no /usr directory",
    );
}

#[test]
fn boot_reboot_restarts_in_process_or_exits_133() {
    let s = store();
    let image = s.root.join("deb");
    install_probe(
        &image,
        &format!(
            "{WAIT_BOOTED}; cat /proc/sys/kernel/random/boot_id >> /var/tmp/boots; \
             ls /sys/fs/cgroup | grep -c leftover >> /var/tmp/leftovers; \
             if [ -e /var/tmp/rebooted ]; then systemctl poweroff; \
             else touch /var/tmp/rebooted; mkdir /sys/fs/cgroup/leftover; \
             systemctl reboot; fi"
        ),
    );
    let mut cmd = wharf(&s.root);
    cmd.args(["run", "-M", "deb", "-b"]).stdout(Stdio::null());
    let mut r = Running::spawn(cmd);
    assert_eq!(r.wait(LIMIT), Some(0));
    let boots = fs::read_to_string(image.join("var/tmp/boots")).unwrap();
    let ids: Vec<&str> = boots.lines().collect();
    assert_eq!(ids.len(), 2, "booted twice: {boots}");
    assert_ne!(ids[0], ids[1], "a new boot ID after the restart");
    // The restart got a fresh machine cgroup: nothing the first boot made in it is left.
    let leftovers = fs::read_to_string(image.join("var/tmp/leftovers")).unwrap();
    assert_eq!(leftovers, "0\n0\n");
    fs::remove_file(image.join("var/tmp/leftovers")).unwrap();

    // --on-reboot=exit leaves the restart to a supervisor: exit status 133.
    fs::remove_file(image.join("var/tmp/rebooted")).unwrap();
    fs::remove_file(image.join("var/tmp/boots")).unwrap();
    let mut cmd = wharf(&s.root);
    cmd.args(["run", "-M", "deb", "-b", "--on-reboot=exit"])
        .stdout(Stdio::null());
    let mut r = Running::spawn(cmd);
    assert_eq!(r.wait(LIMIT), Some(133));
    let boots = fs::read_to_string(image.join("var/tmp/boots")).unwrap();
    assert_eq!(boots.lines().count(), 1);
}

#[test]
fn sigterm_powers_a_booted_machine_off() {
    let s = store();
    let image = s.root.join("deb");
    install_probe(&image, &format!("{WAIT_BOOTED}; touch /var/tmp/up"));
    // `wharf boot NAME` = `wharf run -b -M NAME`.
    let mut cmd = wharf(&s.root);
    cmd.args(["boot", "deb"]).stdout(Stdio::null());
    let mut r = Running::spawn(cmd);
    wait_for_file(&image.join("var/tmp/up"), LIMIT, &mut r);
    r.signal(Signal::TERM);
    // SIGRTMIN+3 to systemd: a clean shutdown, reported as a power-off.
    assert_eq!(r.wait(LIMIT), Some(0));
    assert_eq!(
        fs::read_to_string(image.join("var/tmp/state")).unwrap(),
        "running\n"
    );
}

#[test]
fn run_without_image_is_a_clean_error() {
    let s = TestStore::new(Fs::Host, 0);
    fails(&s.root, &["boot", "nope"], "nope");
}
