//! Name rules: `--format` values, export file suffixes and default image names.

use crate::Compression;

/// Compression suffixes, longest first so `.zstd` wins over nothing shorter by accident.
const COMPRESSION_SUFFIXES: [(&str, Compression); 5] = [
    (".zstd", Compression::Zstd),
    (".zst", Compression::Zstd),
    (".bz2", Compression::Bzip2),
    (".gz", Compression::Gzip),
    (".xz", Compression::Xz),
];

/// Tarball short forms: one suffix naming both the container and the compression.
const TAR_SHORTHANDS: [(&str, Compression); 5] = [
    (".tgz", Compression::Gzip),
    (".txz", Compression::Xz),
    (".tbz2", Compression::Bzip2),
    (".tbz", Compression::Bzip2),
    (".tzst", Compression::Zstd),
];

/// Container suffixes removed from a file name to make an image name (import.md §5.3).
const CONTAINER_SUFFIXES: [&str; 4] = [".tar", ".raw", ".qcow2", ".img"];

/// Parses a `--format` value: `uncompressed` (or `none`), `gzip`, `xz`, `bzip2` or `zstd`.
pub fn parse_format(s: &str) -> Result<Compression, String> {
    match s {
        "uncompressed" | "none" => Ok(Compression::None),
        "gzip" => Ok(Compression::Gzip),
        "xz" => Ok(Compression::Xz),
        "bzip2" => Ok(Compression::Bzip2),
        "zstd" => Ok(Compression::Zstd),
        _ => Err(format!(
            "unknown compression format {s:?}: expected one of uncompressed (or none), gzip, xz, \
             bzip2, zstd"
        )),
    }
}

/// The compression an export file name asks for, by its suffix (`.gz`/`.tgz`, `.xz`/`.txz`,
/// `.bz2`/`.tbz2`/`.tbz`, `.zst`/`.zstd`/`.tzst`); [`Compression::None`] otherwise.
///
/// Only for choosing how to *write* an export: imports are always decoded by [`crate::sniff`].
pub fn from_file_name(name: &str) -> Compression {
    COMPRESSION_SUFFIXES
        .iter()
        .chain(TAR_SHORTHANDS.iter())
        .find(|(suffix, _)| name.ends_with(suffix))
        .map_or(Compression::None, |&(_, c)| c)
}

/// The default image name for a downloaded or imported file name: drops one compression
/// suffix and then one of `.tar`, `.raw`, `.qcow2`, `.img` (`debian.tar.gz` → `debian`,
/// `fedora.raw.xz` → `fedora`, `x.tgz` → `x`). A name that would become empty is returned
/// unchanged.
pub fn strip_tar_suffix(name: &str) -> &str {
    let stripped = strip_suffixes(name);
    if stripped.is_empty() {
        name
    } else {
        stripped
    }
}

fn strip_suffixes(name: &str) -> &str {
    if let Some(base) = TAR_SHORTHANDS
        .iter()
        .find_map(|(suffix, _)| name.strip_suffix(suffix))
    {
        return base;
    }
    let name = COMPRESSION_SUFFIXES
        .iter()
        .find_map(|(suffix, _)| name.strip_suffix(suffix))
        .unwrap_or(name);
    CONTAINER_SUFFIXES
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(parse_format("none"), Ok(Compression::None));
        let err = parse_format("lz4").unwrap_err();
        assert!(err.contains("\"lz4\"") && err.contains("zstd"), "{err}");
        assert!(parse_format("GZIP").is_err());
    }

    #[test]
    fn file_names() {
        assert_eq!(from_file_name("a.tar.gz"), Compression::Gzip);
        assert_eq!(from_file_name("a.tgz"), Compression::Gzip);
        assert_eq!(from_file_name("a.txz"), Compression::Xz);
        assert_eq!(from_file_name("a.raw.zstd"), Compression::Zstd);
        assert_eq!(from_file_name("a.tzst"), Compression::Zstd);
        assert_eq!(from_file_name("a.tbz2"), Compression::Bzip2);
        assert_eq!(from_file_name("a.tar"), Compression::None);
        assert_eq!(from_file_name("gz"), Compression::None);
    }

    #[test]
    fn image_names() {
        for (input, want) in [
            ("debian.tar.gz", "debian"),
            ("debian.tar", "debian"),
            ("debian.tgz", "debian"),
            ("debian.tar.xz", "debian"),
            ("debian.tar.bz2", "debian"),
            ("debian.tar.zst", "debian"),
            ("fedora.raw", "fedora"),
            ("fedora.raw.xz", "fedora"),
            ("fedora.raw.zst", "fedora"),
            ("vm.qcow2", "vm"),
            ("vm.qcow2.gz", "vm"),
            ("disk.img", "disk"),
            ("disk.xz", "disk"),
            ("a.b.c", "a.b.c"),
            ("plain", "plain"),
            (".tar.gz", ".tar.gz"),
            ("x.tar.tar", "x.tar"),
        ] {
            assert_eq!(strip_tar_suffix(input), want, "{input}");
        }
    }
}
