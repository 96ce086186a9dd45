//! The error of [`crate::unpack()`].

use std::io;

/// Why extraction stopped. Every message is one line and names the tar entry concerned.
#[derive(thiserror::Error, Debug)]
pub enum UnpackError {
    /// The entry would leave the root or go through a symlink (or names the root itself as a
    /// non-directory, or hard-links a directory): the archive is hostile or broken.
    #[error("refusing tar entry {entry:?}: {reason}")]
    Unsafe { entry: String, reason: &'static str },
    /// The archive is malformed: bad checksum, truncated, impossible field values.
    #[error("corrupt tar archive: {0}")]
    Corrupt(String),
    /// The file data would exceed [`crate::UnpackOptions::size_max`] (the limit).
    #[error("tar archive holds more than the limit of {0} bytes of file data")]
    TooLarge(u64),
    /// [`crate::UnpackOptions::cancel`] was set.
    #[error("unpacking cancelled")]
    Cancelled,
    /// A read of the archive or a filesystem operation failed.
    #[error("{op} {entry:?}: {source}")]
    Io {
        op: &'static str,
        entry: String,
        source: io::Error,
    },
}

impl UnpackError {
    pub(crate) fn unsafe_entry(entry: &[u8], reason: &'static str) -> Self {
        UnpackError::Unsafe {
            entry: lossy(entry),
            reason,
        }
    }

    pub(crate) fn corrupt(entry: &[u8], what: impl std::fmt::Display) -> Self {
        // `what` may quote raw header bytes: keep the message on one line.
        let what = one_line(&what.to_string());
        if entry.is_empty() {
            UnpackError::Corrupt(what)
        } else {
            UnpackError::Corrupt(format!("entry {:?}: {what}", lossy(entry)))
        }
    }

    pub(crate) fn io(op: &'static str, entry: &[u8], err: impl Into<io::Error>) -> Self {
        UnpackError::Io {
            op,
            entry: lossy(entry),
            source: err.into(),
        }
    }
}

/// `s` with control characters escaped (`\n`, `\u{1b}` …).
fn one_line(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// An entry name for messages (`{:?}` then escapes control characters).
pub(crate) fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
