//! The one error type of the crate: each variant names what was refused or found broken.

/// Why an image was refused or could not be read or written.
///
/// Messages are one lowercase line naming the problem, meant to be wrapped by the caller with
/// the image's name.
#[derive(thiserror::Error, Debug)]
pub enum Error {
    /// The first bytes are not `QFI\xfb`.
    #[error("not a qcow2 image (bad magic)")]
    NotQcow2,
    /// Only versions 2 and 3 exist.
    #[error("unsupported qcow2 version {0} (only 2 and 3 exist)")]
    UnsupportedVersion(u32),
    /// `crypt_method` is not 0 (AES or LUKS) or a LUKS header extension is present: the data
    /// clusters are ciphertext.
    #[error("qcow2 image is encrypted (AES or LUKS); refusing to read ciphertext")]
    Encrypted,
    /// Incompatible feature bits this reader does not know (the value holds only those bits).
    #[error("qcow2 image uses unknown incompatible features {0:#x}; refusing")]
    IncompatibleFeatures(u64),
    /// The image names a backing file and backing files were not allowed.
    #[error("qcow2 image has backing file {0:?}; refusing (backing files are not allowed)")]
    BackingFile(String),
    /// Backing files were allowed but the caller attached no backing image, so unallocated
    /// clusters cannot be read.
    #[error("qcow2 image needs its backing file {0:?}, which was not attached")]
    MissingBacking(String),
    /// A backing file name that is not a plain relative path ([`crate::check_backing_name`]).
    #[error("qcow2 backing file name {0:?} is not a plain relative path; refusing")]
    UnsafeBackingName(String),
    /// The data clusters live in another file (incompatible feature bit 2).
    #[error("qcow2 image keeps its data in an external data file; refusing")]
    ExternalDataFile,
    /// A header field or header extension is invalid.
    #[error("invalid qcow2 header: {0}")]
    BadHeader(&'static str),
    /// A table or cluster lies (partly) outside the image file.
    #[error("qcow2 {what} at offset {offset:#x} lies outside the image file")]
    OutOfBounds { what: &'static str, offset: u64 },
    /// A size taken from the image exceeds what this reader accepts.
    #[error("qcow2 {what} too large ({value}); refusing")]
    TooLarge { what: &'static str, value: u64 },
    /// Inconsistent metadata: reserved bits, unaligned offsets, corrupt bit, invalid entries.
    #[error("corrupt qcow2 image: {0}")]
    Corrupt(String),
    /// A compressed cluster did not decompress to exactly one cluster.
    #[error("cannot decompress qcow2 cluster: {0}")]
    Decompress(String),
    /// Reading the image, the raw input or the backing image, or writing the output, failed.
    #[error("qcow2 i/o error: {0}")]
    Io(#[from] std::io::Error),
}
