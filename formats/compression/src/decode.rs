//! Streaming decoders that go on across gzip members, xz and bzip2 streams and zstd frames.
//!
//! Each codec decodes one member through its `bufread` decoder over a shared [`Source`];
//! when a member ends (its trailer checked), zero bytes are skipped and the next bytes must
//! start another member, or the stream ends there: whatever follows is trailing garbage and
//! is not read (`gzip -d` ignores it the same way).

use std::io::{self, BufRead, Read};

use crate::Compression;

/// Input buffer size of the compressed stream (zstd's preferred input is 128 KiB).
const SOURCE_BUF: usize = 256 * 1024;

/// The most memory an xz stream may make liblzma use (dictionary and threads), so a hostile
/// header cannot ask for more; `xz -9` needs 65 MiB.
const XZ_MEMLIMIT: u64 = 1 << 30;
/// Above this estimated memory use the xz decoder uses fewer threads (down to one). Kept low so
/// a whole import stays within 64 MiB of memory whatever the archive (multi-threaded decoding
/// of `xz -T0` streams otherwise holds whole blocks in memory: 125 MiB peak measured).
const XZ_MEMLIMIT_THREADING: u64 = 40 << 20;
/// Upper bound of xz decoder threads (multi-block streams only).
const XZ_MAX_THREADS: u32 = 8;

/// Wraps `r`, a stream compressed with `c`, in a reader of the decompressed bytes.
/// [`Compression::None`] returns `r` unchanged.
pub fn decoder<'a>(
    c: Compression,
    r: Box<dyn Read + Send + 'a>,
) -> io::Result<Box<dyn Read + Send + 'a>> {
    // the buffer of a Source is allocated on first use, so `None` costs nothing.
    let src = Source::new(r);
    Ok(match c {
        Compression::None => src.inner,
        Compression::Gzip => Box::new(Multi::<Gzip<'a>>::new(src)?),
        Compression::Xz => Box::new(Multi::<Xz<'a>>::new(src)?),
        Compression::Bzip2 => Box::new(Multi::<Bzip2<'a>>::new(src)?),
        Compression::Zstd => Box::new(Multi::<Zstd<'a>>::new(src)?),
    })
}

/// A buffered reader that can make sure a few bytes are available without consuming them.
struct Source<'a> {
    inner: Box<dyn Read + Send + 'a>,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl<'a> Source<'a> {
    fn new(inner: Box<dyn Read + Send + 'a>) -> Self {
        Source {
            inner,
            buf: Box::default(),
            start: 0,
            end: 0,
        }
    }

    /// At least `n` buffered bytes (fewer only at end of stream), not consumed.
    fn peek(&mut self, n: usize) -> io::Result<&[u8]> {
        debug_assert!(n <= 64);
        self.alloc();
        if self.end - self.start < n {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            while self.end < n {
                match self.inner.read(&mut self.buf[self.end..]) {
                    Ok(0) => break,
                    Ok(k) => self.end += k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(&self.buf[self.start..self.end])
    }

    fn alloc(&mut self) {
        if self.buf.is_empty() {
            self.buf = vec![0u8; SOURCE_BUF].into_boxed_slice();
        }
    }

    /// Consumes zero bytes; false at end of stream.
    fn skip_zeros(&mut self) -> io::Result<bool> {
        loop {
            let avail = self.fill_buf()?;
            if avail.is_empty() {
                return Ok(false);
            }
            let zeros = avail.iter().take_while(|&&b| b == 0).count();
            let all = zeros == avail.len();
            self.consume(zeros);
            if !all {
                return Ok(true);
            }
        }
    }
}

impl Read for Source<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Source<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.start == self.end {
            self.alloc();
            self.start = 0;
            self.end = 0;
            loop {
                match self.inner.read(&mut self.buf) {
                    Ok(k) => {
                        self.end = k;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(&self.buf[self.start..self.end])
    }

    fn consume(&mut self, amt: usize) {
        self.start = (self.start + amt).min(self.end);
    }
}

/// One member decoder of a codec.
trait Member<'a>: Read + Send + Sized {
    /// How many bytes [`Member::starts`] looks at.
    const MAGIC_LEN: usize;
    /// Whether `head` (at least `MAGIC_LEN` bytes) starts another member.
    fn starts(head: &[u8]) -> bool;
    fn start(src: Source<'a>) -> io::Result<Self>;
    /// After `read` returned 0: the source, positioned right after this member.
    fn end(self) -> io::Result<Source<'a>>;
}

enum State<'a, D> {
    Member(D),
    Between(Source<'a>),
    Done,
    Failed,
}

struct Multi<'a, D> {
    state: State<'a, D>,
}

impl<'a, D: Member<'a>> Multi<'a, D> {
    fn new(src: Source<'a>) -> io::Result<Self> {
        Ok(Multi {
            state: State::Member(D::start(src)?),
        })
    }

    fn step(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match std::mem::replace(&mut self.state, State::Failed) {
            State::Member(mut d) => match d.read(buf)? {
                0 => self.state = State::Between(d.end()?),
                n => {
                    self.state = State::Member(d);
                    return Ok(Some(n));
                }
            },
            State::Between(mut src) => {
                if !src.skip_zeros()? {
                    self.state = State::Done;
                } else if D::starts(src.peek(D::MAGIC_LEN)?) {
                    self.state = State::Member(D::start(src)?);
                } else {
                    // trailing garbage: the stream ends with the last complete member.
                    self.state = State::Done;
                }
            }
            State::Done => {
                self.state = State::Done;
                return Ok(Some(0));
            }
            State::Failed => {
                return Err(io::Error::other(
                    "compressed stream already failed to decode",
                ))
            }
        }
        Ok(None)
    }
}

impl<'a, D: Member<'a>> Read for Multi<'a, D> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if let Some(n) = self.step(buf)? {
                return Ok(n);
            }
        }
    }
}

struct Gzip<'a>(flate2::bufread::GzDecoder<Source<'a>>);

