//! clone: fidelity of the copy fallback and of snapshots, read-only clones, raw clones,
//! sidecars, on ext4 and btrfs.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use wharf_tests::fixtures::{Fs, TestStore};
use wharf_tests::tree::{assert_same_tree, build_rich_tree, SPARSE_DATA};
use wharf_tests::{fails, listed, ok, on_each_fs, sh, temporaries};

/// Make image `name` in the store: a subvolume on btrfs, a directory elsewhere.
fn make_tree_image(s: &TestStore, fs_kind: Fs, name: &str) -> std::path::PathBuf {
    let p = s.root.join(name);
    match fs_kind {
        Fs::Btrfs => {
            sh("btrfs", &["-q", "subvolume", "create", p.to_str().unwrap()]);
        }
        Fs::Host => fs::create_dir(&p).unwrap(),
    }
    build_rich_tree(&p);
    p
}

on_each_fs!(clone_keeps_every_detail, 1024, |s: &TestStore, f: Fs| {
    let src = make_tree_image(s, f, "src");
    fs::write(s.root.join("src.nspawn"), "[Exec]\nBoot=yes\n").unwrap();
    ok(&s.root, &["clone", "src", "dst"]);
    let dst = s.root.join("dst");
    assert_same_tree(&src, &dst);
    let expect = if f == Fs::Btrfs {
        "subvolume"
    } else {
        "directory"
    };
    assert!(listed(&s.root).contains(&("dst".into(), expect.into(), false)));
    assert_eq!(
        fs::read_to_string(s.root.join("dst.nspawn")).unwrap(),
        "[Exec]\nBoot=yes\n"
    );
    // Holes kept: the 100 MiB file with 1 MiB of data stays small.
    let blocks = fs::metadata(dst.join("var/sparse")).unwrap().blocks() * 512;
    assert!(
        blocks < 2 * SPARSE_DATA + (1 << 20),
        "sparse file allocates {blocks}"
    );
    // The clone is independent of its source.
    fs::write(dst.join("etc/hostname"), "changed\n").unwrap();
    assert_eq!(
        fs::read_to_string(src.join("etc/hostname")).unwrap(),
        "fixture\n"
    );
    assert!(
        temporaries(&s.root).is_empty(),
        "{:?}",
        temporaries(&s.root)
    );
});

on_each_fs!(clone_of_plain_directory, 1024, |s: &TestStore, f: Fs| {
    // A plain directory source (never a snapshot): the copy path, also on btrfs.
    let src = s.root.join("plain");
    fs::create_dir(&src).unwrap();
    build_rich_tree(&src);
    ok(&s.root, &["clone", "plain", "copy"]);
    assert_same_tree(&src, &s.root.join("copy"));
    let expect = if f == Fs::Btrfs {
        "subvolume"
    } else {
        "directory"
    };
    assert!(listed(&s.root).contains(&("copy".into(), expect.into(), false)));
});

on_each_fs!(
    read_only_clone_refuses_writes,
    512,
    |s: &TestStore, f: Fs| {
        make_tree_image(s, f, "src");
        ok(&s.root, &["clone", "--read-only", "src", "ro"]);
        assert!(listed(&s.root).iter().any(|(n, _, ro)| n == "ro" && *ro));
        let err = fs::write(s.root.join("ro/new-file"), "x").unwrap_err();
        assert!(
            matches!(err.raw_os_error(), Some(1) | Some(30)),
            "write into read-only clone: {err}"
        );
        // A clone of a read-only image is writable again.
        ok(&s.root, &["clone", "ro", "rw"]);
        fs::write(s.root.join("rw/new-file"), "x").unwrap();
        assert!(listed(&s.root).iter().any(|(n, _, ro)| n == "rw" && !*ro));
        // And a read-only image can still be removed.
        ok(&s.root, &["remove", "ro"]);
        assert!(!s.root.join("ro").exists());
    }
);

