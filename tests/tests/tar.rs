//! import-tar and export-tar with a real Debian root filesystem: every compression, fidelity
//! against GNU tar, round trips, interop with systemd-import/-export/-nspawn, hostile archives,
//! kill -9.

use std::fs;
use std::path::Path;
use std::process::Stdio;

use wharf_tests::fixtures::{Fs, TestStore};
use wharf_tests::tree::{assert_same_tree, assert_same_tree_except, build_rich_tree, xattrs};
use wharf_tests::{debian, fails, listed, ok, sh, temporaries, wharf};

fn tar_x(tarball: &Path, into: &Path) {
    fs::create_dir_all(into).unwrap();
    sh(
        "tar",
        &[
            "--xattrs",
            "--xattrs-include=*",
            "--acls",
            "--numeric-owner",
            "-xpf",
            tarball.to_str().unwrap(),
            "-C",
            into.to_str().unwrap(),
        ],
    );
}

#[test]
fn debian_imports_in_every_compression_like_gnu_tar() {
    let s = TestStore::new(Fs::Host, 0);
    let reference = s.scratch.join("reference");
    tar_x(&debian::tarball(), &reference);
    for tool in ["none", "gzip", "xz", "bzip2", "zstd"] {
        let file = debian::compressed(tool);
        let name = format!("deb-{tool}");
        let r = ok(&s.root, &["import-tar", file.to_str().unwrap(), &name]);
        assert!(r.stdout.is_empty(), "{r:?}");
        // GNU tar drops the ACLs the archive carries as SCHILY.xattr.system.posix_acl_*; wharf
        // restores them (checked below), everything else must match GNU tar exactly.
        assert_same_tree_except(&reference, &s.root.join(&name), |k| {
            k.starts_with("system.posix_acl_")
        });
        let acl = xattrs(&s.root.join(&name).join("var/log/journal"));
        assert!(
            acl.contains_key("system.posix_acl_default"),
            "{name}: journal ACL lost"
        );
        let status = ok(&s.root, &["image-status", &name]).stdout;
        assert!(
            status.contains("OS: Debian GNU/Linux 12 (bookworm)"),
            "{status}"
        );
        ok(&s.root, &["remove", &name]);
    }
    assert!(
        temporaries(&s.root).is_empty(),
        "{:?}",
        temporaries(&s.root)
    );
}

#[test]
fn default_name_and_stdin() {
    let s = TestStore::new(Fs::Host, 0);
    let src = debian::compressed("zstd");
    let copy = s.scratch.join("bookworm-rootfs.tar.zst");
    fs::copy(&src, &copy).unwrap();
    ok(&s.root, &["import-tar", copy.to_str().unwrap()]);
    assert_eq!(listed(&s.root)[0].0, "bookworm-rootfs");
    fails(
        &s.root,
        &["import-tar", copy.to_str().unwrap()],
        "image bookworm-rootfs already exists",
    );
    fails(&s.root, &["import-tar", "-"], "needs an image NAME");
    let st = wharf(&s.root)
        .args(["import-tar", "--read-only", "-", "from-stdin"])
        .stdin(fs::File::open(&src).unwrap())
        .status()
        .unwrap();
    assert!(st.success());
    assert!(listed(&s.root).contains(&("from-stdin".into(), "directory".into(), true)));
    ok(
        &s.root,
        &[
            "import-tar",
            "--force",
            copy.to_str().unwrap(),
            "from-stdin",
        ],
    );
    assert!(listed(&s.root).contains(&("from-stdin".into(), "directory".into(), false)));
}

