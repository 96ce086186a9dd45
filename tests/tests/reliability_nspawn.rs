//! Reliability, part 2 (settings files): hostile `NAME.nspawn` files beside an image, read by
//! `wharf run`. The image is tiny (a static probe that reports which paths it can see), so each
//! case is a real start. Every file must be refused with one error line naming it, or applied
//! with its privileged keys ignored (one warning line each) and nothing of the host visible;
//! never a panic or a hang (a FIFO, /dev/zero: not regular files, so not settings files), never
//! the host file's contents in a message.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use wharf_tests::fixtures::{Fs, TestStore};
use wharf_tests::machine::Running;
use wharf_tests::reliability::{
    assert_same_store, report, store_fingerprint, strip_mtime, Canary, StorePrint,
};
use wharf_tests::{sh, temporaries, wharf};

const PROBE_C: &str = r#"
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    printf("%s %s\n", argv[i], access(argv[i], F_OK) == 0 ? "present" : "absent");
  return 0;
}
"#;

/// A store with image "tiny": /probe (static) and an os-release.
fn tiny(s: &TestStore) {
    let img = s.root.join("tiny");
    fs::create_dir_all(img.join("usr/lib")).unwrap();
    fs::create_dir_all(img.join("etc")).unwrap();
    fs::write(img.join("usr/lib/os-release"), "ID=tiny\n").unwrap();
    let src = s.scratch.join("probe.c");
    fs::write(&src, PROBE_C).unwrap();
    let st = Command::new("gcc")
        .args(["-static", "-O1", "-o"])
        .arg(img.join("probe"))
        .arg(&src)
        .status()
        .expect("gcc is required (apt-get install gcc libc6-dev)");
    assert!(st.success(), "building the probe failed");
}

enum Content {
    Text(String),
    Bytes(Vec<u8>),
    Link(PathBuf),
    Fifo,
}

fn cases(canary: &Path) -> Vec<(&'static str, Content)> {
    let c = canary.display();
    let t = |s: String| Content::Text(s);
    vec![
        ("bind-host-etc", t("[Files]\nBind=/etc:/hostetc\n".into())),
        ("bind-canary-rw", t(format!("[Files]\nBind={c}:/canary\n"))),
        (
            "bind-root",
            t("[Files]\nBind=/:/host\nBindReadOnly=/:/host2\n".into()),
        ),
        (
            "overlay-host",
            t("[Files]\nOverlay=/etc:/tmp:/hostetc\n".into()),
        ),
        (
            "tmpfs-dotdot",
            t("[Files]\nTemporaryFileSystem=/../../etc\n".into()),
        ),
        (
            "capability-all",
            t("[Exec]\nCapability=all\nAmbientCapability=all\n".into()),
        ),
        (
            "private-users-overflow",
            t("[Exec]\nPrivateUsers=0:4294967295\n".into()),
        ),
        ("machine-id-junk", t("[Exec]\nMachineID=zzzz\n".into())),
        ("bad-signal", t("[Exec]\nKillSignal=SIGFOO\n".into())),
        ("bad-section", t("[Exec\nBoot=yes\n".into())),
        ("bad-port", t("[Network]\nPort=tcp:99999:80\n".into())),
        (
            "personality-junk",
            t("[Exec]\nPersonality=../../x\n".into()),
        ),
        ("user-dotdot", t("[Exec]\nUser=../../root\n".into())),
        (
            "workdir-dotdot",
            t("[Exec]\nWorkingDirectory=/../../../etc\n".into()),
        ),
        (
            "continuation-bomb",
            t(format!(
                "[Exec]\nEnvironment=A=\\\n{}x\n",
                "y\\\n".repeat(100_000)
            )),
        ),
        (
            "many-keys",
            t(format!(
                "[Exec]\n{}",
                (0..40_000)
                    .map(|i| format!("Environment=V{i}=x\n"))
                    .collect::<String>()
            )),
        ),
        ("too-large", t(format!("[Exec]\n{}", "#".repeat(2 << 20)))),
        ("nul", Content::Bytes(b"[Exec]\nBoot=no\0yes\n".to_vec())),
        (
            "non-utf8",
            Content::Bytes(b"[Exec]\nEnvironment=A=\xff\xfe\n".to_vec()),
        ),
        ("symlink-to-shadow", Content::Link("/etc/shadow".into())),
        ("symlink-to-dev-zero", Content::Link("/dev/zero".into())),
        ("fifo", Content::Fifo),
    ]
}

