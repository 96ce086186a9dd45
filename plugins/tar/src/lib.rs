//! wharf-tar: tar images.
//!
//! - [`unpack()`]: streaming extraction of an (already decompressed) tar stream into an empty
//!   directory, confined beneath it: every path is resolved with `openat2(RESOLVE_BENEATH |
//!   RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)` and every node is created relative to its
//!   parent directory fd, so no entry can write outside the root or through a symlink. Keeps
//!   numeric owners, full modes, nanosecond mtimes, xattrs (file capabilities included), POSIX
//!   ACLs, hardlinks, device nodes, fifos and holes.
//! - [`unpack::hoist_single_os_dir`]: systemd's OS-tree rule for tarballs that wrap the tree in
//!   one top directory.
//! - [`pack`]: deterministic tar writer for export (numeric owners, PAX xattrs, ns mtimes).
//! - [`import`], [`export`]: the import-tar / export-tar verbs on a store (staging, sniffed
//!   decompression on its own thread, compression with the encoder's threads).

pub mod export;
pub mod import;
pub mod pack;
pub mod unpack;

pub use unpack::{hoist_single_os_dir, unpack, UnpackError, UnpackOptions, UnpackStats};
