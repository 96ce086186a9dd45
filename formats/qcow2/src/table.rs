//! The L1 table (in memory, capped at 32 MiB) and one cached L2 table, validated when read,
//! and the mapping of guest offsets to runs of one [`Kind`].

use std::io::{Read, Seek, SeekFrom};

use crate::header::Header;
use crate::map::{Entry, Geometry, Kind};
use crate::Error;

pub(crate) struct Tables {
    pub geo: Geometry,
    /// Validated L2 table offsets (0 = unallocated), one per L1 entry the virtual size needs.
    l1: Vec<u64>,
    /// L1 index of the cached L2 table.
    cached: Option<usize>,
    /// Big-endian-decoded words of the cached L2 table.
    l2: Vec<u64>,
    bytes: Vec<u8>,
}

pub(crate) fn read_exact_at<R: Read + Seek>(
    r: &mut R,
    off: u64,
    buf: &mut [u8],
) -> Result<(), Error> {
    r.seek(SeekFrom::Start(off))?;
    r.read_exact(buf)?;
    Ok(())
}

fn be64(c: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(c);
    u64::from_be_bytes(a)
}

fn words(bytes: &[u8], out: &mut Vec<u64>) {
    out.clear();
    out.extend(bytes.chunks_exact(8).map(be64));
}

impl Tables {
    /// Reads and validates the part of the L1 table the virtual size needs (its size and
    /// position were checked against the file by [`Header::parse`]).
    pub(crate) fn load<R: Read + Seek>(
        r: &mut R,
        h: &Header,
        geo: Geometry,
    ) -> Result<Self, Error> {
        let needed = h.l1_needed() as usize;
        let mut bytes = vec![0u8; needed * 8];
        if needed > 0 {
            read_exact_at(r, h.l1_table_offset, &mut bytes)?;
        }
        let l1 = bytes
            .chunks_exact(8)
            .enumerate()
            .map(|(i, c)| geo.l1_entry(i as u64, be64(c)))
            .collect::<Result<Vec<_>, _>>()?;
        // qemu never points two L1 entries at one L2 table; a crafted image doing so would
        // multiply the work and the output per byte of image without bound.
        let mut sorted: Vec<u64> = l1.iter().copied().filter(|&o| o != 0).collect();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::Corrupt(format!(
                "L2 table at {:#x} is referenced by two L1 entries",
                w[0]
            )));
        }
        Ok(Tables {
            geo,
            l1,
            cached: None,
            l2: Vec::new(),
            bytes: Vec::new(),
        })
    }

    /// Reads and validates every L2 table once (memory: one table).
    pub(crate) fn validate_all<R: Read + Seek>(&mut self, r: &mut R) -> Result<(), Error> {
        for i in 0..self.l1.len() {
            if self.l1[i] != 0 {
                self.load_l2(r, i)?;
            }
        }
        Ok(())
    }

    fn load_l2<R: Read + Seek>(&mut self, r: &mut R, i: usize) -> Result<(), Error> {
        if self.cached == Some(i) {
            return Ok(());
        }
        self.cached = None;
        let cs = self.geo.cluster_size();
        self.bytes.resize(cs as usize, 0);
        read_exact_at(r, self.l1[i], &mut self.bytes)?;
        words(&self.bytes, &mut self.l2);
        let base = i as u64 * self.geo.l2_span();
        let w = self.geo.words();
        for (ci, e) in self.l2.chunks_exact(w).enumerate() {
            let guest = base + ci as u64 * cs;
            if guest >= self.geo.size {
                break;
            }
            self.geo
                .l2_entry(guest, e[0], if w == 2 { e[1] } else { 0 })?;
        }
        self.cached = Some(i);
        Ok(())
    }

    fn entry(&self, ci: usize) -> Result<Entry, Error> {
        let w = self.geo.words();
        let (w0, w1) = (
            self.l2[ci * w],
            if w == 2 { self.l2[ci * w + 1] } else { 0 },
        );
        let guest = self.cached.unwrap_or(0) as u64 * self.geo.l2_span()
            + ((ci as u64) << self.geo.cluster_bits);
        self.geo.l2_entry(guest, w0, w1)
    }

    /// What the guest byte at `pos` (< virtual size) maps to, and for how many bytes that
    /// stays the same (contiguous host bytes for data; one cluster for compressed data). Runs
    /// never cross an L2 table.
    pub(crate) fn run<R: Read + Seek>(
        &mut self,
        r: &mut R,
        pos: u64,
    ) -> Result<(Kind, u64), Error> {
        let g = self.geo;
        let (span, cs, size) = (g.l2_span(), g.cluster_size(), g.size);
        let i = (pos / span) as usize;
        if self.l1[i] == 0 {
            let mut end = (i as u64 + 1) * span;
            let mut j = i + 1;
            while j < self.l1.len() && self.l1[j] == 0 {
                end += span;
                j += 1;
            }
            return Ok((Kind::Unallocated, end.min(size) - pos));
        }
        self.load_l2(r, i)?;
        let table_end = ((i as u64 + 1) * span).min(size);
        let cluster = pos & !(cs - 1);
        let mut ci = ((pos % span) >> g.cluster_bits) as usize;
        let (kind, e_end) = self.entry(ci)?.kind_at(pos - cluster, g.cluster_bits);
        let mut end = cluster + e_end;
        if let Kind::Compressed { .. } = kind {
            return Ok((kind, end.min(size) - pos));
        }
        while end < table_end && end & (cs - 1) == 0 {
            ci += 1;
            let (next, e_end) = self.entry(ci)?.kind_at(0, g.cluster_bits);
            let continues = match (kind, next) {
                (Kind::Data(h), Kind::Data(h2)) => h2 == h + (end - pos),
                (Kind::Zero, Kind::Zero) | (Kind::Unallocated, Kind::Unallocated) => true,
                _ => false,
            };
            if !continues {
                break;
            }
            end += e_end;
        }
        Ok((kind, end.min(size) - pos))
    }
}
