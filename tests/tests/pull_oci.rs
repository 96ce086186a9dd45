//! pull-oci and push through the real binary against Debian's docker-registry on 127.0.0.1:
//! the pulled tree equals umoci's unpack, shared layers download once, pushes come back
//! identical, token auth works, and failures leave the store as it was.

use std::fs;
use std::path::Path;

use wharf_tests::fixtures::{Fs, TestStore};
use wharf_tests::oci_layout::{inspect_raw, push_layout, umoci_image};
use wharf_tests::registry::{Registry, TokenPolicy, TokenServer};
use wharf_tests::tree::assert_same_tree;
use wharf_tests::{fails, listed, sh, temporaries, wharf};

/// Run wharf with the blob cache in the test's scratch space.
fn wharf_ok(root: &Path, cache: &Path, args: &[&str]) -> String {
    let o = wharf(root)
        .env("WHARF_OCI_CACHE", cache)
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "wharf {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn wharf_err(root: &Path, cache: &Path, args: &[&str]) -> String {
    let o = wharf(root)
        .env("WHARF_OCI_CACHE", cache)
        .args(args)
        .output()
        .unwrap();
    assert!(!o.status.success(), "wharf {args:?} succeeded");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "not one line: {err}");
    err
}

const BASE: &[(&str, &[u8])] = &[
    ("etc/os-release", b"ID=test\n"),
    ("usr/bin/app", b"#!/bin/sh\necho base\n"),
    ("usr/share/big", &[7u8; 300_000]),
];

#[test]
fn pulled_images_match_umoci_and_share_their_base() {
    let s = TestStore::new(Fs::Host, 0);
    let reg = Registry::start();
    let cache = s.scratch.join("cache");
    let layout = s.scratch.join("layout");
    umoci_image(&layout, "one", &[BASE, &[("one", b"1\n")]]);
    umoci_image(&layout, "two", &[BASE, &[("two", b"2\n")]]);
    for tag in ["one", "two"] {
        push_layout(&layout, tag, &reg.image(&format!("app:{tag}")), &[]);
    }
    wharf_ok(&s.root, &cache, &["pull-oci", &reg.image("app:one"), "one"]);
    let reference = s.scratch.join("ref");
    sh(
        "umoci",
        &[
            "unpack",
            "--image",
            &format!("{}:one", layout.display()),
            reference.to_str().unwrap(),
        ],
    );
    assert_same_tree(&reference.join("rootfs"), &s.root.join("one"));
    let origin = wharf_ok(
        &s.root,
        &cache,
        &["show-image", "one", "-p", "Origin", "--value"],
    );
    assert_eq!(origin.trim(), format!("{}:one", reg.image("app")));
    assert!(fs::read_to_string(s.root.join("one.nspawn"))
        .unwrap()
        .contains("Parameters=/bin/true"));

    // The second image shares the base layer: it is not downloaded again. (Blobs are counted
    // by digest: under load a slow answer may be retried, which is not a second download.)
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifest_of = |tag: &str| -> serde_json::Value {
        let d = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["annotations"]["org.opencontainers.image.ref.name"] == tag)
            .unwrap()["digest"]
            .as_str()
            .unwrap()
            .to_string();
        let hex = d.trim_start_matches("sha256:");
        serde_json::from_slice(&fs::read(layout.join("blobs/sha256").join(hex)).unwrap()).unwrap()
    };
    let base = manifest_of("one")["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(manifest_of("two")["layers"][0]["digest"], base.as_str());
    let blobs_fetched = |reqs: &[(String, String, u16)]| -> std::collections::BTreeSet<String> {
        reqs.iter()
            .filter(|(m, p, st)| m == "GET" && p.contains("/blobs/") && (*st == 200 || *st == 206))
            .map(|(_, p, _)| p.rsplit('/').next().unwrap().to_string())
            .collect()
    };
    let before = reg.requests().len();
    wharf_ok(&s.root, &cache, &["pull-oci", &reg.image("app:two")]);
    assert_eq!(fs::read_to_string(s.root.join("app/two")).unwrap(), "2\n");
    let second = blobs_fetched(&reg.requests()[before..]);
    assert!(
        !second.contains(&base),
        "the shared base was downloaded again: {second:?}"
    );
    assert_eq!(
        second.len(),
        2,
        "only the new layer and the config: {second:?}"
    );
    // Pulling again downloads no blob at all.
    let before = reg.requests().len();
    wharf_ok(
        &s.root,
        &cache,
        &["pull-oci", &reg.image("app:two"), "again"],
    );
    assert!(blobs_fetched(&reg.requests()[before..]).is_empty());
    assert_same_tree(&s.root.join("app"), &s.root.join("again"));
}

