//! import-oci and import-docker against the real tools: layouts built with umoci (several layers,
//! whiteouts, opaque directories, hardlinks across layers, type changes), converted by skopeo
//! (zstd layers, docker-archive), each import compared file by file with `umoci unpack`.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use wharf_tests::fixtures::{Fs, TestStore};
use wharf_tests::oci::{layered_layout, require_tools, skopeo_copy, LayerTar, Layout};
use wharf_tests::tree::assert_same_tree;
use wharf_tests::{debian, fails, listed, ok, sh, temporaries};

#[test]
fn layered_image_matches_umoci_unpack() {
    require_tools();
    let s = TestStore::new(Fs::Host, 0);
    let l = layered_layout(&s.scratch);
    let r = ok(
        &s.root,
        &["import-oci", l.dir.to_str().unwrap(), "app", "--ref", "v3"],
    );
    assert!(r.stdout.is_empty(), "{r:?}");
    let reference = l.unpack("v3", &s.scratch.join("ref"));
    let img = s.root.join("app");
    // wharf creates the config's volume directories (umoci leaves them to a tmpfs mount);
    // that is the only difference, and the root keeps its times.
    let vol = img.join("vol");
    assert!(vol.is_dir());
    let copy = s.scratch.join("app-copy");
    sh("cp", &["-a", img.to_str().unwrap(), copy.to_str().unwrap()]);
    fs::remove_dir(copy.join("vol")).unwrap();
    let root_times = fs::metadata(&img).unwrap();
    sh(
        "touch",
        &[
            "-h",
            "-d",
            &format!("@{}.{:09}", root_times.mtime(), root_times.mtime_nsec()),
            copy.to_str().unwrap(),
        ],
    );
    assert_same_tree(&reference, &copy);

    // The whiteout rules, spelled out.
    assert!(!img.join("data/gone.txt").exists() && !img.join("data/sub").exists());
    assert_eq!(
        fs::read_to_string(img.join("data/keep.txt")).unwrap(),
        "recreated\n"
    );
    assert_eq!(
        fs::read_to_string(img.join("replaced_dir")).unwrap(),
        "now a file\n"
    );
    assert!(img.join("replaced_file/child").is_file());
    let opaque: Vec<_> = fs::read_dir(img.join("opaque_me"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(opaque, vec!["new1"]);
    assert!(img.join("usr/bin/added").is_file());
    let (a, b) = (
        fs::metadata(img.join("lib/shared.so")).unwrap(),
        fs::metadata(img.join("lib/shared3.so")).unwrap(),
    );
    assert_eq!(a.ino(), b.ino());
    assert!(!walk_names(&img).iter().any(|n| n.contains(".wh.")));

    // Settings from the config; the config and the origin beside the image.
    let nspawn = fs::read_to_string(s.root.join("app.nspawn")).unwrap();
    for line in [
        "ProcessTwo=yes",
        "Parameters=/usr/bin/tool --flag \"two words\"",
        "Environment=A=1",
        "Environment=\"B=x y\"",
        "WorkingDirectory=/data",
        "User=app",
        "Port=tcp:8080:8080",
    ] {
        assert!(
            nspawn.lines().any(|l| l == line),
            "{line:?} missing in\n{nspawn}"
        );
    }
    assert!(img.join("vol").is_dir());
    let (manifest, digest) = l.manifest("v3");
    let config_digest = manifest["config"]["digest"].as_str().unwrap();
    assert_eq!(
        fs::read(s.root.join("app.oci-config")).unwrap(),
        fs::read(l.blob(config_digest)).unwrap()
    );
    let origin: serde_json::Value =
        serde_json::from_slice(&fs::read(s.root.join("app.oci-origin")).unwrap()).unwrap();
    assert_eq!(origin["manifestDigest"], digest.as_str());
    let show = ok(&s.root, &["show-image", "app"]).stdout;
    assert!(show.contains(&format!("OriginDigest={digest}")), "{show}");
}

fn walk_names(root: &Path) -> Vec<String> {
    wharf_tests::tree::walk(root)
        .into_iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn zstd_layers_and_docker_archives_import_alike() {
    require_tools();
    let s = TestStore::new(Fs::Host, 0);
    let l = layered_layout(&s.scratch);
    ok(
        &s.root,
        &["import-oci", l.dir.to_str().unwrap(), "gz", "--ref", "v3"],
    );

    let zst = s.scratch.join("zst");
    skopeo_copy(
        &["--dest-compress-format", "zstd"],
        &format!("oci:{}", l.image("v3")),
        &format!("oci:{}:v3", zst.display()),
    );
    let (m, _) = Layout { dir: zst.clone() }.manifest("v3");
    assert!(
        m["layers"][0]["mediaType"]
            .as_str()
            .unwrap()
            .ends_with("+zstd"),
        "{m}"
    );
    ok(&s.root, &["import-oci", zst.to_str().unwrap(), "zst"]);
    assert_same_tree(&s.root.join("gz"), &s.root.join("zst"));

    // skopeo's docker-archive (uncompressed layers, symlinked layer.tar files).
    let archive = s.scratch.join("app.tar");
    skopeo_copy(
        &[],
        &format!("oci:{}", l.image("v3")),
        &format!("docker-archive:{}:example/app:v3", archive.display()),
    );
    ok(&s.root, &["import-oci", archive.to_str().unwrap(), "da"]);
    assert_same_tree(&s.root.join("gz"), &s.root.join("da"));
    // The same archive compressed, from standard input.
    sh("gzip", &["-k", archive.to_str().unwrap()]);
    let gz = fs::File::open(s.scratch.join("app.tar.gz")).unwrap();
    let r = wharf_tests::wharf(&s.root)
        .args(["import-oci", "-", "da-stdin"])
        .stdin(gz)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_same_tree(&s.root.join("gz"), &s.root.join("da-stdin"));
    // An OCI layout in a tar file (oci-archive).
    let oa = s.scratch.join("app.oci.tar");
    skopeo_copy(
        &[],
        &format!("oci:{}", l.image("v3")),
        &format!("oci-archive:{}:v3", oa.display()),
    );
    ok(&s.root, &["import-oci", oa.to_str().unwrap(), "oa"]);
    assert_same_tree(&s.root.join("gz"), &s.root.join("oa"));
}

/// Copy a layout so a test can damage it.
fn copy_layout(l: &Layout, to: &Path) -> Layout {
    sh("cp", &["-a", l.dir.to_str().unwrap(), to.to_str().unwrap()]);
    Layout {
        dir: to.to_path_buf(),
    }
}

#[test]
fn damaged_or_unsupported_images_leave_the_store_untouched() {
    require_tools();
    let s = TestStore::new(Fs::Host, 0);
    let l = layered_layout(&s.scratch);
    ok(
        &s.root,
        &["import-oci", l.dir.to_str().unwrap(), "good", "--ref", "v3"],
    );
    let before = listed(&s.root);

    // A flipped byte in the middle of the last layer's blob: digest mismatch.
    let bad = copy_layout(&l, &s.scratch.join("flipped"));
    let (m, _) = bad.manifest("v3");
    let last = m["layers"].as_array().unwrap().last().unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let blob = bad.blob(&last);
    let mut bytes = fs::read(&blob).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    fs::write(&blob, &bytes).unwrap();
    let r = fails(
        &s.root,
        &["import-oci", bad.dir.to_str().unwrap(), "x", "--ref", "v3"],
        "cannot import",
    );
    assert!(r.stderr.lines().count() == 1, "{r:?}");

    // A truncated blob: size mismatch.
    let short = copy_layout(&l, &s.scratch.join("short"));
    let blob = short.blob(&last);
    let len = fs::metadata(&blob).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&blob)
        .unwrap()
        .set_len(len - 10)
        .unwrap();
    fails(
        &s.root,
        &[
            "import-oci",
            short.dir.to_str().unwrap(),
            "x",
            "--ref",
            "v3",
        ],
        "bytes",
    );

    // A layer media type nobody knows: refused, never skipped.
    let odd = copy_layout(&l, &s.scratch.join("odd"));
    rewrite_manifest(&odd, "v3", |m| {
        m["layers"][0]["mediaType"] = "application/vnd.example.layer.v1.tar+lz4".into();
    });
    fails(
        &s.root,
        &["import-oci", odd.dir.to_str().unwrap(), "x", "--ref", "v3"],
        "media type",
    );

    // A wrong DiffID in the config.
    let diff = copy_layout(&l, &s.scratch.join("diff"));
    rewrite_config(&diff, "v3", |c| {
        c["rootfs"]["diff_ids"][0] = format!("sha256:{}", "0".repeat(64)).into();
    });
    fails(
        &s.root,
        &["import-oci", diff.dir.to_str().unwrap(), "x", "--ref", "v3"],
        "DiffID",
    );

    // Unknown tag; an image for another architecture.
    fails(
        &s.root,
        &["import-oci", l.dir.to_str().unwrap(), "x", "--ref", "nope"],
        "nope",
    );
    let arm = copy_layout(&l, &s.scratch.join("arm"));
    rewrite_config(&arm, "v3", |c| c["architecture"] = "s390x".into());
    fails(
        &s.root,
        &["import-oci", arm.dir.to_str().unwrap(), "x", "--ref", "v3"],
        "s390x",
    );
    // Several tags and no --ref.
    fails(
        &s.root,
        &["import-oci", l.dir.to_str().unwrap(), "x"],
        "--ref",
    );

    assert_eq!(listed(&s.root), before);
    assert!(
        temporaries(&s.root).is_empty(),
        "{:?}",
        temporaries(&s.root)
    );
    assert!(!s.root.join("x.nspawn").exists());
}

/// Store `bytes` as a blob of `l` and return its digest and size.
fn put_blob(l: &Layout, bytes: &[u8]) -> (String, u64) {
    let tmp = l.dir.join("tmp-blob");
    fs::write(&tmp, bytes).unwrap();
    let hex = sh("sha256sum", &[tmp.to_str().unwrap()])
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    fs::rename(&tmp, l.dir.join("blobs/sha256").join(&hex)).unwrap();
    (format!("sha256:{hex}"), bytes.len() as u64)
}

fn retag(l: &Layout, tag: &str, digest: &str, size: u64) {
    let p = l.dir.join("index.json");
    let mut index: serde_json::Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
    for d in index["manifests"].as_array_mut().unwrap() {
        if d["annotations"]["org.opencontainers.image.ref.name"] == tag {
            d["digest"] = digest.into();
            d["size"] = size.into();
        }
    }
    fs::write(&p, serde_json::to_vec(&index).unwrap()).unwrap();
}

fn rewrite_manifest(l: &Layout, tag: &str, f: impl FnOnce(&mut serde_json::Value)) {
    let (mut m, _) = l.manifest(tag);
    f(&mut m);
    let (d, size) = put_blob(l, &serde_json::to_vec(&m).unwrap());
    retag(l, tag, &d, size);
}

fn rewrite_config(l: &Layout, tag: &str, f: impl FnOnce(&mut serde_json::Value)) {
    let (m, _) = l.manifest(tag);
    let cd = m["config"]["digest"].as_str().unwrap().to_string();
    let mut c: serde_json::Value = serde_json::from_slice(&fs::read(l.blob(&cd)).unwrap()).unwrap();
    f(&mut c);
    let (d, size) = put_blob(l, &serde_json::to_vec(&c).unwrap());
    rewrite_manifest(l, tag, |m| {
        m["config"]["digest"] = d.into();
        m["config"]["size"] = size.into();
    });
}

#[test]
fn a_two_platform_index_gives_the_host_its_image() {
    require_tools();
    let s = TestStore::new(Fs::Host, 0);
    let l = Layout::init(&s.scratch.join("multi"));
    for (tag, arch, content) in [("amd", "amd64", "amd64\n"), ("arm", "arm64", "arm64\n")] {
        let layer = s.scratch.join(format!("{tag}.tar"));
        LayerTar::new()
            .file("arch", content.as_bytes(), 0o644)
            .write(&layer);
        l.add_layer("base", tag, &layer);
        l.config(tag, &["--architecture", arch, "--config.cmd=/arch"]);
    }
    // An index blob listing both, tagged "multi", plus an attestation-like entry.
    let (_, amd_digest) = l.manifest("amd");
    let (_, arm_digest) = l.manifest("arm");
    let len = |d: &str| fs::metadata(l.blob(d)).unwrap().len();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": arm_digest, "size": len(&arm_digest),
             "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": amd_digest, "size": len(&amd_digest),
             "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": amd_digest, "size": len(&amd_digest),
             "platform": {"os": "unknown", "architecture": "unknown"},
             "annotations": {"vnd.docker.reference.type": "attestation-manifest"}}
        ]
    });
    let (d, sz) = put_blob(&l, &serde_json::to_vec(&index).unwrap());
    let p = l.dir.join("index.json");
    let mut top: serde_json::Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
    top["manifests"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.index.v1+json", "digest": d, "size": sz,
            "annotations": {"org.opencontainers.image.ref.name": "multi"}
        }));
    fs::write(&p, serde_json::to_vec(&top).unwrap()).unwrap();

    let host = if cfg!(target_arch = "x86_64") {
        "amd64\n"
    } else {
        "arm64\n"
    };
    ok(
        &s.root,
        &[
            "import-oci",
            l.dir.to_str().unwrap(),
            "native",
            "--ref",
            "multi",
        ],
    );
    assert_eq!(
        fs::read_to_string(s.root.join("native/arch")).unwrap(),
        host
    );
    ok(
        &s.root,
        &[
            "import-oci",
            l.dir.to_str().unwrap(),
            "other",
            "--ref",
            "multi",
            "--platform",
            "linux/arm64/v8",
        ],
    );
    assert_eq!(
        fs::read_to_string(s.root.join("other/arch")).unwrap(),
        "arm64\n"
    );
    fails(
        &s.root,
        &[
            "import-oci",
            l.dir.to_str().unwrap(),
            "x",
            "--ref",
            "multi",
            "--platform",
            "linux/riscv64",
        ],
        "riscv64",
    );
}

