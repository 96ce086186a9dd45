//! export-oci and --layered imports: exported machines read by skopeo and umoci and imported
//! back identically; layer subvolumes shared between images on btrfs.

use std::fs;
use std::path::Path;

use wharf_tests::fixtures::{Fs, TestStore};
use wharf_tests::oci::{layered_layout, require_tools, skopeo_copy, Layout};
use wharf_tests::tree::assert_same_tree;
use wharf_tests::{fails, listed, ok, sh, temporaries};

#[test]
fn exported_machines_are_images_skopeo_and_umoci_accept() {
    require_tools();
    let s = TestStore::new(Fs::Host, 0);
    let l = layered_layout(&s.scratch);
    ok(
        &s.root,
        &["import-oci", l.dir.to_str().unwrap(), "app", "--ref", "v3"],
    );

    // To a layout directory; umoci unpacks it to the same tree; skopeo reads it.
    let out = s.scratch.join("exported");
    ok(
        &s.root,
        &["export-oci", "app", out.to_str().unwrap(), "--tag", "t1"],
    );
    let e = Layout { dir: out.clone() };
    let unpacked = e.unpack("t1", &s.scratch.join("unpacked"));
    assert_same_tree(&s.root.join("app"), &unpacked);
    let inspect = sh("skopeo", &["inspect", &format!("oci:{}", e.image("t1"))]);
    let v: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(v["Layers"].as_array().unwrap().len(), 1, "{v}");
    // The config keeps the original's settings.
    let (m, _) = e.manifest("t1");
    let config: serde_json::Value =
        serde_json::from_slice(&fs::read(e.blob(m["config"]["digest"].as_str().unwrap())).unwrap())
            .unwrap();
    assert_eq!(config["config"]["User"], "app");
    assert_eq!(config["config"]["Entrypoint"][0], "/usr/bin/tool");
    // Back into wharf: same tree, same settings.
    ok(
        &s.root,
        &["import-oci", out.to_str().unwrap(), "again", "--ref", "t1"],
    );
    assert_same_tree(&s.root.join("app"), &s.root.join("again"));
    let settings = |n: &str| -> Vec<String> {
        fs::read_to_string(s.root.join(format!("{n}.nspawn")))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(String::from)
            .collect()
    };
    assert_eq!(settings("app"), settings("again"));
    // A second tag into the same layout, zstd this time.
    ok(
        &s.root,
        &[
            "export-oci",
            "again",
            out.to_str().unwrap(),
            "--tag",
            "t2",
            "--format",
            "zstd",
        ],
    );
    let (m2, _) = e.manifest("t2");
    assert!(m2["layers"][0]["mediaType"]
        .as_str()
        .unwrap()
        .ends_with("+zstd"));
    e.manifest("t1");

    // To an OCI archive, which skopeo converts to a docker archive wharf imports again.
    let archive = s.scratch.join("app.tar");
    ok(&s.root, &["export-oci", "app", archive.to_str().unwrap()]);
    let docker = s.scratch.join("docker.tar");
    skopeo_copy(
        &[],
        &format!("oci-archive:{}:latest", archive.display()),
        &format!("docker-archive:{}:x/app:1", docker.display()),
    );
    ok(
        &s.root,
        &["import-oci", docker.to_str().unwrap(), "from-docker"],
    );
    assert_same_tree(&s.root.join("app"), &s.root.join("from-docker"));
    assert!(!s.scratch.join(".app.tar.partial").exists());

    // A machine made without a container image: the config comes from its .nspawn.
    let tree = s.scratch.join("plain");
    fs::create_dir_all(tree.join("etc")).unwrap();
    fs::write(tree.join("etc/os-release"), "ID=plain\n").unwrap();
    ok(&s.root, &["import-fs", tree.to_str().unwrap(), "plain"]);
    fs::write(s.root.join("plain.nspawn"), "[Exec]\nParameters=/bin/echo \"hello world\"\nEnvironment=X=1\nKillSignal=SIGINT\n[Network]\nPort=tcp:8080:80\n").unwrap();
    let pout = s.scratch.join("plain-layout");
    ok(&s.root, &["export-oci", "plain", pout.to_str().unwrap()]);
    let p = Layout { dir: pout.clone() };
    let (m, _) = p.manifest("latest");
    let c: serde_json::Value =
        serde_json::from_slice(&fs::read(p.blob(m["config"]["digest"].as_str().unwrap())).unwrap())
            .unwrap();
    assert_eq!(
        c["config"]["Cmd"],
        serde_json::json!(["/bin/echo", "hello world"])
    );
    assert_eq!(c["config"]["Env"], serde_json::json!(["X=1"]));
    assert_eq!(c["config"]["StopSignal"], "SIGINT");
    assert!(c["config"]["ExposedPorts"]["80/tcp"].is_object(), "{c}");
    fails(
        &s.root,
        &["export-oci", "nope", pout.to_str().unwrap()],
        "nope",
    );
}

#[test]
fn layered_imports_share_layer_subvolumes_on_btrfs() {
    require_tools();
    let s = TestStore::new(Fs::Btrfs, 600);
    let l = layered_layout(&s.scratch);
    let layout = l.dir.to_str().unwrap();
    ok(&s.root, &["import-oci", layout, "flat", "--ref", "v3"]);
    ok(
        &s.root,
        &["import-oci", layout, "two", "--ref", "v2", "--layered"],
    );
    let layers = |root: &Path| -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".oci-layer-"))
            .collect();
        v.sort();
        v
    };
    assert_eq!(layers(&s.root).len(), 2, "one subvolume per layer of v2");
    // v3 = v2 + one layer: only that one is applied.
    ok(
        &s.root,
        &["import-oci", layout, "three", "--ref", "v3", "--layered"],
    );
    assert_eq!(layers(&s.root).len(), 3);
    assert_same_tree(&s.root.join("flat"), &s.root.join("three"));
    // The layers are read-only hidden images; the machines are writable snapshots of them.
    let all = ok(&s.root, &["list-images", "-a", "--json"]).stdout;
    let v: serde_json::Value = serde_json::from_str(&all).unwrap();
    for img in v.as_array().unwrap() {
        let name = img["name"].as_str().unwrap();
        if name.starts_with(".oci-layer-") {
            assert_eq!(img["type"], "subvolume", "{img}");
            assert_eq!(img["read_only"], true, "{img}");
        }
    }
    fs::write(s.root.join("three/new-file"), "writable").unwrap();
    // Not on btrfs: a clear refusal, nothing left.
    let e = TestStore::new(Fs::Host, 0);
    fails(
        &e.root,
        &["import-oci", layout, "x", "--ref", "v3", "--layered"],
        "btrfs",
    );
    assert!(listed(&e.root).is_empty());
    assert!(temporaries(&e.root).is_empty());
}
