//! Word splitting and quoting as systemd's config parser does it.
//!
//! List keys such as `Parameters=` and `Environment=` go through systemd's `config_parse_strv()`,
//! which calls `extract_first_word(…, EXTRACT_UNQUOTE | EXTRACT_RETAIN_ESCAPE)`: words are
//! separated by whitespace (space, tab, CR, LF), `"…"` and `'…'` group characters (quotes may
//! start mid-word: `a"b c"d` is the one word `ab cd`), and a backslash is an ordinary character
//! (checked on systemd 252: `Parameters=a\ b` gives the two words `a\` and `b`). An unbalanced
//! quote is an error.
//!
//! Colon-separated values (`Bind=`, `TemporaryFileSystem=`, `Overlay=`) are split with
//! `extract_first_word(…, ":", EXTRACT_DONT_COALESCE_SEPARATORS)`: there a backslash escapes the
//! next character, so `\:` embeds a colon and `\\` a backslash.

/// systemd's `WHITESPACE`: what `strstrip()` and word splitting treat as blank.
pub(crate) const WHITESPACE: &[char] = &[' ', '\t', '\n', '\r'];

/// Split a value into words like systemd's `config_parse_strv()` (see the module docs).
pub fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| WHITESPACE.contains(c)) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(words);
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        loop {
            match (chars.next(), quote) {
                (None, Some(q)) => return Err(format!("unbalanced {q} quote")),
                (None, None) => break,
                (Some(c), Some(q)) if c == q => quote = None,
                (Some(c), Some(_)) => word.push(c),
                (Some(c @ ('"' | '\'')), None) => quote = Some(c),
                (Some(c), None) if WHITESPACE.contains(&c) => break,
                (Some(c), None) => word.push(c),
            }
        }
        words.push(word);
    }
}

/// Quote one word so that [`split_words`] (and systemd) gives it back unchanged.
///
/// Plain words are returned as they are; anything with whitespace or quotes, an empty word and
/// a word ending in a backslash (which would continue the line) is quoted: runs without `"`
/// inside `"…"`, each `"` inside `'…'`. Line breaks cannot be stored in a settings file at all;
/// a word containing one comes back from [`split_words`] unchanged but breaks a file line.
pub fn quote_word(s: &str) -> String {
    let plain = !s.is_empty()
        && !s.ends_with('\\')
        && !s.contains(|c: char| WHITESPACE.contains(&c) || c == '"' || c == '\'');
    if plain {
        return s.to_string();
    }
    if s.is_empty() {
        return "\"\"".to_string();
    }
    let mut out = String::with_capacity(s.len() + 4);
    for (i, part) in s.split('"').enumerate() {
        if i > 0 {
            out.push_str("'\"'");
        }
        if !part.is_empty() {
            out.push('"');
            out.push_str(part);
            out.push('"');
        }
    }
    out
}

/// systemd's `parse_boolean()`: `1 yes y true t on` / `0 no n false f off`, case-insensitive.
pub fn parse_boolean(s: &str) -> Option<bool> {
    const YES: [&str; 6] = ["1", "yes", "y", "true", "t", "on"];
    const NO: [&str; 6] = ["0", "no", "n", "false", "f", "off"];
    if YES.iter().any(|w| w.eq_ignore_ascii_case(s)) {
        Some(true)
    } else if NO.iter().any(|w| w.eq_ignore_ascii_case(s)) {
        Some(false)
    } else {
        None
    }
}

/// Split on `:` with backslash escapes, keeping empty fields; at most `max` fields, the last
/// one taking the unsplit rest (escapes in the rest are kept as written).
pub(crate) fn split_colons(s: &str, max: usize) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        if fields.len() + 1 == max {
            fields.push(s[i..].to_string());
            return Ok(fields);
        }
        match c {
            '\\' => match chars.next() {
                Some((_, e)) => cur.push(e),
                None => return Err("trailing backslash".into()),
            },
            ':' => fields.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    fields.push(cur);
    Ok(fields)
}

/// Escape a field for [`split_colons`]: `:` and `\` get a backslash, and so does whitespace so
/// that a field at the start or end of the value survives the trimming around `=`.
pub(crate) fn escape_colons(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == ':' || c == '\\' || c == ' ' || c == '\t' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_systemd_252() {
        // Observed with systemd-nspawn 252 (Parameters=/usr/bin/printf '<%s>\n' …).
        let cases: &[(&str, &[&str])] = &[
            (r#"a\ b "c d""#, &["a\\", "b", "c d"]),
            (r#"'e"f' x\y"#, &["e\"f", "x\\y"]),
            (r#"a"b c"d"#, &["ab cd"]),
            (r#""a\\b" 'a\'"#, &["a\\\\b", "a\\"]),
            (r#""" x"#, &["", "x"]),
            ("  x \t y  ", &["x", "y"]),
            ("", &[]),
            ("   ", &[]),
        ];
        for (input, want) in cases {
            assert_eq!(split_words(input).unwrap(), *want, "{input:?}");
        }
        for bad in [r#""g\"h""#, "'open", "x\"y"] {
            assert!(split_words(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn booleans() {
        for s in ["1", "yes", "Y", "TRUE", "t", "On"] {
            assert_eq!(parse_boolean(s), Some(true), "{s}");
        }
        for s in ["0", "NO", "n", "false", "F", "off"] {
            assert_eq!(parse_boolean(s), Some(false), "{s}");
        }
        for s in ["", "2", "yess", "enable", " yes"] {
            assert_eq!(parse_boolean(s), None, "{s}");
        }
    }

    #[test]
    fn colon_fields() {
        assert_eq!(
            split_colons("/a:/b:rbind", 3).unwrap(),
            ["/a", "/b", "rbind"]
        );
        assert_eq!(split_colons(r"/a\:x:/b", 3).unwrap(), ["/a:x", "/b"]);
        assert_eq!(split_colons("/a::o:p", 3).unwrap(), ["/a", "", "o:p"]);
        assert_eq!(split_colons("/a", 3).unwrap(), ["/a"]);
        assert!(split_colons(r"/a\", 3).is_err());
        for s in ["/a b:c", "x\\y", " lead", "trail "] {
            assert_eq!(split_colons(&escape_colons(s), 2).unwrap(), [s]);
        }
    }
}
