//! Bounds on what an archive can make the unpacker hold in memory.

/// Largest PAX extended header (`x`) data accepted.
pub(crate) const MAX_PAX: u64 = 1 << 20;
/// Largest GNU long name/link (`L`/`K`) and PAX `path`/`linkpath`.
pub(crate) const MAX_NAME: usize = 64 * 1024;
/// Largest xattr value (the kernel's own limit, XATTR_SIZE_MAX).
pub(crate) const MAX_XATTR_VALUE: usize = 64 * 1024;
/// Most segments in one sparse map (16 bytes each).
pub(crate) const MAX_SPARSE_SEGMENTS: usize = 1 << 20;
/// Directory fds kept open for parent lookups.
pub(crate) const DIR_CACHE: usize = 16;
