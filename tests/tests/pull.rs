//! pull-tar through the real binary against an HTTP server on 127.0.0.1 with a SHA256SUMS
//! signed by a key gpg makes for the test.

use std::fs;
use std::path::{Path, PathBuf};

use wharf_tests::fixtures::{Fs, TestStore};
use wharf_tests::gpg::Gpg;
use wharf_tests::http_server::Server;
use wharf_tests::tree::assert_same_tree;
use wharf_tests::{fails, listed, ok, run, sh, temporaries};

struct Mirror {
    server: Server,
    gpg: Gpg,
    keyring: PathBuf,
    source: PathBuf,
    tarball: Vec<u8>,
}

fn sha256_hex(data: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("d");
    fs::write(&p, data).unwrap();
    sh("sha256sum", &[p.to_str().unwrap()])
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// A mirror serving /images/os.tar.zst (+ .nspawn) with a signed SHA256SUMS.
fn mirror(s: &TestStore, with_settings: bool) -> Mirror {
    let source = s.scratch.join("os");
    fs::create_dir_all(source.join("etc")).unwrap();
    fs::create_dir_all(source.join("usr/lib")).unwrap();
    fs::write(
        source.join("usr/lib/os-release"),
        "PRETTY_NAME=\"Mirror OS 3\"\n",
    )
    .unwrap();
    for i in 0..64 {
        fs::write(
            source.join(format!("etc/f{i}")),
            vec![i as u8; 64 * 1024 + i],
        )
        .unwrap();
    }
    let tar = s.scratch.join("os.tar.zst");
    sh(
        "tar",
        &[
            "--zstd",
            "--format=pax",
            "--numeric-owner",
            "-C",
            source.to_str().unwrap(),
            "-cf",
            tar.to_str().unwrap(),
            ".",
        ],
    );
    let tarball = fs::read(&tar).unwrap();
    let server = Server::start();
    server.put("/images/os.tar.zst", tarball.clone());
    let mut sums = format!("{} *os.tar.zst\n", sha256_hex(&tarball));
    if with_settings {
        let settings = b"[Exec]\nBoot=yes\n".to_vec();
        sums.push_str(&format!("{} *os.nspawn\n", sha256_hex(&settings)));
        server.put("/images/os.nspawn", settings);
    }
    let gpg = Gpg::new("wharf mirror");
    server.put("/images/SHA256SUMS.gpg", gpg.sign(sums.as_bytes(), false));
    server.put("/images/SHA256SUMS", sums);
    let keyring = s.scratch.join("keyring.gpg");
    fs::write(&keyring, gpg.export(false)).unwrap();
    Mirror {
        server,
        gpg,
        keyring,
        source,
        tarball,
    }
}

fn pull(root: &Path, m: &Mirror, extra: &[&str]) -> wharf_tests::Run {
    let url = m.server.url("/images/os.tar.zst");
    let ring = format!("--keyring={}", m.keyring.display());
    let mut args = vec!["pull-tar", ring.as_str(), url.as_str()];
    args.extend_from_slice(extra);
    run(root, &args)
}

#[test]
fn signed_pull_installs_image_and_settings() {
    let s = TestStore::new(Fs::Host, 0);
    let m = mirror(&s, true);
    let r = pull(&s.root, &m, &[]);
    assert!(r.ok, "{r:?}");
    assert_eq!(
        listed(&s.root),
        vec![("os".into(), "directory".into(), false)]
    );
    assert_same_tree(&m.source, &s.root.join("os"));
    assert_eq!(
        fs::read_to_string(s.root.join("os.nspawn")).unwrap(),
        "[Exec]\nBoot=yes\n"
    );
    // A second pull of the same name fails before downloading anything.
    let gets = m.server.requested("/images/os.tar.zst").len();
    let r = pull(&s.root, &m, &[]);
    assert!(
        !r.ok && r.stderr.contains("image os already exists"),
        "{r:?}"
    );
    assert_eq!(
        m.server.requested("/images/os.tar.zst").len(),
        gets,
        "downloaded for a duplicate name"
    );
    // --force replaces it, read-only when asked.
    assert!(pull(&s.root, &m, &["--force", "--read-only"]).ok);
    assert_eq!(
        listed(&s.root),
        vec![("os".into(), "directory".into(), true)]
    );
    assert!(
        temporaries(&s.root).is_empty(),
        "{:?}",
        temporaries(&s.root)
    );
}

#[test]
fn bad_signature_is_refused_and_leaves_nothing() {
    let s = TestStore::new(Fs::Host, 0);
    let m = mirror(&s, false);
    // The list is right, but signed by a key that is not in the keyring.
    let other = Gpg::new("someone else");
    let sums = format!("{} *os.tar.zst\n", sha256_hex(&m.tarball));
    m.server
        .put("/images/SHA256SUMS.gpg", other.sign(sums.as_bytes(), false));
    let r = pull(&s.root, &m, &[]);
    assert!(!r.ok);
    assert!(r.stderr.contains("signature"), "{r:?}");
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{r:?}");
    assert!(listed(&s.root).is_empty());
    assert!(
        temporaries(&s.root).is_empty(),
        "{:?}",
        temporaries(&s.root)
    );
    assert!(
        m.server.requested("/images/os.tar.zst").is_empty(),
        "downloaded despite a bad signature"
    );
}

#[test]
fn wrong_checksum_is_refused_after_download_and_leaves_nothing() {
    let s = TestStore::new(Fs::Host, 0);
    let m = mirror(&s, false);
    let wrong = format!("{} *os.tar.zst\n", "ab".repeat(32));
    m.server.put("/images/SHA256SUMS", wrong.clone());
    m.server.put(
        "/images/SHA256SUMS.gpg",
        m.gpg.sign(wrong.as_bytes(), false),
    );
    let r = pull(&s.root, &m, &[]);
    assert!(!r.ok);
    assert!(r.stderr.contains("checksum"), "{r:?}");
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{r:?}");
    assert!(listed(&s.root).is_empty());
    assert!(
        temporaries(&s.root).is_empty(),
        "{:?}",
        temporaries(&s.root)
    );
}

#[test]
fn missing_sidecar_404_and_verify_no() {
    let s = TestStore::new(Fs::Host, 0);
    let m = mirror(&s, false);
    assert!(pull(&s.root, &m, &[]).ok);
    assert!(!s.root.join("os.nspawn").exists());
    let url = m.server.url("/images/missing.tar.gz");
    let r = run(&s.root, &["pull-tar", "--verify=no", &url]);
    assert!(!r.ok && r.stderr.contains("404"), "{r:?}");
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{r:?}");
    let url = m.server.url("/images/os.tar.zst");
    assert!(run(&s.root, &["pull-tar", "--verify=no", &url, "unverified"]).ok);
    fails(
        &s.root,
        &["pull-tar", "--verify=maybe", &url, "x"],
        "invalid --verify",
    );
    assert!(
        temporaries(&s.root).is_empty(),
        "{:?}",
        temporaries(&s.root)
    );
}

#[test]
fn dropped_connection_is_resumed() {
    let s = TestStore::new(Fs::Host, 0);
    let m = mirror(&s, false);
    m.server
        .drop_after("/images/os.tar.zst", m.tarball.len() / 3, 2);
    let r = pull(&s.root, &m, &[]);
    assert!(r.ok, "{r:?}");
    assert_same_tree(&m.source, &s.root.join("os"));
    let ranged = m
        .server
        .requested("/images/os.tar.zst")
        .iter()
        .filter(|l| l.header("range").is_some())
        .count();
    assert!(ranged >= 2, "expected resumed requests, got {ranged}");
}

#[test]
fn kept_download_is_reused_only_after_verification() {
    let s = TestStore::new(Fs::Host, 0);
    let m = mirror(&s, true);
    assert!(pull(&s.root, &m, &["--keep-download=yes"]).ok);
    let all = listed(&s.root);
    let cache: Vec<_> = all.iter().filter(|i| i.0.starts_with(".tar-")).collect();
    assert_eq!(cache.len(), 1, "{all:?}");
    assert!(cache[0].2, "kept download is read-only");
    assert_same_tree(&m.source, &s.root.join("os"));
    assert!(s.root.join("os.nspawn").exists());
    let gets = m.server.requested("/images/os.tar.zst").len();
    let url = m.server.url("/images/os.tar.zst");
    let ring = format!("--keyring={}", m.keyring.display());
    assert!(
        run(
            &s.root,
            &["pull-tar", &ring, "--keep-download=yes", &url, "second"]
        )
        .ok
    );
    assert_eq!(
        m.server.requested("/images/os.tar.zst").len(),
        gets,
        "cache not reused"
    );
    assert!(
        m.server.requested("/images/SHA256SUMS.gpg").len() >= 2,
        "verification skipped on reuse"
    );
    assert_same_tree(&m.source, &s.root.join("second"));
    // clean removes kept downloads.
    ok(&s.root, &["clean"]);
    assert!(!listed(&s.root).iter().any(|i| i.0.starts_with(".tar-")));
}

#[test]
fn kill_9_during_pull_leaves_no_half_image() {
    use std::process::Stdio;
    let s = TestStore::new(Fs::Host, 0);
    // A real, slow-to-decompress archive so the pull is still running when it is killed.
    let deb = wharf_tests::debian::compressed("xz");
    let server = Server::start();
    server.put("/debian.tar.xz", fs::read(&deb).unwrap());
    let mut child = wharf_tests::wharf(&s.root)
        .args([
            "pull-tar",
            "--verify=no",
            &server.url("/debian.tar.xz"),
            "deb",
        ])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wharf_tests::wait_for_staging(&s.root, "deb", &mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(listed(&s.root).is_empty(), "a half pull is listed");
    ok(&s.root, &["clean"]);
    assert!(
        temporaries(&s.root).is_empty(),
        "{:?}",
        temporaries(&s.root)
    );
    // And the next pull of the name works.
    ok(
        &s.root,
        &[
            "pull-tar",
            "--verify=no",
            &server.url("/debian.tar.xz"),
            "deb",
        ],
    );
    assert_eq!(listed(&s.root).len(), 1);
}
