//! Names derived from an image URL: the default local name, sidecar URLs and the URLs of the
//! checksum list and its signature, following systemd's rules (import.md §5.3, §8.3).

use url::Url;

/// Compression suffixes stripped first (one of them), then one container suffix.
const COMPRESSION_SUFFIXES: &[&str] = &[".gz", ".xz", ".bz2", ".zst"];
const CONTAINER_SUFFIXES: &[&str] = &[".tar", ".raw", ".qcow2", ".img"];

/// `name` without one compression suffix (`.gz`, `.xz`, `.bz2`, `.zst`) and then one container
/// suffix (`.tar`, `.raw`, `.qcow2`, `.img`): `foo.tar.zst` → `foo`, `foo.raw` → `foo`,
/// `foo.nspawn` → `foo.nspawn`. A name that would become empty is returned unchanged.
pub fn strip_image_suffix(name: &str) -> &str {
    let mut stem = name;
    if let Some(s) = COMPRESSION_SUFFIXES
        .iter()
        .find_map(|suffix| stem.strip_suffix(suffix))
    {
        stem = s;
    }
    if let Some(s) = CONTAINER_SUFFIXES
        .iter()
        .find_map(|suffix| stem.strip_suffix(suffix))
    {
        stem = s;
    }
    if stem.is_empty() {
        name
    } else {
        stem
    }
}

/// The default image name for `url`: its last path component, percent-decoded, minus the image
/// suffixes ([`strip_image_suffix`]). `None` when the URL has no usable last component (ends in
/// `/`, decodes to something with `/` or NUL, `.`, `..`).
pub fn default_name(url: &str) -> Option<String> {
    let last = match Url::parse(url) {
        Ok(parsed) => decoded_last_component(&parsed)?,
        // A plain path or something url cannot parse: take the text after the last '/'.
        Err(_) => {
            let path = url.split(['?', '#']).next().unwrap_or(url);
            path.rsplit('/').next()?.to_string()
        }
    };
    let name = strip_image_suffix(&last);
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return None;
    }
    Some(name.to_string())
}

/// The URL of the sidecar with `suffix` (`.nspawn`, `.roothash`, …) next to the image: the last
/// component loses its image suffixes and gains `suffix`; query and fragment are dropped.
/// `https://h/d/foo.raw.xz` + `.roothash` → `https://h/d/foo.roothash`.
pub fn sidecar_url(image_url: &str, suffix: &str) -> String {
    match Url::parse(image_url) {
        Ok(url) => {
            let last = raw_last_component(&url);
            let name = format!("{}{}", strip_image_suffix(last), suffix);
            with_last_component(&url, &name).to_string()
        }
        Err(_) => {
            let base = image_url.split(['?', '#']).next().unwrap_or(image_url);
            let (dir, last) = match base.rfind('/') {
                Some(i) => base.split_at(i + 1),
                None => ("", base),
            };
            format!("{dir}{}{suffix}", strip_image_suffix(last))
        }
    }
}

/// The last path component as it appears in the URL (percent-encoded).
pub(crate) fn raw_last_component(url: &Url) -> &str {
    url.path().rsplit('/').next().unwrap_or("")
}

/// The last path component, percent-decoded; `None` if empty or not UTF-8.
pub(crate) fn decoded_last_component(url: &Url) -> Option<String> {
    let raw = raw_last_component(url);
    if raw.is_empty() {
        return None;
    }
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// `url` with its last path component replaced by `name` (given percent-encoded or plain; `%`
/// is kept as is), without query and fragment.
pub(crate) fn with_last_component(url: &Url, name: &str) -> Url {
    let mut out = url.clone();
    let path = url.path();
    let dir = match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "/",
    };
    out.set_path(&format!("{dir}{name}"));
    out.set_query(None);
    out.set_fragment(None);
    out
}

/// `url` with `suffix` appended to its path (`foo.raw` → `foo.raw.sha256`), without query and
/// fragment.
pub(crate) fn with_suffix(url: &Url, suffix: &str) -> Url {
    let last = raw_last_component(url);
    with_last_component(url, &format!("{last}{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_suffixes() {
        assert_eq!(strip_image_suffix("foo.tar.zst"), "foo");
        assert_eq!(strip_image_suffix("foo.tar.gz"), "foo");
        assert_eq!(strip_image_suffix("foo.raw.xz"), "foo");
        assert_eq!(strip_image_suffix("foo.qcow2"), "foo");
        assert_eq!(strip_image_suffix("foo.img.bz2"), "foo");
        assert_eq!(strip_image_suffix("foo.xz"), "foo");
        assert_eq!(strip_image_suffix("foo.nspawn"), "foo.nspawn");
        assert_eq!(strip_image_suffix("a.b.tar"), "a.b");
        assert_eq!(strip_image_suffix(".raw"), ".raw");
    }

    #[test]
    fn default_names() {
        assert_eq!(
            default_name("https://h/d/fedora-40.raw.xz").as_deref(),
            Some("fedora-40")
        );
        assert_eq!(default_name("http://h/t.tar.zst?x=1").as_deref(), Some("t"));
        assert_eq!(default_name("http://h/a%20b.tar").as_deref(), Some("a b"));
        assert_eq!(default_name("http://h/dir/"), None);
        assert_eq!(default_name("http://h/a%2Fb.raw"), None);
        assert_eq!(default_name("file:///srv/x.img").as_deref(), Some("x"));
    }

    #[test]
    fn sidecars() {
        assert_eq!(
            sidecar_url("https://h/d/foo.raw.xz", ".roothash"),
            "https://h/d/foo.roothash"
        );
        assert_eq!(
            sidecar_url("http://h/t.tar.zst?sig=1", ".nspawn"),
            "http://h/t.nspawn"
        );
        assert_eq!(
            sidecar_url("file:///srv/img/x.raw", ".verity"),
            "file:///srv/img/x.verity"
        );
    }

    #[test]
    fn neighbours() {
        let url = Url::parse("http://h/d/foo%20x.raw?q").unwrap();
        assert_eq!(
            with_suffix(&url, ".sha256").as_str(),
            "http://h/d/foo%20x.raw.sha256"
        );
        assert_eq!(
            with_last_component(&url, "SHA256SUMS").as_str(),
            "http://h/d/SHA256SUMS"
        );
        assert_eq!(decoded_last_component(&url).as_deref(), Some("foo x.raw"));
    }
}
