//! One used partition entry and its attribute bits.

use crate::guid::Guid;

/// bit 0: the platform needs this partition to function (UEFI "required partition").
pub const ATTR_REQUIRED: u64 = 1 << 0;
/// bit 1: UEFI must not add a block I/O protocol; DPS tools skip an ESP/XBOOTLDR with it.
pub const ATTR_NO_BLOCK_IO_PROTOCOL: u64 = 1 << 1;
/// bit 2: legacy BIOS bootable.
pub const ATTR_LEGACY_BIOS_BOOTABLE: u64 = 1 << 2;
/// bit 59 (DPS): grow the file system to the partition size on mount.
pub const ATTR_GROWFS: u64 = 1 << 59;
/// bit 60 (DPS): mount read-only.
pub const ATTR_READ_ONLY: u64 = 1 << 60;
/// bit 63 (DPS): do not use the partition automatically.
pub const ATTR_NO_AUTO: u64 = 1 << 63;

/// size of the UTF-16LE name field in an entry, in bytes (36 code units).
pub(crate) const NAME_BYTES: usize = 72;

/// a used (non-zero type GUID) entry of the partition array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// the 1-based position in the entry array (what `/dev/sdaN` and `sfdisk` number it).
    pub index: u32,
    /// the partition type.
    pub type_guid: Guid,
    /// the unique partition GUID.
    pub uuid: Guid,
    /// first sector, inclusive.
    pub first_lba: u64,
    /// last sector, inclusive.
    pub last_lba: u64,
    /// the 64 attribute bits (`ATTR_*`).
    pub attributes: u64,
    /// the label, decoded from UTF-16LE (lossily) up to the first NUL.
    pub name: String,
}

impl Partition {
    /// number of sectors, 0 if `last_lba < first_lba` (never the case for a parsed table).
    pub fn sectors(&self) -> u64 {
        if self.last_lba < self.first_lba {
            return 0;
        }
        (self.last_lba - self.first_lba).saturating_add(1)
    }

    /// byte offset of the first sector.
    pub fn offset_bytes(&self, sector: u64) -> u64 {
        self.first_lba.saturating_mul(sector)
    }

    /// length in bytes for the given sector size.
    pub fn size_bytes(&self, sector: u64) -> u64 {
        self.sectors().saturating_mul(sector)
    }

    /// bit 63: tools must not mount it automatically.
    pub fn no_auto(&self) -> bool {
        self.attributes & ATTR_NO_AUTO != 0
    }

    /// bit 60: mount read-only.
    pub fn read_only(&self) -> bool {
        self.attributes & ATTR_READ_ONLY != 0
    }

    /// bit 59: grow the file system on mount.
    pub fn growfs(&self) -> bool {
        self.attributes & ATTR_GROWFS != 0
    }

    /// bit 0: required by the platform.
    pub fn required(&self) -> bool {
        self.attributes & ATTR_REQUIRED != 0
    }

    /// bit 1: hidden from UEFI block I/O; DPS ignores such an ESP or XBOOTLDR partition.
    pub fn no_block_io_protocol(&self) -> bool {
        self.attributes & ATTR_NO_BLOCK_IO_PROTOCOL != 0
    }
}

/// the label stored in a 72-byte UTF-16LE name field: up to the first NUL, invalid code
/// units replaced by U+FFFD.
pub(crate) fn decode_name(field: &[u8]) -> String {
    let units: Vec<u16> = field
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(s: &str) -> Vec<u8> {
        let mut v: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
        v.resize(NAME_BYTES, 0);
        v
    }

    #[test]
    fn names() {
        assert_eq!(decode_name(&utf16("root-1.10~rc1")), "root-1.10~rc1");
        assert_eq!(decode_name(&utf16("")), "");
        assert_eq!(decode_name(&utf16("Grüße ⛵")), "Grüße ⛵");
        let full = "a".repeat(36);
        assert_eq!(decode_name(&utf16(&full)), full);
        // a lone surrogate is replaced, and nothing after the first NUL is kept.
        let mut raw = vec![0x00, 0xd8, b'x', 0, 0, 0, b'y', 0];
        raw.resize(NAME_BYTES, 0);
        assert_eq!(decode_name(&raw), "\u{fffd}x");
    }

    #[test]
    fn attributes_and_sizes() {
        let p = Partition {
            index: 1,
            type_guid: Guid::ZERO,
            uuid: Guid::ZERO,
            first_lba: 2048,
            last_lba: 4095,
            attributes: ATTR_NO_AUTO | ATTR_GROWFS | ATTR_REQUIRED,
            name: String::new(),
        };
        assert!(p.no_auto() && p.growfs() && p.required());
        assert!(!p.read_only() && !p.no_block_io_protocol());
        assert_eq!(p.sectors(), 2048);
        assert_eq!(p.size_bytes(512), 1 << 20);
        assert_eq!(p.offset_bytes(4096), 2048 * 4096);
        let inverted = Partition {
            first_lba: 5,
            last_lba: 4,
            ..p.clone()
        };
        assert_eq!(inverted.size_bytes(512), 0);
        let whole = Partition {
            first_lba: 0,
            last_lba: u64::MAX,
            ..p
        };
        assert_eq!(whole.size_bytes(512), u64::MAX);
    }
}
