//! A pure parser for `os-release(5)` (and other environment-like `KEY=value` files such as
//! `/etc/machine-info`). No I/O: it takes bytes and returns pairs.
//!
//! Rules (as the os-release specification states them): one assignment per line, `#` starts a
//! comment line, values may be unquoted or enclosed in single or double quotes, and inside double
//! quotes the backslash escapes `"`, `\`, `$` and `` ` ``. Lines that do not parse are skipped,
//! never fatal, because the file comes from an untrusted image. Keys must match `[A-Za-z0-9_]+`.

/// Upper bound on the input considered; os-release files are a few hundred bytes.
pub const MAX_INPUT: usize = 64 * 1024;

/// Parse os-release bytes into `(key, value)` pairs in file order. Later duplicates are kept; use
/// [`get`] for "last assignment wins" lookup. Invalid UTF-8 is replaced, lines over the input
/// limit are ignored.
pub fn parse(input: &[u8]) -> Vec<(String, String)> {
    let input = &input[..input.len().min(MAX_INPUT)];
    let text = String::from_utf8_lossy(input);
    text.lines().filter_map(parse_line).collect()
}

/// The value of `key`, last assignment wins.
pub fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The name a person would call this OS: `PRETTY_NAME`, else `NAME` + `VERSION`, else `NAME`.
pub fn pretty_name(pairs: &[(String, String)]) -> Option<String> {
    if let Some(p) = get(pairs, "PRETTY_NAME").filter(|s| !s.is_empty()) {
        return Some(p.to_string());
    }
    let name = get(pairs, "NAME").filter(|s| !s.is_empty())?;
    match get(pairs, "VERSION").filter(|s| !s.is_empty()) {
        Some(v) => Some(format!("{name} {v}")),
        None => Some(name.to_string()),
    }
}

fn parse_line(line: &str) -> Option<(String, String)> {
    let line = line.trim_start();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (key, raw) = line.split_once('=')?;
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return None;
    }
    Some((key.to_string(), unquote(raw.trim_end())?))
}

fn unquote(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => match chars.next()? {
                        e @ ('"' | '\\' | '$' | '`') => out.push(e),
                        '\n' => {}
                        other => {
                            out.push('\\');
                            out.push(other);
                        }
                    },
                    other => out.push(other),
                }
            },
            '\'' => loop {
                match chars.next()? {
                    '\'' => break,
                    other => out.push(other),
                }
            },
            '\\' => out.push(chars.next()?),
            c if c.is_whitespace() => return Some(out),
            other => out.push(other),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_12_file() {
        let f = b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
VERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nID=debian\nHOME_URL=\"https://www.debian.org/\"\n";
        let p = parse(f);
        assert_eq!(get(&p, "ID"), Some("debian"));
        assert_eq!(get(&p, "VERSION_ID"), Some("12"));
        assert_eq!(
            pretty_name(&p).as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
    }

    #[test]
    fn quoting_and_escapes() {
        let p = parse(b"A='single $x'\nB=\"dq \\\"in\\\" \\$HOME \\\\\"\nC=plain\\ word\n");
        assert_eq!(get(&p, "A"), Some("single $x"));
        assert_eq!(get(&p, "B"), Some("dq \"in\" $HOME \\"));
        assert_eq!(get(&p, "C"), Some("plain word"));
    }

    #[test]
    fn comments_blank_and_garbage_lines_are_skipped() {
        let p = parse(b"# comment\n\n  \nno equals\nBAD-KEY=x\n=x\nOK=1\nUNTERMINATED=\"abc\n");
        assert_eq!(p, vec![("OK".to_string(), "1".to_string())]);
    }

    #[test]
    fn last_assignment_wins_and_fallback_name() {
        let p = parse(b"NAME=Foo\nNAME=Bar\nVERSION=2\n");
        assert_eq!(get(&p, "NAME"), Some("Bar"));
        assert_eq!(pretty_name(&p).as_deref(), Some("Bar 2"));
        assert_eq!(pretty_name(&[]), None);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut seed = 0x1234_5678_u32;
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    let alphabet = b"AB=\"'\\\n# \xff$";
                    alphabet[seed as usize % alphabet.len()]
                })
                .collect();
            let _ = parse(&bytes);
        }
    }
}