#[test]
fn hostile_layers_stay_inside_the_image() {
    require_tools();
    let s = TestStore::new(Fs::Host, 0);
    let outside = s.scratch.join("outside");
    fs::create_dir(&outside).unwrap();
    let l = Layout::init(&s.scratch.join("hostile"));
    let l1 = s.scratch.join("l1.tar");
    LayerTar::new()
        .symlink("escape", outside.to_str().unwrap())
        .symlink("up", "../../../../../../..")
        .write(&l1);
    l.add_layer("base", "one", &l1);
    let l2 = s.scratch.join("l2.tar");
    LayerTar::new()
        .file("escape/pwned", b"x", 0o644)
        .file("up/tmp/pwned2", b"x", 0o644)
        .write(&l2);
    l.add_layer("one", "two", &l2);
    l.config("two", &["--config.cmd=/x"]);
    let _ = ok(
        &s.root,
        &["import-oci", l.dir.to_str().unwrap(), "h", "--ref", "two"],
    );
    assert_eq!(
        fs::read_dir(&outside).unwrap().count(),
        0,
        "a layer wrote outside the image"
    );
    assert!(!Path::new("/tmp/pwned2").exists());

    for name in ["../evil", "a/../../evil"] {
        let l3 = s.scratch.join("l3.tar");
        // tar::Builder refuses ".." names; write the header by hand.
        let mut h = tar::Header::new_ustar();
        h.set_size(1);
        h.set_mode(0o644);
        h.as_ustar_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        let mut data = h.as_bytes().to_vec();
        data.extend_from_slice(b"x");
        data.resize(512 * 2, 0);
        data.resize(512 * 4, 0);
        fs::write(&l3, &data).unwrap();
        l.add_layer("base", "dots", &l3);
        l.config("dots", &["--config.cmd=/x"]);
        fails(
            &s.root,
            &["import-oci", l.dir.to_str().unwrap(), "d", "--ref", "dots"],
            "cannot import",
        );
    }
    assert!(!s.scratch.join("evil").exists());
}

