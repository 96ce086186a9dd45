//! Multi-platform images: an index with amd64, arm64, arm/v6, arm/v7 and a BuildKit-style
//! attestation entry, pushed by `skopeo copy --all`; a nested index pushed by our own push().

mod common;

use std::path::Path;

use common::*;
use serde_json::{json, Value};
use wharf_core::NoProgress;
use wharf_oci_format::{Index, Platform, Reference};
use wharf_registry::{pull, push, ErrorKind};
use wharf_tests::oci_layout::{
    get_blob, inspect_raw, push_layout, put_blob, set_tag, tagged, umoci_image,
};
use wharf_tests::registry::Registry;

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// Adds to `layout` a manifest like `base`'s with its config's platform changed; returns its
/// index entry.
fn variant_of(layout: &Path, base: &Value, arch: &str, variant: Option<&str>) -> Value {
    let manifest: Value =
        serde_json::from_slice(&get_blob(layout, base["digest"].as_str().unwrap())).unwrap();
    let mut config: Value = serde_json::from_slice(&get_blob(
        layout,
        manifest["config"]["digest"].as_str().unwrap(),
    ))
    .unwrap();
    config["architecture"] = json!(arch);
    if let Some(v) = variant {
        config["variant"] = json!(v);
    }
    let (cd, cs) = put_blob(layout, &serde_json::to_vec(&config).unwrap());
    let mut m = manifest.clone();
    m["config"]["digest"] = json!(cd);
    m["config"]["size"] = json!(cs);
    let (md, ms) = put_blob(layout, &serde_json::to_vec(&m).unwrap());
    let mut platform = json!({"os": "linux", "architecture": arch});
    if let Some(v) = variant {
        platform["variant"] = json!(v);
    }
    json!({"mediaType": OCI_MANIFEST, "digest": md, "size": ms, "platform": platform})
}

/// Layout with image `multi` (an index) and the digests of its amd64, arm64, arm/v6, arm/v7
/// manifests.
fn multi_layout(layout: &Path) -> Vec<String> {
    umoci_image(layout, "base", &[&[("etc/hostname", b"multi\n")]]);
    let base = tagged(layout, "base");
    let amd64 = json!({"mediaType": OCI_MANIFEST, "digest": base["digest"], "size": base["size"],
        "platform": {"os": "linux", "architecture": "amd64"}});
    let arm64 = variant_of(layout, &base, "arm64", Some("v8"));
    let v6 = variant_of(layout, &base, "arm", Some("v6"));
    let v7 = variant_of(layout, &base, "arm", Some("v7"));
    // BuildKit attestation: platform unknown/unknown, in-toto layer.
    let (cd, cs) = put_blob(layout, b"{\"architecture\":\"unknown\",\"os\":\"unknown\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}");
    let (ld, ls) = put_blob(layout, b"{\"_type\":\"https://in-toto.io/Statement/v0.1\"}");
    let att = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
        "layers": [{"mediaType": "application/vnd.in-toto+json", "digest": ld, "size": ls}]});
    let (ad, asz) = put_blob(layout, &serde_json::to_vec(&att).unwrap());
    let att_entry = json!({"mediaType": OCI_MANIFEST, "digest": ad, "size": asz,
        "platform": {"os": "unknown", "architecture": "unknown"},
        "annotations": {"vnd.docker.reference.type": "attestation-manifest",
                        "vnd.docker.reference.digest": base["digest"]}});
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [att_entry, amd64, arm64, v6, v7]});
    let (id, is) = put_blob(layout, &serde_json::to_vec(&index).unwrap());
    set_tag(
        layout,
        "multi",
        json!({"mediaType": OCI_INDEX, "digest": id, "size": is}),
    );
    [&amd64, &arm64, &v6, &v7]
        .iter()
        .map(|e| e["digest"].as_str().unwrap().to_string())
        .collect()
}

fn pull_for(
    reg: &Registry,
    name: &str,
    platform: &str,
    cache: &Path,
) -> wharf_registry::Result<wharf_registry::Pulled> {
    let r = Reference::parse(&reg.image(name)).unwrap();
    pull(
        &client(&r.registry),
        &r,
        &Platform::parse(platform).unwrap(),
        cache,
        &NoProgress,
    )
}

#[test]
fn platform_choice_with_variants_and_attestations() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let digests = multi_layout(&src);
    push_layout(&src, "multi", &reg.image("test/multi:1"), &["--all"]);
    let cache = tmp.path().join("cache");

    let cases = [
        ("linux/amd64", &digests[0]),
        ("linux/arm64", &digests[1]),
        ("linux/arm64/v8", &digests[1]),
        ("linux/arm/v6", &digests[2]),
        ("linux/arm/v7", &digests[3]),
    ];
    for (platform, want) in cases {
        let p = pull_for(&reg, "test/multi:1", platform, &cache).unwrap();
        assert_eq!(&p.manifest_digest.to_string(), want, "{platform}");
        assert_ne!(
            p.resolved_digest, p.manifest_digest,
            "resolved to the index"
        );
    }
    let index = Index::parse(&std::fs::read(cache.join("index.json")).unwrap()).unwrap();
    let v7 = index
        .manifests
        .iter()
        .find(|d| d.digest.to_string() == digests[3])
        .unwrap();
    assert_eq!(v7.platform.as_ref().unwrap().to_string(), "linux/arm/v7");
    assert_cache_valid(&cache);

    let e = pull_for(&reg, "test/multi:1", "linux/s390x", &cache).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let msg = e.to_string();
    assert!(
        msg.contains("no manifest for platform linux/s390x"),
        "{msg}"
    );
    assert!(!msg.contains("unknown"), "attestation listed: {msg}");
}

#[test]
fn nested_index_pushed_and_pulled() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let digests = multi_layout(&src);
    let inner = tagged(&src, "multi");
    let outer = json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_INDEX, "digest": inner["digest"], "size": inner["size"]}]});
    let (od, os) = put_blob(&src, &serde_json::to_vec(&outer).unwrap());
    set_tag(
        &src,
        "nested",
        json!({"mediaType": OCI_INDEX, "digest": od, "size": os}),
    );

    let r = Reference::parse(&reg.image("test/nested:1")).unwrap();
    let pushed = push(&client(&r.registry), &src, "nested", &r, &NoProgress).unwrap();
    assert_eq!(pushed.to_string(), od);
    let raw = inspect_raw(&reg.image("test/nested:1"));
    assert_eq!(raw["manifests"][0]["digest"], inner["digest"]);

    let cache = tmp.path().join("cache");
    let p = pull_for(&reg, "test/nested:1", "linux/arm/v7", &cache).unwrap();
    assert_eq!(p.manifest_digest.to_string(), digests[3]);
    assert_eq!(p.resolved_digest.to_string(), od);
}
