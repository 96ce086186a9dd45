//! wharf-tar: tar images.
//!
//! - [`unpack()`]: streaming extraction of an (already decompressed) tar stream into an empty
//!   directory, confined beneath it: every path is resolved with `openat2(RESOLVE_BENEATH |
//!   RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)` and every node is created relative to its
//!   parent directory fd, so no entry can write outside the root or through a symlink. Keeps
//!   numeric owners, full modes, nanosecond mtimes, xattrs (file capabilities included), POSIX
//!   ACLs, hardlinks, device nodes, fifos and holes.
//! - [`apply_layer()`]: applies one OCI / Docker image layer onto a root that may hold the
//!   lower layers, with the same extractor and umoci's rules: whiteouts and opaque
//!   directories, replacing lower-layer nodes, parents resolved through symlinks confined to
//!   the root, hard links to lower-layer files.
//! - [`unpack::hoist_single_os_dir`]: systemd's OS-tree rule for tarballs that wrap the tree in
//!   one top directory.
//! - [`pack`]: deterministic tar writer for export (numeric owners, PAX xattrs, ns mtimes).
//! - [`import`], [`export`]: the import-tar / export-tar verbs on a store (staging, sniffed
//!   decompression on its own thread, compression with the encoder's threads).

pub mod export;
pub mod import;
mod layer;
pub mod pack;
pub mod unpack;

pub use layer::{apply_layer, LayerStats};
pub use unpack::{hoist_single_os_dir, unpack, UnpackError, UnpackOptions, UnpackStats};
