//! The escape set: things root inside a machine started with default options must not be able
//! to do to the host. Each attempt is made by a static probe (tests/probe/escape.c) inside a
//! real Debian machine and must fail; where an attempt "succeeds" inside (mounting proc, a bind
//! mount of /), what it shows must be the machine's own, not the host's.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use wharf_tests::fixtures::TestStore;
use wharf_tests::machine::{run_deb, store};

/// tests/probe/escape.c built static (once per test binary).
fn escape() -> &'static PathBuf {
    static PROBE: OnceLock<PathBuf> = OnceLock::new();
    PROBE.get_or_init(|| {
        let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("probe/escape.c");
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wharf-escape");
        let st = Command::new("gcc")
            .args(["-static", "-O1", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .expect("gcc is required to build the escape probe (apt-get install gcc libc6-dev)");
        assert!(st.success(), "building {} failed", src.display());
        out
    })
}

/// `sh -c SCRIPT` in machine "deb" (default options plus `opts`) with the probe at
/// /usr/local/bin/wharf-escape; (exit code, stdout).
fn in_machine(s: &TestStore, opts: &[&str], script: &str) -> (Option<i32>, String) {
    let bind = format!(
        "--bind-ro={}:/usr/local/bin/wharf-escape",
        escape().display()
    );
    let mut args: Vec<&str> = opts.to_vec();
    args.push(&bind);
    args.extend(["sh", "-c", script]);
    let r = run_deb(s, &args);
    assert!(!r.stderr.contains("panicked"), "{r:?}");
    (r.code, r.stdout)
}

/// The probe's result for `name` in `out`.
fn result<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} not probed: {out}"))
}

fn must_fail(out: &str, name: &str) {
    let r = result(out, name);
    assert_ne!(r, "OK", "{name} succeeded inside the machine: {out}");
}

fn boot_id() -> String {
    fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap()
}

/// Linux `major`/`minor` of a dev_t.
fn major_minor(dev: u64) -> (u64, u64) {
    (
        ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff),
        (dev & 0xff) | ((dev >> 12) & !0xff),
    )
}

#[test]
fn kernel_interfaces_are_out_of_reach() {
    let s = store();
    // Written back with the host's current value, so even a success would change nothing.
    let cad = fs::read_to_string("/proc/sys/kernel/ctrl-alt-del").unwrap();
    let (code, out) = in_machine(
        &s,
        &[],
        &format!(
            "wharf-escape read:/proc/kcore write:/proc/sysrq-trigger:h \
             finit_module:/usr/bin/true init_module keyctl; \
             wharf-escape write:/proc/sys/kernel/ctrl-alt-del:{} | sed 's/^write/sysctl/'",
            cad.trim()
        ),
    );
    assert_eq!(code, Some(0), "{out}");
    // (Kernels without /proc/kcore or sysrq give ENOENT here, as on the host.)
    for name in [
        "read",
        "write",
        "finit_module",
        "init_module",
        "keyctl",
        "sysctl",
    ] {
        must_fail(&out, name);
    }
    assert_eq!(result(&out, "sysctl"), "EROFS", "{out}");
    // Refused before any module loader ran (not "bad ELF"), and keyctl by the seccomp filter.
    assert_eq!(result(&out, "init_module"), "EPERM", "{out}");
    assert_eq!(result(&out, "finit_module"), "EPERM", "{out}");
    assert_eq!(result(&out, "keyctl"), "EPERM", "{out}");
}

#[test]
fn host_block_devices_cannot_be_opened_or_mounted() {
    let s = store();
    let (maj, min) = major_minor(fs::metadata("/").unwrap().dev());
    assert_ne!(
        maj, 0,
        "the host's root must be on a block device for this test"
    );
    // A node for the host's root device made inside, opened and mounted; and a host loop
    // device bind-mounted in.
    let loopdev = (0..8)
        .map(|i| format!("/dev/loop{i}"))
        .find(|p| fs::metadata(p).is_ok())
        .expect("a /dev/loopN on the host");
    let bind = format!("--bind={loopdev}:/dev/hostloop");
    let script = format!(
        "wharf-escape mknod:/tmp/hostroot:{maj}:{min}; mknod /tmp/root2 b {maj} {min}; \
         mkdir -p /mnt/r; wharf-escape mount:/tmp/root2:/mnt/r:ext4 open:/dev/hostloop; \
         if [ -e /mnt/r/etc ]; then echo mounted yes; fi"
    );
    let (code, out) = in_machine(&s, &[&bind], &script);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(result(&out, "mknod"), "EPERM", "{out}");
    must_fail(&out, "mount");
    assert_eq!(result(&out, "open"), "EPERM", "{out}");
    assert!(!out.contains("mounted yes"), "{out}");
}

/// A host process with a unique command line; killed on drop.
struct HostSleeper(std::process::Child);

