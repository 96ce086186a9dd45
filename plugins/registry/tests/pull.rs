//! Pulls from a real registry (Debian's docker-registry on 127.0.0.1) filled by skopeo from
//! layouts built with umoci.

mod common;

use std::path::Path;

use common::*;
use wharf_oci_format::{Index, Manifest, MediaType, Platform, Reference};
use wharf_registry::{pull, ErrorKind};
use wharf_tests::oci_layout::{inspect_raw, push_layout, sha256_hex, skopeo_copy, umoci_image};
use wharf_tests::registry::Registry;

const BASE: &[(&str, &[u8])] = &[
    ("etc/os-release", b"ID=test\n"),
    ("bin/true", b"#!/bin/sh\n"),
];
const APP: &[(&str, &[u8])] = &[("srv/app", b"app v1\n")];

/// A layout with `base` (one layer) and `app` (base's layer + one more).
fn layouts(dir: &Path) -> std::path::PathBuf {
    let l = dir.join("src");
    umoci_image(&l, "base", &[BASE]);
    umoci_image(&l, "app", &[BASE, APP]);
    l
}

fn manifest_of(cache: &Path, pulled: &wharf_registry::Pulled) -> Manifest {
    let bytes = std::fs::read(cache.join(wharf_oci_format::blob_path(&pulled.manifest_digest)))
        .expect("manifest blob in the cache");
    Manifest::parse(&bytes).unwrap()
}

#[test]
fn pull_into_cache_layout_and_reuse_shared_blobs() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let src = layouts(tmp.path());
    push_layout(&src, "base", &reg.image("test/base:1"), &[]);
    push_layout(&src, "app", &reg.image("test/app:1"), &[]);
    let cache = tmp.path().join("cache");

    let base = pull_ref(&reg.image("test/base:1"), &cache).unwrap();
    assert_eq!(base.downloaded_blobs, 2, "config and one layer: {base:?}");
    assert_eq!(base.reused_blobs, 0);
    assert!(base.downloaded_bytes > 0);
    assert_eq!(base.media_type, MediaType::OciManifest);
    assert_eq!(
        base.tag,
        format!("{}/test/base@{}", reg.host(), base.manifest_digest)
    );
    // The cache is an OCI layout with the manifest tagged, byte for byte what the registry has.
    let raw = inspect_raw(&reg.image("test/base:1"));
    let cached = manifest_of(&cache, &base);
    assert_eq!(cached, Manifest::parse(raw.to_string().as_bytes()).unwrap());
    assert_eq!(
        std::fs::read_to_string(cache.join("oci-layout")).unwrap(),
        wharf_oci_format::OCI_LAYOUT_JSON
    );
    let index = Index::parse(&std::fs::read(cache.join("index.json")).unwrap()).unwrap();
    let entry = index.find_ref(&base.tag);
    assert_eq!(entry.len(), 1);
    assert_eq!(entry[0].digest, base.manifest_digest);
    assert_eq!(entry[0].platform.as_ref().unwrap().architecture, "amd64");
    assert_cache_valid(&cache);

    // `app` shares base's layer: only its config and second layer travel.
    let blob_gets_before = blob_gets(&reg);
    let app = pull_ref(&reg.image("test/app:1"), &cache).unwrap();
    assert_eq!((app.downloaded_blobs, app.reused_blobs), (2, 1), "{app:?}");
    let base_layer = &cached.layers[0].digest;
    let new_gets: Vec<String> = blob_gets(&reg).split_off(blob_gets_before.len());
    assert!(
        !new_gets
            .iter()
            .any(|p| p.ends_with(&base_layer.to_string())),
        "shared layer fetched again: {new_gets:?}"
    );
    let index = Index::parse(&std::fs::read(cache.join("index.json")).unwrap()).unwrap();
    assert_eq!(index.manifests.len(), 2, "both pulls tagged");

    // Pulling again downloads nothing at all.
    let before = blob_gets(&reg).len();
    let again = pull_ref(&reg.image("test/app:1"), &cache).unwrap();
    assert_eq!((again.downloaded_blobs, again.reused_blobs), (0, 3));
    assert_eq!(again.downloaded_bytes, 0);
    assert_eq!(blob_gets(&reg).len(), before);
    assert_cache_valid(&cache);

    // By digest, the same manifest.
    let by_digest = pull_ref(
        &format!("{}@{}", reg.image("test/app"), app.manifest_digest),
        &cache,
    )
    .unwrap();
    assert_eq!(by_digest.manifest_digest, app.manifest_digest);
}