#[test]
fn single_top_directory_becomes_the_root() {
    let s = TestStore::new(Fs::Host, 0);
    let wrap = s.scratch.join("wrap/rootfs");
    fs::create_dir_all(&wrap).unwrap();
    build_rich_tree(&wrap);
    // GNU tar cannot store the socket; take it out and restore its directory's mtime.
    fs::remove_file(wrap.join("run/sock")).unwrap();
    sh(
        "touch",
        &[
            "-d",
            "2021-01-01 00:00:00.5",
            wrap.join("run").to_str().unwrap(),
        ],
    );
    let tarball = s.scratch.join("wrapped.tar.gz");
    sh(
        "tar",
        &[
            "--xattrs",
            "--xattrs-include=*",
            "--acls",
            "-czf",
            tarball.to_str().unwrap(),
            "-C",
            s.scratch.join("wrap").to_str().unwrap(),
            "rootfs",
        ],
    );
    ok(&s.root, &["import-tar", tarball.to_str().unwrap()]);
    assert_same_tree(&wrap, &s.root.join("wrapped"));
}

#[test]
fn export_then_import_reproduces_the_tree() {
    let s = TestStore::new(Fs::Host, 0);
    let img = s.root.join("rich");
    fs::create_dir(&img).unwrap();
    build_rich_tree(&img);
    // Sockets cannot travel in tar (tested below); take it out and restore the dir's mtime.
    fs::remove_file(img.join("run/sock")).unwrap();
    sh(
        "touch",
        &[
            "-d",
            "2021-01-01 00:00:00.5",
            img.join("run").to_str().unwrap(),
        ],
    );
    for (file, format) in [
        ("a.tar", None),
        ("b.tar.zst", None),
        ("c.tar.gz", None),
        ("d.out", Some("xz")),
        ("e.tbz", Some("bzip2")),
    ] {
        let out = s.scratch.join(file);
        let mut args = vec!["export-tar", "rich", out.to_str().unwrap()];
        let f;
        if let Some(fmt) = format {
            f = format!("--format={fmt}");
            args.push(&f);
        }
        ok(&s.root, &args);
        let name = format!("back-{}", file.replace('.', "-"));
        ok(&s.root, &["import-tar", out.to_str().unwrap(), &name]);
        assert_same_tree(&img, &s.root.join(&name));
    }
    // The export is deterministic.
    let (x, y) = (s.scratch.join("x.tar"), s.scratch.join("y.tar"));
    ok(&s.root, &["export-tar", "back-a-tar", x.to_str().unwrap()]);
    ok(&s.root, &["export-tar", "back-a-tar", y.to_str().unwrap()]);
    assert_eq!(fs::read(&x).unwrap(), fs::read(&y).unwrap());
    // To standard output.
    let out = wharf(&s.root)
        .args(["export-tar", "back-a-tar"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, fs::read(&x).unwrap());
    fails(
        &s.root,
        &["export-tar", "missing", x.to_str().unwrap()],
        "image missing not found",
    );
    fails(
        &s.root,
        &["export-tar", "back-a-tar", "--format=lz4"],
        "lz4",
    );
    let parts: Vec<_> = fs::read_dir(&s.scratch)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().contains("part"))
        .collect();
    assert!(parts.is_empty(), "{parts:?}");
}

#[test]
fn sockets_are_skipped_with_a_warning() {
    let s = TestStore::new(Fs::Host, 0);
    let img = s.root.join("sock");
    fs::create_dir_all(img.join("run")).unwrap();
    drop(std::os::unix::net::UnixListener::bind(img.join("run/s")).unwrap());
    fs::write(img.join("run/file"), "x").unwrap();
    let out = s.scratch.join("s.tar");
    let r = ok(&s.root, &["export-tar", "sock", out.to_str().unwrap()]);
    assert!(r.stderr.contains("skipped socket /run/s"), "{r:?}");
    let listing = sh("tar", &["tf", out.to_str().unwrap()]);
    assert!(listing.lines().any(|l| l == "./run/file"), "{listing}");
    assert!(!listing.lines().any(|l| l == "./run/s"), "{listing}");
}