#[test]
fn hostile_settings_files_are_refused_or_confined() {
    let s = TestStore::new(Fs::Host, 0);
    tiny(&s);
    let canary = Canary::new(&s.scratch);
    // A first run makes the mount points (/dev, /proc, …) in the image, as nspawn does; the
    // store is compared against the state after it.
    let warm = wharf_tests::run(&s.root, &["run", "-M", "tiny", "/probe"]);
    assert!(warm.ok, "{warm:?}");
    let before = settled(&s.root);
    let file = s.root.join("tiny.nspawn");
    let all = cases(&canary.dir);
    let (mut refused, mut confined) = (0, 0);
    for (label, content) in &all {
        let _ = fs::remove_file(&file);
        match content {
            Content::Text(t) => fs::write(&file, t).unwrap(),
            Content::Bytes(b) => fs::write(&file, b).unwrap(),
            Content::Link(to) => symlink(to, &file).unwrap(),
            Content::Fifo => {
                sh("mkfifo", &[file.to_str().unwrap()]);
            }
        }
        let mut cmd = wharf(&s.root);
        cmd.args([
            "run",
            "-M",
            "tiny",
            "/probe",
            "/hostetc/shadow",
            "/host/etc/shadow",
            "/host2/etc",
            "/canary/untouched",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let (code, out, err) = Running::spawn(cmd).finish(Duration::from_secs(120));
        let ctx = format!(
            "{label}: exit {code:?}, stdout {out:?}, stderr {:?}",
            brief(&err)
        );
        println!("{}", ctx.chars().take(400).collect::<String>());
        assert!(!err.contains("panicked"), "{ctx}");
        assert!(
            !err.contains("root:"),
            "{ctx}: a host file's contents in a message"
        );
        let errors: Vec<&str> = err
            .lines()
            .filter(|l| !l.starts_with("wharf: warning: "))
            .collect();
        match code {
            Some(0) => {
                assert!(errors.is_empty(), "{ctx}");
                for l in out.lines() {
                    assert!(l.ends_with(" absent"), "{ctx}: the machine sees {l}");
                }
                assert_eq!(out.lines().count(), 4, "{ctx}");
                confined += 1;
            }
            Some(1) => {
                assert_eq!(errors.len(), 1, "{ctx}: one error line expected");
                assert!(
                    errors[0].contains("tiny.nspawn"),
                    "{ctx}: the file is not named"
                );
                assert!(errors[0].len() < 600, "{ctx}: a very long line");
                refused += 1;
            }
            _ => panic!("{ctx}: unexpected exit status"),
        }
        canary.assert_untouched(label);
        assert!(
            temporaries(&s.root).is_empty(),
            "{ctx}: {:?}",
            temporaries(&s.root)
        );
    }
    let _ = fs::remove_file(&file);
    assert_same_store(&before, &settled(&s.root), "after the settings cases");
    report(
        "hostile-nspawn",
        &[
            ("cases", all.len()),
            ("refused", refused),
            ("confined", confined),
            ("escaped", 0),
            ("panics", 0),
        ],
    );
}

/// The store without mtimes: `run` makes mount points (/proc, /etc/resolv.conf, …) and copies
/// the host's /etc/localtime into the image as systemd-nspawn does, touching them each time.
fn settled(root: &Path) -> StorePrint {
    let mut fp = store_fingerprint(root);
    for entries in fp.values_mut() {
        for line in entries.values_mut() {
            *line = strip_mtime(line);
        }
    }
    fp
}

fn brief(s: &str) -> String {
    if s.len() <= 1000 {
        return s.to_string();
    }
    let cut = (0..=1000).rev().find(|i| s.is_char_boundary(*i)).unwrap();
    format!("{}…", &s[..cut])
}
