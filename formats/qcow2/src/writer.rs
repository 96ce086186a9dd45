//! raw → qcow2 v3: [`write_qcow2`].
//!
//! Layout: header cluster, L1 table, then for each L2 table's range the L2 table followed by
//! its data clusters (plain, or compressed streams packed back to back), refcount blocks where
//! the allocation crosses into a new refcount block's range, and the refcount table last.
//! All-zero clusters are left unallocated. Every allocated cluster is referenced exactly as
//! often as its refcount says, so `qemu-img check` finds no errors and no leaks.

use std::io::{Read, Seek, SeekFrom, Write};

use crate::compress::{CompressionType, Compressor};
use crate::header::{
    l1_needed, MAGIC, MAX_CLUSTER_BITS, MAX_L1_BYTES, MAX_VIRTUAL_SIZE, MIN_CLUSTER_BITS,
};
use crate::map::{OFLAG_COMPRESSED, OFLAG_COPIED};
use crate::raw::is_zero;
use crate::refcount::{Alloc, Out};
use crate::Error;

/// How [`write_qcow2`] writes.
#[derive(Clone, Debug)]
pub struct WriteOptions {
    /// log2 of the cluster size, 9..=21 (default 16: 64 KiB, qemu's default).
    pub cluster_bits: u32,
    /// Compress clusters (kept compressed only when the stream is shorter than a cluster).
    pub compress: Option<CompressionType>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            cluster_bits: 16,
            compress: None,
        }
    }
}

/// Raw input read per step (a multiple of the cluster size).
const CHUNK: u64 = 1 << 20;

/// The compressed cluster being filled with streams.
struct Packing {
    index: u64,
    buf: Vec<u8>,
    fill: usize,
}

struct State<W: Write + Seek> {
    out: Out<W>,
    alloc: Alloc,
    cluster_bits: u32,
    l1: Vec<u64>,
    /// Current L2 table: its L1 index and host offset, and its entries.
    l2_at: Option<(usize, u64)>,
    l2: Vec<u64>,
    comp: Option<Compressor>,
    cbuf: Vec<u8>,
    packing: Option<Packing>,
}

impl<W: Write + Seek> State<W> {
    fn cs(&self) -> u64 {
        1 << self.cluster_bits
    }

    fn put_cluster(&mut self, guest_cluster: u64, data: &[u8]) -> Result<(), Error> {
        let per_l2 = self.cs() / 8;
        let l1i = (guest_cluster / per_l2) as usize;
        if self.l2_at.map(|(i, _)| i) != Some(l1i) {
            self.finish_l2()?;
            let host = self.alloc.alloc(&mut self.out, 1)?;
            self.l2_at = Some((l1i, host));
            self.l2.fill(0);
        }
        let compressed = match self.comp.as_mut() {
            Some(c) => c.cluster(data, &mut self.cbuf),
            None => None,
        };
        let entry = match compressed {
            Some(n) => self.place_compressed(n)?,
            None => {
                let host = self.alloc.alloc(&mut self.out, 1)?;
                self.out.write_at(host, data)?;
                host | OFLAG_COPIED
            }
        };
        self.l2[(guest_cluster % per_l2) as usize] = entry;
        Ok(())
    }

