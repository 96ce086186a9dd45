//! Why a GPT could not be read.

/// a GPT that could not be read or that breaks the rules a safe reader must enforce.
#[derive(thiserror::Error, Debug)]
pub enum Error {
    /// neither a primary nor a backup header carries the `EFI PART` signature.
    #[error("no gpt partition table found")]
    NoGpt,
    /// a header field is out of range or inconsistent with where the header was found.
    #[error("invalid gpt header: {0}")]
    BadHeader(&'static str),
    /// the header's CRC32 does not match its contents.
    #[error("gpt header checksum mismatch")]
    HeaderCrc,
    /// the partition entry array's CRC32 does not match the one in the header.
    #[error("gpt partition entry array checksum mismatch")]
    EntriesCrc,
    /// the header describes an entry array that cannot be valid (entry size, count, location).
    #[error("invalid gpt partition entry array: {0}")]
    BadEntries(&'static str),
    /// partition `index` (1-based) ends before it starts.
    #[error("gpt partition {index} ends before it starts")]
    Inverted {
        /// the 1-based entry number.
        index: u32,
    },
    /// partitions `a` and `b` (1-based, `a < b`) share sectors.
    #[error("gpt partitions {a} and {b} overlap")]
    Overlap {
        /// the lower entry number.
        a: u32,
        /// the higher entry number.
        b: u32,
    },
    /// partition `index` (1-based) lies partly outside the header's usable LBA range.
    #[error("gpt partition {index} lies outside the usable area")]
    OutOfBounds {
        /// the 1-based entry number.
        index: u32,
    },
    /// reading the image failed.
    #[error("cannot read gpt: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// whether this error means the table copy itself is damaged (header, checksums, entry
    /// array geometry), so the other copy may still be good; a checksummed table whose
    /// partitions are invalid is authoritative and is not replaced by its backup.
    pub(crate) fn is_corruption(&self) -> bool {
        matches!(
            self,
            Error::BadHeader(_) | Error::HeaderCrc | Error::EntriesCrc | Error::BadEntries(_)
        )
    }
}
