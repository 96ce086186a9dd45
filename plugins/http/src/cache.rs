//! Names of the pristine download cache, as systemd's pull workers make them (import.md §8.2):
//! `.tar-<escaped URL>[.<escaped ETag>]` and `.raw-<escaped URL>[.<escaped ETag>].raw`.
//!
//! Escaping is C-style `\xNN` (lowercase hex) for `/ . # " '`, backslash, control characters
//! and bytes ≥ 0x7f, so the escaped URL never contains a `.` and the first literal `.` after it
//! starts the ETag. When `<root>/<name>` would reach 240 bytes (`_POSIX_PATH_MAX − 16`, leaving
//! room for a 16-byte temporary suffix) the escaped URL is replaced by the lowercase hex of
//! SipHash-2-4 over the URL bytes with systemd's key `df891687 01cc4230 98ab4a19 a6a5634f`, so
//! wharf and systemd name the same download the same way; the ETag part is kept.

use std::path::Path;

use siphasher::sip::SipHasher24;

/// Characters escaped in file names besides control characters, backslash and non-ASCII bytes.
const FILENAME_ESCAPE: &[u8] = b"/.#\"'";

/// systemd's key for hashing over-long URLs (`hash_url()` in pull-common.c).
const URL_HASH_KEY: [u8; 16] = [
    0xdf, 0x89, 0x16, 0x87, 0x01, 0xcc, 0x42, 0x30, 0x98, 0xab, 0x4a, 0x19, 0xa6, 0xa5, 0x63, 0x4f,
];

/// Full path length at which the URL is replaced by its hash.
const HASH_URL_THRESHOLD: usize = 256 - 16;

/// The image root systemd assumes, used by [`cache_name`].
const DEFAULT_ROOT: &str = "/var/lib/machines";

/// C-style escaping for a file name: `\xNN` for `/ . # " '`, `\`, bytes < 0x20 and ≥ 0x7f.
pub fn escape_filename(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if !(0x20..0x7f).contains(&b) || b == b'\\' || FILENAME_ESCAPE.contains(&b) {
            out.push_str(&format!("\\x{b:02x}"));
        } else {
            out.push(b as char);
        }
    }
    out
}

/// Reverses [`escape_filename`] (and any other `\xNN`); `None` on a malformed escape or a result
/// that is not UTF-8.
pub fn unescape_filename(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes.get(i + 1) != Some(&b'x') {
                return None;
            }
            let hex = s.get(i + 2..i + 4)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The cache entry name for `url` downloaded as `kind` (`"tar"` or `"raw"`) with `etag`, for
/// the default root `/var/lib/machines` (the root only matters for over-long URLs; see
/// [`cache_name_in`]).
///
/// `cache_name("raw", "http://127.0.0.1:8766/big.raw", Some("\"fixed-etag-1\""))` is
/// `.raw-http:\x2f\x2f127\x2e0\x2e0\x2e1:8766\x2fbig\x2eraw.\x22fixed-etag-1\x22.raw`.
pub fn cache_name(kind: &str, url: &str, etag: Option<&str>) -> String {
    cache_name_in(Path::new(DEFAULT_ROOT), kind, url, etag)
}

/// [`cache_name`] for an image root other than `/var/lib/machines`.
pub fn cache_name_in(root: &Path, kind: &str, url: &str, etag: Option<&str>) -> String {
    let etag_part = etag
        .map(|e| format!(".{}", escape_filename(e)))
        .unwrap_or_default();
    let suffix = kind_suffix(kind);
    let name = format!(".{kind}-{}{etag_part}{suffix}", escape_filename(url));
    // systemd measures "<root>/<name>".
    let root_len = root.as_os_str().len() + 1;
    if root_len + name.len() < HASH_URL_THRESHOLD {
        return name;
    }
    format!(".{kind}-{}{etag_part}{suffix}", url_hash(url))
}

/// If `file_name` is a cache entry for `url` as `kind` (in either the escaped or the hashed
/// form), the ETag it was stored under: `Some(None)` for an entry without ETag. `None` if the
/// name belongs to something else. Use it when scanning the root for known ETags.
pub fn cache_entry_etag(kind: &str, url: &str, file_name: &str) -> Option<Option<String>> {
    let body = file_name
        .strip_prefix('.')?
        .strip_prefix(kind)?
        .strip_prefix('-')?
        .strip_suffix(kind_suffix(kind))?;
    let escaped = escape_filename(url);
    let hashed = url_hash(url);
    let rest = body
        .strip_prefix(escaped.as_str())
        .or_else(|| body.strip_prefix(hashed.as_str()))?;
    if rest.is_empty() {
        return Some(None);
    }
    let etag = rest.strip_prefix('.')?;
    if etag.contains('.') {
        return None;
    }
    unescape_filename(etag).map(Some)
}

fn kind_suffix(kind: &str) -> &'static str {
    if kind == "raw" {
        ".raw"
    } else {
        ""
    }
}

/// SipHash-2-4 of the URL with systemd's key, as `%PRIx64` (lowercase, no padding).
fn url_hash(url: &str) -> String {
    format!(
        "{:x}",
        SipHasher24::new_with_key(&URL_HASH_KEY).hash(url.as_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_round_trips() {
        let s = "http://h/a.b#c\"d'e\\f\u{1}ü";
        let e = escape_filename(s);
        assert_eq!(
            e,
            "http:\\x2f\\x2fh\\x2fa\\x2eb\\x23c\\x22d\\x27e\\x5cf\\x01\\xc3\\xbc"
        );
        assert_eq!(unescape_filename(&e).as_deref(), Some(s));
        assert_eq!(unescape_filename("bad\\q"), None);
    }

    #[test]
    fn long_urls_are_hashed() {
        let url = format!("https://example.com/{}.raw", "x".repeat(300));
        let name = cache_name("raw", &url, Some("\"e\""));
        assert!(name.starts_with(".raw-"), "{name}");
        assert!(name.ends_with(".\\x22e\\x22.raw"), "{name}");
        assert!(name.len() < 64, "{name}");
        assert_eq!(
            cache_entry_etag("raw", &url, &name),
            Some(Some("\"e\"".into()))
        );
        // Stable across runs and platforms.
        assert_eq!(name, cache_name("raw", &url, Some("\"e\"")));
    }

    #[test]
    fn entry_etags() {
        let url = "http://h/x.tar.gz";
        assert_eq!(
            cache_entry_etag("tar", url, &cache_name("tar", url, None)),
            Some(None)
        );
        assert_eq!(
            cache_entry_etag("tar", url, &cache_name("tar", url, Some("W/\"1.2\""))),
            Some(Some("W/\"1.2\"".into()))
        );
        assert_eq!(
            cache_entry_etag("raw", url, &cache_name("tar", url, None)),
            None
        );
        assert_eq!(
            cache_entry_etag("tar", "http://h/y", &cache_name("tar", url, None)),
            None
        );
    }
}
