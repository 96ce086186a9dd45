//! `.nspawn` settings files in `wharf run`: lookup and trust, `--settings=`, precedence between
//! the file and the command line, parse errors, and OCI-imported images running their
//! entrypoint from the settings `import-oci` wrote.
//!
//! The trusted directories (/etc/systemd/nspawn, /run/systemd/nspawn) are replaced by a
//! directory of the test's own through the test hook `WHARF_NSPAWN_SETTINGS_DIRS`, so that the
//! host's real settings directories are never written (nor read).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use wharf_tests::fixtures::{Fs, TestStore};
use wharf_tests::machine::store;
use wharf_tests::oci::{require_tools, Layout};
use wharf_tests::{ok, sh, wharf, Run};

/// The store's trusted settings directory (created on first use).
fn trusted_dir(s: &TestStore) -> PathBuf {
    let d = s.scratch.join("trusted-nspawn");
    fs::create_dir_all(&d).unwrap();
    d
}

/// `wharf run -M NAME ARGS…` with the trusted directories replaced by the store's own.
fn run_with(s: &TestStore, name: &str, args: &[&str]) -> Run {
    wharf(&s.root)
        .env("WHARF_NSPAWN_SETTINGS_DIRS", trusted_dir(s))
        .args(["run", "-M", name])
        .args(args)
        .output()
        .expect("spawn wharf")
        .into()
}

fn ok_with(s: &TestStore, name: &str, args: &[&str]) -> Run {
    let r = run_with(s, name, args);
    assert_eq!(r.code, Some(0), "{args:?}: {r:?}");
    r
}

fn warnings(r: &Run) -> Vec<&str> {
    r.stderr
        .lines()
        .filter(|l| l.starts_with("wharf: warning: "))
        .collect()
}

/// What the shell prints: FOO, the working directory, whether the bind mount is there, and
/// whether CAP_SYS_MODULE (bit 16; not in nspawn's default set) is in the bounding set.
const REPORT: &str = "echo foo=${FOO:-unset}; echo cwd=$(pwd); \
    if grep -qs host /mnt/marker; then echo bind=yes; else echo bind=no; fi; \
    b=$(sed -n 's/^CapBnd:[[:space:]]*//p' /proc/self/status); \
    if [ $(( 0x$b >> 16 & 1 )) = 1 ]; then echo sys_module=yes; else echo sys_module=no; fi";

/// A settings file with unprivileged keys (Environment=, WorkingDirectory=) and privileged
/// ones (Capability=, Bind= of a host file).
fn mixed_settings(s: &TestStore) -> String {
    let marker = s.scratch.join("marker");
    fs::write(&marker, "host\n").unwrap();
    format!(
        "[Exec]\nEnvironment=FOO=from-file\nWorkingDirectory=/tmp\nCapability=CAP_SYS_MODULE\n\
         [Files]\nBind={}:/mnt/marker\n",
        marker.display()
    )
}

#[test]
fn untrusted_file_next_to_the_image_loses_privileged_keys_only() {
    let s = store();
    fs::write(s.root.join("deb.nspawn"), mixed_settings(&s)).unwrap();
    let r = ok_with(&s, "deb", &["sh", "-c", REPORT]);
    assert_eq!(
        r.stdout, "foo=from-file\ncwd=/tmp\nbind=no\nsys_module=no\n",
        "{r:?}"
    );
    let w = warnings(&r);
    assert_eq!(w.len(), 2, "{r:?}");
    assert!(
        w[0].contains("ignoring Capability=") && w[0].contains("deb.nspawn"),
        "{w:?}"
    );
    assert!(w[1].contains("ignoring Bind="), "{w:?}");

    // --settings=trusted honours everything, without warnings.
    let r = ok_with(&s, "deb", &["--settings=trusted", "sh", "-c", REPORT]);
    assert_eq!(
        r.stdout, "foo=from-file\ncwd=/tmp\nbind=yes\nsys_module=yes\n",
        "{r:?}"
    );
    assert!(warnings(&r).is_empty(), "{r:?}");

    // --settings=no ignores the file.
    let r = ok_with(&s, "deb", &["--settings=no", "sh", "-c", REPORT]);
    assert!(r.stdout.starts_with("foo=unset\n"), "{r:?}");
    assert!(
        !r.stdout.contains("cwd=/tmp") && r.stdout.contains("bind=no\nsys_module=no\n"),
        "{r:?}"
    );
    assert!(warnings(&r).is_empty(), "{r:?}");
}