/// Paths of the successful blob GETs in the registry's access log.
fn blob_gets(reg: &Registry) -> Vec<String> {
    reg.requests()
        .into_iter()
        .filter(|(m, p, s)| m == "GET" && p.contains("/blobs/") && (*s == 200 || *s == 206))
        .map(|(_, p, _)| p)
        .collect()
}

#[test]
fn docker_v2s2_and_zstd_images() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let src = layouts(tmp.path());
    push_layout(
        &src,
        "app",
        &reg.image("docker/app:1"),
        &["--format", "v2s2"],
    );
    // Recompressed into a layout first: pushing straight to the registry, skopeo reuses the
    // gzip blobs it already knows there.
    let zst = tmp.path().join("zstd");
    skopeo_copy(
        &format!("oci:{}:app", src.display()),
        &format!("oci:{}:app", zst.display()),
        &["--dest-compress", "--dest-compress-format", "zstd"],
    );
    push_layout(&zst, "app", &reg.image("zstd/app:1"), &[]);
    let cache = tmp.path().join("cache");

    let docker = pull_ref(&reg.image("docker/app:1"), &cache).unwrap();
    assert_eq!(docker.media_type, MediaType::DockerManifest);
    let m = manifest_of(&cache, &docker);
    assert_eq!(m.config.media_type, MediaType::DockerConfig);
    assert!(m
        .layers
        .iter()
        .all(|l| l.media_type == MediaType::DockerLayer));
    assert_eq!(m.layers.len(), 2);

    let zstd = pull_ref(&reg.image("zstd/app:1"), &cache).unwrap();
    let m = manifest_of(&cache, &zstd);
    assert!(
        m.layers
            .iter()
            .all(|l| l.media_type.as_str().ends_with("+zstd")),
        "{:?}",
        m.layers
    );
    for l in &m.layers {
        let blob = std::fs::read(cache.join(wharf_oci_format::blob_path(&l.digest))).unwrap();
        assert_eq!(&blob[..4], &[0x28, 0xb5, 0x2f, 0xfd], "zstd magic");
    }
    assert_cache_valid(&cache);
}

