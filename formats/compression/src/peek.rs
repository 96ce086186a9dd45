//! Looking at the first bytes of a stream without losing them.

use std::io::{self, BufRead, Read};

/// A reader that yields a previously read head and then the rest of the inner reader.
#[derive(Debug)]
pub struct Sniffed<R> {
    head: Vec<u8>,
    pos: usize,
    inner: R,
}

impl<R> Sniffed<R> {
    /// A reader yielding `head` and then everything `inner` yields.
    pub fn new(head: Vec<u8>, inner: R) -> Self {
        Sniffed {
            head,
            pos: 0,
            inner,
        }
    }

    /// The part of the head not read yet.
    pub fn pending(&self) -> &[u8] {
        &self.head[self.pos..]
    }

    /// The inner reader; the bytes of [`Sniffed::pending`] are lost.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for Sniffed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let pending = &self.head[self.pos..];
        if pending.is_empty() {
            return self.inner.read(buf);
        }
        let n = pending.len().min(buf.len());
        buf[..n].copy_from_slice(&pending[..n]);
        self.pos += n;
        if self.pos == self.head.len() {
            // free the head once it is consumed.
            self.head = Vec::new();
            self.pos = 0;
        }
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Sniffed<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos < self.head.len() {
            Ok(&self.head[self.pos..])
        } else {
            self.inner.fill_buf()
        }
    }

    fn consume(&mut self, amt: usize) {
        let pending = self.head.len() - self.pos;
        if pending == 0 {
            self.inner.consume(amt);
        } else {
            self.pos += amt.min(pending);
            if self.pos == self.head.len() {
                self.head = Vec::new();
                self.pos = 0;
            }
        }
    }
}

/// Reads up to `n` bytes from `r` (fewer only at end of stream) and returns them together with
/// a reader that yields those same bytes again followed by the rest of `r`.
pub fn peek<R: Read>(mut r: R, n: usize) -> io::Result<(Vec<u8>, Sniffed<R>)> {
    let mut head = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match r.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    head.truncate(got);
    Ok((head.clone(), Sniffed::new(head, r)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out at most 3 bytes per read, like a slow pipe.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(3);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn peek_keeps_bytes() {
        let data: Vec<u8> = (0..100u8).collect();
        let (head, mut r) = peek(Trickle(&data), 10).unwrap();
        assert_eq!(head, &data[..10]);
        let mut all = Vec::new();
        r.read_to_end(&mut all).unwrap();
        assert_eq!(all, data);
    }

    #[test]
    fn peek_short_stream() {
        let (head, mut r) = peek(&b"ab"[..], 6).unwrap();
        assert_eq!(head, b"ab");
        let mut all = Vec::new();
        r.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"ab");
    }

    #[test]
    fn bufread_passthrough() {
        let (_, mut r) = peek(&b"hello world"[..], 4).unwrap();
        assert_eq!(r.fill_buf().unwrap(), b"hell");
        r.consume(2);
        assert_eq!(r.pending(), b"ll");
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "llo world");
    }
}
