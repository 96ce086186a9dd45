//! The store verbs against the real binary: list-images, image-status, show-image, rename,
//! remove, read-only, set-limit, clean; hidden and vendor images; name validation.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use wharf_tests::fixtures::{Fs, TestStore};
use wharf_tests::tree::build_rich_tree;
use wharf_tests::{fails, listed, ok, on_each_fs, run, sh, temporaries};

fn entry(n: &str, t: &str, ro: bool) -> (String, String, bool) {
    (n.into(), t.into(), ro)
}

#[test]
fn list_images_recognises_types_and_ignores_the_rest() {
    let s = TestStore::new(Fs::Host, 0);
    let r = &s.root;
    fs::create_dir(r.join("tree")).unwrap();
    fs::write(r.join("disk.raw"), vec![0u8; 4096]).unwrap();
    fs::create_dir(r.join(".hidden")).unwrap();
    fs::create_dir(r.join(".#tree0123456789abcdef")).unwrap();
    fs::write(r.join(".#tree.lck"), "").unwrap();
    fs::write(r.join("tree.nspawn"), "[Exec]\n").unwrap();
    fs::write(r.join("notes.txt"), "x").unwrap();
    std::os::unix::fs::symlink(r.join("tree"), r.join("link")).unwrap();
    let all = listed(r);
    assert_eq!(
        all,
        vec![
            entry(".hidden", "directory", true),
            entry("disk", "raw", false),
            entry("link", "directory", false),
            entry("tree", "directory", false),
        ]
    );
    let plain = ok(r, &["list-images"]).stdout;
    assert!(plain.starts_with("NAME"), "{plain}");
    assert!(plain.contains("3 images listed."), "{plain}");
    assert!(
        !plain.contains(".hidden") && !plain.contains(".#"),
        "{plain}"
    );
    let quiet = ok(r, &["images", "-q"]).stdout;
    assert_eq!(quiet.lines().count(), 3, "{quiet}");
    assert!(ok(r, &["list-images", "--all"]).stdout.contains(".hidden"));
}

#[test]
fn list_images_on_a_missing_root_is_empty() {
    let s = TestStore::new(Fs::Host, 0);
    let missing = s.root.join("nope");
    assert_eq!(ok(&missing, &["list-images", "--json"]).stdout.trim(), "[]");
    assert!(!missing.exists(), "listing must not create the root");
}