impl Read for Gzip<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<'a> Member<'a> for Gzip<'a> {
    const MAGIC_LEN: usize = 2;
    fn starts(head: &[u8]) -> bool {
        head.starts_with(Compression::Gzip.magic())
    }
    fn start(src: Source<'a>) -> io::Result<Self> {
        Ok(Gzip(flate2::bufread::GzDecoder::new(src)))
    }
    fn end(self) -> io::Result<Source<'a>> {
        Ok(self.0.into_inner())
    }
}

struct Xz<'a>(liblzma::bufread::XzDecoder<Source<'a>>);

impl Read for Xz<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<'a> Member<'a> for Xz<'a> {
    const MAGIC_LEN: usize = 6;
    fn starts(head: &[u8]) -> bool {
        head.starts_with(Compression::Xz.magic())
    }
    fn start(src: Source<'a>) -> io::Result<Self> {
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| u32::try_from(n.get()).unwrap_or(1))
            .min(XZ_MAX_THREADS);
        // One stream (no LZMA_CONCATENATED): Multi finds the next one itself. Multi-block
        // streams (xz -T) decode on `threads` threads; single-block ones on this one.
        let stream = liblzma::stream::MtStreamBuilder::new()
            .threads(threads)
            .memlimit_threading(XZ_MEMLIMIT_THREADING)
            .memlimit_stop(XZ_MEMLIMIT)
            .decoder()
            .map_err(io::Error::other)?;
        Ok(Xz(liblzma::bufread::XzDecoder::new_stream(src, stream)))
    }
    fn end(self) -> io::Result<Source<'a>> {
        Ok(self.0.into_inner())
    }
}

struct Bzip2<'a>(bzip2::bufread::BzDecoder<Source<'a>>);

impl Read for Bzip2<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<'a> Member<'a> for Bzip2<'a> {
    const MAGIC_LEN: usize = 3;
    fn starts(head: &[u8]) -> bool {
        head.starts_with(Compression::Bzip2.magic())
    }
    fn start(src: Source<'a>) -> io::Result<Self> {
        Ok(Bzip2(bzip2::bufread::BzDecoder::new(src)))
    }
    fn end(self) -> io::Result<Source<'a>> {
        Ok(self.0.into_inner())
    }
}

struct Zstd<'a>(zstd::stream::read::Decoder<'static, Source<'a>>);

impl Read for Zstd<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<'a> Member<'a> for Zstd<'a> {
    const MAGIC_LEN: usize = 4;
    fn starts(head: &[u8]) -> bool {
        // a zstd frame, or a skippable frame (magic 0x184D2A50..=0x184D2A5F, little endian).
        head.starts_with(Compression::Zstd.magic())
            || (head.len() >= 4 && head[0] & 0xF0 == 0x50 && head[1..4] == [0x2A, 0x4D, 0x18])
    }
    fn start(src: Source<'a>) -> io::Result<Self> {
        Ok(Zstd(
            zstd::stream::read::Decoder::with_buffer(src)?.single_frame(),
        ))
    }
    fn end(mut self) -> io::Result<Source<'a>> {
        self.0.finish_frame()?;
        Ok(self.0.into_inner())
    }
}
