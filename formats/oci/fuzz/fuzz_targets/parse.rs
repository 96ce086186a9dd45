//! Manifests, indexes, configs, archive manifests, references and auth headers come from the
//! network or from untrusted tarballs: every parser must return (never panic) on any input,
//! and what it accepts must survive its own serialiser unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wharf_oci_format::*;

fuzz_target!(|data: &[u8]| {
    if let Ok(i) = Index::parse(data) {
        assert_eq!(Index::parse(&i.to_json()).unwrap(), i);
        for d in &i.manifests {
            let _ = d.verify_inline();
        }
        let _ = i.select(&Platform::host());
        let _ = i.find_ref("latest");
    }
    if let Ok(m) = Manifest::parse(data) {
        assert_eq!(Manifest::parse(&m.to_json()).unwrap(), m);
        assert!(m.config.media_type.is_config());
        assert!(m.layers.iter().all(|l| l.media_type.is_layer()));
    }
    if let Ok(c) = ImageConfig::parse(data) {
        assert_eq!(ImageConfig::parse(&c.to_json()).unwrap(), c);
        let _ = chain_id(&c.rootfs.diff_ids);
    }
    let _ = parse_manifest_or_index(data, None);
    let _ = parse_manifest_or_index(data, Some("application/vnd.oci.image.index.v1+json"));
    let _ = check_oci_layout(data);
    if let Ok(images) = parse_docker_archive_manifest(data) {
        for img in images {
            check_archive_path("config", &img.config).unwrap();
            for l in &img.layers {
                check_archive_path("layer", l).unwrap();
            }
        }
    }
    let _ = parse_token_response(data);
    let _ = parse_registry_errors(data);

    let s = String::from_utf8_lossy(data);
    for c in parse_www_authenticate(&s) {
        assert!(c
            .params
            .keys()
            .all(|k| !k.chars().any(|ch| ch.is_ascii_uppercase())));
    }
    if let Ok(r) = Reference::parse(&s) {
        let shown = r.to_string();
        let again = Reference::parse(&shown).unwrap();
        assert_eq!(again.to_string(), shown);
        assert!(!r.repository.is_empty() && !r.repository.starts_with('/'));
    }
    if let Ok(d) = Digest::parse(&s) {
        assert_eq!(d.to_string(), s);
        assert!(!blob_path(&d).contains(".."));
    }
    if let Ok(p) = Platform::parse(&s) {
        assert_eq!(p.to_string(), s);
    }
});
