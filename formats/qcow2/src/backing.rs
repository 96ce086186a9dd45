//! Backing images: the positional-read trait a backing image is attached through, a raw-file
//! adapter, and the check a caller runs on a backing name before opening it.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Component, Path};

use crate::Error;

/// Positional reads of a backing image: a raw [`std::fs::File`], a [`RawBacking`] over any
/// `Read + Seek`, or another qcow2 [`crate::Reader`].
pub trait ReadAt: Send {
    /// Size of the image in bytes; reads past it see zeros. Asked once, when first needed.
    fn size(&mut self) -> io::Result<u64>;
    /// Reads at most `buf.len()` bytes at `offset`; returns 0 only at or past the end.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
}

/// A raw image file, read with `pread`.
#[cfg(unix)]
impl ReadAt for std::fs::File {
    fn size(&mut self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(self, buf, offset)
    }
}

/// A raw image as a backing image.
pub struct RawBacking<R> {
    inner: R,
    size: u64,
}

impl<R: Read + Seek> RawBacking<R> {
    /// Wraps a raw image; its size is its stream length.
    pub fn new(mut inner: R) -> io::Result<Self> {
        let size = inner.seek(SeekFrom::End(0))?;
        Ok(RawBacking { inner, size })
    }
}

impl<R: Read + Seek + Send> ReadAt for RawBacking<R> {
    fn size(&mut self) -> io::Result<u64> {
        Ok(self.size)
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.size.saturating_sub(offset) as usize);
        if n == 0 {
            return Ok(0);
        }
        self.inner.seek(SeekFrom::Start(offset))?;
        self.inner.read(&mut buf[..n])
    }
}

/// Checks that a backing file name from an untrusted image is a plain relative path below the
/// image's directory: not empty, not absolute, no `..` or `.`-only tricks, no qemu protocol
/// prefix (`nbd:`, `json:{…}`, `file:`), no NUL. The caller then opens it relative to the
/// directory of the image (never the process's working directory), without following
/// symlinks out of that directory, with the format of [`crate::Header::backing_format`]
/// (refuse when it is missing), and caps the chain depth.
pub fn check_backing_name(name: &str) -> Result<&Path, Error> {
    let bad = || Error::UnsafeBackingName(name.to_string());
    if name.is_empty() || name.contains('\0') || name.contains(':') {
        return Err(bad());
    }
    let path = Path::new(name);
    if path
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(bad());
    }
    if path.file_name().is_none() {
        return Err(bad());
    }
    Ok(path)
}

/// Fills `buf` from the backing image of `size` bytes at `offset`: bytes past its end read as
/// zeros, a short image (fewer bytes than it claims) is an error.
pub(crate) fn read_backing(
    b: &mut dyn ReadAt,
    size: u64,
    offset: u64,
    buf: &mut [u8],
) -> Result<(), Error> {
    let avail = size.saturating_sub(offset).min(buf.len() as u64) as usize;
    let mut done = 0;
    while done < avail {
        match b.read_at(offset + done as u64, &mut buf[done..avail]) {
            Ok(0) => {
                return Err(Error::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "backing image shorter than its size",
                )))
            }
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Io(e)),
        }
    }
    buf[avail..].fill(0);
    Ok(())
}
