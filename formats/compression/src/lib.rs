//! wharf-compression: which compression a stream uses, and streaming codecs for it.
//!
//! - [`sniff`] detects gzip, xz, bzip2 and zstd by their magic bytes (systemd's rule: the file
//!   name never decides how an import is decoded); [`peek`] reads those first bytes without
//!   losing them.
//! - [`decoder`] wraps a reader: every gzip member, xz stream, bzip2 stream or zstd frame is
//!   decoded in turn; zero padding between them is skipped and bytes after the last one that do
//!   not start another are ignored, like `gzip -d` does with trailing garbage. A truncated or
//!   corrupt member is an error, never a short success.
//! - [`encoder`] wraps a writer with systemd's export settings; [`FinishWrite::finish`] writes
//!   the trailer.
//! - [`parse_format`], [`from_file_name`] and [`strip_tar_suffix`] are the name rules of
//!   `--format`, export file names and default image names.

mod decode;
mod encode;
mod names;
mod peek;

pub use decode::decoder;
pub use encode::{encoder, FinishWrite};
pub use names::{from_file_name, parse_format, strip_tar_suffix};
pub use peek::{peek, Sniffed};

/// A compression format of an image or tarball.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
    Gzip,
    Xz,
    Bzip2,
    Zstd,
}

impl Compression {
    /// The name used by `--format` and in messages.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "uncompressed",
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Bzip2 => "bzip2",
            Compression::Zstd => "zstd",
        }
    }

    /// The file name suffix of this format (`""` when uncompressed).
    pub fn suffix(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip => ".gz",
            Compression::Xz => ".xz",
            Compression::Bzip2 => ".bz2",
            Compression::Zstd => ".zst",
        }
    }

    /// The magic bytes that start a stream of this format (empty for `None`).
    pub fn magic(self) -> &'static [u8] {
        match self {
            Compression::None => &[],
            Compression::Gzip => &GZIP_MAGIC,
            Compression::Xz => &XZ_MAGIC,
            Compression::Bzip2 => &BZIP2_MAGIC,
            Compression::Zstd => &ZSTD_MAGIC,
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

const XZ_MAGIC: [u8; 6] = [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00];
const GZIP_MAGIC: [u8; 2] = [0x1F, 0x8B];
const BZIP2_MAGIC: [u8; 3] = *b"BZh";
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// How many leading bytes [`sniff`] needs to decide (the longest magic, xz's).
pub const SNIFF_LEN: usize = XZ_MAGIC.len();

/// The compression of a stream starting with `head`, by magic bytes. A head shorter than
/// [`SNIFF_LEN`] can still match a shorter magic (gzip's 2 bytes, bzip2's 3, zstd's 4) when it
/// holds all of it; anything else is [`Compression::None`].
pub fn sniff(head: &[u8]) -> Compression {
    [
        Compression::Xz,
        Compression::Zstd,
        Compression::Bzip2,
        Compression::Gzip,
    ]
    .into_iter()
    .find(|c| head.starts_with(c.magic()))
    .unwrap_or(Compression::None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniff_magics() {
        assert_eq!(
            sniff(&[0xFD, b'7', b'z', b'X', b'Z', 0, 1]),
            Compression::Xz
        );
        assert_eq!(sniff(&[0xFD, b'7', b'z', b'X', b'Z']), Compression::None);
        assert_eq!(sniff(&[0x1F, 0x8B]), Compression::Gzip);
        assert_eq!(sniff(&[0x1F]), Compression::None);
        assert_eq!(sniff(b"BZh91AY"), Compression::Bzip2);
        assert_eq!(sniff(b"BZ"), Compression::None);
        assert_eq!(sniff(&[0x28, 0xB5, 0x2F, 0xFD, 0x04]), Compression::Zstd);
        assert_eq!(sniff(b""), Compression::None);
        assert_eq!(sniff(b"ustar\0"), Compression::None);
        assert_eq!(sniff(b"QFI\xfb\0\0\0\x03"), Compression::None);
    }

    #[test]
    fn names_and_suffixes() {
        for c in [
            Compression::None,
            Compression::Gzip,
            Compression::Xz,
            Compression::Bzip2,
            Compression::Zstd,
        ] {
            assert_eq!(parse_format(c.name()), Ok(c));
            assert_eq!(from_file_name(&format!("x.tar{}", c.suffix())), c);
            assert_eq!(c.to_string(), c.name());
        }
    }
}
