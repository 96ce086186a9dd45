//! File data copying: reflink (`FICLONE`) first, else a sparse copy that keeps holes.

use std::sync::atomic::Ordering;

use rustix::fd::BorrowedFd;
use rustix::fs::{ftruncate, ioctl_ficlone, seek, SeekFrom};
use rustix::io::{pread, pwrite, Errno};

use super::CopyOptions;
use crate::FsError;

/// Size of the read buffer.
const CHUNK: usize = 1 << 20;
/// All-zero blocks of this size inside data extents are skipped (left as holes).
const BLOCK: u64 = 4096;
/// Progress is reported at least every this many bytes.
const PROGRESS_STEP: u64 = 4 << 20;

static ZEROES: [u8; BLOCK as usize] = [0; BLOCK as usize];

/// How a file's data was copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Reflink,
    Sparse,
}

/// Failure of a data copy: which side and operation, or cancellation.
pub(crate) enum DataError {
    Src(&'static str, Errno),
    Dst(&'static str, Errno),
    Cancelled,
}

/// Copies file contents; remembers across files whether reflinks work.
pub(crate) struct DataCopier<'o, 'a> {
    opts: &'o CopyOptions<'a>,
    try_reflink: bool,
    buf: Vec<u8>,
}

/// Tracks the logical progress through one file and reports deltas.
struct FileProgress<'o, 'a> {
    opts: &'o CopyOptions<'a>,
    reported: u64,
}

impl FileProgress<'_, '_> {
    fn advance(&mut self, pos: u64) {
        if pos >= self.reported + PROGRESS_STEP {
            if let Some(cb) = self.opts.progress {
                cb(pos - self.reported);
            }
            self.reported = pos;
        }
    }

    fn finish(&mut self, size: u64) {
        if let Some(cb) = self.opts.progress {
            cb(size.saturating_sub(self.reported));
        }
        self.reported = size.max(self.reported);
    }
}

impl<'o, 'a> DataCopier<'o, 'a> {
    pub(crate) fn new(opts: &'o CopyOptions<'a>) -> Self {
        DataCopier {
            opts,
            try_reflink: opts.reflink,
            buf: Vec::new(),
        }
    }

    pub(crate) fn cancelled(&self) -> bool {
        self.opts.cancel.is_some_and(|c| c.load(Ordering::Relaxed))
    }

    pub(crate) fn check_cancel(&self) -> Result<(), FsError> {
        if self.cancelled() {
            Err(FsError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Copy `size` bytes of `src` into the new, empty `dst`.
    pub(crate) fn copy(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        size: u64,
    ) -> Result<Method, DataError> {
        if self.cancelled() {
            return Err(DataError::Cancelled);
        }
        let mut progress = FileProgress {
            opts: self.opts,
            reported: 0,
        };
        if self.try_reflink {
            match ioctl_ficlone(dst, src) {
                Ok(()) => {
                    progress.finish(size);
                    return Ok(Method::Reflink);
                }
                // Not supported here (other filesystem, no reflink support, NOCOW mismatch):
                // do not try again during this copy.
                Err(Errno::XDEV | Errno::OPNOTSUPP | Errno::INVAL | Errno::NOTTY) => {
                    self.try_reflink = false;
                }
                Err(e) => return Err(DataError::Dst("reflink", e)),
            }
        }
        self.sparse_copy(src, dst, size, &mut progress)?;
        progress.finish(size);
        Ok(Method::Sparse)
    }

    fn sparse_copy(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        size: u64,
        progress: &mut FileProgress<'_, '_>,
    ) -> Result<(), DataError> {
        if self.buf.len() < CHUNK {
            self.buf = vec![0; CHUNK];
        }
        let mut off = 0u64;
        while off < size {
            let data = match seek(src, SeekFrom::Data(off)) {
                Ok(d) => d,
                Err(Errno::NXIO) => break, // only a hole remains
                // No SEEK_DATA support: everything is data.
                Err(Errno::INVAL | Errno::OPNOTSUPP) => off,
                Err(e) => return Err(DataError::Src("seek data", e)),
            };
            if data >= size {
                break;
            }
            let hole = match seek(src, SeekFrom::Hole(data)) {
                Ok(h) if h > data => h.min(size),
                Ok(_) | Err(Errno::NXIO | Errno::INVAL | Errno::OPNOTSUPP) => size,
                Err(e) => return Err(DataError::Src("seek hole", e)),
            };
            let end = self.copy_range(src, dst, data, hole, progress)?;
            if end == data {
                break; // file shrank: nothing more to read
            }
            off = end;
        }
        ftruncate(dst, size).map_err(|e| DataError::Dst("truncate", e))
    }

    /// Copy `[start, end)` skipping all-zero blocks; returns where it stopped (`end`, or
    /// earlier at EOF).
    fn copy_range(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        start: u64,
        end: u64,
        progress: &mut FileProgress<'_, '_>,
    ) -> Result<u64, DataError> {
        let mut pos = start;
        while pos < end {
            if self.cancelled() {
                return Err(DataError::Cancelled);
            }
            let want = usize::try_from(end - pos).unwrap_or(usize::MAX).min(CHUNK);
            let n = match pread(src, &mut self.buf[..want], pos) {
                Ok(0) => return Ok(pos),
                Ok(n) => n,
                Err(Errno::INTR) => continue,
                Err(e) => return Err(DataError::Src("read", e)),
            };
            write_nonzero(dst, &self.buf[..n], pos)?;
            pos += n as u64;
            progress.advance(pos);
        }
        Ok(pos)
    }
}

/// Write `data` (which belongs at file offset `pos`) except its all-zero 4 KiB blocks
/// (aligned to file offsets).
fn write_nonzero(dst: BorrowedFd<'_>, data: &[u8], pos: u64) -> Result<(), DataError> {
    let mut i = 0usize;
    let mut run_start: Option<usize> = None;
    while i < data.len() {
        let abs = pos + i as u64;
        let block_end = ((abs / BLOCK + 1) * BLOCK - pos) as usize;
        let j = block_end.min(data.len());
        let zero = data[i..j] == ZEROES[..j - i];
        match (zero, run_start) {
            (false, None) => run_start = Some(i),
            (true, Some(s)) => {
                write_all_at(dst, &data[s..i], pos + s as u64)?;
                run_start = None;
            }
            _ => {}
        }
        i = j;
    }
    if let Some(s) = run_start {
        write_all_at(dst, &data[s..], pos + s as u64)?;
    }
    Ok(())
}

fn write_all_at(dst: BorrowedFd<'_>, mut data: &[u8], mut pos: u64) -> Result<(), DataError> {
    while !data.is_empty() {
        match pwrite(dst, data, pos) {
            Ok(0) => return Err(DataError::Dst("write", Errno::NOSPC)),
            Ok(n) => {
                data = &data[n..];
                pos += n as u64;
            }
            Err(Errno::INTR) => {}
            Err(e) => return Err(DataError::Dst("write", e)),
        }
    }
    Ok(())
}