#[test]
fn image_status_reads_inside_the_image_without_escaping() {
    let s = TestStore::new(Fs::Host, 0);
    let img = s.root.join("os");
    fs::create_dir(&img).unwrap();
    build_rich_tree(&img);
    // An absolute symlink must resolve inside the image, never on the host.
    fs::remove_file(img.join("etc/os-release")).unwrap();
    std::os::unix::fs::symlink("/usr/lib/os-release", img.join("etc/os-release")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", img.join("etc/hostname.lnk")).unwrap();
    let out = ok(&s.root, &["image-status", "os"]).stdout;
    assert!(out.contains("OS: Test OS 1 (fixture)"), "{out}");
    assert!(out.contains("Hostname: fixture"), "{out}");
    assert!(
        out.contains("Machine ID: 0123456789abcdef0123456789abcdef"),
        "{out}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&ok(&s.root, &["image-status", "--json", "os"]).stdout).unwrap();
    assert_eq!(v[0]["os"], "Test OS 1 (fixture)");
    assert_eq!(v[0]["type"], "directory");
    // A symlink pointing outside the root with .. stays confined too.
    fs::remove_file(img.join("etc/os-release")).unwrap();
    std::os::unix::fs::symlink(
        "../../../../../../etc/os-release",
        img.join("etc/os-release"),
    )
    .unwrap();
    fs::remove_file(img.join("usr/lib/os-release")).unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&ok(&s.root, &["image-status", "--json", "os"]).stdout).unwrap();
    assert!(
        v[0]["os"].is_null(),
        "host os-release leaked: {}",
        v[0]["os"]
    );
    fails(
        &s.root,
        &["image-status", "missing"],
        "image missing not found",
    );
}

#[test]
fn show_image_prints_machinectl_properties() {
    let s = TestStore::new(Fs::Host, 0);
    fs::write(s.root.join("d.raw"), vec![1u8; 8192]).unwrap();
    let out = ok(&s.root, &["show-image", "d"]).stdout;
    for key in [
        "Name=d\n",
        "Type=raw\n",
        "ReadOnly=no\n",
        "Limit=8192\n",
        "CreationTimestamp=",
        "ModificationTimestamp=",
        "UsageExclusive=",
    ] {
        assert!(out.contains(key), "{key} missing in {out}");
    }
    assert!(out.contains(&format!("Path={}\n", s.root.join("d.raw").display())));
    assert_eq!(
        ok(&s.root, &["show-image", "d", "-p", "Type", "--value"]).stdout,
        "raw\n"
    );
    let v: serde_json::Value =
        serde_json::from_str(&ok(&s.root, &["show-image", "--json", "d"]).stdout).unwrap();
    assert_eq!(v[0]["Limit"], 8192);
}

on_each_fs!(
    rename_moves_image_and_sidecars,
    256,
    |s: &TestStore, f: Fs| {
        let r = &s.root;
        let img = r.join("old");
        if f == Fs::Btrfs {
            sh(
                "btrfs",
                &["-q", "subvolume", "create", img.to_str().unwrap()],
            );
        } else {
            fs::create_dir(&img).unwrap();
        }
        fs::write(img.join("file"), "data").unwrap();
        fs::write(r.join("old.nspawn"), "[Exec]\n").unwrap();
        fs::write(r.join("old.roothash"), "aa\n").unwrap();
        ok(r, &["read-only", "old"]);
        ok(r, &["rename", "old", "new"]);
        assert!(
            !img.exists() && !r.join("old.nspawn").exists() && !r.join("old.roothash").exists()
        );
        assert_eq!(fs::read_to_string(r.join("new/file")).unwrap(), "data");
        assert!(r.join("new.nspawn").exists() && r.join("new.roothash").exists());
        let t = if f == Fs::Btrfs {
            "subvolume"
        } else {
            "directory"
        };
        assert_eq!(
            listed(r),
            vec![entry("new", t, true)],
            "read-only survives rename"
        );
        fs::create_dir(r.join("other")).unwrap();
        fails(r, &["rename", "new", "other"], "image other already exists");
        fails(r, &["rename", "new", "bad/name"], "invalid image name");
        fails(r, &["rename", "nothere", "x"], "image nothere not found");
        assert!(temporaries(r).is_empty(), "{:?}", temporaries(r));
    }
);

on_each_fs!(
    remove_deletes_image_and_sidecars,
    256,
    |s: &TestStore, f: Fs| {
        let r = &s.root;
        let img = r.join("gone");
        if f == Fs::Btrfs {
            sh(
                "btrfs",
                &["-q", "subvolume", "create", img.to_str().unwrap()],
            );
        } else {
            fs::create_dir(&img).unwrap();
        }
        build_rich_tree(&img);
        fs::write(r.join("gone.nspawn"), "[Exec]\n").unwrap();
        fs::write(r.join("disk.raw"), "raw").unwrap();
        fs::write(r.join("disk.verity"), "v").unwrap();
        fs::create_dir(r.join("keep")).unwrap();
        ok(r, &["read-only", "gone"]);
        // A typo among the names removes nothing.
        fails(r, &["remove", "gone", "typo"], "image typo not found");
        assert!(img.exists());
        ok(r, &["remove", "gone", "disk"]);
        assert_eq!(listed(r), vec![entry("keep", "directory", false)]);
        for p in ["gone", "gone.nspawn", "disk.raw", "disk.verity"] {
            assert!(!r.join(p).exists(), "{p} left behind");
        }
        assert!(temporaries(r).is_empty(), "{:?}", temporaries(r));
    }
);

on_each_fs!(read_only_marks_like_systemd, 256, |s: &TestStore, f: Fs| {
    let r = &s.root;
    let img = r.join("m");
    if f == Fs::Btrfs {
        sh(
            "btrfs",
            &["-q", "subvolume", "create", img.to_str().unwrap()],
        );
    } else {
        fs::create_dir(&img).unwrap();
    }
    fs::write(r.join("disk.raw"), "raw").unwrap();
    fs::set_permissions(r.join("disk.raw"), fs::Permissions::from_mode(0o644)).unwrap();
    ok(r, &["read-only", "m"]);
    ok(r, &["read-only", "disk", "yes"]);
    assert!(
        fs::write(img.join("x"), "x").is_err(),
        "write into read-only image"
    );
    assert_eq!(
        fs::metadata(r.join("disk.raw"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o444
    );
    if f == Fs::Btrfs {
        let p = sh(
            "btrfs",
            &["property", "get", "-ts", img.to_str().unwrap(), "ro"],
        );
        assert_eq!(p.trim(), "ro=true");
    } else {
        let a = sh("lsattr", &["-d", img.to_str().unwrap()]);
        assert!(a.split_whitespace().next().unwrap().contains('i'), "{a}");
    }
    ok(r, &["read-only", "m", "no"]);
    ok(r, &["read-only", "disk", "false"]);
    fs::write(img.join("x"), "x").unwrap();
    assert_eq!(
        fs::metadata(r.join("disk.raw"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o644
    );
    let bad = run(r, &["read-only", "m", "maybe"]);
    assert_eq!(bad.code, Some(2), "{bad:?}");
    assert_eq!(bad.stderr.lines().count(), 1, "{bad:?}");
    assert!(bad.stderr.contains("invalid boolean"), "{bad:?}");
});

#[test]
fn hidden_images_are_read_only_and_listed_with_all() {
    let s = TestStore::new(Fs::Host, 0);
    fs::create_dir(s.root.join(".cache")).unwrap();
    assert!(ok(&s.root, &["list-images", "--json"]).stdout.trim() == "[]");
    fails(
        &s.root,
        &["read-only", ".cache", "no"],
        "hidden images are always read-only",
    );
    let out = ok(&s.root, &["show-image", ".cache"]).stdout;
    assert!(out.contains("ReadOnly=yes"), "{out}");
}

#[test]
fn vendor_images_under_usr_cannot_be_changed() {
    let tmp = tempfile::Builder::new()
        .prefix("wharf-test-vendor-")
        .tempdir_in("/usr/local/lib")
        .unwrap();
    let r = tmp.path();
    fs::create_dir(r.join("vendor")).unwrap();
    assert_eq!(listed(r), vec![entry("vendor", "directory", true)]);
    fails(r, &["remove", "vendor"], "cannot be removed");
    fails(r, &["rename", "vendor", "x"], "cannot be renamed");
    fails(r, &["read-only", "vendor", "no"], "cannot be changed");
    assert!(r.join("vendor").is_dir());
}

#[test]
fn invalid_names_get_one_clear_line() {
    let s = TestStore::new(Fs::Host, 0);
    fs::create_dir(s.root.join("ok")).unwrap();
    let long = "x".repeat(300);
    for bad in [
        "",
        ".#tmp",
        "a/b",
        "..",
        &long,
        "tab\there",
        "x.raw",
        "y.nspawn",
    ] {
        fails(&s.root, &["rename", "ok", bad], "invalid image name");
    }
    fails(&s.root, &["image-status", "a/b"], "invalid image name");
    assert_eq!(listed(&s.root), vec![entry("ok", "directory", false)]);
    // Unknown verbs and options are usage errors (exit 2), never panics.
    for args in [
        &["frobnicate"][..],
        &["clone", "only-one"],
        &["list-images", "--bogus"],
    ] {
        let r = run(&s.root, args);
        assert_eq!(r.code, Some(2), "{args:?}: {r:?}");
        assert_eq!(r.stderr.lines().count(), 1, "{args:?}: {r:?}");
        assert!(r.stderr.starts_with("wharf: "), "{r:?}");
    }
}

#[test]
fn set_limit_is_refused_off_btrfs() {
    let s = TestStore::new(Fs::Host, 0);
    fs::create_dir(s.root.join("d")).unwrap();
    fails(&s.root, &["set-limit", "d", "1G"], "not supported");
    fails(&s.root, &["set-limit", "1G"], "not supported");
    fails(&s.root, &["set-limit", "d", "lots"], "invalid size");
}

#[test]
fn set_limit_sets_a_qgroup_limit_on_btrfs() {
    let s = TestStore::new(Fs::Btrfs, 512);
    let img = s.root.join("q");
    sh(
        "btrfs",
        &["-q", "subvolume", "create", img.to_str().unwrap()],
    );
    fs::write(img.join("f"), vec![1u8; 1 << 20]).unwrap();
    ok(&s.root, &["set-limit", "q", "64M"]);
    sh(
        "btrfs",
        &["quota", "rescan", "-w", s.root.to_str().unwrap()],
    );
    let out = ok(&s.root, &["show-image", "q", "-p", "Limit", "--value"]).stdout;
    assert_eq!(out.trim(), (64u64 << 20).to_string());
    // Over the limit, writes fail.
    let big = fs::write(img.join("big"), vec![2u8; 80 << 20]);
    sh("sync", &[]);
    assert!(big.is_err() || fs::write(img.join("big2"), vec![2u8; 8 << 20]).is_err());
    ok(&s.root, &["set-limit", "q", "none"]);
    let out = ok(&s.root, &["show-image", "q", "-p", "Limit", "--value"]).stdout;
    assert_ne!(out.trim(), (64u64 << 20).to_string());
    fs::create_dir(s.root.join("plain")).unwrap();
    fails(&s.root, &["set-limit", "plain", "1G"], "not supported");
}

#[test]
fn clean_removes_residue_and_hidden_images() {
    let s = TestStore::new(Fs::Host, 0);
    let r = &s.root;
    fs::create_dir_all(r.join(".#dead0123456789abcdef/etc")).unwrap();
    fs::write(r.join(".#disk.raw0123456789abcdef"), "x").unwrap();
    fs::write(r.join(".#stale.lck"), "").unwrap();
    fs::create_dir(r.join(".tar-cache")).unwrap();
    fs::create_dir(r.join("keep")).unwrap();
    let out = ok(r, &["clean"]).stdout;
    assert!(out.contains(".tar-cache"), "{out}");
    assert!(temporaries(r).is_empty(), "{:?}", temporaries(r));
    assert_eq!(listed(r), vec![entry("keep", "directory", false)]);
    ok(r, &["clean", "--all"]);
    assert!(listed(r).is_empty());
    assert_eq!(ok(r, &["clean"]).stdout.trim(), "Nothing to clean.");
}

/// Detaches a loop device on drop, also when the test fails.
struct LoopDev(String);

impl Drop for LoopDev {
    fn drop(&mut self) {
        let _ = std::process::Command::new("losetup")
            .args(["-d", &self.0])
            .status();
    }
}

#[test]
fn block_devices_are_listed_and_only_the_node_is_removed() {
    use std::os::unix::fs::MetadataExt;
    let s = TestStore::new(Fs::Host, 0);
    let backing = s.scratch.join("blk.img");
    fs::File::create(&backing)
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    let dev = LoopDev(
        sh("losetup", &["--find", "--show", backing.to_str().unwrap()])
            .trim()
            .to_string(),
    );
    let rdev = fs::metadata(&dev.0).unwrap().rdev();
    let (major, minor) = (rustix::fs::major(rdev), rustix::fs::minor(rdev));
    let node = s.root.join("blk");
    sh(
        "mknod",
        &[
            node.to_str().unwrap(),
            "b",
            &major.to_string(),
            &minor.to_string(),
        ],
    );
    assert_eq!(listed(&s.root), vec![entry("blk", "block", false)]);
    assert_eq!(
        ok(&s.root, &["show-image", "blk", "-p", "Limit", "--value"]).stdout,
        "8388608\n"
    );
    ok(&s.root, &["read-only", "blk"]);
    assert_eq!(listed(&s.root), vec![entry("blk", "block", true)]);
    assert_eq!(sh("blockdev", &["--getro", &dev.0]).trim(), "1");
    ok(&s.root, &["read-only", "blk", "no"]);
    assert_eq!(sh("blockdev", &["--getro", &dev.0]).trim(), "0");
    fails(&s.root, &["clone", "blk", "copy"], "block device");
    ok(&s.root, &["remove", "blk"]);
    assert!(!node.exists());
    assert!(
        std::path::Path::new(&dev.0).exists(),
        "the device itself stays"
    );
}

#[test]
fn run_option_mistakes_of_start_are_one_line() {
    let s = TestStore::new(Fs::Host, 0);
    let state = s.scratch.join("state");
    let st = state.to_str().unwrap();
    fails(
        &s.root,
        &["--state-dir", st, "start", "x", "-D", "/tmp"],
        "cannot be used with",
    );
    fails(
        &s.root,
        &["--state-dir", st, "start", "x", "--oom-score-adjust=5000"],
        "5000",
    );
    // An unknown option is refused, not taken as the command (or passed on to the init).
    fails(
        &s.root,
        &["--state-dir", st, "start", "x", "--bogus"],
        "unexpected argument '--bogus'",
    );
    let r = run(&s.root, &["run", "-D", "/", "--bogus"]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("unexpected argument '--bogus'"), "{r:?}");
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{r:?}");
}
