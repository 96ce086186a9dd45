//! Checksum lists: `SHA256SUMS` (one per directory) and `<file>.sha256` (one per file).
//!
//! Accepted lines, at line start: `<hex> *<name>` (binary mode), `<hex>  <name>` (text mode),
//! `<hex> <name>`, sha256sum's escaped form `\<hex>  <name with \\ and \n>`, and the BSD form
//! `SHA256 (<name>) = <hex>`. A `.sha256` file may also hold a bare `<hex>`, which then applies
//! to its file. Anything else (blank lines, comments, PGP armor lines) is ignored.

use url::Url;

/// Where a checksum list came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SumsStyle {
    /// `<image>.sha256` next to the image.
    PerFile,
    /// `SHA256SUMS` in the image's directory.
    PerDirectory,
}

/// A parsed checksum list.
#[derive(Debug, Clone)]
pub struct Sums {
    /// Where it was fetched from.
    pub url: Url,
    /// Per file or per directory.
    pub style: SumsStyle,
    /// Whether its OpenPGP signature was verified.
    pub signed: bool,
    entries: Vec<(String, [u8; 32])>,
}

impl Sums {
    /// Parses the list fetched from `url`.
    pub fn parse(url: Url, style: SumsStyle, text: &[u8]) -> Sums {
        let text = String::from_utf8_lossy(text);
        let entries = text.lines().filter_map(parse_line).collect();
        Sums {
            url,
            style,
            signed: false,
            entries,
        }
    }

    /// The expected SHA-256 of `name` (a bare file name). A per-file list with a single bare
    /// checksum answers for any name.
    pub fn get(&self, name: &str) -> Option<[u8; 32]> {
        let wanted = name.trim_start_matches("./");
        if let Some((_, h)) = self
            .entries
            .iter()
            .find(|(n, _)| n.trim_start_matches("./") == wanted)
        {
            return Some(*h);
        }
        match (self.style, self.entries.as_slice()) {
            (SumsStyle::PerFile, [(n, h)]) if n.is_empty() => Some(*h),
            _ => None,
        }
    }

    /// All `(name, sha256)` entries in file order (a bare `.sha256` checksum has an empty name).
    pub fn entries(&self) -> impl Iterator<Item = (&str, &[u8; 32])> {
        self.entries.iter().map(|(n, h)| (n.as_str(), h))
    }

    /// The list's file name for messages: `SHA256SUMS` or `foo.raw.sha256`.
    pub fn file_name(&self) -> String {
        crate::names::decoded_last_component(&self.url).unwrap_or_else(|| self.url.to_string())
    }
}

fn parse_line(line: &str) -> Option<(String, [u8; 32])> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if let Some(rest) = line.strip_prefix("SHA256 (") {
        let (name, hex) = rest.rsplit_once(") = ")?;
        return Some((name.to_string(), parse_hex_sha256(hex.trim())?));
    }
    let (escaped, line) = match line.strip_prefix('\\') {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    let hex = line.get(..64)?;
    let hash = parse_hex_sha256(hex)?;
    let rest = &line[64..];
    if rest.trim().is_empty() {
        return Some((String::new(), hash));
    }
    let name = rest
        .strip_prefix(" *")
        .or_else(|| rest.strip_prefix("  "))
        .or_else(|| rest.strip_prefix(' '))?;
    if name.is_empty() {
        return None;
    }
    let name = if escaped {
        unescape_sha256sum(name)
    } else {
        name.to_string()
    };
    Some((name, hash))
}

/// sha256sum escapes `\` as `\\` and newline as `\n` in names (and marks such lines with `\`).
fn unescape_sha256sum(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// 64 hex digits (either case) to bytes.
pub(crate) fn parse_hex_sha256(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// Lowercase hex of a digest (for messages and records).
pub fn hex_digest(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "a665a45920422f9d417e4867efdc4fb8a04a1f3fff1fa07e998e86f7f7a27ae3";
    const B: &str = "B3A8E0E1F9AB1BFE3A36F231F676F78BB30A519D2B21E6C530C0EEE8EBB4A5D0";

    fn sums(style: SumsStyle, text: &str) -> Sums {
        Sums::parse(
            Url::parse("http://h/SHA256SUMS").unwrap(),
            style,
            text.as_bytes(),
        )
    }

    #[test]
    fn line_forms() {
        let s = sums(
            SumsStyle::PerDirectory,
            &format!(
                "# comment\n{A} *bin.raw\n{B}  text.tar\r\n{A} one.raw\n\\{A}  we\\\\ird\\nname\nSHA256 (bsd.img) = {A}\n{A}\n{A}x bad\n"
            ),
        );
        let a = parse_hex_sha256(A).unwrap();
        let b = parse_hex_sha256(B).unwrap();
        assert_eq!(s.get("bin.raw"), Some(a));
        assert_eq!(s.get("text.tar"), Some(b));
        assert_eq!(s.get("one.raw"), Some(a));
        assert_eq!(s.get("we\\ird\nname"), Some(a));
        assert_eq!(s.get("bsd.img"), Some(a));
        assert_eq!(s.get("missing"), None);
        assert_eq!(s.entries().count(), 6);
    }

    #[test]
    fn bare_per_file_checksum() {
        let s = sums(SumsStyle::PerFile, &format!("{A}\n"));
        assert!(s.get("anything.raw").is_some());
        let s = sums(SumsStyle::PerDirectory, &format!("{A}\n"));
        assert!(s.get("anything.raw").is_none());
    }

    #[test]
    fn verify_parses() {
        assert_eq!("no".parse::<crate::Verify>(), Ok(crate::Verify::No));
        assert!(matches!(
            A.parse::<crate::Verify>(),
            Ok(crate::Verify::Sha256(_))
        ));
        assert!("yes".parse::<crate::Verify>().is_err());
        assert_eq!(hex_digest(&parse_hex_sha256(A).unwrap()), A);
    }
}
