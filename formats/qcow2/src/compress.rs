//! Compressed clusters: raw deflate (qemu's "zlib") and zstd, one cluster per stream.
//!
//! Decoding follows qemu: the stored bytes may be followed by unrelated bytes (sector padding,
//! the next cluster's stream), and the stream must produce exactly one cluster, no more and no
//! less. Encoding uses a 4 KiB deflate window because qemu inflates with `windowBits = -12`.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use zstd::stream::raw::{DParameter, Decoder, InBuffer, Operation, OutBuffer};

use crate::Error;

/// The algorithm of compressed clusters (header field `compression_type`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CompressionType {
    /// Raw deflate (no zlib header), the only type before qemu 5.1.
    #[default]
    Zlib,
    /// One zstd frame per cluster (incompatible feature bit 3).
    Zstd,
}

/// deflate window qemu uses for qcow2 (`windowBits = -12`).
const DEFLATE_WINDOW_BITS: u8 = 12;
/// zstd level of `qemu-img convert -c -o compression_type=zstd`.
const ZSTD_LEVEL: i32 = 3;
/// Largest zstd window accepted: clusters are at most 2 MiB, so frames never need more; this
/// bounds what a crafted frame header can make the decoder allocate.
const ZSTD_WINDOW_LOG_MAX: u32 = 23;

enum Dec {
    Zlib(Box<Decompress>),
    Zstd(Box<Decoder<'static>>),
}

/// Reusable decoder for one image's compressed clusters.
pub(crate) struct Decompressor(Dec);

impl Decompressor {
    pub(crate) fn new(kind: CompressionType) -> Result<Self, Error> {
        Ok(Decompressor(match kind {
            // 15-bit window: accepts qemu's 12-bit streams and any other raw deflate stream.
            CompressionType::Zlib => Dec::Zlib(Box::new(Decompress::new(false))),
            CompressionType::Zstd => {
                let mut d = Decoder::new().map_err(|e| Error::Decompress(format!("zstd: {e}")))?;
                d.set_parameter(DParameter::WindowLogMax(ZSTD_WINDOW_LOG_MAX))
                    .map_err(|e| Error::Decompress(format!("zstd: {e}")))?;
                Dec::Zstd(Box::new(d))
            }
        }))
    }

    /// Decodes the stream at the start of `input` into `out`, which must be filled exactly.
    pub(crate) fn cluster(&mut self, input: &[u8], out: &mut [u8]) -> Result<(), Error> {
        match &mut self.0 {
            Dec::Zlib(d) => inflate(d, input, out),
            Dec::Zstd(d) => unzstd(d, input, out),
        }
    }
}

fn inflate(d: &mut Decompress, input: &[u8], out: &mut [u8]) -> Result<(), Error> {
    let err = |m: String| Error::Decompress(format!("deflate: {m}"));
    d.reset(false);
    let (mut read, mut filled) = (0usize, 0usize);
    let mut status;
    loop {
        status = d
            .decompress(&input[read..], &mut out[filled..], FlushDecompress::Finish)
            .map_err(|e| err(e.to_string()))?;
        let (r, f) = (d.total_in() as usize, d.total_out() as usize);
        let progress = r > read || f > filled;
        (read, filled) = (r, f);
        if status == Status::StreamEnd || filled == out.len() || !progress {
            break;
        }
    }
    if filled < out.len() {
        return Err(err(format!(
            "stream yields {filled} bytes, not one cluster of {}",
            out.len()
        )));
    }
    if status != Status::StreamEnd {
        // The cluster is full: the stream may end here (or lack its final bytes, which qemu
        // tolerates too) but must not carry more data.
        let mut extra = [0u8; 1];
        d.decompress(&input[read..], &mut extra, FlushDecompress::Finish)
            .map_err(|e| err(e.to_string()))?;
        if d.total_out() as usize > filled {
            return Err(err("stream is longer than one cluster".into()));
        }
    }
    Ok(())
}

fn unzstd(d: &mut Decoder<'static>, input: &[u8], out: &mut [u8]) -> Result<(), Error> {
    let err = |m: String| Error::Decompress(format!("zstd: {m}"));
    d.reinit().map_err(|e| err(e.to_string()))?;
    let len = out.len();
    let mut inb = InBuffer::around(input);
    let mut outb = OutBuffer::around(out);
    loop {
        let (ip, op) = (inb.pos(), outb.pos());
        let hint = d.run(&mut inb, &mut outb).map_err(|e| err(e.to_string()))?;
        if hint == 0 {
            break; // frame fully decoded and flushed
        }
        if inb.pos() == ip && outb.pos() == op {
            return Err(err(if outb.pos() == len {
                "frame is longer than one cluster".into()
            } else {
                format!("frame truncated after {} bytes", outb.pos())
            }));
        }
    }
    if outb.pos() != len {
        return Err(err(format!(
            "frame yields {} bytes, not one cluster of {len}",
            outb.pos()
        )));
    }
    Ok(())
}

fn new_deflate() -> Compress {
    Compress::new_with_window_bits(Compression::default(), false, DEFLATE_WINDOW_BITS)
}

enum Enc {
    Zlib(Box<Compress>),
    Zstd(Box<zstd::bulk::Compressor<'static>>),
}

/// Reusable encoder for the writer.
pub(crate) struct Compressor(Enc);

impl Compressor {
    pub(crate) fn new(kind: CompressionType) -> Result<Self, Error> {
        Ok(Compressor(match kind {
            CompressionType::Zlib => Enc::Zlib(Box::new(new_deflate())),
            CompressionType::Zstd => Enc::Zstd(Box::new(
                zstd::bulk::Compressor::new(ZSTD_LEVEL)
                    .map_err(|e| Error::Io(std::io::Error::other(format!("zstd: {e}"))))?,
            )),
        }))
    }

    /// Room [`Compressor::cluster`] needs in `out` for an input of `len` bytes.
    pub(crate) fn out_len(len: usize) -> usize {
        // Above deflate's bound (5 bytes per stored block of at most 16 KiB plus a few).
        len + len / 2 + 64
    }

    /// Compresses one cluster into `out` (at least [`Compressor::out_len`] bytes), returning
    /// the stream's length when it is shorter than the cluster, `None` when it is not.
    pub(crate) fn cluster(&mut self, input: &[u8], out: &mut [u8]) -> Option<usize> {
        match &mut self.0 {
            Enc::Zlib(c) => {
                // Always let the stream finish: zlib-rs 0.6.8 keeps pending output of an
                // unfinished stream across `reset` and later panics on it.
                c.reset();
                let st = c.compress(input, out, FlushCompress::Finish);
                let n = c.total_out() as usize;
                if !matches!(st, Ok(Status::StreamEnd)) || c.total_in() as usize != input.len() {
                    // Unreachable with a large enough `out`; start over with a fresh stream.
                    **c = new_deflate();
                    return None;
                }
                (n < input.len()).then_some(n)
            }
            // An error here is "does not fit": store the cluster uncompressed.
            Enc::Zstd(c) => {
                let limit = input.len().saturating_sub(1).min(out.len());
                c.compress_to_buffer(input, &mut out[..limit]).ok()
            }
        }
    }
}