#[test]
fn unknown_repository_and_tag_are_one_clear_line() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let src = layouts(tmp.path());
    push_layout(&src, "base", &reg.image("test/base:1"), &[]);
    let cache = tmp.path().join("cache");

    let e = pull_ref(&reg.image("nope/nothing:1"), &cache).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    let msg = e.to_string();
    // distribution 2.8 says MANIFEST_UNKNOWN for unknown repositories too.
    assert_eq!(
        msg,
        format!(
            "registry {}: manifest nope/nothing:1: manifest unknown",
            reg.host()
        )
    );
    assert!(!msg.contains('\n'));

    let e = pull_ref(&reg.image("test/base:2"), &cache).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains("manifest unknown"), "{e}");

    let e = pull_ref(
        &format!("{}@sha256:{}", reg.image("test/base"), "0".repeat(64)),
        &cache,
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");

    // A platform the image is not for.
    let r = Reference::parse(&reg.image("test/base:1")).unwrap();
    let e = pull(
        &client(&r.registry),
        &r,
        &Platform::parse("linux/arm64").unwrap(),
        &cache,
        &progress(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("not for linux/arm64"), "{e}");
}

#[test]
fn resume_partial_blob_with_range() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    // Incompressible content so the gzip layer is big enough to cut in half.
    let noise = noise(2_000_000);
    umoci_image(&src, "big", &[&[("data/noise", &noise)]]);
    push_layout(&src, "big", &reg.image("test/big:1"), &[]);
    let raw = inspect_raw(&reg.image("test/big:1"));
    let layer = raw["layers"][0]["digest"].as_str().unwrap().to_string();
    let size = raw["layers"][0]["size"].as_u64().unwrap();
    let hex = layer.strip_prefix("sha256:").unwrap();
    let blob = std::fs::read(src.join("blobs/sha256").join(hex)).expect("layer in the source");
    assert_eq!(blob.len() as u64, size);

    // An earlier pull died half way through the layer.
    let cache = tmp.path().join("cache");
    let blobs = cache.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let half = blob.len() / 2;
    std::fs::write(blobs.join(format!(".tmp-{hex}")), &blob[..half]).unwrap();

    let progress = Counting::default();
    let r = Reference::parse(&reg.image("test/big:1")).unwrap();
    let pulled = pull(&client(&r.registry), &r, &amd64(), &cache, &progress).unwrap();
    let config_size = raw["config"]["size"].as_u64().unwrap();
    assert_eq!(
        pulled.downloaded_bytes,
        (blob.len() - half) as u64 + config_size,
        "only the missing half travels"
    );
    let ranged: Vec<_> = reg
        .requests()
        .into_iter()
        .filter(|(m, p, s)| m == "GET" && p.ends_with(&layer) && *s == 206)
        .collect();
    assert_eq!(ranged.len(), 1, "{:?}", reg.requests());
    assert_eq!(
        progress.bytes.load(std::sync::atomic::Ordering::SeqCst),
        progress.total.load(std::sync::atomic::Ordering::SeqCst)
    );
    assert_eq!(std::fs::read(blobs.join(hex)).unwrap(), blob);
    assert_cache_valid(&cache);

    // A corrupt partial file: the resumed blob fails its digest and is fetched again whole.
    let cache2 = tmp.path().join("cache2");
    let blobs2 = cache2.join("blobs/sha256");
    std::fs::create_dir_all(&blobs2).unwrap();
    let mut wrong = blob[..half].to_vec();
    wrong[10] ^= 0xff;
    std::fs::write(blobs2.join(format!(".tmp-{hex}")), &wrong).unwrap();
    let pulled = pull_ref(&reg.image("test/big:1"), &cache2).unwrap();
    assert_eq!(pulled.downloaded_blobs, 2);
    assert_eq!(sha256_hex(&std::fs::read(blobs2.join(hex)).unwrap()), hex);
    assert_cache_valid(&cache2);
}

#[test]
fn concurrent_pulls_share_one_cache() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let src = layouts(tmp.path());
    push_layout(&src, "base", &reg.image("test/base:1"), &[]);
    push_layout(&src, "app", &reg.image("test/app:1"), &[]);
    let cache = tmp.path().join("cache");
    let refs = [
        reg.image("test/base:1"),
        reg.image("test/app:1"),
        reg.image("test/app:1"),
        reg.image("test/base:1"),
    ];
    let pulled: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = refs
            .iter()
            .map(|r| s.spawn(|| pull_ref(r, &cache).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(pulled[1].manifest_digest, pulled[2].manifest_digest);
    let index = Index::parse(&std::fs::read(cache.join("index.json")).unwrap()).unwrap();
    assert_eq!(index.manifests.len(), 2, "{index:?}");
    assert_cache_valid(&cache);
    // 4 distinct blobs (base layer, app layer, two configs), none written twice at once.
    let downloaded: usize = pulled.iter().map(|p| p.downloaded_blobs).sum();
    assert!(downloaded <= 4, "{pulled:?}");
}

#[test]
fn cancel_stops_a_pull() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let src = layouts(tmp.path());
    push_layout(&src, "base", &reg.image("test/base:1"), &[]);
    let cancel = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let opts = wharf_registry::ClientOptions {
        cancel: Some(cancel),
        ..Default::default()
    };
    let r = Reference::parse(&reg.image("test/base:1")).unwrap();
    let c = wharf_registry::Client::new(&r.registry, opts).unwrap();
    let e = pull(&c, &r, &amd64(), &tmp.path().join("cache"), &progress()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Cancelled);
}
