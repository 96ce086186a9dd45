//! Cache entry names, default names and sidecar URLs as systemd makes them (import.md §5.3, §8.2).

use std::path::Path;

use wharf_http::{cache_entry_etag, cache_name, cache_name_in, default_name, sidecar_url};

#[test]
fn cache_names_match_systemd() {
    // Observed on systemd 252 (import.md §8.2).
    assert_eq!(
        cache_name(
            "raw",
            "http://127.0.0.1:8766/big.raw",
            Some("\"fixed-etag-1\"")
        ),
        r#".raw-http:\x2f\x2f127\x2e0\x2e0\x2e1:8766\x2fbig\x2eraw.\x22fixed-etag-1\x22.raw"#
    );
    assert_eq!(
        cache_name("tar", "https://example.com/images/foo.tar.xz", None),
        r".tar-https:\x2f\x2fexample\x2ecom\x2fimages\x2ffoo\x2etar\x2exz"
    );
    assert_eq!(
        cache_name("tar", "http://h/a#b'c", Some("W/\"x.y\"")),
        r#".tar-http:\x2f\x2fh\x2fa\x23b\x27c.W\x2f\x22x\x2ey\x22"#
    );
}

#[test]
fn over_long_urls_use_the_siphash_form() {
    let url = format!("https://mirror.example.com/{}/image.raw", "p".repeat(200));
    let name = cache_name("raw", &url, Some("\"1\""));
    let hash = name
        .strip_prefix(".raw-")
        .and_then(|n| n.strip_suffix(r".\x221\x22.raw"))
        .expect("prefix, ETag and suffix kept");
    assert!(
        !hash.is_empty() && hash.len() <= 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
        "{name}"
    );
    assert_eq!(
        cache_entry_etag("raw", &url, &name),
        Some(Some("\"1\"".into()))
    );
    // The threshold counts "<root>/": a short URL under a deep root is hashed too.
    let short = "http://h/x.raw";
    assert!(cache_name("raw", short, None).contains("\\x2f"));
    let deep = Path::new("/").join("d".repeat(240));
    assert!(!cache_name_in(&deep, "raw", short, None).contains("\\x2f"));
}

#[test]
fn known_etags_are_recovered_from_names() {
    let url = "http://127.0.0.1:8766/big.raw";
    let name =
        r#".raw-http:\x2f\x2f127\x2e0\x2e0\x2e1:8766\x2fbig\x2eraw.\x22fixed-etag-1\x22.raw"#;
    assert_eq!(
        cache_entry_etag("raw", url, name),
        Some(Some("\"fixed-etag-1\"".into()))
    );
    assert_eq!(cache_entry_etag("tar", url, name), None);
    assert_eq!(cache_entry_etag("raw", "http://other/big.raw", name), None);
}

#[test]
fn default_names_and_sidecars() {
    assert_eq!(
        default_name("https://h/d/debian-12.tar.zst").as_deref(),
        Some("debian-12")
    );
    assert_eq!(
        default_name("https://h/d/fedora.raw.xz").as_deref(),
        Some("fedora")
    );
    assert_eq!(default_name("https://h/d/vm.qcow2").as_deref(), Some("vm"));
    assert_eq!(
        sidecar_url("https://h/d/t.tar.zst", ".nspawn"),
        "https://h/d/t.nspawn"
    );
    assert_eq!(
        sidecar_url("https://h/d/f.raw.xz", ".roothash.p7s"),
        "https://h/d/f.roothash.p7s"
    );
}