impl Drop for HostSleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn host_processes_files_and_cgroups_stay_invisible() {
    let s = store();
    let marker = format!("wharf-escape-marker-{}", std::process::id());
    let host_file = s.scratch.join(&marker);
    fs::write(&host_file, "host\n").unwrap();
    let mut sleeper = HostSleeper(
        Command::new("bash")
            .args(["-c", &format!("exec -a {marker} sleep 600")])
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = sleeper.0.id();
    // The check below would find it from the host.
    let cmdline = (0..100)
        .map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default()
        })
        .find(|c| c.starts_with(marker.as_bytes()))
        .expect("the host sleeper's argv[0]");
    assert!(cmdline.starts_with(format!("{marker}\0").as_bytes()));
    let script = format!(
        "mkdir -p /mnt/p /mnt/b; \
         wharf-escape mount:proc:/mnt/p:proc mount:/:/mnt/b:bind kill:{pid} \
           write:/sys/fs/cgroup/../cgroup.procs:$$; \
         for f in /proc/[0-9]*/cmdline /mnt/p/[0-9]*/cmdline; do \
           [ \"$(tr '\\0' '\\n' < $f 2>/dev/null | head -n 1)\" = {marker} ] && echo seen process; \
         done; \
         if [ -e /mnt/b{file} ] || [ -e {file} ]; then echo seen file; fi; \
         sed 's/^/cgroup /' /proc/self/cgroup",
        file = host_file.display()
    );
    let (code, out) = in_machine(&s, &[], &script);
    assert_eq!(code, Some(0), "{out}");
    // Mounting proc and bind-mounting / work in the machine's own namespaces, and show only
    // the machine.
    assert!(!out.contains("seen process"), "{out}");
    assert!(!out.contains("seen file"), "{out}");
    assert_eq!(result(&out, "kill"), "ESRCH", "{out}");
    must_fail(&out, "write");
    // Every hierarchy (cgroup2, and v1 ones on a hybrid host) is rooted at the machine's own.
    let cgroups: Vec<&str> = out.lines().filter(|l| l.starts_with("cgroup ")).collect();
    assert!(cgroups.contains(&"cgroup 0::/"), "{out}");
    assert!(cgroups.iter().all(|l| l.ends_with(":/")), "{out}");
    assert!(
        sleeper.0.try_wait().unwrap().is_none(),
        "the host process died"
    );
}

#[test]
fn reboot_ends_only_the_machine() {
    let s = store();
    let before = boot_id();
    // Refuse to try unless the probe really is in its own PID namespace.
    let host_ns = fs::read_link("/proc/self/ns/pid").unwrap();
    let (code, out) = in_machine(&s, &[], "readlink /proc/self/ns/pid");
    assert_eq!(code, Some(0), "{out}");
    assert_ne!(out.trim(), host_ns.to_str().unwrap(), "no PID namespace");
    for _ in 0..2 {
        // reboot(RB_POWER_OFF) in a PID namespace kills the namespace's init: the machine
        // powers off (exit 0) and nothing after the call runs.
        let (code, out) = in_machine(&s, &[], "wharf-escape reboot; echo still running");
        assert!(!out.contains("still running"), "{out}");
        assert!(!out.contains("reboot OK"), "{out}");
        assert_eq!(code, Some(0), "{out}");
        assert_eq!(boot_id(), before);
    }
}

#[test]
fn inherited_descriptors_stay_outside() {
    let s = store();
    let host_file = s.scratch.join("inherited");
    fs::write(&host_file, "").unwrap();
    // A caller that leaves descriptor 7 open on a host file and 8 on a host directory (without
    // close-on-exec): neither may reach the machine, where 8 would lead out of its root.
    let script = "ls /proc/self/fd | sed 's/^/fd /'; \
                  if echo escaped >&7; then echo wrote; fi; \
                  if ls /proc/self/fd/8/ >/dev/null; then echo dir; fi";
    let out = Command::new("bash")
        .arg("-c")
        .arg(r#"exec 7>>"$1" 8<"$2"; shift 2; exec "$@""#)
        .arg("bash")
        .arg(&host_file)
        .arg(&s.scratch)
        .arg(wharf_tests::wharf_bin())
        .args(["--image-root", s.root.to_str().unwrap()])
        .args(["run", "-M", "deb", "sh", "-c", script])
        .env("WHARF_STATE_DIR", s.scratch.join("machine-state"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        !stdout.contains("wrote") && !stdout.contains("dir"),
        "{stdout}"
    );
    // stdio, and the directory ls itself opened.
    let fds: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("fd "))
        .collect();
    assert_eq!(fds, ["0", "1", "2", "3"], "{stdout}");
    assert_eq!(fs::read_to_string(&host_file).unwrap(), "");
}
