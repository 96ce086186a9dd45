//! Image name rules, as systemd's `image_name_is_valid()` states them.

use crate::error::{Error, Result};

/// Longest accepted name in bytes: a file name (255) minus room for `.raw`, `.nspawn` and the
/// staging suffix, so every derived file name still fits.
pub const MAX_NAME_LEN: usize = 200;

/// Suffixes that would make a name ambiguous with a raw image or an image's sidecar file.
pub const RESERVED_SUFFIXES: &[&str] = &[
    ".raw",
    ".nspawn",
    ".roothash",
    ".roothash.p7s",
    ".usrhash",
    ".usrhash.p7s",
    ".verity",
    ".oci-config",
    ".oci-origin",
];

/// Check that `name` can name an image. Returns a clear reason otherwise.
pub fn validate(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "name is empty"
    } else if name == "." || name == ".." {
        "\".\" and \"..\" are not names"
    } else if name.contains('/') {
        "name contains \"/\""
    } else if name.starts_with(".#") {
        "names starting with \".#\" are reserved for temporary files"
    } else if name.len() > MAX_NAME_LEN {
        "name is longer than 200 bytes"
    } else if name.chars().any(|c| c.is_control()) {
        "name contains control characters"
    } else if RESERVED_SUFFIXES.iter().any(|s| name.ends_with(s)) {
        "name ends in a reserved suffix (.raw or a sidecar suffix such as .nspawn)"
    } else {
        return Ok(());
    };
    Err(Error::InvalidName {
        name: name.to_string(),
        reason,
    })
}

/// Whether a directory entry name is a wharf/systemd temporary (staging or lock) entry.
pub fn is_temporary(file_name: &str) -> bool {
    file_name.starts_with(".#")
}

/// Whether the image is hidden (listed only with `--all`, always read-only).
pub fn is_hidden(name: &str) -> bool {
    name.starts_with('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for n in [
            "debian",
            "UPPER",
            "a.b",
            "1abc",
            "foo_1",
            "x-y",
            ".hidden",
            "ü",
            &"a".repeat(200),
        ] {
            assert!(validate(n).is_ok(), "{n} should be valid");
        }
    }

    #[test]
    fn refuses_bad_names_with_reason() {
        let cases = [
            ("", "empty"),
            (".", "not names"),
            ("..", "not names"),
            ("a/b", "\"/\""),
            (".#tmp", "reserved"),
            ("a\nb", "control"),
            ("a\x7fb", "control"),
            ("x.raw", "suffix"),
        ];
        for (n, why) in cases {
            let e = validate(n).unwrap_err().to_string();
            assert!(e.contains(why), "{n:?}: {e}");
            assert!(e.starts_with("invalid image name"), "{e}");
        }
        assert!(validate(&"a".repeat(201))
            .unwrap_err()
            .to_string()
            .contains("longer"));
    }

    #[test]
    fn temporary_and_hidden() {
        assert!(is_temporary(".#foo0123456789abcdef"));
        assert!(!is_temporary(".foo"));
        assert!(is_hidden(".foo"));
        assert!(!is_hidden("foo"));
    }
}
