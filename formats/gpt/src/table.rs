//! Locating a GPT (primary or backup copy, 512- or 4096-byte sectors) and reading its entries.

use std::io::{Read, Seek, SeekFrom};

use crate::crc32::crc32;
use crate::error::Error;
use crate::guid::Guid;
use crate::header::{Header, Place};
use crate::partition::{decode_name, Partition, NAME_BYTES};

/// the logical sector sizes tried, in order.
pub const SECTOR_SIZES: [u64; 2] = [512, 4096];

/// a validated partition table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    /// the logical sector size the table was found with (512 or 4096).
    pub sector_size: u64,
    /// the disk GUID.
    pub disk_guid: Guid,
    /// first sector partitions may use.
    pub first_usable: u64,
    /// last sector partitions may use (inclusive).
    pub last_usable: u64,
    /// used entries (non-zero type GUID), in entry-array order.
    pub partitions: Vec<Partition>,
    /// whether the primary copy was damaged and the backup at the last LBA was used.
    pub used_backup: bool,
}

impl Table {
    /// the partition with this 1-based entry number.
    pub fn partition(&self, index: u32) -> Option<&Partition> {
        self.partitions.iter().find(|p| p.index == index)
    }
}

/// Reads and validates the GPT of a disk image.
///
/// The primary header is looked for at LBA 1 with 512- and then 4096-byte sectors. If a copy
/// is damaged (bad header field, header or entry-array CRC, impossible entry array) the backup
/// header at the last LBA is tried and [`Table::used_backup`] is set; if that fails too, the
/// first copy's error is returned. A copy whose checksums are intact is authoritative: its
/// partitions must not be inverted, overlap or leave the usable area, otherwise the specific
/// error is returned without looking at the backup. The protective MBR is not checked.
///
/// Memory use is bounded (at most one sector plus a 1 MiB entry array) whatever the input.
pub fn read_table<R: Read + Seek>(mut r: R) -> Result<Table, Error> {
    let disk_bytes = r.seek(SeekFrom::End(0))?;
    let mut first_error: Option<Error> = None;
    let attempts = SECTOR_SIZES
        .iter()
        .map(|&ss| (ss, false))
        .chain(SECTOR_SIZES.iter().map(|&ss| (ss, true)));
    for (sector_size, backup) in attempts {
        let disk_sectors = disk_bytes / sector_size;
        let lba = if backup {
            disk_sectors.saturating_sub(1)
        } else {
            1
        };
        if disk_sectors < 3 {
            continue;
        }
        let place = Place {
            lba,
            sector_size,
            disk_sectors,
        };
        match read_copy(&mut r, place) {
            Ok(mut table) => {
                table.used_backup = backup;
                return Ok(table);
            }
            Err(Error::NoGpt) => {}
            Err(e) if e.is_corruption() => {
                first_error.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(first_error.unwrap_or(Error::NoGpt))
}

/// reads `len` bytes at byte `offset`; the caller has checked they lie inside the image.
fn read_at<R: Read + Seek>(r: &mut R, offset: u64, len: u64) -> Result<Vec<u8>, Error> {
    r.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::new();
    r.take(len).read_to_end(&mut buf)?;
    if (buf.len() as u64) < len {
        // the image shrank under us or lied about its length.
        return Err(Error::Io(std::io::ErrorKind::UnexpectedEof.into()));
    }
    Ok(buf)
}

/// reads and validates one copy (header, entry array, partitions).
fn read_copy<R: Read + Seek>(r: &mut R, place: Place) -> Result<Table, Error> {
    let sector = read_at(r, place.lba * place.sector_size, place.sector_size)?;
    let header = Header::parse(&sector, place)?;
    // an empty array (zero entries) has no location to check or read.
    let array = match header.entry_array_bytes() {
        0 => Vec::new(),
        len => read_at(r, header.entries_lba * place.sector_size, len)?,
    };
    if crc32(&array) != header.entries_crc {
        return Err(Error::EntriesCrc);
    }
    let partitions = parse_entries(&array, &header)?;
    Ok(Table {
        sector_size: place.sector_size,
        disk_guid: header.disk_guid,
        first_usable: header.first_usable,
        last_usable: header.last_usable,
        partitions,
        used_backup: false,
    })
}

fn le64(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(v)
}

/// decodes the used entries and checks each lies in the usable area without overlapping.
fn parse_entries(array: &[u8], header: &Header) -> Result<Vec<Partition>, Error> {
    let mut parts = Vec::new();
    for (i, entry) in array.chunks_exact(header.entry_size as usize).enumerate() {
        let type_guid = Guid::from_disk(&entry[0..16]).unwrap_or_default();
        if type_guid.is_zero() {
            continue;
        }
        let index = u32::try_from(i + 1).map_err(|_| Error::BadEntries("too many entries"))?;
        let p = Partition {
            index,
            type_guid,
            uuid: Guid::from_disk(&entry[16..32]).unwrap_or_default(),
            first_lba: le64(entry, 32),
            last_lba: le64(entry, 40),
            attributes: le64(entry, 48),
            name: decode_name(&entry[56..56 + NAME_BYTES]),
        };
        if p.first_lba > p.last_lba {
            return Err(Error::Inverted { index });
        }
        if p.first_lba < header.first_usable || p.last_lba > header.last_usable {
            return Err(Error::OutOfBounds { index });
        }
        parts.push(p);
    }
    check_overlaps(&parts)?;
    Ok(parts)
}

/// sorted by start, a partition overlaps another exactly when it starts at or before the end
/// of its predecessor (ranges before it are disjoint, so the predecessor ends last).
fn check_overlaps(parts: &[Partition]) -> Result<(), Error> {
    let mut by_start: Vec<&Partition> = parts.iter().collect();
    by_start.sort_by_key(|p| (p.first_lba, p.index));
    for w in by_start.windows(2) {
        if w[1].first_lba <= w[0].last_lba {
            let (a, b) = (w[0].index.min(w[1].index), w[0].index.max(w[1].index));
            return Err(Error::Overlap { a, b });
        }
    }
    Ok(())
}
