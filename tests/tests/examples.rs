//! The scripts in examples/ run as a user would run them, against the binary under test, with the
//! cached Debian tarball (ROOTFS_TAR: no mmdebstrap), a temporary store (WHARF_IMAGE_ROOT),
//! state directory (WHARF_STATE_DIR), blob cache (WHARF_OCI_CACHE) and TMPDIR. Each test checks
//! what the script left behind: the images it should keep, none of its temporary files, no
//! process of its own (registry, HTTP server, machine supervisor) still running.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;
use wharf_tests::machine::processes_with;
use wharf_tests::registry::Registry;
use wharf_tests::{debian, listed, wharf, wharf_bin};

/// A scratch area for one script run: store, state directory, blob cache, TMPDIR.
struct Env {
    dir: TempDir,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::Builder::new()
            .prefix("wharf-examples-")
            .tempdir_in("/var/tmp")
            .expect("tempdir");
        for sub in ["machines", "state", "oci", "tmp"] {
            fs::create_dir(dir.path().join(sub)).unwrap();
        }
        Env { dir }
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    fn root(&self) -> PathBuf {
        self.path("machines")
    }

    /// Runs examples/SCRIPT with `vars`; panics with its output unless it succeeds. Its stdout.
    fn run(&self, script: &str, vars: &[(&str, &str)]) -> String {
        let (ok, stdout, stderr) = self.run_with(&wharf_bin(), script, vars);
        assert!(ok, "{script} failed:\n{stdout}\n{stderr}");
        stdout
    }

    /// Runs examples/SCRIPT with `wharf` as WHARF: success, stdout, stderr.
    fn run_with(
        &self,
        wharf: &Path,
        script: &str,
        vars: &[(&str, &str)],
    ) -> (bool, String, String) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples")
            .join(script);
        let out = Command::new("bash")
            .arg(&path)
            .env("WHARF", wharf)
            .env("ROOTFS_TAR", debian::tarball())
            .env("WHARF_IMAGE_ROOT", self.root())
            .env("WHARF_STATE_DIR", self.path("state"))
            .env("WHARF_OCI_CACHE", self.path("oci"))
            .env("TMPDIR", self.path("tmp"))
            .envs(vars.iter().copied())
            .output()
            .unwrap_or_else(|e| panic!("cannot run bash {}: {e}", path.display()));
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs examples/SCRIPT with a wharf that fails at its first `verb`: the script must fail
    /// with that error, and still clean up after itself. Its stdout.
    fn run_failing_at(&self, verb: &str, script: &str, vars: &[(&str, &str)]) -> String {
        let wrapper = self.path("wharf-failing");
        fs::write(
            &wrapper,
            format!(
                "#!/bin/bash\nif [ \"$1\" = {verb} ]; then echo 'wharf: injected failure' >&2; exit 1; fi\nexec {} \"$@\"\n",
                wharf_bin().display()
            ),
        )
        .unwrap();
        fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
        let (ok, stdout, stderr) = self.run_with(&wrapper, script, vars);
        assert!(!ok, "{script} succeeded with a failing {verb}:\n{stdout}");
        assert!(stderr.contains("wharf: injected failure"), "{stderr}");
        self.assert_clean();
        stdout
    }

