//! The archive byte stream: one large buffer filled straight from the input, from which
//! headers are parsed in place and file data is written to disk without another copy.

use std::io::{self, Read};

/// Size of the read buffer.
const BUF_SIZE: usize = 1 << 20;
/// Below this much free space at its end, the buffer is compacted before the next read.
const MIN_READ: usize = 64 * 1024;

pub(crate) const BLOCK: usize = 512;

pub(crate) struct Stream<'a> {
    input: &'a mut dyn Read,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    eof: bool,
    progress: Option<&'a (dyn Fn(u64) + Sync)>,
    /// Archive offset of `buf[start]`.
    pos: u64,
}

impl<'a> Stream<'a> {
    pub(crate) fn new(input: &'a mut dyn Read, progress: Option<&'a (dyn Fn(u64) + Sync)>) -> Self {
        Stream {
            input,
            buf: vec![0u8; BUF_SIZE].into_boxed_slice(),
            start: 0,
            end: 0,
            eof: false,
            progress,
            pos: 0,
        }
    }

    /// Archive offset of the next unconsumed byte.
    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    /// The buffered, unconsumed bytes.
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.pos += n as u64;
    }

    /// Makes at least `n` (≤ 64 KiB) bytes available; false if the input ends first (what is
    /// there stays buffered).
    pub(crate) fn fill(&mut self, n: usize) -> io::Result<bool> {
        debug_assert!(n <= MIN_READ);
        while self.end - self.start < n {
            if self.eof {
                return Ok(false);
            }
            if self.start == self.end {
                self.start = 0;
                self.end = 0;
            } else if self.buf.len() - self.end < MIN_READ {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            self.read_more()?;
        }
        Ok(true)
    }

    /// Makes some bytes available (one read when none are buffered); empty at end of input.
    pub(crate) fn fill_some(&mut self) -> io::Result<&[u8]> {
        if self.start == self.end && !self.eof {
            self.start = 0;
            self.end = 0;
            self.read_more()?;
        }
        Ok(self.buffered())
    }

    fn read_more(&mut self) -> io::Result<()> {
        loop {
            match self.input.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(k) => {
                    self.end += k;
                    if let Some(p) = self.progress {
                        p(k as u64);
                    }
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The next 512-byte block, consumed; `None` if the input ends before a whole block.
    pub(crate) fn block(&mut self) -> io::Result<Option<[u8; BLOCK]>> {
        if !self.fill(BLOCK)? {
            return Ok(None);
        }
        let mut b = [0u8; BLOCK];
        b.copy_from_slice(&self.buf[self.start..self.start + BLOCK]);
        self.consume(BLOCK);
        Ok(Some(b))
    }

    /// Discards `n` bytes; false if the input ends first.
    pub(crate) fn skip(&mut self, mut n: u64) -> io::Result<bool> {
        while n > 0 {
            let avail = self.fill_some()?.len();
            if avail == 0 {
                return Ok(false);
            }
            let k = avail.min(usize::try_from(n).unwrap_or(usize::MAX));
            self.consume(k);
            n -= k as u64;
        }
        Ok(true)
    }

    /// Appends the next `n` bytes to `out`; false if the input ends first.
    pub(crate) fn read_into(&mut self, n: usize, out: &mut Vec<u8>) -> io::Result<bool> {
        let mut left = n;
        while left > 0 {
            let avail = self.fill_some()?;
            if avail.is_empty() {
                return Ok(false);
            }
            let k = avail.len().min(left);
            out.extend_from_slice(&avail[..k]);
            self.consume(k);
            left -= k;
        }
        Ok(true)
    }

    /// Reads and discards everything up to the end of the input (trailing bytes after the
    /// archive), so that a writer feeding it through a pipe does not fail; read errors still
    /// count (a compressed stream's final check comes after the archive's last block).
    pub(crate) fn drain(&mut self) -> io::Result<()> {
        loop {
            let n = self.fill_some()?.len();
            if n == 0 {
                return Ok(());
            }
            self.consume(n);
        }
    }
}

/// Whether a block (or any slice) is all zero bytes.
pub(crate) fn is_zero(b: &[u8]) -> bool {
    // a quick look at the start rejects most data blocks; the rest is a branch-free OR fold
    // over 16-byte lanes that the compiler vectorizes.
    let (head, rest) = b.split_at(b.len().min(16));
    if head.iter().any(|&x| x != 0) {
        return false;
    }
    let mut chunks = rest.chunks_exact(16);
    let mut acc = [0u8; 16];
    for c in &mut chunks {
        for (a, x) in acc.iter_mut().zip(c) {
            *a |= *x;
        }
    }
    acc.iter().all(|&x| x == 0) && chunks.remainder().iter().all(|&x| x == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out at most 7 bytes per read.
    struct Trickle(Vec<u8>, usize);

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = (self.0.len() - self.1).min(buf.len()).min(7);
            buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
            self.1 += n;
            Ok(n)
        }
    }

    #[test]
    fn blocks_skip_and_read() {
        let data: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        let mut input = Trickle(data.clone(), 0);
        let total = std::sync::atomic::AtomicU64::new(0);
        let progress = |n: u64| {
            total.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        };
        let mut s = Stream::new(&mut input, Some(&progress));
        assert_eq!(s.block().unwrap().unwrap()[..], data[..512]);
        assert!(s.skip(100).unwrap());
        let mut v = Vec::new();
        assert!(s.read_into(1000, &mut v).unwrap());
        assert_eq!(v, &data[612..1612]);
        assert_eq!(s.pos(), 1612);
        assert!(s.block().unwrap().is_some());
        assert!(!s.skip(5000).unwrap());
        s.drain().unwrap();
        assert_eq!(total.load(std::sync::atomic::Ordering::Relaxed), 3000);
    }

    #[test]
    fn zero_detection() {
        assert!(is_zero(&[0; 4096]));
        assert!(is_zero(&[]));
        for i in [0, 15, 16, 100, 4095] {
            let mut b = [0u8; 4096];
            b[i] = 1;
            assert!(!is_zero(&b), "{i}");
        }
        let mut b = [0u8; 37];
        b[36] = 9;
        assert!(!is_zero(&b));
    }
}