    /// Stores the `n`-byte stream in `cbuf` right after the previous one when it fits in
    /// that cluster or can spill into the next cluster; returns the L2 descriptor.
    fn place_compressed(&mut self, n: usize) -> Result<u64, Error> {
        let cb = self.cluster_bits;
        let cs = self.cs() as usize;
        if let Some(p) = self.packing.as_mut() {
            let open = self.alloc.count(p.index) < u16::MAX;
            if open && p.fill + n <= cs {
                let off = (p.index << cb) + p.fill as u64;
                p.buf[p.fill..p.fill + n].copy_from_slice(&self.cbuf[..n]);
                p.fill += n;
                self.alloc.add(&mut self.out, p.index)?;
                return descriptor(off, n, cb);
            }
            if open && p.fill < cs && p.index + 1 == self.alloc.next_index() {
                let off = (p.index << cb) + p.fill as u64;
                let first = cs - p.fill;
                p.buf[p.fill..].copy_from_slice(&self.cbuf[..first]);
                self.alloc.add(&mut self.out, p.index)?;
                self.out.write_at(p.index << cb, &p.buf)?;
                let next = self.alloc.alloc(&mut self.out, 1)?;
                if next != (p.index + 1) << cb {
                    return Err(Error::Corrupt(
                        "writer bug: spill cluster not adjacent".into(),
                    ));
                }
                p.index += 1;
                p.buf.fill(0);
                p.buf[..n - first].copy_from_slice(&self.cbuf[first..n]);
                p.fill = n - first;
                return descriptor(off, n, cb);
            }
        }
        self.flush_packing()?;
        let host = self.alloc.alloc(&mut self.out, 1)?;
        let mut buf = vec![0u8; cs];
        buf[..n].copy_from_slice(&self.cbuf[..n]);
        self.packing = Some(Packing {
            index: host >> cb,
            buf,
            fill: n,
        });
        descriptor(host, n, cb)
    }

    fn flush_packing(&mut self) -> Result<(), Error> {
        if let Some(p) = self.packing.take() {
            self.out.write_at(p.index << self.cluster_bits, &p.buf)?;
        }
        Ok(())
    }

    fn finish_l2(&mut self) -> Result<(), Error> {
        if let Some((i, host)) = self.l2_at.take() {
            let bytes: Vec<u8> = self.l2.iter().flat_map(|e| e.to_be_bytes()).collect();
            self.out.write_at(host, &bytes)?;
            self.l1[i] = host | OFLAG_COPIED;
        }
        Ok(())
    }
}

/// Compressed cluster descriptor for an `n`-byte stream at host byte offset `off`.
fn descriptor(off: u64, n: usize, cluster_bits: u32) -> Result<u64, Error> {
    let x = 70 - cluster_bits;
    if off >= 1 << x {
        return Err(Error::TooLarge {
            what: "compressed cluster offset",
            value: off,
        });
    }
    let extra_sectors = ((off + n as u64 - 1) >> 9) - (off >> 9);
    Ok(OFLAG_COMPRESSED | extra_sectors << x | off)
}

