//! The qcow2 header (cluster 0): fields, header extensions and every check that can be made
//! without reading the tables.

use crate::compress::CompressionType;
use crate::Error;

/// Magic bytes at offset 0: `QFI\xfb`.
pub const MAGIC: [u8; 4] = *b"QFI\xfb";

/// Smallest and largest cluster_bits accepted (512 B to 2 MiB, as qemu).
pub const MIN_CLUSTER_BITS: u32 = 9;
/// See [`MIN_CLUSTER_BITS`].
pub const MAX_CLUSTER_BITS: u32 = 21;
/// Largest virtual size accepted (64 PiB; qemu's host offsets are below 2^56 too).
pub const MAX_VIRTUAL_SIZE: u64 = 1 << 56;
/// Largest L1 table accepted, in bytes (qemu's limit).
pub const MAX_L1_BYTES: u64 = 32 << 20;
/// Largest refcount table accepted, in bytes (qemu's limit).
pub const MAX_REFCOUNT_TABLE_BYTES: u64 = 8 << 20;
/// Largest snapshot count accepted (qemu's limit).
pub const MAX_SNAPSHOTS: u32 = 65_536;
/// Longest backing file name or backing format name.
pub const MAX_NAME_LEN: u32 = 1023;

const V2_HEADER_LEN: u32 = 72;
const V3_HEADER_LEN: u32 = 104;

/// Incompatible feature bits.
pub(crate) const INCOMPAT_DIRTY: u64 = 1 << 0;
pub(crate) const INCOMPAT_CORRUPT: u64 = 1 << 1;
pub(crate) const INCOMPAT_DATA_FILE: u64 = 1 << 2;
pub(crate) const INCOMPAT_COMPRESSION: u64 = 1 << 3;
pub(crate) const INCOMPAT_EXTL2: u64 = 1 << 4;
const INCOMPAT_KNOWN: u64 = (1 << 5) - 1;

/// Header extension types.
const EXT_END: u32 = 0;
const EXT_BACKING_FORMAT: u32 = 0xe279_2aca;
const EXT_FDE: u32 = 0x0537_be77;
const EXT_DATA_FILE: u32 = 0x4441_5441;

/// Whether `head` (the first bytes of a file) starts with the qcow2 magic.
pub fn is_qcow2(head: &[u8]) -> bool {
    head.starts_with(&MAGIC)
}

/// A parsed and validated qcow2 header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// 2 or 3.
    pub version: u32,
    /// log2 of the cluster size, 9..=21.
    pub cluster_bits: u32,
    /// Virtual disk size in bytes.
    pub size: u64,
    /// Name of the backing file as stored in the image (not resolved, not checked for safety:
    /// see [`crate::check_backing_name`]).
    pub backing_file: Option<String>,
    /// Format of the backing file from the backing-format header extension ("raw", "qcow2").
    pub backing_format: Option<String>,
    /// How compressed clusters are compressed.
    pub compression: CompressionType,
    /// 128-bit L2 entries with 32 subclusters per cluster (incompatible bit 4).
    pub extended_l2: bool,
    /// Refcounts may be stale (incompatible bit 0); harmless for reading.
    pub dirty: bool,
    /// Entries in the L1 table.
    pub l1_size: u32,
    /// Host offset of the L1 table.
    pub l1_table_offset: u64,
    /// Host offset of the refcount table.
    pub refcount_table_offset: u64,
    /// Clusters taken by the refcount table.
    pub refcount_table_clusters: u32,
    /// log2 of the refcount width in bits (4 for v2).
    pub refcount_order: u32,
    /// Internal snapshots (ignored: only the active image is read).
    pub nb_snapshots: u32,
    /// Host offset of the snapshot table.
    pub snapshots_offset: u64,
    /// All incompatible feature bits (only known ones get this far).
    pub incompatible_features: u64,
    /// Compatible feature bits (lazy refcounts).
    pub compatible_features: u64,
    /// Autoclear feature bits (bitmaps).
    pub autoclear_features: u64,
    /// Length of the fixed header (72 for v2).
    pub header_length: u32,
}

fn be32(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[off..off + 4]);
    u32::from_be_bytes(a)
}

fn be64(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_be_bytes(a)
}

fn name(bytes: &[u8], what: &'static str) -> Result<String, Error> {
    if bytes.contains(&0) {
        return Err(Error::BadHeader(what));
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| Error::BadHeader(what))
}

fn aligned(offset: u64, cluster_bits: u32) -> bool {
    offset & ((1u64 << cluster_bits) - 1) == 0
}

impl Header {
    /// Cluster size in bytes.
    pub fn cluster_size(&self) -> u64 {
        1 << self.cluster_bits
    }

    /// Entries per L2 table (halved with extended L2).
    pub fn l2_entries(&self) -> u64 {
        self.cluster_size() / if self.extended_l2 { 16 } else { 8 }
    }

    /// L1 entries the virtual size needs (the rest of the L1 table is never read).
    pub fn l1_needed(&self) -> u64 {
        l1_needed(self.size, self.cluster_bits, self.extended_l2)
    }