#[test]
fn docker_export_becomes_a_machine() {
    let s = TestStore::new(Fs::Host, 0);
    let export = s.scratch.join("export.tar");
    LayerTar::new()
        .file(".dockerenv", b"", 0o755)
        .dir("etc", 0o755)
        .file("etc/hostname", b"", 0o644)
        .file("etc/hosts", b"", 0o644)
        .file("etc/resolv.conf", b"", 0o644)
        .file(
            "etc/machine-id",
            b"4f1c6a0f7e0d4b8e9a1f2e3d4c5b6a79\n",
            0o444,
        )
        .file("etc/os-release", b"ID=test\n", 0o644)
        .symlink("etc/mtab", "/proc/mounts")
        .write(&export);
    sh("gzip", &[export.to_str().unwrap()]);
    let gz = s.scratch.join("export.tar.gz");
    ok(&s.root, &["import-docker", gz.to_str().unwrap(), "web"]);
    let img = s.root.join("web");
    assert!(!img.join(".dockerenv").exists());
    assert_eq!(
        fs::read_to_string(img.join("etc/hostname")).unwrap(),
        "web\n"
    );
    assert!(fs::read_to_string(img.join("etc/hosts"))
        .unwrap()
        .contains("localhost"));
    assert_eq!(fs::metadata(img.join("etc/machine-id")).unwrap().len(), 0);
    assert_eq!(
        fs::read_link(img.join("etc/mtab")).unwrap(),
        PathBuf::from("/proc/mounts")
    );
    fails(
        &s.root,
        &["import-docker", "/nonexistent.tar", "x"],
        "nonexistent",
    );
}