#[test]
fn trusted_directory_wins_and_is_honoured_in_full() {
    let s = store();
    fs::write(
        s.root.join("deb.nspawn"),
        "[Exec]\nEnvironment=FOO=next-to-image\n",
    )
    .unwrap();
    fs::write(trusted_dir(&s).join("deb.nspawn"), mixed_settings(&s)).unwrap();
    let r = ok_with(&s, "deb", &["sh", "-c", REPORT]);
    assert_eq!(
        r.stdout, "foo=from-file\ncwd=/tmp\nbind=yes\nsys_module=yes\n",
        "{r:?}"
    );
    assert!(warnings(&r).is_empty(), "{r:?}");
}

#[test]
fn command_line_wins_unless_override() {
    let s = store();
    fs::write(
        s.root.join("deb.nspawn"),
        "[Exec]\nHostname=filehost\nEnvironment=FOO=file BAR=file\n",
    )
    .unwrap();
    let script = "echo $(cat /proc/sys/kernel/hostname) ${FOO:-unset} ${BAR:-unset}";
    let cli = ["--hostname=clihost", "-E", "FOO=cli"];
    let mut args = cli.to_vec();
    args.extend(["sh", "-c", script]);
    // yes: the command line's hostname and environment (Environment= is one setting: -E
    // replaces all of it, as in nspawn).
    assert_eq!(ok_with(&s, "deb", &args).stdout, "clihost cli unset\n");
    // Keys the command line does not set still come from the file.
    assert_eq!(
        ok_with(&s, "deb", &["-E", "FOO=cli", "sh", "-c", script]).stdout,
        "filehost cli unset\n"
    );
    let mut args = vec!["--settings=override"];
    args.extend(cli);
    args.extend(["sh", "-c", script]);
    assert_eq!(ok_with(&s, "deb", &args).stdout, "filehost file file\n");
}

