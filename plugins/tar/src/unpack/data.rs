//! File data: written straight from the stream buffer, leaving all-zero 4 KiB blocks
//! unwritten so they become holes (the file is new, so unwritten ranges read as zeros).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};

use super::error::UnpackError;
use super::stream::{is_zero, Stream};

/// Hole granularity: the filesystem block size of ext4, btrfs, xfs.
const HOLE_BLOCK: u64 = 4096;

/// Copies `len` bytes of entry data from `stream` to `file` at `off`. Returns the end offset
/// of the last byte actually written (0 if nothing was), so the caller knows whether the file
/// must be extended over a trailing hole.
pub(crate) fn copy(
    stream: &mut Stream<'_>,
    file: &File,
    mut off: u64,
    len: u64,
    cancel: Option<&AtomicBool>,
    entry: &[u8],
) -> Result<u64, UnpackError> {
    let mut left = len;
    let mut written_end = 0;
    while left > 0 {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(UnpackError::Cancelled);
        }
        // at least up to the next block boundary, so chunks stay block-aligned.
        let to_boundary = HOLE_BLOCK - off % HOLE_BLOCK;
        let want = left.min(to_boundary) as usize;
        let filled = stream
            .fill(want)
            .map_err(|e| UnpackError::io("read archive", entry, e))?;
        if !filled {
            return Err(UnpackError::corrupt(
                entry,
                "archive ends inside the file data",
            ));
        }
        let avail = stream.buffered();
        let mut take = avail.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if (take as u64) < left {
            let end = off + take as u64;
            let aligned = end - end % HOLE_BLOCK;
            if aligned > off {
                take = (aligned - off) as usize;
            }
        }
        if let Some(end) = write_skipping_zeros(file, off, &avail[..take])
            .map_err(|e| UnpackError::io("write", entry, e))?
        {
            written_end = end;
        }
        stream.consume(take);
        off += take as u64;
        left -= take as u64;
    }
    Ok(written_end)
}

/// Writes `data` at `off`, skipping all-zero blocks (aligned to [`HOLE_BLOCK`] in the file);
/// runs of non-zero blocks go out in one write. Returns the end of the last write.
fn write_skipping_zeros(file: &File, off: u64, data: &[u8]) -> std::io::Result<Option<u64>> {
    let mut last_end = None;
    let mut run_start: Option<usize> = None;
    let mut i = 0usize;
    while i < data.len() {
        let block_off = off + i as u64;
        let n = ((HOLE_BLOCK - block_off % HOLE_BLOCK) as usize).min(data.len() - i);
        let zero = is_zero(&data[i..i + n]);
        match (zero, run_start) {
            (true, Some(s)) => {
                file.write_all_at(&data[s..i], off + s as u64)?;
                last_end = Some(off + i as u64);
                run_start = None;
            }
            (false, None) => run_start = Some(i),
            _ => {}
        }
        i += n;
    }
    if let Some(s) = run_start {
        file.write_all_at(&data[s..], off + s as u64)?;
        last_end = Some(off + data.len() as u64);
    }
    Ok(last_end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn zero_blocks_become_holes() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f");
        let file = File::create(&path).unwrap();
        let mut data = vec![0u8; 1 << 20];
        data[5000] = 1; // block 1
        data[(1 << 20) - 1] = 2; // last block
        let mut input = &data[..];
        let mut s = Stream::new(&mut input, None);
        let end = copy(&mut s, &file, 0, data.len() as u64, None, b"f").unwrap();
        assert_eq!(end, data.len() as u64);
        drop(file);
        assert_eq!(std::fs::read(&path).unwrap(), data);
        let blocks = std::fs::metadata(&path).unwrap().blocks();
        assert!(blocks <= 2 * 8 + 8, "{blocks} sectors allocated");
    }

    #[test]
    fn unaligned_offsets_and_trailing_zeros() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f");
        let file = File::create(&path).unwrap();
        let mut data = vec![7u8; 10_000];
        data[9000..].fill(0);
        let mut input = &data[..];
        let mut s = Stream::new(&mut input, None);
        let end = copy(&mut s, &file, 100, data.len() as u64, None, b"f").unwrap();
        // the last written block ends at 12288 (the zero tail from 9100 shares it).
        assert!((9_100..=10_100).contains(&end), "{end}");
        file.set_len(10_100).unwrap();
        let got = std::fs::read(&path).unwrap();
        assert_eq!(&got[100..], &data[..]);
        assert!(got[..100].iter().all(|&b| b == 0));
    }

    #[test]
    fn truncated_data_is_corrupt() {
        let tmp = tempfile::tempdir().unwrap();
        let file = File::create(tmp.path().join("f")).unwrap();
        let data = [1u8; 100];
        let mut input = &data[..];
        let mut s = Stream::new(&mut input, None);
        let err = copy(&mut s, &file, 0, 200, None, b"x").unwrap_err();
        assert!(matches!(err, UnpackError::Corrupt(_)), "{err}");
    }
}
