//! The GPT header: field layout and every check that can be made before reading the entries.

use crate::crc32::Crc32;
use crate::error::Error;
use crate::guid::Guid;

/// `EFI PART`.
const SIGNATURE: &[u8; 8] = b"EFI PART";
/// bytes of the header fields defined by the UEFI specification.
const MIN_HEADER_SIZE: usize = 92;
/// offset of the header CRC32, which is summed as zero.
const CRC_FIELD: usize = 16;
/// the smallest entry size the specification allows; others are this times a power of two.
pub(crate) const MIN_ENTRY_SIZE: u32 = 128;
/// the largest entry size accepted: nothing ships more than 128, a sector is a sane ceiling.
pub(crate) const MAX_ENTRY_SIZE: u32 = 4096;
/// ceiling for the whole entry array, so a hostile header cannot make us allocate much
/// (the usual array is 128 × 128 bytes = 16 KiB).
pub(crate) const MAX_ENTRY_ARRAY_BYTES: u64 = 1 << 20;

/// the fields of one header copy that the rest of the parser needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub my_lba: u64,
    pub alternate_lba: u64,
    pub first_usable: u64,
    pub last_usable: u64,
    pub disk_guid: Guid,
    pub entries_lba: u64,
    pub entry_count: u32,
    pub entry_size: u32,
    pub entries_crc: u32,
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le64(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(v)
}

/// where a header copy was read and what the disk around it looks like.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Place {
    /// the LBA the header was read from (1 for the primary, the last LBA for the backup).
    pub lba: u64,
    /// the logical sector size tried.
    pub sector_size: u64,
    /// whole sectors in the image.
    pub disk_sectors: u64,
}

impl Header {
    /// parses and checks the header in `sector` (one whole sector read at `place.lba`).
    ///
    /// Returns [`Error::NoGpt`] when the signature is absent, so callers can tell "nothing
    /// here" from "a damaged table here".
    pub(crate) fn parse(sector: &[u8], place: Place) -> Result<Header, Error> {
        if sector.len() < MIN_HEADER_SIZE || &sector[..8] != SIGNATURE {
            return Err(Error::NoGpt);
        }
        if le32(sector, 8) >> 16 != 1 {
            return Err(Error::BadHeader("unsupported revision"));
        }
        let size = le32(sector, 12) as usize;
        if !(MIN_HEADER_SIZE..=sector.len()).contains(&size) {
            return Err(Error::BadHeader("header size out of range"));
        }
        let mut crc = Crc32::new();
        crc.update(&sector[..CRC_FIELD]);
        crc.update(&[0; 4]);
        crc.update(&sector[CRC_FIELD + 4..size]);
        if crc.finish() != le32(sector, CRC_FIELD) {
            return Err(Error::HeaderCrc);
        }
        let header = Header {
            my_lba: le64(sector, 24),
            alternate_lba: le64(sector, 32),
            first_usable: le64(sector, 40),
            last_usable: le64(sector, 48),
            disk_guid: Guid::from_disk(&sector[56..72]).unwrap_or_default(),
            entries_lba: le64(sector, 72),
            entry_count: le32(sector, 80),
            entry_size: le32(sector, 84),
            entries_crc: le32(sector, 88),
        };
        header.check_layout(place)?;
        Ok(header)
    }

    /// the usable range, the header itself and the entry array must be disjoint and on disk.
    fn check_layout(&self, place: Place) -> Result<(), Error> {
        if self.my_lba != place.lba {
            return Err(Error::BadHeader("header lba does not match its location"));
        }
        if self.first_usable > self.last_usable {
            return Err(Error::BadHeader("first usable lba is after the last"));
        }
        if self.last_usable >= place.disk_sectors {
            return Err(Error::BadHeader(
                "usable area extends past the end of the disk",
            ));
        }
        // LBA 0 holds the protective MBR and LBA 1 the primary header; the other copy's
        // header (wherever this one says it is) must not be usable either.
        if self.first_usable < 2
            || self.usable_contains(self.my_lba)
            || self.usable_contains(self.alternate_lba)
        {
            return Err(Error::BadHeader("usable area overlaps a header"));
        }
        let size = self.entry_size;
        if !(MIN_ENTRY_SIZE..=MAX_ENTRY_SIZE).contains(&size) || !size.is_power_of_two() {
            return Err(Error::BadEntries(
                "entry size is not 128 times a power of two, at most 4096",
            ));
        }
        let bytes = self.entry_array_bytes();
        if bytes > MAX_ENTRY_ARRAY_BYTES {
            return Err(Error::BadEntries("entry array too large"));
        }
        let sectors = bytes.div_ceil(place.sector_size);
        if sectors == 0 {
            // nothing is read for an empty array, wherever the header says it is.
            return Ok(());
        }
        let end = match self.entries_lba.checked_add(sectors) {
            Some(end) if end <= place.disk_sectors => end,
            _ => {
                return Err(Error::BadEntries(
                    "entry array extends past the end of the disk",
                ))
            }
        };
        if self.entries_lba < 2 || (self.entries_lba..end).contains(&self.my_lba) {
            return Err(Error::BadEntries("entry array overlaps a header"));
        }
        if self.entries_lba <= self.last_usable && end > self.first_usable {
            return Err(Error::BadEntries("entry array overlaps the usable area"));
        }
        Ok(())
    }

    fn usable_contains(&self, lba: u64) -> bool {
        (self.first_usable..=self.last_usable).contains(&lba)
    }

    /// size of the entry array in bytes (bounded by the checks in [`Header::parse`]).
    pub(crate) fn entry_array_bytes(&self) -> u64 {
        u64::from(self.entry_count) * u64::from(self.entry_size)
    }
}
