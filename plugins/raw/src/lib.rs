//! wharf-raw: raw disk images.
//!
//! - [`import`]: import-raw — compression sniffed, qcow2 expanded by the hardened reader of
//!   `wharf-qcow2`, plain raw files reflinked, everything written sparse.
//! - [`export`]: export-raw — a raw image as a (compressed) stream.
//! - [`convert`]: qcow2 ↔ raw conversion of files outside the store.
//! - [`sparse`]: zero blocks become holes.

pub mod convert;
pub mod export;
pub mod import;
pub mod sparse;
