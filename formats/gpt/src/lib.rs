//! A read-only, strictly validating GPT parser and the Discoverable Partitions Specification
//! (DPS) rules systemd applies to disk images.
//!
//! Disk images are untrusted input, so [`read_table`] checks everything a consumer relies on
//! (both CRCs, header placement, entry array geometry, partition bounds and overlaps), bounds
//! its memory use, falls back to the backup table when the primary is damaged, and never
//! panics. It reads through [`std::io::Read`] + [`std::io::Seek`] and performs no other I/O.
//!
//! On top of the table, [`classify`] and [`type_name`] identify DPS partition types and
//! [`choose_root`] picks the root partition the way `systemd-dissect` does, ordering
//! versioned labels with [`version_compare`].
//!
//! ```
//! use std::io::Cursor;
//! let err = wharf_gpt::read_table(Cursor::new(vec![0u8; 1 << 20])).unwrap_err();
//! assert!(matches!(err, wharf_gpt::Error::NoGpt));
//! ```

mod crc32;
mod dps;
mod error;
mod guid;
mod header;
mod partition;
mod select;
mod table;
mod version;

pub use dps::{classify, host_arch, type_guid, type_name, Arch, Designator, LINUX_GENERIC};
pub use error::Error;
pub use guid::{Guid, ParseGuidError};
pub use partition::{
    Partition, ATTR_GROWFS, ATTR_LEGACY_BIOS_BOOTABLE, ATTR_NO_AUTO, ATTR_NO_BLOCK_IO_PROTOCOL,
    ATTR_READ_ONLY, ATTR_REQUIRED,
};
pub use select::{choose, choose_root, choose_root_or_generic};
pub use table::{read_table, Table, SECTOR_SIZES};
pub use version::version_compare;