/// The Debian root filesystem as a one-layer image: same tree as umoci's unpack, boots
/// settings chosen (it has systemd and no entrypoint), and runs under systemd-nspawn.
#[test]
fn debian_image_imports_like_umoci_and_runs_in_nspawn() {
    require_tools();
    let s = TestStore::new(Fs::Host, 0);
    let l = Layout::init(&s.scratch.join("debian"));
    l.add_layer("base", "12", &debian::tarball());
    ok(
        &s.root,
        &["import-oci", l.dir.to_str().unwrap(), "deb", "--ref", "12"],
    );
    let reference = l.unpack("12", &s.scratch.join("ref"));
    assert_same_tree(&reference, &s.root.join("deb"));
    let nspawn = fs::read_to_string(s.root.join("deb.nspawn")).unwrap();
    assert!(nspawn.contains("Boot=yes"), "{nspawn}");
    let out = std::process::Command::new("systemd-nspawn")
        .args(["--register=no", "--keep-unit", "-q", "--settings=no", "-D"])
        .arg(s.root.join("deb"))
        .args(["/bin/sh", "-c", "cat /etc/debian_version"])
        .output()
        .expect("systemd-nspawn (Debian package systemd-container) is required");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("12"));
    let r = ok(&s.root, &["run", "-M", "deb", "--", "/bin/true"]);
    assert!(r.stderr.is_empty() || !r.stderr.contains("error"), "{r:?}");
}
