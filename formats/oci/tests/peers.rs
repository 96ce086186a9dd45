//! What the serialisers write is what the peers accept: an OCI layout built only from this
//! crate's `to_json` output is unpacked by umoci 0.4.7 and copied by skopeo 1.9.3 into a
//! docker-archive whose manifest.json this crate reads back. Needs umoci, skopeo, tar and gzip
//! (scripts/install-test-deps); fails loudly without them.

use std::path::Path;
use std::process::Command;

use wharf_oci_format::*;

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {cmd:?} (is it installed? scripts/install-test-deps): {e}")
    });
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn write_blob(layout: &Path, bytes: &[u8]) -> Digest {
    let d = Digest::sha256(bytes);
    let path = layout.join(blob_path(&d));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
    d
}

#[test]
fn umoci_and_skopeo_accept_what_we_write() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("etc")).unwrap();
    std::fs::write(src.join("etc/hello"), "hi\n").unwrap();
    let tar = run(Command::new("tar")
        .args(["--numeric-owner", "--owner=0", "--group=0", "-C"])
        .arg(&src)
        .args(["-cf", "-", "etc"]));
    let layer_path = tmp.path().join("layer.tar");
    std::fs::write(&layer_path, &tar).unwrap();
    let gz = run(Command::new("gzip").args(["-n", "-c"]).arg(&layer_path));

    let layout = tmp.path().join("layout");
    std::fs::create_dir_all(&layout).unwrap();
    std::fs::write(layout.join("oci-layout"), OCI_LAYOUT_JSON).unwrap();
    let layer_digest = write_blob(&layout, &gz);

    let config = ImageConfig {
        architecture: "amd64".into(),
        os: "linux".into(),
        variant: None,
        created: Some("2024-01-01T00:00:00Z".into()),
        author: None,
        config: ExecConfig {
            cmd: Some(vec!["/bin/sh".into()]),
            env: vec!["A=1".into()],
            exposed_ports: vec!["80/tcp".into()],
            volumes: vec!["/data".into()],
            working_dir: Some("/srv".into()),
            ..ExecConfig::default()
        },
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids: vec![Digest::sha256(&tar)],
        },
        history: vec![History {
            created_by: Some("wharf test".into()),
            ..History::default()
        }],
    };
    let config_json = config.to_json();
    write_blob(&layout, &config_json);
    let manifest = Manifest::new(
        Descriptor::of(MediaType::OciConfig, &config_json),
        vec![Descriptor::new(
            MediaType::OciLayer(LayerCompression::Gzip),
            layer_digest,
            gz.len() as u64,
        )],
    );
    let manifest_json = manifest.to_json();
    write_blob(&layout, &manifest_json);
    let mut entry = Descriptor::of(MediaType::OciManifest, &manifest_json);
    entry
        .annotations
        .insert(ANNOTATION_REF_NAME.into(), "t".into());
    let mut index = Index::new();
    index.manifests.push(entry);
    std::fs::write(layout.join("index.json"), index.to_json()).unwrap();

    // umoci unpacks it
    let bundle = tmp.path().join("bundle");
    let image = format!("{}:t", layout.display());
    run(Command::new("umoci")
        .args(["unpack", "--rootless", "--image", &image])
        .arg(&bundle));
    assert_eq!(
        std::fs::read_to_string(bundle.join("rootfs/etc/hello")).unwrap(),
        "hi\n"
    );
    let runtime = std::fs::read_to_string(bundle.join("config.json")).unwrap();
    assert!(runtime.contains("\"/bin/sh\""), "{runtime}");
    assert!(runtime.contains("\"A=1\""), "{runtime}");

    // skopeo reads the same manifest and config, and converts to a docker-archive
    let oci = format!("oci:{image}");
    assert_eq!(
        run(Command::new("skopeo").args(["inspect", "--raw", &oci])),
        manifest_json
    );
    let seen = run(Command::new("skopeo").args(["inspect", "--config", "--raw", &oci]));
    assert_eq!(ImageConfig::parse(&seen).unwrap(), config);
    let archive = tmp.path().join("a.tar");
    run(Command::new("skopeo").args([
        "copy",
        "--quiet",
        &oci,
        &format!("docker-archive:{}:example.com/x:t", archive.display()),
    ]));
    let mj = run(Command::new("tar")
        .arg("-xOf")
        .arg(&archive)
        .arg("manifest.json"));
    let images = parse_docker_archive_manifest(&mj).unwrap();
    assert_eq!(images[0].repo_tags, ["example.com/x:t"]);
    assert_eq!(
        images[0].layers,
        [format!("{}.tar", config.rootfs.diff_ids[0].hex)]
    );
}
