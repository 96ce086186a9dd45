//! Seams for importers and exporters. Concrete formats (tar, raw, qcow2, OCI, …) live in
//! `plugins/` and are registered by the binary; the core only dispatches.

use std::io::{Read, Write};
use std::path::Path;

use crate::error::Result;
use crate::image::{Image, ImageType};
use crate::progress::Progress;

/// How many leading bytes the registry shows importers to decide whether a stream is theirs.
pub const SNIFF_LEN: usize = 512;

/// Turns a byte stream into an image tree or raw file.
pub trait Importer: Send + Sync {
    /// Short name ("tar", "raw", …).
    fn name(&self) -> &'static str;
    /// The kind of image this importer produces.
    fn produces(&self) -> ImageType;
    /// Whether a stream beginning with `head` (up to [`SNIFF_LEN`] bytes, after decompression) is
    /// this importer's format.
    fn sniff(&self, head: &[u8]) -> bool;
    /// Write the image for `input` at `target`, a staging path that does not exist yet. The
    /// store installs it atomically afterwards.
    fn import(&self, input: &mut dyn Read, target: &Path, progress: &dyn Progress) -> Result<()>;
}

/// Turns a stored image into a byte stream.
pub trait Exporter: Send + Sync {
    /// Short name ("tar", "raw", …).
    fn name(&self) -> &'static str;
    /// Whether this exporter can write `image`.
    fn accepts(&self, image: &Image) -> bool;
    /// Write `image` to `out`.
    fn export(&self, image: &Image, out: &mut dyn Write, progress: &dyn Progress) -> Result<()>;
}
