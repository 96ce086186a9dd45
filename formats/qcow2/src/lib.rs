//! qcow2 images: a reader hardened for untrusted images (qcow2 → raw with holes), and a
//! writer (raw → qcow2 v3, optionally compressed).
//!
//! Pure codec over `Read + Seek` / `Write + Seek` streams: no files are opened here. Backing
//! files are refused unless [`Options::allow_backing_file`]; then the caller checks the name
//! with [`check_backing_name`], opens it relative to the image's directory, and attaches it
//! with [`Reader::with_backing`]. Before converting, compare [`Reader::allocated_bytes`] with
//! the free space: the output can be far larger than the image.
//!
//! What is refused (see `docs/decisions/0003-own-qcow2-reader.md`): versions other than 2 and
//! 3, encryption (`crypt_method ≠ 0` or a LUKS header extension), external data files, the
//! corrupt bit, unknown incompatible features, cluster sizes outside 512 B..2 MiB, virtual
//! sizes above 2^56 or needing an L1 table above 32 MiB, tables and clusters that are
//! unaligned, overlap the header or lie outside the file, reserved bits in L1/L2 entries, and
//! compressed clusters that do not decompress to exactly one cluster. Supported: v2 and v3,
//! zlib and zstd compressed clusters, extended L2 entries (subclusters), the dirty bit, zero
//! clusters, internal snapshots (ignored: the active image is read).
//!
//! ```no_run
//! # fn main() -> Result<(), wharf_qcow2::Error> {
//! let img = std::fs::File::open("disk.qcow2")?;
//! let mut reader = wharf_qcow2::Reader::open(img, &wharf_qcow2::Options::default())?;
//! let mut out = std::fs::File::create("disk.raw")?;
//! reader.copy_to_raw(&mut out, &mut |_done| {})?;
//! out.set_len(reader.virtual_size())?;
//! # Ok(()) }
//! ```

mod backing;
mod compress;
mod error;
mod header;
mod map;
mod raw;
mod reader;
mod refcount;
mod table;
mod writer;

pub use backing::{check_backing_name, RawBacking, ReadAt};
pub use compress::CompressionType;
pub use error::Error;
pub use header::{
    is_qcow2, Header, MAGIC, MAX_CLUSTER_BITS, MAX_L1_BYTES, MAX_VIRTUAL_SIZE, MIN_CLUSTER_BITS,
};
pub use reader::{Extent, Extents, Options, Reader};
pub use writer::{write_qcow2, WriteOptions};
