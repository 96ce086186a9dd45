//! Interoperability with systemd's own store tools: images made by systemd-import are listed,
//! inspected, cloned, renamed and removed correctly by wharf.

use std::fs;
use std::path::Path;

use wharf_tests::fixtures::{Fs, TestStore};
use wharf_tests::tree::{assert_same_tree, build_rich_tree};
use wharf_tests::{listed, ok, on_each_fs, sh, temporaries};

const SYSTEMD_IMPORT: &str = "/lib/systemd/systemd-import";

fn systemd_import_tar(root: &Path, tarball: &Path, name: &str, read_only: bool) {
    assert!(
        Path::new(SYSTEMD_IMPORT).exists(),
        "{SYSTEMD_IMPORT} is missing: install systemd-container (scripts/test does)"
    );
    let image_root = format!("--image-root={}", root.display());
    let mut args = vec!["tar", image_root.as_str()];
    if read_only {
        args.push("--read-only");
    }
    args.push(tarball.to_str().unwrap());
    args.push(name);
    sh(SYSTEMD_IMPORT, &args);
}

on_each_fs!(
    systemd_imported_images_work_with_wharf,
    1024,
    |s: &TestStore, f: Fs| {
        let src = s.scratch.join("rootfs");
        fs::create_dir(&src).unwrap();
        build_rich_tree(&src);
        let tarball = s.scratch.join("rootfs.tar");
        sh(
            "tar",
            &[
                "--xattrs",
                "--xattrs-include=*",
                "--acls",
                "--numeric-owner",
                "-C",
                src.to_str().unwrap(),
                "-cf",
                tarball.to_str().unwrap(),
                ".",
            ],
        );
        systemd_import_tar(&s.root, &tarball, "sd", false);
        systemd_import_tar(&s.root, &tarball, "sdro", true);
        let t = if f == Fs::Btrfs {
            "subvolume"
        } else {
            "directory"
        };
        assert_eq!(
            listed(&s.root),
            vec![
                ("sd".into(), t.into(), false),
                ("sdro".into(), t.into(), true)
            ]
        );
        let status = ok(&s.root, &["image-status", "sd"]).stdout;
        assert!(status.contains("OS: Test OS 1 (fixture)"), "{status}");

        ok(&s.root, &["clone", "sd", "copy"]);
        assert_same_tree(&s.root.join("sd"), &s.root.join("copy"));
        ok(&s.root, &["clone", "sdro", "copyro"]);
        assert!(listed(&s.root).contains(&("copyro".into(), t.into(), false)));

        ok(&s.root, &["rename", "sdro", "renamed"]);
        assert!(listed(&s.root).contains(&("renamed".into(), t.into(), true)));
        ok(&s.root, &["remove", "renamed", "sd", "copy", "copyro"]);
        assert!(listed(&s.root).is_empty());
        assert!(
            temporaries(&s.root).is_empty(),
            "{:?}",
            temporaries(&s.root)
        );
    }
);
