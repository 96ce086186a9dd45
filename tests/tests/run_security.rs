//! `wharf run` isolation beyond the mount table: the seccomp filter, capability options,
//! no_new_privs, the machine's own cgroup with its device policy, resource properties and
//! rlimits — all checked from inside a real Debian machine.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rustix::process::Signal;
use wharf_tests::fixtures::TestStore;
use wharf_tests::machine::{
    processes_with, run_deb, run_in, sh_deb, sh_in, status_field, store, store_named, Running,
};
use wharf_tests::{fails, wharf};

/// tests/probe/probe.c built static (once per test binary): tries syscalls with harmless
/// arguments and prints `NAME OK|ERRNO` for each.
fn probe() -> &'static PathBuf {
    static PROBE: OnceLock<PathBuf> = OnceLock::new();
    PROBE.get_or_init(|| {
        let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("probe/probe.c");
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wharf-probe");
        let st = Command::new("gcc")
            .args(["-static", "-O1", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .expect("gcc is required to build the syscall probe (apt-get install gcc libc6-dev)");
        assert!(st.success(), "building {} failed", src.display());
        out
    })
}

/// Run the probe in machine "deb" of `s` with `opts`; (call, result) pairs.
fn probe_in(s: &TestStore, opts: &[&str], calls: &[&str]) -> Vec<(String, String)> {
    let bind = format!("--bind-ro={}:/usr/local/bin/wharf-probe", probe().display());
    let mut args: Vec<&str> = opts.to_vec();
    args.push(&bind);
    args.push("wharf-probe");
    args.extend_from_slice(calls);
    let r = run_deb(s, &args);
    assert_eq!(r.code, Some(0), "{r:?}");
    r.stdout
        .lines()
        .map(|l| {
            let (a, b) = l.split_once(' ').unwrap();
            (a.to_string(), b.to_string())
        })
        .collect()
}

fn expect(results: &[(String, String)], want: &[(&str, &str)]) {
    for (call, result) in want {
        let got = results
            .iter()
            .find(|(c, _)| c == call)
            .unwrap_or_else(|| panic!("{call} not probed: {results:?}"));
        assert_eq!(got.1, *result, "{call}: {results:?}");
    }
}

#[test]
fn seccomp_filter_is_installed_and_blocks_nspawns_exclusions() {
    let s = store();
    let st = sh_deb(&s, &[], "cat /proc/self/status");
    assert_eq!(status_field(&st, "Seccomp:"), 2, "{st}");
    assert_eq!(status_field(&st, "NoNewPrivs:"), 0, "{st}");
    let r = probe_in(
        &s,
        &[],
        &[
            "getpid",
            "keyctl",
            "add_key",
            "kexec_load",
            "kexec_file_load",
            "bpf",
            "perf_event_open",
            "open_by_handle_at",
            "init_module",
            "finit_module",
            "swapon",
            "clock_settime",
            "reboot",
            "ptrace",
            "mount",
            "socket_audit",
            "socket_route",
            "cachestat",
            "x32_getpid",
            "i386_getpid",
            "i386_keyctl",
        ],
    );
    expect(
        &r,
        &[
            ("getpid", "OK"),
            // Known to systemd, not allowed: EPERM.
            ("keyctl", "EPERM"),
            ("add_key", "EPERM"),
            ("kexec_load", "EPERM"),
            ("kexec_file_load", "EPERM"),
            ("bpf", "EPERM"),
            ("perf_event_open", "EPERM"),
            ("open_by_handle_at", "EPERM"),
            ("init_module", "EPERM"),
            ("finit_module", "EPERM"),
            ("swapon", "EPERM"),
            ("clock_settime", "EPERM"),
            // Allowed (the kernel rejects the bad arguments).
            ("reboot", "EINVAL"),
            ("ptrace", "ESRCH"),
            ("mount", "EFAULT"),
            ("socket_audit", "EAFNOSUPPORT"),
            ("socket_route", "OK"),
            // Unknown to systemd 252: ENOSYS; x32 refused; i386 filtered like x86-64.
            ("cachestat", "ENOSYS"),
            ("x32_getpid", "ENOSYS"),
            ("i386_getpid", "OK"),
            ("i386_keyctl", "EPERM"),
        ],
    );
}

#[test]
fn system_call_filter_and_capabilities_adjust_the_filter() {
    let s = store();
    // Allowed by the option: the kernel now sees the calls (and rejects their bad arguments).
    let r = probe_in(
        &s,
        &[
            "--system-call-filter=keyctl bpf",
            "--system-call-filter=~@mount",
        ],
        &["keyctl", "bpf", "mount", "i386_keyctl"],
    );
    expect(
        &r,
        &[
            ("keyctl", "OK"),
            ("bpf", "EINVAL"),
            ("mount", "EPERM"),
            ("i386_keyctl", "OK"),
        ],
    );
    // Capability-gated calls follow the final capability set.
    let r = probe_in(
        &s,
        &[
            "--drop-capability=sys_boot,CAP_SYS_PTRACE",
            "--capability=sys_time",
        ],
        &["reboot", "ptrace", "clock_settime"],
    );
    expect(
        &r,
        &[
            ("reboot", "EPERM"),
            ("ptrace", "EPERM"),
            ("clock_settime", "EFAULT"),
        ],
    );
    fails(
        &s.root,
        &[
            "run",
            "-M",
            "deb",
            "--system-call-filter=nosuchcall",
            "true",
        ],
        "nosuchcall",
    );
}

#[test]
fn capability_options() {
    let s = store();
    let host = std::fs::read_to_string("/proc/self/status").unwrap();
    let host_bnd = status_field(&host, "CapBnd:");
    let caps = |opts: &[&str]| -> (u64, u64, u64, u64, String) {
        let mut args = opts.to_vec();
        args.extend_from_slice(&["cat", "/proc/self/status"]);
        let r = run_deb(&s, &args);
        assert_eq!(r.code, Some(0), "{r:?}");
        (
            status_field(&r.stdout, "CapBnd:"),
            status_field(&r.stdout, "CapEff:"),
            status_field(&r.stdout, "CapPrm:"),
            status_field(&r.stdout, "CapInh:"),
            r.stderr,
        )
    };
    let default = 0xfdec_afff & host_bnd;
    let (bnd, eff, prm, inh, err) = caps(&[]);
    assert_eq!((bnd, eff, prm, inh), (default, default, default, default));
    assert_eq!(err, "");

    // CAP_NET_ADMIN (12) and CAP_SYS_TIME (25) added, CAP_MKNOD (27) dropped.
    let want = (default | 1 << 12 | 1 << 25) & !(1 << 27);
    let (bnd, eff, _, _, _) = caps(&[
        "--capability=CAP_NET_ADMIN,sys_time",
        "--drop-capability=mknod",
    ]);
    assert_eq!((bnd, eff), (want, want));
    let (bnd, _, _, _, _) = caps(&["--capability=all"]);
    assert_eq!(bnd, host_bnd);
    let (bnd, eff, _, _, _) = caps(&["--drop-capability=all"]);
    assert_eq!((bnd, eff), (0, 0));
    // Dropping wins over adding.
    let (bnd, _, _, _, _) = caps(&["--capability=net_admin", "--drop-capability=net_admin"]);
    assert_eq!(bnd & 1 << 12, 0);
    // A requested capability the caller's bounding set lacks: left out with a warning.
    if host_bnd & (1 << 24) == 0 {
        let (bnd, _, _, _, err) = caps(&["--capability=sys_resource"]);
        assert_eq!(bnd & 1 << 24, 0);
        assert!(
            err.contains("warning") && err.contains("cap_sys_resource"),
            "{err}"
        );
    }
    fails(
        &s.root,
        &["run", "-M", "deb", "--capability=cap_bogus", "true"],
        "cap_bogus",
    );
    // no_new_privs after the drop.
    let st = sh_deb(&s, &["--no-new-privileges=yes"], "cat /proc/self/status");
    assert_eq!(status_field(&st, "NoNewPrivs:"), 1);
    // Without CAP_SYS_ADMIN the filter still goes in (installed before the capability drop).
    let st = sh_deb(
        &s,
        &["--drop-capability=sys_admin"],
        "cat /proc/self/status",
    );
    assert_eq!(status_field(&st, "Seccomp:"), 2);
    assert_eq!(status_field(&st, "CapEff:") & 1 << 21, 0);
}

/// Where wharf puts machine `name`'s cgroup2 directory on this host.
fn v2_dir(name: &str) -> PathBuf {
    let mi = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let unified = if mi
        .lines()
        .any(|l| l.split(' ').nth(4) == Some("/sys/fs/cgroup") && l.contains(" - cgroup2 "))
    {
        "/sys/fs/cgroup"
    } else {
        "/sys/fs/cgroup/unified"
    };
    if Path::new("/run/systemd/system").is_dir() {
        Path::new(unified).join(format!("machine.slice/wharf-{name}.scope"))
    } else {
        Path::new(unified).join("wharf").join(name)
    }
}

/// Hybrid hosts: machine `name`'s directory in v1 controller `ctrl` (None on pure cgroup2).
fn v1_dir(ctrl: &str, name: &str) -> Option<PathBuf> {
    let mount = Path::new("/sys/fs/cgroup").join(ctrl);
    if !mount.join("cgroup.procs").exists() || mount.join("cgroup.controllers").exists() {
        return None;
    }
    let own = fs::read_to_string("/proc/self/cgroup").unwrap();
    let path = own
        .lines()
        .find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, c, p) = (f.next()?, f.next()?, f.next()?);
            c.split(',').any(|x| x == ctrl).then(|| p.to_string())
        })
        .unwrap();
    Some(
        mount
            .join(path.trim_start_matches('/'))
            .join("wharf")
            .join(name),
    )
}