    /// The script removed its temporary directory and left no process behind.
    fn assert_clean(&self) {
        let left: Vec<_> = fs::read_dir(self.path("tmp"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "temporary files left: {left:?}");
        let procs = processes_with(self.dir.path().to_str().unwrap());
        assert!(procs.is_empty(), "processes left: {procs:?}");
        let r = wharf(&self.root())
            .env("WHARF_STATE_DIR", self.path("state"))
            .args(["list", "--json"])
            .output()
            .unwrap();
        assert!(r.status.success());
        assert_eq!(
            String::from_utf8_lossy(&r.stdout).trim(),
            "[]",
            "machines left"
        );
    }
}

fn image(name: &str, kind: &str) -> (String, String, bool) {
    (name.to_string(), kind.to_string(), false)
}

/// A machine name no concurrent test run uses (machine names are cgroup names).
fn unique(base: &str) -> String {
    format!("{base}-{}", std::process::id())
}

#[test]
fn store_basics() {
    let env = Env::new();
    env.run("store-basics.sh", &[]);
    env.assert_clean();
}

#[test]
fn debian_machine_boots_and_runs_twice() {
    let env = Env::new();
    let name = unique("ex-debian");
    let out = env.run("debian-machine.sh", &[("MACHINE", &name)]);
    assert!(out.lines().any(|l| l == "running"), "{out}");
    assert!(
        out.contains("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\""),
        "{out}"
    );
    assert_eq!(listed(&env.root()), vec![image(&name, "directory")]);
    env.assert_clean();
    // A second run replaces the image (scripts/main relies on it); REMOVE=yes removes it.
    let out = env.run(
        "debian-machine.sh",
        &[("MACHINE", &name), ("REMOVE", "yes")],
    );
    assert!(out.contains(&format!("==> wharf remove {name}")), "{out}");
    assert_eq!(listed(&env.root()), vec![]);
    env.assert_clean();
}

#[test]
fn docker_to_machine_pulls_from_its_own_registry_and_boots() {
    let env = Env::new();
    let name = unique("ex-oci");
    let out = env.run("docker-to-machine.sh", &[("MACHINE", &name)]);
    assert!(out.contains("==> docker-registry on 127.0.0.1:"), "{out}");
    assert!(out.lines().any(|l| l == "running"), "{out}");
    assert!(
        out.contains("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\""),
        "{out}"
    );
    // The seed image is gone (listed() includes hidden images); the pulled one stays.
    assert_eq!(listed(&env.root()), vec![image(&name, "directory")]);
    let settings = fs::read_to_string(env.root().join(format!("{name}.nspawn"))).unwrap();
    assert!(settings.contains("Boot=yes"), "{settings}");
    let origin = fs::read_to_string(env.root().join(format!("{name}.oci-origin"))).unwrap();
    assert!(origin.contains("wharf-example/debian:bookworm"), "{origin}");
    assert!(
        env.path("oci/blobs/sha256").read_dir().unwrap().count() >= 3,
        "the pull did not use WHARF_OCI_CACHE"
    );
    env.assert_clean();
}

#[test]
fn mirror_pull_verifies_signatures_and_refuses_tampering() {
    let env = Env::new();
    let prefix = unique("ex-mirror");
    let out = env.run("mirror-pull.sh", &[("PREFIX", &prefix)]);
    assert!(
        out.contains("refused: wharf: checksum of http://127.0.0.1:"),
        "{out}"
    );
    assert!(
        out.contains("refused: wharf: signature of SHA256SUMS"),
        "{out}"
    );
    assert!(out.contains("Root: partition 1"), "{out}");
    assert!(
        out.contains("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\""),
        "{out}"
    );
    assert_eq!(
        listed(&env.root()),
        vec![
            image(&format!("{prefix}-raw"), "raw"),
            image(&format!("{prefix}-tar"), "directory"),
        ]
    );
    env.assert_clean();
}

#[test]
fn btrfs_backup_restores_the_same_tree() {
    let env = Env::new();
    let prefix = unique("ex-backup");
    let out = env.run("btrfs-backup.sh", &[("PREFIX", &prefix)]);
    assert!(out.contains("is not on btrfs"), "{out}");
    assert!(
        out.contains("the restored tree is the backed-up one"),
        "{out}"
    );
    let sums: Vec<&str> = out
        .lines()
        .filter_map(|l| {
            l.strip_prefix("backup:   ")
                .or(l.strip_prefix("restored: "))
        })
        .collect();
    assert_eq!(sums.len(), 2, "{out}");
    assert_eq!(sums[0], sums[1]);
    // The loop filesystem held the store: nothing is left in the given one, no mount, no loop.
    assert_eq!(listed(&env.root()), vec![]);
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let tmp = env.path("tmp");
    assert!(
        !mounts.contains(tmp.to_str().unwrap()),
        "mount left: {mounts}"
    );
    let loops = wharf_tests::sh("losetup", &["-a"]);
    assert!(!loops.contains(tmp.to_str().unwrap()), "{loops}");
    env.assert_clean();
}

/// A failure half-way leaves nothing behind: the machine is powered off, the registry and the
/// HTTP server are stopped, the loop filesystem is unmounted, the temporary files are gone.
#[test]
fn failing_examples_clean_up() {
    let env = Env::new();
    let name = unique("ex-fail");
    let out = env.run_failing_at("shell", "debian-machine.sh", &[("MACHINE", &name)]);
    assert!(out.contains("==> wharf start"), "{out}");
    let out = env.run_failing_at("push", "docker-to-machine.sh", &[("MACHINE", &name)]);
    assert!(out.contains("==> docker-registry on 127.0.0.1:"), "{out}");
    let out = env.run_failing_at("pull-tar", "mirror-pull.sh", &[("PREFIX", &name)]);
    assert!(out.contains("==> serve "), "{out}");
    let out = env.run_failing_at("export-tar", "btrfs-backup.sh", &[("PREFIX", &name)]);
    assert!(out.contains("is not on btrfs"), "{out}");
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(env.dir.path().to_str().unwrap()),
        "{mounts}"
    );
    // What the scripts import before the failure stays (the seed of docker-to-machine does not).
    assert_eq!(listed(&env.root()), vec![image(&name, "directory")]);
}

