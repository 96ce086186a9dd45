//! `wharf bind` into a machine started in the background: a host directory or file appears
//! inside, read-only when asked, the destination created with --mkdir; one-line errors.

use wharf_tests::started::Started;

#[test]
fn bind_directories_and_files() {
    let m = Started::new("mach-bind");
    m.start_with(&[]);
    let host = tempfile::tempdir().unwrap();
    let dir = host.path().join("shared");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("hello"), "from the host\n").unwrap();
    let dir_s = dir.to_str().unwrap();

    // Onto an existing directory of the machine; writes show on the host.
    m.ok(&["bind", "mach-bind", dir_s, "/mnt"]);
    assert_eq!(m.sh(&["cat", "/mnt/hello"]), "from the host");
    m.ok(&["shell", "mach-bind", "sh", "-c", "echo back > /mnt/back"]);
    assert_eq!(std::fs::read_to_string(dir.join("back")).unwrap(), "back\n");

    // Read-only: writes inside are refused; the host copy is untouched.
    m.ok(&[
        "bind",
        "mach-bind",
        "--read-only",
        "--mkdir",
        dir_s,
        "/srv/ro",
    ]);
    assert_eq!(m.sh(&["cat", "/srv/ro/hello"]), "from the host");
    let r = m.run(&["shell", "mach-bind", "sh", "-c", "echo x > /srv/ro/new"]);
    assert_ne!(r.code, Some(0), "{r:?}");
    assert!(r.stderr.contains("Read-only file system"), "{r:?}");
    assert!(!dir.join("new").exists());

    // --mkdir creates missing parents; a file source gets an empty file as its mount point.
    let file = host.path().join("conf");
    std::fs::write(&file, "key=value\n").unwrap();
    m.ok(&[
        "bind",
        "mach-bind",
        "--mkdir",
        file.to_str().unwrap(),
        "/etc/wharf-test/deep/conf",
    ]);
    assert_eq!(m.sh(&["cat", "/etc/wharf-test/deep/conf"]), "key=value");
    // The mount is in the machine's mount namespace only.
    assert!(!std::path::Path::new("/etc/wharf-test").exists());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains("/srv/ro"), "{mounts}");

    // DST defaults to SRC.
    m.ok(&["bind", "mach-bind", "--mkdir", dir_s]);
    assert_eq!(m.sh(&["cat", &format!("{dir_s}/hello")]), "from the host");

    // Symlinks in the machine resolve inside it: /etc/wharf-abs → /var points at the
    // machine's /var, not the host's.
    m.ok(&["shell", "mach-bind", "ln", "-s", "/var/tmp", "/wharf-abs"]);
    m.ok(&["bind", "mach-bind", "--mkdir", dir_s, "/wharf-abs/sub"]);
    assert_eq!(m.sh(&["cat", "/var/tmp/sub/hello"]), "from the host");
    assert!(!std::path::Path::new("/var/tmp/sub").exists());

    // Errors: one line naming the machine, the path and the reason.
    m.fails(
        &["bind", "mach-bind", dir_s, "/no/such/dir"],
        "bind into machine mach-bind: /no/such/dir: does not exist in the machine (use --mkdir",
    );
    m.fails(
        &["bind", "mach-bind", "/no/such/src", "/mnt"],
        "bind into machine mach-bind: source /no/such/src: No such file or directory",
    );
    m.fails(
        &["bind", "mach-bind", file.to_str().unwrap(), "/mnt"],
        "/mnt: is a directory in the machine but the source is not a directory",
    );
    m.fails(
        &["bind", "no-such-machine", dir_s, "/mnt"],
        "machine no-such-machine is not running",
    );

    // Host network: no addresses of its own to show ("-" in tables).
    let list = m.list();
    assert_eq!(list[0]["addresses"], serde_json::json!([]), "{list:?}");
    assert_eq!(list[0]["private_network"], false, "{list:?}");
    let table = m.ok(&["list"]).stdout;
    let row = table.lines().find(|l| l.starts_with("mach-bind")).unwrap();
    let after_os = row.split("(bookworm)").nth(1).unwrap_or_default();
    assert_eq!(after_os.split_whitespace().next(), Some("-"), "{table}");
    let text = m.ok(&["status", "mach-bind"]).stdout;
    assert!(text.contains("Address: -"), "{text}");

    // shell: the machine's PID 1 resource limits, even from a caller with lower soft limits
    // (raising a hard limit would need CAP_SYS_RESOURCE, which the test host may lack).
    let leader = list[0]["leader"].as_u64().unwrap();
    let want = std::fs::read_to_string(format!("/proc/{leader}/limits")).unwrap();
    let out = std::process::Command::new("prlimit")
        .args(["--nofile=100:", "--stack=4194304:", "--"])
        .arg(wharf_tests::wharf_bin())
        .args([
            "shell",
            "mach-bind",
            "sh",
            "-c",
            "ulimit -n; cat /proc/self/limits",
        ])
        .env("WHARF_IMAGE_ROOT", &m.store.root)
        .env("WHARF_STATE_DIR", m.state.path())
        .output()
        .expect("prlimit (util-linux) is required");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{out:?}");
    let (ulimit_n, limits) = text.split_once('\n').unwrap();
    assert_eq!(limits, want);
    let nofile = want
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    assert_eq!(nofile.split_whitespace().nth(3), Some(ulimit_n), "{want}");
    assert_ne!(ulimit_n, "100");
    m.ok(&["poweroff", "mach-bind"]);
}
