//! L1 and L2 entries: decoding and validation of one entry at a time, and what a guest offset
//! inside one cluster maps to.

use crate::header::Header;
use crate::Error;

/// "Copied" flag (refcount exactly 1) of L1 and standard L2 entries.
pub(crate) const OFLAG_COPIED: u64 = 1 << 63;
/// Compressed-cluster flag of L2 entries.
pub(crate) const OFLAG_COMPRESSED: u64 = 1 << 62;
/// Reads-as-zeros flag of standard L2 entries (v3 without extended L2).
pub(crate) const OFLAG_ZERO: u64 = 1;
/// Host offset bits 9..=55 of L1 and standard L2 entries.
pub(crate) const OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;
const L1_RESERVED: u64 = 0x7f00_0000_0000_01ff;
const L2_RESERVED: u64 = 0x3f00_0000_0000_01fe;
/// Compressed data is addressed in 512-byte sectors.
const SECTOR: u64 = 512;

/// The facts every entry is checked against.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    pub cluster_bits: u32,
    pub extended_l2: bool,
    pub v2: bool,
    pub size: u64,
    pub file_len: u64,
}

impl Geometry {
    pub(crate) fn new(h: &Header, file_len: u64) -> Self {
        Geometry {
            cluster_bits: h.cluster_bits,
            extended_l2: h.extended_l2,
            v2: h.version == 2,
            size: h.size,
            file_len,
        }
    }

    pub(crate) fn cluster_size(&self) -> u64 {
        1 << self.cluster_bits
    }

    /// u64 words per L2 entry.
    pub(crate) fn words(&self) -> usize {
        if self.extended_l2 {
            2
        } else {
            1
        }
    }

    /// Guest bytes mapped by one L2 table.
    pub(crate) fn l2_span(&self) -> u64 {
        let entry_bits = if self.extended_l2 { 4 } else { 3 };
        1 << (2 * self.cluster_bits - entry_bits)
    }

    /// Bytes of the cluster at `guest` that lie inside the virtual disk.
    fn needed(&self, guest: u64) -> u64 {
        self.size.saturating_sub(guest).min(self.cluster_size())
    }

    fn check_cluster_offset(&self, what: &str, host: u64) -> Result<(), Error> {
        if host & (self.cluster_size() - 1) != 0 {
            return Err(Error::Corrupt(format!(
                "{what} offset {host:#x} is not cluster-aligned"
            )));
        }
        if host != 0 && host < self.cluster_size() {
            return Err(Error::Corrupt(format!("{what} overlaps the header")));
        }
        Ok(())
    }

    fn check_in_file(&self, what: &'static str, offset: u64, len: u64) -> Result<(), Error> {
        match offset.checked_add(len) {
            Some(end) if end <= self.file_len => Ok(()),
            _ => Err(Error::OutOfBounds { what, offset }),
        }
    }

    /// Validates an L1 entry; returns the L2 table's host offset, 0 when unallocated.
    pub(crate) fn l1_entry(&self, index: u64, e: u64) -> Result<u64, Error> {
        if e & L1_RESERVED != 0 {
            return Err(Error::Corrupt(format!(
                "reserved bits set in L1 entry {index} ({e:#x})"
            )));
        }
        let l2 = e & OFFSET_MASK;
        if l2 != 0 {
            self.check_cluster_offset("L2 table", l2)?;
            self.check_in_file("L2 table", l2, self.cluster_size())?;
        }
        Ok(l2)
    }

