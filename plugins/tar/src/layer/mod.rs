//! Applying OCI / Docker image layers onto a root filesystem, with the extractor of
//! [`crate::unpack()`] and umoci's rules (OCI image-spec `layer.md`):
//!
//! - `DIR/.wh.NAME` removes NAME (recursively) as the lower layers left it; whatever this layer
//!   itself wrote there stays (the layer's written paths and their ancestors are tracked). A
//!   whiteout of a missing path is ignored; `.wh.` alone, `.wh..` and `.wh...` are refused.
//! - `DIR/.wh..wh..opq` removes every child of DIR this layer did not write, so it acts as if
//!   it came before the layer's own entries wherever it is in the stream.
//! - An entry over an existing node: a directory over a directory keeps it (its metadata and
//!   xattrs become the entry's, at the end); anything else replaces the node (a directory
//!   with all it holds).
//! - Parent directories are resolved through symlinks (lower layers have `bin → usr/bin`),
//!   confined to the root like umoci's SecureJoin; the final component is never followed.
//!   Missing parents are created (mode 0755). Hard link targets resolve the same way; a link
//!   to a target that does not exist yet waits for the end of the layer.
//! - Directories the layer changes but does not list keep their times.

mod apply;

pub(crate) use apply::{touch, wrote};
mod upper;

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use rustix::fs::Timestamps;

use crate::unpack::{extract, UnpackError, UnpackOptions};
use upper::Upper;

/// What [`apply_layer`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LayerStats {
    /// Filesystem entries created or updated (files, directories, links, nodes).
    pub entries: u64,
    /// Bytes of regular file data read from the layer.
    pub bytes: u64,
    /// `.wh.NAME` entries (also those naming a missing path).
    pub whiteouts: u64,
    /// `.wh..wh..opq` entries.
    pub opaque_dirs: u64,
}

/// Applies one image layer (an already decompressed tar stream) onto `root`, which may already
/// hold the lower layers (or be empty for the first). Same options and confinement as
/// [`crate::unpack()`] except that symlinks in parent paths are followed inside `root` (see the
/// module documentation for the whiteout and replacement rules). On error, `root` holds a
/// partially applied layer.
pub fn apply_layer(
    input: &mut dyn Read,
    root: &Path,
    opts: &UnpackOptions<'_>,
) -> Result<LayerStats, UnpackError> {
    let (stats, layer) = extract(input, root, opts, Some(LayerState::default()))?;
    let layer = layer.unwrap_or_default();
    Ok(LayerStats {
        entries: stats.entries,
        bytes: stats.bytes,
        whiteouts: layer.whiteouts,
        opaque_dirs: layer.opaque_dirs,
    })
}

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE: &[u8] = b".wh..wh..opq";

/// Whether the last component of the normalized `path` is a whiteout (`.wh.` prefix).
pub(crate) fn is_whiteout(path: &[u8]) -> bool {
    let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
    name.starts_with(WHITEOUT_PREFIX)
}

/// The times of a directory before the layer first changed its entries.
struct Saved {
    ino: u64,
    times: Timestamps,
}

/// A hard link whose target did not exist when its entry came.
struct Deferred {
    /// The entry name as stored, for messages.
    shown: Vec<u8>,
    norm: Vec<u8>,
    target: Vec<u8>,
    /// The layer had already written `norm` when the link entry came.
    written_before: bool,
}

/// The state of one layer's application, carried by the extractor.
#[derive(Default)]
pub(crate) struct LayerState {
    upper: Upper,
    /// Resolved directory path → its times before this layer changed its entries.
    touched: HashMap<Vec<u8>, Saved>,
    deferred: Vec<Deferred>,
    whiteouts: u64,
    opaque_dirs: u64,
}
