//! qcow2 → raw conversion with holes: [`Reader::copy_to_raw`].

use std::io::{Read, Seek, SeekFrom, Write};

use crate::backing::read_backing;
use crate::map::Kind;
use crate::table::read_exact_at;
use crate::{Error, Reader};

/// Bytes copied per read: bounds memory whatever the image size.
const CHUNK: usize = 1 << 20;
/// Zero detection granularity: aligned blocks of zeros in data are left as holes too, as
/// `qemu-img convert` does (its default `-S 4k`).
const ZERO_BLOCK: u64 = 4096;
/// Progress is reported every this many guest bytes, and at the end.
const PROGRESS_STEP: u64 = 4 << 20;

pub(crate) fn is_zero(b: &[u8]) -> bool {
    // A branch-free OR over the whole block vectorises well; blocks are small.
    b.iter().fold(0u8, |acc, &x| acc | x) == 0
}

/// Writes `data` at `offset` of `out`, skipping aligned all-zero blocks.
struct SparseOut<'a, W: Write + Seek> {
    out: &'a mut W,
    /// Where the stream position is, when known.
    at: Option<u64>,
}

impl<W: Write + Seek> SparseOut<'_, W> {
    fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), Error> {
        let end = offset + data.len() as u64;
        let mut pos = offset;
        let mut run_start: Option<u64> = None;
        while pos < end {
            let block_end = ((pos / ZERO_BLOCK + 1) * ZERO_BLOCK).min(end);
            let block = &data[(pos - offset) as usize..(block_end - offset) as usize];
            match (is_zero(block), run_start) {
                (false, None) => run_start = Some(pos),
                (true, Some(s)) => {
                    self.put(s, &data[(s - offset) as usize..(pos - offset) as usize])?;
                    run_start = None;
                }
                _ => {}
            }
            pos = block_end;
        }
        if let Some(s) = run_start {
            self.put(s, &data[(s - offset) as usize..])?;
        }
        Ok(())
    }

    fn put(&mut self, offset: u64, data: &[u8]) -> Result<(), Error> {
        if self.at != Some(offset) {
            self.out.seek(SeekFrom::Start(offset))?;
        }
        self.out.write_all(data)?;
        self.at = Some(offset + data.len() as u64);
        Ok(())
    }
}

impl<R: Read + Seek> Reader<R> {
    /// Converts to raw: writes every byte with content at its guest offset of `out` and leaves
    /// holes (never writes) for zeros — unallocated clusters, zero clusters and aligned 4 KiB
    /// blocks of zeros in data. `out` should be empty (a new file); the caller then truncates
    /// it to [`Reader::virtual_size`] so that trailing holes exist. Memory stays bounded (one
    /// L2 table, a 1 MiB buffer, one compressed cluster). `progress` receives the number of guest
    /// bytes newly done (deltas, as `wharf_core::Progress::advance`), adding up to the virtual
    /// size.
    pub fn copy_to_raw(
        &mut self,
        out: &mut (impl Write + Seek),
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), Error> {
        let size = self.virtual_size();
        let cs = self.header().cluster_size();
        let mut sink = SparseOut { out, at: None };
        let mut buf = vec![0u8; CHUNK];
        let (mut pos, mut reported) = (0u64, 0u64);
        while pos < size {
            let (kind, len) = self.tables.run(&mut self.file, pos)?;
            match kind {
                Kind::Zero => {}
                Kind::Data(host) => {
                    let mut done = 0;
                    while done < len {
                        let n = (len - done).min(CHUNK as u64) as usize;
                        read_exact_at(&mut self.file, host + done, &mut buf[..n])?;
                        sink.write(pos + done, &buf[..n])?;
                        done += n as u64;
                    }
                }
                Kind::Compressed { offset, len: clen } => {
                    let in_cluster = (pos & (cs - 1)) as usize;
                    let data = self.decompress(offset, clen)?;
                    sink.write(pos, &data[in_cluster..in_cluster + len as usize])?;
                }
                Kind::Unallocated => {
                    if let Some((b, bsize)) = self.backing()? {
                        // Past the backing image's end everything is zeros: stop there.
                        let inside = bsize.saturating_sub(pos).min(len);
                        let mut done = 0;
                        while done < inside {
                            let n = (inside - done).min(CHUNK as u64) as usize;
                            read_backing(b, bsize, pos + done, &mut buf[..n])?;
                            sink.write(pos + done, &buf[..n])?;
                            done += n as u64;
                        }
                    }
                }
            }
            pos += len;
            if pos - reported >= PROGRESS_STEP {
                progress(pos - reported);
                reported = pos;
            }
        }
        sink.out.flush()?;
        if size > reported {
            progress(size - reported);
        }
        Ok(())
    }
}