    /// Validates the L2 entry (`w0`, and `w1` with extended L2) of the cluster at guest offset
    /// `guest` and decodes it.
    pub(crate) fn l2_entry(&self, guest: u64, w0: u64, w1: u64) -> Result<Entry, Error> {
        let bad = |m: &str| Error::Corrupt(format!("L2 entry for guest offset {guest:#x}: {m}"));
        if w0 & OFLAG_COMPRESSED != 0 {
            if w0 & OFLAG_COPIED != 0 {
                return Err(bad("compressed cluster with the copied flag"));
            }
            if w1 != 0 {
                return Err(bad("compressed cluster with a subcluster bitmap"));
            }
            return self.compressed(w0).map_err(|e| match e {
                Error::Corrupt(m) => bad(&m),
                e => e,
            });
        }
        let reserved = if self.extended_l2 {
            L2_RESERVED | OFLAG_ZERO
        } else {
            L2_RESERVED
        };
        if w0 & reserved != 0 {
            return Err(bad(&format!("reserved bits set ({w0:#x})")));
        }
        let host = w0 & OFFSET_MASK;
        self.check_cluster_offset("data cluster", host)?;
        let needed = self.needed(guest);
        if self.extended_l2 {
            let (alloc, zero) = (w1 as u32, (w1 >> 32) as u32);
            if alloc & zero != 0 {
                return Err(bad("subcluster both allocated and reading as zeros"));
            }
            if alloc == 0 {
                return Ok(Entry::Sub { host, alloc, zero });
            }
            if host == 0 {
                return Err(bad("allocated subclusters without a host cluster"));
            }
            let last = 31 - u64::from(alloc.leading_zeros());
            let end = ((last + 1) << (self.cluster_bits - 5)).min(needed);
            self.check_in_file("data cluster", host, end)?;
            return Ok(Entry::Sub { host, alloc, zero });
        }
        if w0 & OFLAG_ZERO != 0 {
            if self.v2 {
                return Err(bad("zero flag in a version 2 image"));
            }
            return Ok(Entry::Zero);
        }
        if host == 0 {
            return Ok(Entry::Unallocated);
        }
        self.check_in_file("data cluster", host, needed)?;
        Ok(Entry::Data(host))
    }

    /// Compressed cluster descriptor: host byte offset in the low `x` bits, then the number of
    /// 512-byte sectors touched minus one, x = 62 - (cluster_bits - 8).
    fn compressed(&self, w0: u64) -> Result<Entry, Error> {
        let x = 70 - self.cluster_bits;
        let offset = w0 & ((1 << x) - 1);
        let sectors = ((w0 >> x) & ((1 << (self.cluster_bits - 8)) - 1)) + 1;
        if offset < self.cluster_size() {
            return Err(Error::Corrupt("compressed data overlaps the header".into()));
        }
        if offset >= self.file_len {
            return Err(Error::OutOfBounds {
                what: "compressed cluster",
                offset,
            });
        }
        // The stream ends somewhere in its last sector, and a file may end there too (qemu
        // does not pad the last one); a whole sector past the end means a broken descriptor.
        let end = (offset & !(SECTOR - 1)) + sectors * SECTOR;
        if end - self.file_len.min(end) >= SECTOR {
            return Err(Error::OutOfBounds {
                what: "compressed cluster",
                offset,
            });
        }
        Ok(Entry::Compressed {
            offset,
            len: end.min(self.file_len) - offset,
        })
    }
}

/// What an L2 entry says about its cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    /// Read from the backing image, or zeros without one.
    Unallocated,
    /// Reads as zeros.
    Zero,
    /// Stored at this host offset.
    Data(u64),
    /// Stored compressed at this host byte offset; `len` bytes hold the stream (and maybe more).
    Compressed { offset: u64, len: u64 },
    /// Extended L2 standard cluster: per-subcluster allocated and zero bits.
    Sub { host: u64, alloc: u32, zero: u32 },
}

/// Where the guest bytes at one offset come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Unallocated,
    Zero,
    /// Host offset of the guest offset asked about.
    Data(u64),
    /// The whole cluster is this stream.
    Compressed {
        offset: u64,
        len: u64,
    },
}

impl Entry {
    /// Kind of the byte `in_cluster` bytes into this entry's cluster, and the offset in the
    /// cluster where that kind (with contiguous host bytes) ends.
    pub(crate) fn kind_at(self, in_cluster: u64, cluster_bits: u32) -> (Kind, u64) {
        let cs = 1u64 << cluster_bits;
        match self {
            Entry::Unallocated => (Kind::Unallocated, cs),
            Entry::Zero => (Kind::Zero, cs),
            Entry::Data(h) => (Kind::Data(h + in_cluster), cs),
            Entry::Compressed { offset, len } => (Kind::Compressed { offset, len }, cs),
            Entry::Sub { host, alloc, zero } => {
                let sc_bits = cluster_bits - 5;
                let status = |i: u64| (alloc >> i & 1, zero >> i & 1);
                let first = in_cluster >> sc_bits;
                let s = status(first);
                let mut last = first;
                while last < 31 && status(last + 1) == s {
                    last += 1;
                }
                let kind = match s {
                    (1, _) => Kind::Data(host + in_cluster),
                    (_, 1) => Kind::Zero,
                    _ => Kind::Unallocated,
                };
                (kind, (last + 1) << sc_bits)
            }
        }
    }
}