#[test]
fn parse_error_names_file_and_line_and_unknown_keys_warn() {
    let s = store();
    let file = s.root.join("deb.nspawn");
    fs::write(&file, "[Exec]\n# comment\nBoot=maybe\n").unwrap();
    let r = run_with(&s, "deb", &["true"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{r:?}");
    assert!(
        r.stderr.contains(&format!("{}:3: Boot=", file.display())),
        "{r:?}"
    );
    assert!(!r.stderr.contains("panicked"), "{r:?}");

    fs::write(&file, "[Exec]\nNoSuchKey=1\nSuppressSync=yes\n").unwrap();
    let r = ok_with(&s, "deb", &["--settings=trusted", "true"]);
    let w = warnings(&r);
    assert_eq!(w.len(), 2, "{r:?}");
    assert!(w[0].contains(&format!("{}:2:", file.display())), "{w:?}");
    assert!(
        w[1].contains("SuppressSync=") && w[1].contains("not supported yet"),
        "{w:?}"
    );
}

/// tests/probe/entry.c built static (once per test binary).
fn entry() -> &'static PathBuf {
    static ENTRY: OnceLock<PathBuf> = OnceLock::new();
    ENTRY.get_or_init(|| {
        let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("probe/entry.c");
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wharf-entry");
        let st = Command::new("gcc")
            .args(["-static", "-O1", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .expect("gcc is required to build the entrypoint (apt-get install gcc libc6-dev)");
        assert!(st.success(), "building {} failed", src.display());
        out
    })
}

fn write(root: &Path, rel: &str, data: &[u8], mode: u32) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, data).unwrap();
    sh("chmod", &[&format!("{mode:o}"), p.to_str().unwrap()]);
}

/// An OCI image (built with umoci) whose entrypoint prints its arguments, environment,
/// working directory and user, imported as machine `app`.
fn oci_app(s: &TestStore) {
    let l = Layout::init(&s.scratch.join("layout"));
    let bundle = s.scratch.join("bundle");
    let r = l.unpack("base", &bundle);
    write(&r, "entry", &fs::read(entry()).unwrap(), 0o755);
    write(
        &r,
        "etc/passwd",
        b"root:x:0:0:root:/root:/entry\napp:x:1234:1234::/home/app:/entry\n",
        0o644,
    );
    write(&r, "etc/group", b"root:x:0:\napp:x:1234:\n", 0o644);
    write(&r, "usr/lib/os-release", b"ID=test\n", 0o644);
    fs::create_dir_all(r.join("srv/work")).unwrap();
    l.repack(&bundle, "app");
    l.config(
        "app",
        &[
            "--config.entrypoint=/entry",
            "--config.cmd=first",
            "--config.cmd=two words",
            "--config.env=ENTRY_VARS=GREETING PATH container",
            "--config.env=GREETING=hello there",
            "--config.workingdir=/srv/work",
            "--config.user=app",
        ],
    );
    ok(
        &s.root,
        &["import-oci", l.dir.to_str().unwrap(), "app", "--ref", "app"],
    );
    let nspawn = fs::read_to_string(s.root.join("app.nspawn")).unwrap();
    assert!(nspawn.contains("ProcessTwo=yes"), "{nspawn}");
}

#[test]
fn oci_image_runs_its_entrypoint_with_env_cwd_and_user() {
    require_tools();
    let s = TestStore::new(Fs::Host, 0);
    oci_app(&s);
    // The settings sit next to the image (untrusted): the keys import-oci writes are all
    // unprivileged, so nothing is ignored.
    let r = ok_with(&s, "app", &[]);
    let out = &r.stdout;
    for line in [
        "arg0=/entry",
        "arg1=first",
        "arg2=two words",
        "env GREETING=hello there",
        "env container=wharf",
        "cwd=/srv/work",
        "uid=1234 gid=1234 pid=2",
    ] {
        assert!(out.lines().any(|l| l == line), "{line:?} missing: {r:?}");
    }
    assert!(!out.contains("arg3="), "{r:?}");
    // A command on the command line replaces the entrypoint (and the start mode).
    let r = ok_with(&s, "app", &["/entry", "other"]);
    assert!(r.stdout.contains("arg1=other\n"), "{r:?}");
    assert!(r.stdout.contains("pid=1\n"), "{r:?}");
    // The user is still the image's.
    assert!(r.stdout.contains("uid=1234 "), "{r:?}");
    // --settings=no: the image's settings are not used at all.
    let r = ok_with(&s, "app", &["--settings=no", "/entry"]);
    assert!(r.stdout.contains("uid=0 "), "{r:?}");
    assert!(r.stdout.contains("cwd=/\n"), "{r:?}");
}

#[test]
fn directory_runs_find_the_file_beside_and_read_only_images_stay_read_only() {
    let s = store();
    fs::write(
        s.root.join("deb.nspawn"),
        "[Exec]\nEnvironment=FOO=beside\n[Files]\nReadOnly=no\n",
    )
    .unwrap();
    // -D DIR: NAME.nspawn in DIR's parent, NAME = DIR's name.
    let dir = s.root.join("deb");
    let r: Run = wharf(&s.root)
        .env("WHARF_NSPAWN_SETTINGS_DIRS", trusted_dir(&s))
        .args(["run", "-D", dir.to_str().unwrap(), "sh", "-c", "echo $FOO"])
        .output()
        .unwrap()
        .into();
    assert_eq!(r.stdout, "beside\n", "{r:?}");
    // ReadOnly=no does not make a read-only image writable.
    ok(&s.root, &["read-only", "deb"]);
    let r = ok_with(
        &s,
        "deb",
        &[
            "sh",
            "-c",
            "touch /x 2>/dev/null && echo wrote || echo refused",
        ],
    );
    assert_eq!(r.stdout, "refused\n", "{r:?}");
    assert!(!dir.join("x").exists());
}