    /// Parses and validates the header from the start of the file (`cluster0` holds the first
    /// cluster, or the whole file if shorter); `file_len` is the length of the image file.
    pub fn parse(cluster0: &[u8], file_len: u64) -> Result<Header, Error> {
        let b = cluster0;
        if !is_qcow2(b) {
            return Err(Error::NotQcow2);
        }
        if b.len() < 8 {
            return Err(Error::BadHeader("file ends inside the header"));
        }
        let version = be32(b, 4);
        if version != 2 && version != 3 {
            return Err(Error::UnsupportedVersion(version));
        }
        let fixed = if version == 2 {
            V2_HEADER_LEN
        } else {
            V3_HEADER_LEN
        };
        if b.len() < fixed as usize {
            return Err(Error::BadHeader("file ends inside the header"));
        }
        if be32(b, 32) != 0 {
            return Err(Error::Encrypted);
        }
        let cluster_bits = be32(b, 20);
        if !(MIN_CLUSTER_BITS..=MAX_CLUSTER_BITS).contains(&cluster_bits) {
            return Err(Error::BadHeader("cluster_bits outside 9..=21"));
        }
        let cs = 1u64 << cluster_bits;

        let (incompat, compat, autoclear, refcount_order, header_length) = if version == 2 {
            (0, 0, 0, 4, V2_HEADER_LEN)
        } else {
            (
                be64(b, 72),
                be64(b, 80),
                be64(b, 88),
                be32(b, 96),
                be32(b, 100),
            )
        };
        if version == 3 {
            if header_length < V3_HEADER_LEN || header_length % 8 != 0 {
                return Err(Error::BadHeader(
                    "header_length below 104 or not a multiple of 8",
                ));
            }
            if u64::from(header_length) > cs {
                return Err(Error::BadHeader("header_length larger than a cluster"));
            }
            if header_length as usize > b.len() {
                return Err(Error::BadHeader("file ends inside the header"));
            }
            if refcount_order > 6 {
                return Err(Error::BadHeader("refcount_order above 6"));
            }
        }

        let unknown = incompat & !INCOMPAT_KNOWN;
        if unknown != 0 {
            return Err(Error::IncompatibleFeatures(unknown));
        }
        if incompat & INCOMPAT_DATA_FILE != 0 {
            return Err(Error::ExternalDataFile);
        }
        if incompat & INCOMPAT_CORRUPT != 0 {
            return Err(Error::Corrupt(
                "image is marked corrupt (incompatible bit 1); refusing".into(),
            ));
        }
        let type_byte = if header_length > 104 { b[104] } else { 0 };
        let compression = match (type_byte, incompat & INCOMPAT_COMPRESSION != 0) {
            (0, false) => CompressionType::Zlib,
            (1, true) => CompressionType::Zstd,
            (0, true) => {
                return Err(Error::BadHeader(
                    "compression type bit set but compression_type is zlib",
                ))
            }
            (0..=1, false) => {
                return Err(Error::BadHeader(
                    "compression_type is not zlib but the compression type bit is clear",
                ))
            }
            _ => return Err(Error::BadHeader("unknown compression_type")),
        };
        let extended_l2 = incompat & INCOMPAT_EXTL2 != 0;
        if extended_l2 && cluster_bits < 14 {
            return Err(Error::BadHeader(
                "extended L2 entries need clusters of at least 16 KiB",
            ));
        }

        let size = be64(b, 24);
        if size > MAX_VIRTUAL_SIZE {
            return Err(Error::TooLarge {
                what: "virtual size",
                value: size,
            });
        }

        let mut h = Header {
            version,
            cluster_bits,
            size,
            backing_file: None,
            backing_format: None,
            compression,
            extended_l2,
            dirty: incompat & INCOMPAT_DIRTY != 0,
            l1_size: be32(b, 36),
            l1_table_offset: be64(b, 40),
            refcount_table_offset: be64(b, 48),
            refcount_table_clusters: be32(b, 56),
            refcount_order,
            nb_snapshots: be32(b, 60),
            snapshots_offset: be64(b, 64),
            incompatible_features: incompat,
            compatible_features: compat,
            autoclear_features: autoclear,
            header_length,
        };
        h.check_tables(file_len)?;
        h.parse_names_and_extensions(b)?;
        Ok(h)
    }