/// With REGISTRY and IMAGE the script pulls that image; one without systemd is not booted, its
/// os-release is shown by a plain `wharf run`.
#[test]
fn docker_to_machine_pulls_a_given_image() {
    let env = Env::new();
    // A tiny image: cat, the libraries it links, an os-release.
    let tree = env.path("tiny");
    fs::create_dir_all(tree.join("etc")).unwrap();
    fs::write(tree.join("etc/os-release"), "PRETTY_NAME=\"Tiny OS 1\"\n").unwrap();
    let libs = wharf_tests::sh("ldd", &["/bin/cat"]);
    let files = libs
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
        .chain(["/bin/cat"]);
    for f in files {
        // At the path ldd names and at the real one (/usr/…: merged /usr).
        let real = fs::canonicalize(f).unwrap();
        for p in [Path::new(f), real.as_path()] {
            let dst = tree.join(p.strip_prefix("/").unwrap());
            fs::create_dir_all(dst.parent().unwrap()).unwrap();
            fs::copy(&real, &dst).unwrap_or_else(|e| panic!("copy {f}: {e}"));
        }
    }
    let registry = Registry::start();
    let reference = registry.image("wharf-example/tiny:1");
    let ok = |args: &[&str]| {
        let r = wharf(&env.root()).args(args).output().unwrap();
        assert!(r.status.success(), "wharf {args:?}: {r:?}");
    };
    ok(&["import-fs", tree.to_str().unwrap(), "tiny-seed"]);
    ok(&["push", "tiny-seed", &reference]);
    ok(&["remove", "tiny-seed"]);
    let name = unique("ex-given");
    let host = registry.host();
    let out = env.run(
        "docker-to-machine.sh",
        &[
            ("MACHINE", name.as_str()),
            ("REGISTRY", host.as_str()),
            ("IMAGE", "wharf-example/tiny:1"),
        ],
    );
    assert!(!out.contains("==> docker-registry"), "{out}");
    assert!(
        out.contains(&format!("==> no systemd in {reference}")),
        "{out}"
    );
    assert!(out.contains("PRETTY_NAME=\"Tiny OS 1\""), "{out}");
    assert_eq!(listed(&env.root()), vec![image(&name, "directory")]);
    env.assert_clean();
}
