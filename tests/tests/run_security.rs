//! `wharf run` isolation beyond the mount table: the seccomp filter, capability options,
//! no_new_privs, the machine's own cgroup with its device policy, resource properties and
//! rlimits — all checked from inside a real Debian machine.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use wharf_tests::fails;
use wharf_tests::fixtures::TestStore;
use wharf_tests::machine::{run_deb, run_in, sh_deb, status_field, store, store_named};

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
    let _ = (run_in, store_named);
}