fn hybrid() -> bool {
    v1_dir("devices", "x").is_some()
}

/// Start `wharf run -M NAME -a <opts> sleep 876500` and wait until the machine's cgroup has
/// it (the stub init and the payload).
fn start_sleeping(s: &TestStore, name: &str, opts: &[&str]) -> Running {
    let mut args = vec!["run", "-M", name, "-a"];
    args.extend_from_slice(opts);
    args.extend_from_slice(&["sleep", "876500"]);
    let mut cmd = wharf(&s.root);
    cmd.args(&args).stdout(Stdio::null()).stderr(Stdio::null());
    // Killed with its machine on drop, also when an assertion fails.
    let mut r = Running::spawn(cmd);
    let procs = v2_dir(name).join("cgroup.procs");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // wharf's stub init and the payload.
        let n = fs::read_to_string(&procs).map_or(0, |p| p.lines().count());
        if n >= 2 && !processes_with("sleep 876500").is_empty() {
            return r;
        }
        if let Some(st) = r.child.try_wait().unwrap() {
            panic!("wharf ended early: {st:?}");
        }
        assert!(
            Instant::now() < deadline,
            "machine never showed up in {}",
            procs.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stop(mut r: Running) {
    r.signal(Signal::TERM);
    assert_eq!(r.wait(Duration::from_secs(30)), Some(128 + 15));
}

fn assert_removed(name: &str) {
    assert!(
        !v2_dir(name).exists(),
        "{} left behind",
        v2_dir(name).display()
    );
    for ctrl in ["devices", "memory", "pids", "cpu"] {
        if let Some(d) = v1_dir(ctrl, name) {
            assert!(!d.exists(), "{} left behind", d.display());
        }
    }
}

#[test]
fn own_cgroup_namespace_and_writable_cgroup2() {
    let s = store_named("sec-cgns");
    let out = sh_in(
        &s,
        "sec-cgns",
        &[],
        "grep '^0::' /proc/self/cgroup; \
         grep ' /sys/fs/cgroup ' /proc/self/mountinfo | sed 's/.* - //'; \
         grep -c ' /sys/fs/cgroup/' /proc/self/mountinfo; \
         mkdir /sys/fs/cgroup/sub && echo $$ > /sys/fs/cgroup/sub/cgroup.procs && \
         grep '^0::' /proc/self/cgroup; \
         ls /sys/fs/cgroup | grep -c -e wharf -e payload -e process_api -e sec-cgns; true",
    );
    assert_eq!(out, "0::/\ncgroup2 cgroup2 rw\n0\n0::/sub\n0\n", "{out}");
    // The host sees the machine in its own cgroup; everything is gone after the exit, also the
    // child cgroup made inside.
    let child = start_sleeping(&s, "sec-cgns", &[]);
    assert!(v2_dir("sec-cgns").exists());
    // Without --property= nothing is made in the v1 hierarchies of a hybrid host: the device
    // policy is a BPF program on the cgroup2 directory.
    for ctrl in ["devices", "memory", "pids", "cpu"] {
        if let Some(d) = v1_dir(ctrl, "sec-cgns") {
            assert!(!d.exists(), "{}", d.display());
        }
    }
    stop(child);
    assert_removed("sec-cgns");
}

/// Block devices can be neither created nor opened; only the expected character devices can.
fn check_device_policy(name: &str, env: Option<(&str, &str)>) {
    let s = store_named(name);
    let blk = "/dev/loop0";
    assert!(
        Path::new(blk).exists(),
        "{blk} is needed for this test (modprobe loop)"
    );
    let mut cmd = wharf(&s.root);
    if let Some((k, v)) = env {
        cmd.env(k, v);
    }
    let r = cmd
        .args([
            "run",
            "-M",
            name,
            &format!("--bind={blk}:/root/blk"),
            "--bind-ro=/dev/loop-control:/root/lc",
            "sh",
            "-c",
            "mknod /dev/b b 7 0 || echo mknod-block-refused; \
             mknod /dev/k c 1 11 || echo mknod-kmsg-refused; \
             mknod /dev/n c 1 3 && echo mknod-null-ok; \
             head -c1 /root/blk || echo open-block-refused; \
             (exec 3</root/lc) && echo bound-char-ok; \
             echo x > /dev/null && head -c1 /dev/zero | wc -c",
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&r.stdout);
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(
        out,
        "mknod-block-refused\nmknod-kmsg-refused\nmknod-null-ok\nopen-block-refused\nbound-char-ok\n1\n",
        "{err}"
    );
    assert_eq!(err.matches("Operation not permitted").count(), 3, "{err}");
    assert_removed(name);
}

#[test]
fn device_policy() {
    check_device_policy("sec-dev", None);
}

#[test]
fn device_policy_by_bpf_on_cgroup2() {
    // The device policy is always a BPF program on the cgroup2 directory; this also forces the
    // cgroup2-only layout (v1 controllers of a hybrid host ignored), as on a pure cgroup2 host.
    check_device_policy("sec-devbpf", Some(("WHARF_CGROUP_LAYOUT", "unified")));
}

#[test]
fn properties_limit_the_machine() {
    let s = store_named("sec-prop");
    // TasksMax: 30 background sleeps do not all start (dash gives up with "Cannot fork").
    let script = "i=0; while [ $i -lt 30 ]; do sleep 30 & i=$((i+1)); done; echo started";
    let r = run_in(
        &s,
        "sec-prop",
        &["--property=TasksMax=20", "sh", "-c", script],
    );
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("Cannot fork"), "{r:?}");
    assert_eq!(sh_in(&s, "sec-prop", &[], script), "started\n");
    let child = start_sleeping(
        &s,
        "sec-prop",
        &[
            "--property=MemoryMax=64M",
            "--property=TasksMax=20",
            "--property=CPUQuota=50%",
        ],
    );
    let read =
        |p: PathBuf| fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    if hybrid() {
        let mem = v1_dir("memory", "sec-prop").unwrap();
        assert_eq!(read(mem.join("memory.limit_in_bytes")).trim(), "67108864");
        let pids = v1_dir("pids", "sec-prop").unwrap();
        assert_eq!(read(pids.join("pids.max")).trim(), "20");
        let cpu = v1_dir("cpu", "sec-prop").unwrap();
        assert_eq!(read(cpu.join("cpu.cfs_quota_us")).trim(), "50000");
        assert_eq!(read(cpu.join("cpu.cfs_period_us")).trim(), "100000");
    } else {
        let d = v2_dir("sec-prop");
        assert_eq!(read(d.join("memory.max")).trim(), "67108864");
        assert_eq!(read(d.join("pids.max")).trim(), "20");
        assert_eq!(read(d.join("cpu.max")).trim(), "50000 100000");
    }
    stop(child);
    assert_removed("sec-prop");
    fails(
        &s.root,
        &["run", "-M", "sec-prop", "--property=CPUWeight=5", "true"],
        "CPUWeight",
    );
}

#[test]
fn stale_cgroup_of_a_killed_wharf_is_removed() {
    let s = store_named("sec-stale");
    let mut r = start_sleeping(&s, "sec-stale", &[]);
    r.signal(Signal::KILL);
    assert_eq!(r.wait(Duration::from_secs(30)), None);
    // The machine dies with wharf (parent-death signal); its cgroup stays behind.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !processes_with("sleep 876500").is_empty() {
        assert!(
            Instant::now() < deadline,
            "{:?}",
            processes_with("sleep 876500")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Its cgroup is residue now; a concurrent start of any machine (other tests run in
    // parallel) may already have swept it. Either way the next start of this machine runs in a
    // fresh one and nothing is left afterwards.
    let out = sh_in(&s, "sec-stale", &[], "grep '^0::' /proc/self/cgroup");
    assert_eq!(out, "0::/\n");
    assert_removed("sec-stale");
}

#[test]
fn same_machine_twice_gets_two_cgroups() {
    let s = store_named("sec-twice");
    // Read-only both times: a writable run locks its image exclusively (as nspawn's).
    let first = start_sleeping(&s, "sec-twice", &["--read-only"]);
    let r = run_in(
        &s,
        "sec-twice",
        &["--read-only", "cat", "/proc/self/cgroup"],
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(v2_dir("sec-twice").exists());
    stop(first);
    assert_removed("sec-twice");
    assert!(!v2_dir("sec-twice-2").exists());
}

#[test]
fn rlimits_oom_affinity_and_personality() {
    let s = store();
    let limits = sh_deb(&s, &[], "cat /proc/self/limits");
    let row = |text: &str, label: &str| -> (String, String) {
        let line = text
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("{label} missing in {text}"));
        let mut f = line[label.len()..].split_whitespace();
        (f.next().unwrap().to_string(), f.next().unwrap().to_string())
    };
    // nspawn's PID-1 defaults (the NOFILE hard limit is capped by the caller's without
    // CAP_SYS_RESOURCE, as with nspawn).
    let host_nofile_hard: u64 = row(
        &fs::read_to_string("/proc/self/limits").unwrap(),
        "Max open files",
    )
    .1
    .parse()
    .unwrap();
    assert_eq!(row(&limits, "Max open files").0, "1024");
    let hard: u64 = row(&limits, "Max open files").1.parse().unwrap();
    assert!(
        hard <= 524288 && hard >= host_nofile_hard.min(524288),
        "{limits}"
    );
    assert_eq!(
        row(&limits, "Max core file size"),
        ("0".into(), "unlimited".into())
    );
    assert_eq!(
        row(&limits, "Max stack size"),
        ("8388608".into(), "unlimited".into())
    );
    assert_eq!(
        row(&limits, "Max locked memory"),
        ("8388608".into(), "8388608".into())
    );
    let pid1 = fs::read_to_string("/proc/1/limits").unwrap();
    assert_eq!(row(&limits, "Max processes"), row(&pid1, "Max processes"));

    let out = sh_deb(
        &s,
        &[
            "--rlimit=NOFILE=512:1000",
            "--rlimit=RLIMIT_CORE=infinity",
            "--rlimit=nproc=300",
            "--oom-score-adjust=250",
            "--cpu-affinity=0",
            "--personality=x86",
        ],
        "cat /proc/self/limits /proc/self/oom_score_adj; uname -m; \
         grep Cpus_allowed_list /proc/self/status",
    );
    assert_eq!(row(&out, "Max open files"), ("512".into(), "1000".into()));
    assert_eq!(
        row(&out, "Max core file size"),
        ("unlimited".into(), "unlimited".into())
    );
    assert_eq!(row(&out, "Max processes"), ("300".into(), "300".into()));
    assert!(out.contains("\n250\ni686\n"), "{out}");
    assert!(out.ends_with("Cpus_allowed_list:\t0\n"), "{out}");
    assert_eq!(
        sh_deb(&s, &["--personality=x86-64"], "uname -m"),
        "x86_64\n"
    );
    fails(
        &s.root,
        &["run", "-M", "deb", "--rlimit=BOGUS=1", "true"],
        "BOGUS",
    );
    fails(
        &s.root,
        &["run", "-M", "deb", "--personality=s390", "true"],
        "s390",
    );
}

#[test]
fn stub_init_is_limited_too_and_survives_tasks_max() {
    let s = store_named("sec-stub");
    // With -a the stub init (PID 1) gets the same filter, capability sets, no_new_privs and
    // rlimits as the payload (nspawn forks its stub after all of them).
    let out = sh_in(
        &s,
        "sec-stub",
        &["-a", "--no-new-privileges=yes", "--drop-capability=net_raw"],
        "cat /proc/1/comm; \
         grep -E '^(CapBnd|CapEff|NoNewPrivs|Seccomp):' /proc/1/status; \
         grep -E '^(CapBnd|CapEff|NoNewPrivs|Seccomp):' /proc/self/status; \
         grep 'Max open files' /proc/1/limits | tr -s ' ' | cut -d' ' -f4",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 10, "{out}");
    assert_eq!(lines[0], "wharf-init", "{out}");
    assert_eq!(lines[1..5], lines[5..9], "stub and payload differ: {out}");
    let status = lines[1..5].join("\n");
    assert_eq!(status_field(&status, "Seccomp:"), 2, "{out}");
    assert_eq!(status_field(&status, "NoNewPrivs:"), 1, "{out}");
    assert_eq!(status_field(&status, "CapBnd:") & (1 << 13), 0, "{out}");
    assert_eq!(lines[9], "1024", "{out}");
    // A payload that uses up TasksMax= does not take the stub with it: the stub needs no new
    // task to pass the payload's exit status on.
    let r = run_in(
        &s,
        "sec-stub",
        &[
            "-a",
            "--property=TasksMax=6",
            "sh",
            "-c",
            "(i=0; while [ $i -lt 20 ]; do sleep 30 & i=$((i+1)); done) 2>/dev/null; exit 7",
        ],
    );
    assert_eq!(r.code, Some(7), "{r:?}");
    assert_removed("sec-stub");
}