    /// L1, refcount and snapshot tables: sizes capped, offsets aligned, outside cluster 0 and
    /// inside the file.
    fn check_tables(&self, file_len: u64) -> Result<(), Error> {
        let cs = self.cluster_size();
        let needed = self.l1_needed();
        if needed > MAX_L1_BYTES / 8 {
            return Err(Error::TooLarge {
                what: "virtual size for this cluster size",
                value: self.size,
            });
        }
        if u64::from(self.l1_size) > MAX_L1_BYTES / 8 {
            return Err(Error::TooLarge {
                what: "L1 table (bytes)",
                value: u64::from(self.l1_size) * 8,
            });
        }
        if u64::from(self.l1_size) < needed {
            return Err(Error::BadHeader("L1 table too small for the virtual size"));
        }
        if self.l1_size > 0 {
            self.check_table("L1 table", self.l1_table_offset, needed * 8, file_len)?;
        }

        let rt_bytes = u64::from(self.refcount_table_clusters) << self.cluster_bits;
        if self.refcount_table_clusters == 0 {
            return Err(Error::BadHeader("no refcount table"));
        }
        if rt_bytes > MAX_REFCOUNT_TABLE_BYTES.max(cs) {
            return Err(Error::TooLarge {
                what: "refcount table (bytes)",
                value: rt_bytes,
            });
        }
        self.check_table(
            "refcount table",
            self.refcount_table_offset,
            rt_bytes,
            file_len,
        )?;

        if self.nb_snapshots > MAX_SNAPSHOTS {
            return Err(Error::TooLarge {
                what: "snapshot count",
                value: self.nb_snapshots.into(),
            });
        }
        if self.nb_snapshots > 0 {
            self.check_table("snapshot table", self.snapshots_offset, 1, file_len)?;
        }
        Ok(())
    }

    fn check_table(
        &self,
        what: &'static str,
        offset: u64,
        len: u64,
        file_len: u64,
    ) -> Result<(), Error> {
        if !aligned(offset, self.cluster_bits) {
            return Err(Error::Corrupt(format!(
                "{what} offset {offset:#x} is not cluster-aligned"
            )));
        }
        if offset == 0 {
            return Err(Error::Corrupt(format!("{what} overlaps the header")));
        }
        match offset.checked_add(len) {
            Some(end) if end <= file_len => Ok(()),
            _ => Err(Error::OutOfBounds { what, offset }),
        }
    }

    /// Backing file name and header extensions, all inside cluster 0.
    fn parse_names_and_extensions(&mut self, b: &[u8]) -> Result<(), Error> {
        let cs = self.cluster_size();
        let ext_start = u64::from(self.header_length);
        let mut ext_end = cs;
        let bf_offset = be64(b, 8);
        if bf_offset != 0 {
            let len = be32(b, 16);
            if len == 0 {
                return Err(Error::BadHeader("empty backing file name"));
            }
            if len > MAX_NAME_LEN {
                return Err(Error::TooLarge {
                    what: "backing file name length",
                    value: len.into(),
                });
            }
            if bf_offset < ext_start {
                return Err(Error::BadHeader("backing file name overlaps the header"));
            }
            let end = bf_offset
                .checked_add(len.into())
                .filter(|&e| e <= cs)
                .ok_or(Error::BadHeader(
                    "backing file name leaves the header cluster",
                ))?;
            if end > b.len() as u64 {
                return Err(Error::OutOfBounds {
                    what: "backing file name",
                    offset: bf_offset,
                });
            }
            self.backing_file = Some(name(
                &b[bf_offset as usize..end as usize],
                "backing file name is not UTF-8 or holds NUL",
            )?);
            ext_end = bf_offset;
        }

        let mut off = ext_start;
        while off < ext_end {
            if ext_end - off < 8 {
                return Err(Error::BadHeader("header extension crosses its area's end"));
            }
            if off + 8 > b.len() as u64 {
                return Err(Error::OutOfBounds {
                    what: "header extension",
                    offset: off,
                });
            }
            let (kind, len) = (be32(b, off as usize), u64::from(be32(b, off as usize + 4)));
            off += 8;
            if kind == EXT_END {
                break;
            }
            if len > ext_end - off {
                return Err(Error::BadHeader("header extension too large"));
            }
            if off + len > b.len() as u64 {
                return Err(Error::OutOfBounds {
                    what: "header extension",
                    offset: off,
                });
            }
            let data = &b[off as usize..(off + len) as usize];
            match kind {
                EXT_BACKING_FORMAT => {
                    if len > u64::from(MAX_NAME_LEN) {
                        return Err(Error::BadHeader("backing format name too long"));
                    }
                    self.backing_format =
                        Some(name(data, "backing format name is not UTF-8 or holds NUL")?);
                }
                // A LUKS header pointer means the data is encrypted, whatever crypt_method says.
                EXT_FDE => return Err(Error::Encrypted),
                EXT_DATA_FILE => return Err(Error::ExternalDataFile),
                _ => {}
            }
            // len ≤ cluster size, so rounding up cannot overflow.
            off += (len + 7) & !7;
        }
        Ok(())
    }
}

/// L1 entries needed to map `size` bytes.
pub(crate) fn l1_needed(size: u64, cluster_bits: u32, extended_l2: bool) -> u64 {
    // bytes mapped by one L2 table = cluster_size * l2_entries ≤ 2^(21+18): no overflow.
    let entry_bits = if extended_l2 { 4 } else { 3 };
    let per_l2_bits = cluster_bits + (cluster_bits - entry_bits);
    size.div_ceil(1u64 << per_l2_bits)
}