/// Writes the first `size` bytes of `raw` as a qcow2 v3 image to `out` (which should be empty).
///
/// All-zero clusters are left unallocated; with `opts.compress` every other cluster is
/// compressed (raw deflate with qemu's 4 KiB window, or zstd level 3) and stored compressed
/// when that is shorter. The virtual size is `size` rounded up to 512 bytes (qemu counts in
/// sectors); `raw` is read from its start and must hold at least `size` bytes. `progress`
/// receives the number of raw bytes newly done (deltas adding up to `size`).
/// Memory: the L1 table, one L2 table, and a few clusters and 1 MiB buffers.
pub fn write_qcow2<R: Read + Seek, W: Write + Seek>(
    mut raw: R,
    size: u64,
    out: W,
    opts: &WriteOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<(), Error> {
    let cb = opts.cluster_bits;
    if !(MIN_CLUSTER_BITS..=MAX_CLUSTER_BITS).contains(&cb) {
        return Err(Error::BadHeader("cluster_bits outside 9..=21"));
    }
    let cs = 1u64 << cb;
    let vsize = size
        .checked_next_multiple_of(512)
        .filter(|&s| s <= MAX_VIRTUAL_SIZE)
        .ok_or(Error::TooLarge {
            what: "virtual size",
            value: size,
        })?;
    let needed = l1_needed(vsize, cb, false);
    if needed > MAX_L1_BYTES / 8 {
        return Err(Error::TooLarge {
            what: "virtual size for this cluster size",
            value: size,
        });
    }
    let mut st = State {
        out: Out::new(out),
        alloc: Alloc::new(cb),
        cluster_bits: cb,
        l1: vec![0; needed as usize],
        l2_at: None,
        l2: vec![0; (cs / 8) as usize],
        comp: opts.compress.map(Compressor::new).transpose()?,
        cbuf: vec![0; Compressor::out_len(cs as usize)],
        packing: None,
    };
    st.alloc.alloc(&mut st.out, 1)?; // header
    let l1_off = if needed > 0 {
        st.alloc.alloc(&mut st.out, (needed * 8).div_ceil(cs))?
    } else {
        0
    };

    raw.seek(SeekFrom::Start(0))?;
    let chunk = CHUNK.max(cs);
    let mut buf = vec![0u8; chunk as usize];
    let mut pos = 0;
    while pos < vsize {
        let n = chunk.min(vsize - pos);
        let from_raw = n.min(size - pos) as usize;
        raw.read_exact(&mut buf[..from_raw])?;
        let padded = n.next_multiple_of(cs) as usize;
        buf[from_raw..padded].fill(0);
        for (i, data) in buf[..padded].chunks_exact(cs as usize).enumerate() {
            if !is_zero(data) {
                st.put_cluster((pos >> cb) + i as u64, data)?;
            }
        }
        pos += n;
        if from_raw > 0 {
            progress(from_raw as u64);
        }
    }
    st.finish_l2()?;
    st.flush_packing()?;
    let (rt_off, rt_clusters) = st.alloc.finish(&mut st.out)?;

    if needed > 0 {
        let mut l1 = vec![0u8; ((needed * 8).next_multiple_of(cs)) as usize];
        for (i, e) in st.l1.iter().enumerate() {
            l1[i * 8..i * 8 + 8].copy_from_slice(&e.to_be_bytes());
        }
        st.out.write_at(l1_off, &l1)?;
    }
    let mut h = vec![0u8; cs as usize];
    let mut put = |off: usize, bytes: &[u8]| h[off..off + bytes.len()].copy_from_slice(bytes);
    put(0, &MAGIC);
    put(4, &3u32.to_be_bytes());
    put(20, &cb.to_be_bytes());
    put(24, &vsize.to_be_bytes());
    put(36, &(needed as u32).to_be_bytes());
    put(40, &l1_off.to_be_bytes());
    put(48, &rt_off.to_be_bytes());
    put(56, &rt_clusters.to_be_bytes());
    let zstd = opts.compress == Some(CompressionType::Zstd);
    put(
        72,
        &(if zstd {
            crate::header::INCOMPAT_COMPRESSION
        } else {
            0
        })
        .to_be_bytes(),
    );
    put(96, &4u32.to_be_bytes()); // refcount_order: 16-bit refcounts
    put(100, &112u32.to_be_bytes()); // header_length, with the compression_type byte
    put(104, &[u8::from(zstd)]);
    st.out.write_at(0, &h)?;
    st.out.finish()
}

#[cfg(test)]
mod tests {
    use super::descriptor;
    use crate::map::{Entry, Geometry};

    /// Descriptors the writer makes decode to the same stream, for every cluster size (the
    /// offset field's width depends on cluster_bits).
    #[test]
    fn compressed_descriptors_round_trip() {
        for cluster_bits in 9..=21u32 {
            let cs = 1u64 << cluster_bits;
            let geo = Geometry {
                cluster_bits,
                extended_l2: false,
                v2: false,
                size: 1 << 40,
                file_len: 1 << 44,
            };
            for (off, n) in [
                (cs, 1),
                (cs + 511, 2),
                (3 * cs - 7, cs as usize - 1),
                (5 * cs + 700, 300),
            ] {
                let d = descriptor(off, n, cluster_bits).unwrap();
                match geo.l2_entry(0, d, 0).unwrap() {
                    Entry::Compressed { offset, len } => {
                        assert_eq!(offset, off);
                        assert!(
                            len >= n as u64 && len < n as u64 + 512,
                            "{cluster_bits} {off} {n}"
                        );
                    }
                    e => panic!("{e:?}"),
                }
            }
            assert!(descriptor(1 << (70 - cluster_bits), 10, cluster_bits).is_err());
        }
    }
}
