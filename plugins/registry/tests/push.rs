//! push(): a umoci layout to the real registry, checked by skopeo and unpacked by umoci.

mod common;

use common::*;
use wharf_core::NoProgress;
use wharf_oci_format::Reference;
use wharf_registry::{push, ErrorKind};
use wharf_tests::oci_layout::{inspect_raw, skopeo_copy, tagged, umoci_image};
use wharf_tests::registry::Registry;
use wharf_tests::sh;

#[test]
fn push_layout_then_skopeo_and_umoci_read_it() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    // One layer above the 16 MiB chunk size (incompressible), so it goes up in PATCH chunks.
    let noise = noise(17_500_000);
    umoci_image(
        &src,
        "img",
        &[
            &[("etc/os-release", b"ID=pushed\n")],
            &[("data/noise", &noise)],
        ],
    );
    let want = tagged(&src, "img");
    let r = Reference::parse(&reg.image("pushed/img:1")).unwrap();
    let progress = Counting::default();
    let digest = push(&client(&r.registry), &src, "img", &r, &progress).unwrap();
    assert_eq!(digest.to_string(), want["digest"].as_str().unwrap());
    assert!(progress.bytes.load(std::sync::atomic::Ordering::SeqCst) > noise.len() as u64 / 2);
    let patches = reg
        .requests()
        .into_iter()
        .filter(|(m, _, s)| m == "PATCH" && *s == 202)
        .count();
    assert!(patches >= 1, "big blob not chunked: {:?}", reg.requests());

    // skopeo sees the same manifest; a copy back unpacks with umoci to the same files.
    let raw = inspect_raw(&reg.image("pushed/img:1"));
    assert_eq!(raw["layers"].as_array().unwrap().len(), 2);
    let back = tmp.path().join("back");
    skopeo_copy(
        &format!("docker://{}", reg.image("pushed/img:1")),
        &format!("oci:{}:img", back.display()),
        &[],
    );
    assert_eq!(tagged(&back, "img")["digest"], want["digest"]);
    let bundle = tmp.path().join("bundle");
    sh(
        "umoci",
        &[
            "unpack",
            "--image",
            &format!("{}:img", back.display()),
            bundle.to_str().unwrap(),
        ],
    );
    assert_eq!(
        std::fs::read(bundle.join("rootfs/etc/os-release")).unwrap(),
        b"ID=pushed\n"
    );
    assert!(std::fs::read(bundle.join("rootfs/data/noise")).unwrap() == noise);

    // A second push finds every blob there (HEAD) and uploads nothing.
    let uploads = |reg: &Registry| {
        reg.requests()
            .into_iter()
            .filter(|(m, _, _)| m == "POST")
            .count()
    };
    let before = uploads(&reg);
    let r2 = Reference::parse(&reg.image("pushed/img:2")).unwrap();
    push(&client(&r2.registry), &src, "img", &r2, &NoProgress).unwrap();
    assert_eq!(uploads(&reg), before);
    assert_eq!(inspect_raw(&reg.image("pushed/img:2")), raw);
}

#[test]
fn push_bad_input() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    umoci_image(&src, "img", &[&[("a", b"a")]]);
    let r = Reference::parse(&reg.image("pushed/img:1")).unwrap();
    let c = client(&r.registry);
    let e = push(&c, &src, "nope", &r, &NoProgress).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.to_string().contains("no image tagged \"nope\""), "{e}");
    let e = push(&c, tmp.path(), "img", &r, &NoProgress).unwrap_err();
    assert!(e.to_string().contains("not an OCI layout"), "{e}");
    // A layer blob gone missing from the layout.
    let m: serde_json::Value = serde_json::from_slice(&wharf_tests::oci_layout::get_blob(
        &src,
        tagged(&src, "img")["digest"].as_str().unwrap(),
    ))
    .unwrap();
    let layer = m["layers"][0]["digest"].as_str().unwrap();
    std::fs::remove_file(src.join("blobs/sha256").join(&layer[7..])).unwrap();
    let e = push(&c, &src, "img", &r, &NoProgress).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
    assert!(e.to_string().contains(&layer[7..]), "{e}");
}
