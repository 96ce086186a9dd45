//! The line syntax of systemd's `config_parse()`: sections, comments, continuations, `KEY=VALUE`.

use crate::words::WHITESPACE;
use crate::{ParseError, Warning, MAX_INPUT};

/// The sections systemd-nspawn knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Exec,
    Files,
    Network,
}

/// One `KEY=VALUE` line in a known section (key and value trimmed).
#[derive(Debug)]
pub(crate) struct Assignment {
    /// Where the (possibly continued) line starts, 1-based.
    pub line: usize,
    pub section: Section,
    pub key: String,
    pub value: String,
}

fn whole_file(message: impl Into<String>, line: usize) -> ParseError {
    ParseError {
        line,
        key: String::new(),
        message: message.into(),
    }
}

/// Split the file into physical lines (`\n`, `\r\n` or `\r` end a line).
fn physical_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let s = rest?;
        match s.find(['\n', '\r']) {
            Some(i) => {
                let skip = if s[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = Some(&s[i + skip..]);
                Some(&s[..i])
            }
            None => {
                rest = None;
                (!s.is_empty()).then_some(s)
            }
        }
    })
}

fn is_comment(line: &str) -> bool {
    line.trim_start_matches(WHITESPACE).starts_with(['#', ';'])
}

/// Logical lines with their starting line numbers: comments dropped, continuations joined.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in physical_lines(text).enumerate() {
        let number = i + 1;
        if is_comment(line) {
            continue;
        }
        let trailing = line.len() - line.trim_end_matches('\\').len();
        let (start, mut joined) = match pending.take() {
            Some((start, mut s)) => {
                s.push_str(line);
                (start, s)
            }
            None => (number, line.to_string()),
        };
        if trailing % 2 == 1 {
            joined.pop();
            joined.push(' ');
            pending = Some((start, joined));
        } else {
            out.push((start, joined));
        }
    }
    if let Some(last) = pending {
        out.push(last);
    }
    out
}

/// Check the input and return its assignments in known sections, in order.
pub(crate) fn assignments(
    bytes: &[u8],
    warnings: &mut Vec<Warning>,
) -> Result<Vec<Assignment>, ParseError> {
    if bytes.len() > MAX_INPUT {
        return Err(whole_file(
            format!("file is larger than {MAX_INPUT} bytes"),
            0,
        ));
    }
    let line_of = |at: usize| 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count();
    let text = std::str::from_utf8(bytes)
        .map_err(|e| whole_file("not valid UTF-8", line_of(e.valid_up_to())))?;
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        return Err(whole_file("NUL byte", line_of(at)));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);

    let mut out = Vec::new();
    // None before the first section; Some(None) inside a section that is skipped.
    let mut section: Option<Option<Section>> = None;
    for (line, content) in logical_lines(text) {
        // systemd strips its WHITESPACE only: a vertical tab or no-break space is content
        let l = content.trim_matches(WHITESPACE);
        if l.is_empty() {
            continue;
        }
        if let Some(header) = l.strip_prefix('[') {
            let name = header
                .strip_suffix(']')
                .ok_or_else(|| whole_file(format!("invalid section header {l:?}"), line))?;
            let known = match name {
                "Exec" => Some(Section::Exec),
                "Files" => Some(Section::Files),
                "Network" => Some(Section::Network),
                _ => {
                    if !name.starts_with("X-") {
                        warnings.push(Warning {
                            line,
                            message: format!("unknown section [{name}], ignoring it"),
                        });
                    }
                    None
                }
            };
            section = Some(known);
            continue;
        }
        let Some(current) = section else {
            warnings.push(Warning {
                line,
                message: "assignment outside of any section, ignoring it".into(),
            });
            continue;
        };
        let Some((key, value)) = l.split_once('=') else {
            warnings.push(Warning {
                line,
                message: format!("missing '=' in {l:?}, ignoring the line"),
            });
            continue;
        };
        let key = key.trim_end_matches(WHITESPACE);
        if key.is_empty() {
            warnings.push(Warning {
                line,
                message: "missing key name before '=', ignoring the line".into(),
            });
            continue;
        }
        let Some(section) = current else { continue };
        if key.starts_with("X-") {
            continue;
        }
        out.push(Assignment {
            line,
            section,
            key: key.to_string(),
            value: value.trim_start_matches(WHITESPACE).to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<(usize, String)> {
        logical_lines(text)
    }

    #[test]
    fn continuation_and_comments() {
        // The systemd.syntax(7) example: comments inside a continuation are skipped.
        let text = "KeyThree=value 3\\\n# this line is ignored\n; this line is ignored too\n       value 3 continued\n";
        assert_eq!(
            lines(text),
            [(1, "KeyThree=value 3        value 3 continued".to_string())]
        );
        // An even number of trailing backslashes does not continue.
        assert_eq!(lines("a\\\\\nb").len(), 2);
        assert_eq!(lines("a\\\\\\\nb"), [(1, "a\\\\ b".to_string())]);
        // An empty line ends a continuation; a comment ending in a backslash never continues.
        assert_eq!(lines("a\\\n\nb"), [(1, "a ".into()), (3, "b".into())]);
        assert_eq!(lines("# c \\\nb"), [(2, "b".into())]);
        // A continuation at the end of the file.
        assert_eq!(lines("a\\"), [(1, "a ".into())]);
        // Line endings.
        assert_eq!(
            lines("a\r\nb\rc\n"),
            [(1, "a".into()), (2, "b".into()), (3, "c".into())]
        );
    }
}