on_each_fs!(
    raw_clone_is_sparse_and_follows_mode,
    512,
    |s: &TestStore, _f: Fs| {
        let raw = s.root.join("disk.raw");
        let f = fs::File::create(&raw).unwrap();
        f.set_len(64 << 20).unwrap();
        drop(f);
        sh(
            "dd",
            &[
                "if=/dev/urandom",
                &format!("of={}", raw.display()),
                "bs=1M",
                "count=2",
                "seek=10",
                "conv=notrunc",
                "status=none",
            ],
        );
        fs::write(s.root.join("disk.roothash"), "abcd\n").unwrap();
        ok(&s.root, &["read-only", "disk"]);
        assert_eq!(
            fs::metadata(&raw).unwrap().permissions().mode() & 0o777,
            0o444
        );
        ok(&s.root, &["clone", "disk", "copy"]);
        let copy = s.root.join("copy.raw");
        assert_eq!(fs::read(&raw).unwrap(), fs::read(&copy).unwrap());
        let m = fs::metadata(&copy).unwrap();
        assert!(
            m.blocks() * 512 <= 4 << 20,
            "raw clone not sparse: {} bytes",
            m.blocks() * 512
        );
        assert_ne!(
            m.permissions().mode() & 0o200,
            0,
            "clone of read-only raw is writable"
        );
        assert_eq!(
            fs::read_to_string(s.root.join("copy.roothash")).unwrap(),
            "abcd\n"
        );
        ok(&s.root, &["clone", "--read-only", "copy", "copy2"]);
        assert_eq!(
            fs::metadata(s.root.join("copy2.raw"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o444
        );
    }
);

#[test]
fn nested_subvolumes_are_snapshotted_recursively() {
    let s = TestStore::new(Fs::Btrfs, 512);
    let src = make_tree_image(&s, Fs::Btrfs, "nest");
    sh(
        "btrfs",
        &[
            "-q",
            "subvolume",
            "create",
            src.join("var/lib-sub").to_str().unwrap(),
        ],
    );
    fs::write(src.join("var/lib-sub/inner"), "inner data").unwrap();
    sh(
        "btrfs",
        &[
            "-q",
            "subvolume",
            "create",
            src.join("var/lib-sub/deeper").to_str().unwrap(),
        ],
    );
    fs::write(src.join("var/lib-sub/deeper/x"), "deep").unwrap();
    ok(&s.root, &["clone", "--read-only", "nest", "copy"]);
    let copy = s.root.join("copy");
    assert_eq!(
        fs::read_to_string(copy.join("var/lib-sub/inner")).unwrap(),
        "inner data"
    );
    assert_eq!(
        fs::read_to_string(copy.join("var/lib-sub/deeper/x")).unwrap(),
        "deep"
    );
    assert_eq!(
        fs::metadata(copy.join("var/lib-sub")).unwrap().ino(),
        256,
        "nested is a subvolume"
    );
    let list = sh(
        "btrfs",
        &["subvolume", "list", "-o", copy.to_str().unwrap()],
    );
    assert!(list.contains("copy/var/lib-sub"), "{list}");
    // Removing the clone removes nested subvolumes too, even though it is read-only.
    ok(&s.root, &["remove", "copy"]);
    assert!(!copy.exists());
    let all = sh("btrfs", &["subvolume", "list", s.root.to_str().unwrap()]);
    assert!(!all.contains("copy"), "{all}");
}

#[test]
fn clone_refuses_bad_targets_and_leaves_store_unchanged() {
    let s = TestStore::new(Fs::Host, 0);
    fs::create_dir(s.root.join("a")).unwrap();
    fs::create_dir(s.root.join("b")).unwrap();
    let before = listed(&s.root);
    fails(&s.root, &["clone", "a", "b"], "image b already exists");
    fails(
        &s.root,
        &["clone", "missing", "c"],
        "image missing not found",
    );
    fails(&s.root, &["clone", "a", ".#x"], "invalid image name");
    fails(&s.root, &["clone", "a", "x/y"], "invalid image name");
    fails(&s.root, &["clone", "a", ""], "invalid image name");
    assert_eq!(listed(&s.root), before);
    assert!(temporaries(&s.root).is_empty());
}

#[test]
fn clone_prints_nothing_when_not_on_a_terminal() {
    let s = TestStore::new(Fs::Host, 0);
    let src = s.root.join("src");
    fs::create_dir(&src).unwrap();
    wharf_tests::tree::build_bulk_tree(&src, 8);
    let r = ok(&s.root, &["clone", "src", "dst"]);
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", ""));
}

on_each_fs!(
    import_fs_copies_or_snapshots_a_directory,
    1024,
    |s: &TestStore, f: Fs| {
        let src = s.scratch.join("rootfs");
        if f == Fs::Btrfs {
            sh(
                "btrfs",
                &["-q", "subvolume", "create", src.to_str().unwrap()],
            );
        } else {
            fs::create_dir(&src).unwrap();
        }
        build_rich_tree(&src);
        ok(&s.root, &["import-fs", src.to_str().unwrap()]);
        assert_same_tree(&src, &s.root.join("rootfs"));
        ok(
            &s.root,
            &["import-fs", "--read-only", src.to_str().unwrap(), "second"],
        );
        let expect = if f == Fs::Btrfs {
            "subvolume"
        } else {
            "directory"
        };
        assert!(listed(&s.root).contains(&("second".into(), expect.into(), true)));
        fails(
            &s.root,
            &["import-fs", src.to_str().unwrap(), "second"],
            "already exists",
        );
        ok(
            &s.root,
            &["import-fs", "--force", src.to_str().unwrap(), "second"],
        );
        assert!(listed(&s.root).contains(&("second".into(), expect.into(), false)));
        fails(
            &s.root,
            &["import-fs", "/nonexistent/dir", "x"],
            "/nonexistent/dir",
        );
        assert!(
            temporaries(&s.root).is_empty(),
            "{:?}",
            temporaries(&s.root)
        );
    }
);