#[test]
fn interop_with_systemd_import_export_and_nspawn() {
    let s = TestStore::new(Fs::Host, 0);
    let deb = debian::compressed("gzip");
    ok(&s.root, &["import-tar", deb.to_str().unwrap(), "deb"]);
    let img = s.root.join("deb");
    // wharf's image boots a command under systemd-nspawn.
    let st = std::process::Command::new("systemd-nspawn")
        .args([
            "--register=no",
            "--keep-unit",
            "-q",
            "-D",
            img.to_str().unwrap(),
            "/bin/true",
        ])
        .stdin(Stdio::null())
        .status()
        .expect("systemd-nspawn (systemd-container) is required");
    assert!(
        st.success(),
        "systemd-nspawn could not run /bin/true in the imported image"
    );
    // systemd-import accepts wharf's export.
    let exported = s.scratch.join("deb.tar.gz");
    ok(&s.root, &["export-tar", "deb", exported.to_str().unwrap()]);
    let sd_root = s.scratch.join("sd");
    fs::create_dir(&sd_root).unwrap();
    sh(
        "/lib/systemd/systemd-import",
        &[
            "tar",
            &format!("--image-root={}", sd_root.display()),
            exported.to_str().unwrap(),
            "fromwharf",
        ],
    );
    assert_same_tree(&img, &sd_root.join("fromwharf"));
    // wharf imports systemd-export's output.
    let sd_tar = s.scratch.join("sd-export.tar.xz");
    sh(
        "/lib/systemd/systemd-export",
        &[
            "tar",
            sd_root.join("fromwharf").to_str().unwrap(),
            sd_tar.to_str().unwrap(),
        ],
    );
    ok(
        &s.root,
        &["import-tar", sd_tar.to_str().unwrap(), "fromsystemd"],
    );
    assert_same_tree(&img, &s.root.join("fromsystemd"));
}

#[test]
fn hostile_archives_are_refused_and_nothing_escapes() {
    let s = TestStore::new(Fs::Host, 0);
    let outside = s.scratch.join("outside");
    fs::create_dir(&outside).unwrap();
    let cases = [
        ("dotdot", "leaves the image"),
        ("abs", "absolute"),
        ("inner", "leaves the image"),
        ("symlink-write", "symlink"),
        ("hardlink-out", "leaves the image"),
        ("huge", "limit"),
    ];
    for (case, needle) in cases {
        let t = s.scratch.join(format!("{case}.tar"));
        wharf_tests::hostile::tar(case, &t, &outside);
        let r = wharf_tests::run(
            &s.root,
            &["import-tar", "--size-max=1G", t.to_str().unwrap(), case],
        );
        assert!(!r.ok, "{case} was imported");
        assert_eq!(r.stderr.trim_end().lines().count(), 1, "{case}: {r:?}");
        assert!(
            r.stderr.to_lowercase().contains(needle),
            "{case}: expected {needle:?} in {:?}",
            r.stderr
        );
        assert!(
            fs::read_dir(&outside).unwrap().next().is_none(),
            "{case} wrote outside"
        );
    }
    let garbage = s.scratch.join("garbage.tar");
    fs::write(&garbage, vec![0x5au8; 4096]).unwrap();
    assert!(!wharf_tests::run(&s.root, &["import-tar", garbage.to_str().unwrap(), "g"]).ok);
    assert!(listed(&s.root).is_empty());
    assert!(
        temporaries(&s.root).is_empty(),
        "{:?}",
        temporaries(&s.root)
    );
}

#[test]
fn kill_9_during_import_leaves_no_half_image() {
    let s = TestStore::new(Fs::Host, 0);
    let deb = debian::compressed("xz");
    let mut child = wharf(&s.root)
        .args(["import-tar", deb.to_str().unwrap(), "deb"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wharf_tests::wait_for_staging(&s.root, "deb", &mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(listed(&s.root).is_empty(), "a half import is listed");
    ok(&s.root, &["clean"]);
    assert!(
        temporaries(&s.root).is_empty(),
        "{:?}",
        temporaries(&s.root)
    );
}
