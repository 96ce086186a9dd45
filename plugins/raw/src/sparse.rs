//! Writing a byte stream into a file so that runs of zeros become holes.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;

/// Granularity of hole detection: zero blocks of this size are not written.
pub const BLOCK: usize = 4096;

/// Copy `input` into `out` from offset 0, leaving every all-zero [`BLOCK`] unwritten (a hole),
/// then set the file's length to the number of bytes read. `progress` gets byte deltas.
/// Returns the stream's length.
pub fn write_sparse(
    input: &mut dyn Read,
    out: &File,
    progress: &mut dyn FnMut(u64),
    cancel: &dyn Fn() -> bool,
) -> io::Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut offset = 0u64;
    loop {
        if cancel() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "cancelled"));
        }
        let n = read_full(input, &mut buf)?;
        if n == 0 {
            break;
        }
        write_nonzero(out, &buf[..n], offset)?;
        offset += n as u64;
        progress(n as u64);
    }
    out.set_len(offset)?;
    Ok(offset)
}

/// Write the non-zero blocks of `data` at `offset`, merging neighbouring ones into one write.
pub fn write_nonzero(out: &File, data: &[u8], offset: u64) -> io::Result<()> {
    let mut run_start: Option<usize> = None;
    let mut pos = 0;
    while pos < data.len() {
        let end = (pos + BLOCK).min(data.len());
        let zero = is_zero(&data[pos..end]);
        match (zero, run_start) {
            (false, None) => run_start = Some(pos),
            (true, Some(s)) => {
                out.write_all_at(&data[s..pos], offset + s as u64)?;
                run_start = None;
            }
            _ => {}
        }
        pos = end;
    }
    if let Some(s) = run_start {
        out.write_all_at(&data[s..], offset + s as u64)?;
    }
    Ok(())
}

/// Whether every byte of `b` is zero (word-at-a-time).
pub fn is_zero(b: &[u8]) -> bool {
    let (head, words, tail) = {
        let mid = b.len() / 8 * 8;
        (&b[..0], &b[..mid], &b[mid..])
    };
    head.is_empty()
        && words
            .chunks_exact(8)
            .all(|w| u64::from_ne_bytes(w.try_into().unwrap_or([1; 8])) == 0)
        && tail.iter().all(|x| *x == 0)
}

/// Read until `buf` is full or the stream ends.
pub fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn zero_runs_become_holes_and_data_is_exact() {
        let mut data = vec![0u8; 8 << 20];
        data[3 << 20..(3 << 20) + 5000].fill(7);
        data[(8 << 20) - 1] = 1;
        let f = tempfile::tempfile().unwrap();
        let n = write_sparse(&mut &data[..], &f, &mut |_| {}, &|| false).unwrap();
        assert_eq!(n, data.len() as u64);
        let mut back = vec![0u8; data.len()];
        f.read_exact_at(&mut back, 0).unwrap();
        assert_eq!(back, data);
        assert!(
            f.metadata().unwrap().blocks() * 512 < 64 * 1024,
            "not sparse"
        );
    }

    #[test]
    fn trailing_zeros_keep_the_length() {
        let data = vec![0u8; 10_000];
        let f = tempfile::tempfile().unwrap();
        write_sparse(&mut &data[..], &f, &mut |_| {}, &|| false).unwrap();
        assert_eq!(f.metadata().unwrap().len(), 10_000);
        assert!(is_zero(&[0; 13]) && !is_zero(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 1]));
    }
}