#[test]
fn pushed_machines_come_back_identical() {
    let s = TestStore::new(Fs::Host, 0);
    let reg = Registry::start();
    let cache = s.scratch.join("cache");
    let tree = s.scratch.join("tree");
    wharf_tests::tree::build_rich_tree(&tree);
    wharf_ok(
        &s.root,
        &cache,
        &["import-fs", tree.to_str().unwrap(), "rich"],
    );
    fs::write(
        s.root.join("rich.nspawn"),
        "[Exec]\nParameters=/bin/sh -c \"echo hi\"\n",
    )
    .unwrap();
    wharf_ok(&s.root, &cache, &["push", "rich", &reg.image("rich:1")]);
    let m = inspect_raw(&reg.image("rich:1"));
    assert_eq!(m["layers"].as_array().unwrap().len(), 1, "{m}");
    wharf_ok(&s.root, &cache, &["pull-oci", &reg.image("rich:1"), "back"]);
    // Sockets are not archived (tar cannot hold them); everything else comes back.
    let expected = s.scratch.join("expected");
    sh(
        "cp",
        &[
            "-a",
            s.root.join("rich").to_str().unwrap(),
            expected.to_str().unwrap(),
        ],
    );
    for e in wharf_tests::tree::walk(&expected) {
        let p = expected.join(&e);
        if fs::symlink_metadata(&p)
            .map(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))
            .unwrap_or(false)
        {
            fs::remove_file(&p).unwrap();
        }
    }
    // An image's machine ID is emptied on import (each machine gets its own on first boot).
    fs::write(expected.join("etc/machine-id"), "").unwrap();
    let back = s.scratch.join("back-copy");
    sh(
        "cp",
        &[
            "-a",
            s.root.join("back").to_str().unwrap(),
            back.to_str().unwrap(),
        ],
    );
    // cp -a and socket removal touch directory times; compare content, owners, modes, links.
    sh(
        "touch",
        &[
            "-h",
            "-r",
            s.root.join("rich").to_str().unwrap(),
            expected.to_str().unwrap(),
        ],
    );
    sh(
        "touch",
        &[
            "-h",
            "-r",
            s.root.join("back").to_str().unwrap(),
            back.to_str().unwrap(),
        ],
    );
    let diff = sh(
        "sh",
        &[
            "-c",
            &format!(
                "cd {} && find . -printf '%p %y %m %U %G %s %l\\n' | sort",
                expected.display()
            ),
        ],
    );
    let diff2 = sh(
        "sh",
        &[
            "-c",
            &format!(
                "cd {} && find . -printf '%p %y %m %U %G %s %l\\n' | sort",
                back.display()
            ),
        ],
    );
    assert_eq!(diff, diff2);
    let nspawn = fs::read_to_string(s.root.join("back.nspawn")).unwrap();
    assert!(
        nspawn.contains("Parameters=/bin/sh -c \"echo hi\""),
        "{nspawn}"
    );
}

#[test]
fn token_auth_registries_work_and_failures_change_nothing() {
    let s = TestStore::new(Fs::Host, 0);
    let tokens = TokenServer::start(TokenPolicy::default());
    let reg = Registry::start_with_token_auth(&tokens);
    let cache = s.scratch.join("cache");
    let layout = s.scratch.join("layout");
    umoci_image(&layout, "t", &[BASE]);
    // Push with wharf (the token server grants push to anyone), pull it back.
    wharf_ok(
        &s.root,
        &cache,
        &["import-oci", layout.to_str().unwrap(), "src", "--ref", "t"],
    );
    wharf_ok(&s.root, &cache, &["push", "src", &reg.image("auth/app:t")]);
    wharf_ok(
        &s.root,
        &cache,
        &["pull-oci", &reg.image("auth/app:t"), "dst"],
    );
    assert_same_tree(&s.root.join("src"), &s.root.join("dst"));
    assert!(!tokens.requests().is_empty());

    let before = listed(&s.root);
    let err = wharf_err(
        &s.root,
        &cache,
        &["pull-oci", &reg.image("auth/missing:t"), "m"],
    );
    assert!(err.contains("missing"), "{err}");
    let err = wharf_err(
        &s.root,
        &cache,
        &["pull-oci", &reg.image("auth/app:t"), "dst"],
    );
    assert!(err.contains("already exists"), "{err}");
    fails(
        &s.root,
        &["pull-oci", "UPPER/case"],
        "invalid image reference",
    );
    fails(&s.root, &["push", "nope", &reg.image("x:1")], "nope");
    assert_eq!(listed(&s.root), before);
    assert!(
        temporaries(&s.root).is_empty(),
        "{:?}",
        temporaries(&s.root)
    );
}

/// The Debian root filesystem through a registry: pushed with skopeo from a umoci layout,
/// pulled by wharf into the same tree import-oci makes from the layout, and it runs.
#[test]
fn debian_from_a_registry_runs() {
    let s = TestStore::new(Fs::Host, 0);
    let reg = Registry::start();
    let cache = s.scratch.join("cache");
    let layout = wharf_tests::oci::Layout::init(&s.scratch.join("debian"));
    layout.add_layer("base", "12", &wharf_tests::debian::tarball());
    push_layout(&layout.dir, "12", &reg.image("debian:12"), &[]);
    wharf_ok(
        &s.root,
        &cache,
        &["pull-oci", &reg.image("debian:12"), "deb"],
    );
    wharf_ok(
        &s.root,
        &cache,
        &[
            "import-oci",
            layout.dir.to_str().unwrap(),
            "local",
            "--ref",
            "12",
        ],
    );
    assert_same_tree(&s.root.join("local"), &s.root.join("deb"));
    let out = wharf_ok(
        &s.root,
        &cache,
        &["run", "-M", "deb", "--", "/bin/cat", "/etc/debian_version"],
    );
    assert!(out.starts_with("12"), "{out}");
}
