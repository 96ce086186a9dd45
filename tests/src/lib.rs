//! Test support for the integration tests in `tests/tests/`: locating the `wharf` binary,
//! temporary stores on ext4 and on a loop-mounted btrfs (torn down even when a test fails),
//! building trees with every kind of file, and comparing trees field by field.
//!
//! These tests need root, `mkfs.btrfs`, `losetup`, `setfattr` and friends; `scripts/test`
//! installs them. A missing tool is a test failure, never a silent skip.

pub mod debian;
pub mod fixtures;
pub mod gpg;
pub mod hostile;
pub mod http_server;
pub mod machine;
pub mod machined;
pub mod netns;
pub mod oci;
pub mod oci_layout;
pub mod registry;
pub mod reliability;
pub mod started;
pub mod tree;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `wharf` binary under test: `$WHARF_BIN`, else the one next to this test executable.
pub fn wharf_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("WHARF_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join("wharf");
    assert!(
        bin.exists(),
        "{} is missing: build it first (`cargo build -p wharf`; scripts/test does)",
        bin.display()
    );
    bin
}

/// A `wharf` command bound to image root `root`.
pub fn wharf(root: &Path) -> Command {
    let mut c = Command::new(wharf_bin());
    wharf_env(&mut c, root);
    c
}

/// The environment of a wharf under test (also when it is started through another program):
/// image root `root`, and the state directory beside it, since machines run in the foreground
/// get state entries (never in /run/wharf/machines).
pub fn wharf_env(c: &mut Command, root: &Path) {
    c.env("WHARF_IMAGE_ROOT", root).env_remove("RUST_BACKTRACE");
    if let Some(parent) = root.parent() {
        c.env("WHARF_STATE_DIR", parent.join("machine-state"));
    }
}

/// Result of a finished wharf run.
#[derive(Debug)]
pub struct Run {
    pub ok: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            ok: o.status.success(),
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Run wharf with `args` against `root`.
pub fn run(root: &Path, args: &[&str]) -> Run {
    wharf(root).args(args).output().expect("spawn wharf").into()
}

/// Run wharf and require success.
pub fn ok(root: &Path, args: &[&str]) -> Run {
    let r = run(root, args);
    assert!(r.ok, "wharf {args:?} failed: {}{}", r.stdout, r.stderr);
    r
}

/// Run wharf and require failure with one clean error line containing `needle`.
pub fn fails(root: &Path, args: &[&str], needle: &str) -> Run {
    let r = run(root, args);
    assert!(!r.ok, "wharf {args:?} unexpectedly succeeded: {}", r.stdout);
    assert_eq!(r.code, Some(1), "exit code of {args:?}: {r:?}");
    assert!(
        r.stderr.contains(needle),
        "wharf {args:?}: expected {needle:?} in {:?}",
        r.stderr
    );
    assert_eq!(
        r.stderr.trim_end().lines().count(),
        1,
        "one-line error expected: {:?}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{:?}", r.stderr);
    r
}

/// `list-images --all --json` as (name, type, read_only) triples, sorted by name.
pub fn listed(root: &Path) -> Vec<(String, String, bool)> {
    let r = ok(root, &["list-images", "--all", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    v.as_array()
        .expect("array")
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().to_string(),
                i["type"].as_str().unwrap().to_string(),
                i["read_only"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// Names of the `.#` entries (staging residue, lock files) in `root`.
pub fn temporaries(root: &Path) -> Vec<String> {
    std::fs::read_dir(root)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".#"))
                .collect()
        })
        .unwrap_or_default()
}

/// Run an external tool and require success (tests use coreutils, mkfs, losetup, …).
pub fn sh(cmd: &str, args: &[&str]) -> String {
    let o = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd} is required for this test and could not run: {e}"));
    assert!(
        o.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Wait until `child` (a running wharf) has a staging directory for `name` in `root` that
/// already holds something, and return its path; fail if the child ends first or after 60 s.
/// Used to kill -9 an operation in the middle of its work.
pub fn wait_for_staging(root: &Path, name: &str, child: &mut std::process::Child) -> PathBuf {
    let start = std::time::Instant::now();
    let prefix = format!(".#{name}");
    loop {
        let found = temporaries(root)
            .into_iter()
            .find(|t| t.starts_with(&prefix) && !t.ends_with(".lck"));
        if let Some(t) = found {
            let p = root.join(&t);
            if std::fs::read_dir(&p).is_ok_and(|mut d| d.next().is_some()) {
                return p;
            }
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("wharf finished ({st}) before its staging directory was seen");
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "no staging directory appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}
