//! Streaming encoders with systemd's export settings (import.md §7.1).

use std::io::{self, Write};

use crate::Compression;

/// A compressing writer that must be finished: [`FinishWrite::finish`] writes the trailer
/// (gzip CRC, xz index, zstd checksum …) and flushes the inner writer. Dropping it without
/// finishing leaves a truncated stream.
pub trait FinishWrite: Write + Send {
    /// Completes the stream, flushes and drops the inner writer.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

type Sink<'a> = Box<dyn Write + Send + 'a>;

/// Wraps `w` in an encoder for `c`: zstd at its default level with a content checksum (on
/// `threads` worker threads when `threads > 1`), xz preset 6 with CRC64 (multithreaded, in
/// independent blocks, when `threads > 1`), gzip at the default level, bzip2 at level 9.
/// [`Compression::None`] passes the bytes through.
pub fn encoder<'a>(
    c: Compression,
    w: Box<dyn Write + Send + 'a>,
    threads: u32,
) -> io::Result<Box<dyn FinishWrite + 'a>> {
    Ok(match c {
        Compression::None => Box::new(Plain(w)),
        Compression::Gzip => Box::new(Gz(flate2::write::GzEncoder::new(
            w,
            flate2::Compression::default(),
        ))),
        Compression::Xz => {
            let stream = if threads > 1 {
                liblzma::stream::MtStreamBuilder::new()
                    .preset(6)
                    .threads(threads)
                    .check(liblzma::stream::Check::Crc64)
                    .encoder()
            } else {
                liblzma::stream::Stream::new_easy_encoder(6, liblzma::stream::Check::Crc64)
            }
            .map_err(io::Error::other)?;
            Box::new(Xz(liblzma::write::XzEncoder::new_stream(w, stream)))
        }
        Compression::Bzip2 => Box::new(Bz(bzip2::write::BzEncoder::new(
            w,
            bzip2::Compression::best(),
        ))),
        Compression::Zstd => {
            // level 0 selects ZSTD_CLEVEL_DEFAULT.
            let mut enc = zstd::stream::write::Encoder::new(w, 0)?;
            enc.include_checksum(true)?;
            if threads > 1 {
                enc.multithread(threads)?;
            }
            Box::new(Zst(enc))
        }
    })
}

/// Forwards `write`/`flush` to the wrapped encoder.
macro_rules! forward_write {
    ($ty:ident $(<$lt:lifetime>)?) => {
        impl$(<$lt>)? Write for $ty$(<$lt>)? {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0.write(buf)
            }
            fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
                self.0.write_all(buf)
            }
            fn flush(&mut self) -> io::Result<()> {
                self.0.flush()
            }
        }
    };
}

struct Plain<'a>(Sink<'a>);
forward_write!(Plain<'a>);

impl FinishWrite for Plain<'_> {
    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.0.flush()
    }
}

struct Gz<'a>(flate2::write::GzEncoder<Sink<'a>>);
forward_write!(Gz<'a>);

impl FinishWrite for Gz<'_> {
    fn finish(self: Box<Self>) -> io::Result<()> {
        self.0.finish()?.flush()
    }
}

struct Xz<'a>(liblzma::write::XzEncoder<Sink<'a>>);
forward_write!(Xz<'a>);

impl FinishWrite for Xz<'_> {
    fn finish(self: Box<Self>) -> io::Result<()> {
        self.0.finish()?.flush()
    }
}

struct Bz<'a>(bzip2::write::BzEncoder<Sink<'a>>);
forward_write!(Bz<'a>);

impl FinishWrite for Bz<'_> {
    fn finish(self: Box<Self>) -> io::Result<()> {
        self.0.finish()?.flush()
    }
}

struct Zst<'a>(zstd::stream::write::Encoder<'static, Sink<'a>>);
forward_write!(Zst<'a>);

impl FinishWrite for Zst<'_> {
    fn finish(self: Box<Self>) -> io::Result<()> {
        self.0.finish()?.flush()
    }
}
