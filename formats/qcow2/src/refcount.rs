//! Writer side: the output stream with write combining, and the cluster allocator that keeps
//! 16-bit refcounts one refcount block at a time.
//!
//! Clusters are allocated in increasing order. The refcount block covering a range of
//! clusters is itself allocated when the first cluster of that range is, so only the current
//! block is ever in memory; refcounts are only ever added to it (compressed clusters shared by
//! several streams stay in the current block: the writer stops filling one when the allocator
//! moves on to the next block).

use std::io::{Seek, SeekFrom, Write};

use crate::Error;

/// Writes are combined while contiguous, up to this many bytes.
const COMBINE: usize = 1 << 20;

/// The output image with write combining and position tracking.
pub(crate) struct Out<W: Write + Seek> {
    w: W,
    pending_off: u64,
    pending: Vec<u8>,
    /// Stream position after the last real write, when known.
    pos: Option<u64>,
}

impl<W: Write + Seek> Out<W> {
    pub(crate) fn new(w: W) -> Self {
        Out {
            w,
            pending_off: 0,
            pending: Vec::with_capacity(COMBINE),
            pos: None,
        }
    }

    pub(crate) fn write_at(&mut self, off: u64, data: &[u8]) -> Result<(), Error> {
        let contiguous = self.pending_off + self.pending.len() as u64 == off;
        if !contiguous || self.pending.len() + data.len() > COMBINE {
            self.flush()?;
        }
        if self.pending.is_empty() {
            self.pending_off = off;
        }
        if data.len() >= COMBINE {
            return self.put(off, data);
        }
        self.pending.extend_from_slice(data);
        Ok(())
    }

    fn put(&mut self, off: u64, data: &[u8]) -> Result<(), Error> {
        if self.pos != Some(off) {
            self.w.seek(SeekFrom::Start(off))?;
        }
        self.w.write_all(data)?;
        self.pos = Some(off + data.len() as u64);
        Ok(())
    }

    pub(crate) fn flush(&mut self) -> Result<(), Error> {
        if !self.pending.is_empty() {
            let data = std::mem::take(&mut self.pending);
            let r = self.put(self.pending_off, &data);
            self.pending = data;
            self.pending.clear();
            r?;
        }
        Ok(())
    }

    pub(crate) fn finish(mut self) -> Result<(), Error> {
        self.flush()?;
        self.w.flush()?;
        Ok(())
    }
}

/// Cluster allocator with streaming 16-bit refcounts.
pub(crate) struct Alloc {
    cluster_bits: u32,
    /// Refcount entries per block.
    per_block: u64,
    /// Next free cluster index.
    next: u64,
    /// Host offsets of the refcount blocks, by block number.
    blocks: Vec<u64>,
    /// Block number held in `counts`.
    cur: u64,
    counts: Vec<u16>,
}

impl Alloc {
    pub(crate) fn new(cluster_bits: u32) -> Self {
        let per_block = (1u64 << cluster_bits) / 2;
        Alloc {
            cluster_bits,
            per_block,
            next: 0,
            blocks: Vec::new(),
            cur: 0,
            counts: vec![0; per_block as usize],
        }
    }

    fn cs(&self) -> u64 {
        1 << self.cluster_bits
    }

    /// Index of the next cluster `alloc` would return.
    pub(crate) fn next_index(&self) -> u64 {
        self.next
    }

    pub(crate) fn block_of(&self, cluster: u64) -> u64 {
        cluster / self.per_block
    }

    /// Allocates `n` contiguous clusters with refcount 1 and returns the host offset of the
    /// first; refcount blocks needed for them are allocated right after.
    pub(crate) fn alloc<W: Write + Seek>(
        &mut self,
        out: &mut Out<W>,
        n: u64,
    ) -> Result<u64, Error> {
        let start = self.next;
        self.next = start
            .checked_add(n)
            .filter(|&e| e < 1 << (56 - self.cluster_bits))
            .ok_or(Error::TooLarge {
                what: "output image",
                value: start,
            })?;
        let mut i = start;
        while i < self.next {
            let b = self.block_of(i);
            if self.blocks.len() as u64 <= b {
                self.blocks.push(self.next << self.cluster_bits);
                self.next += 1;
            }
            self.add(out, i)?;
            i += 1;
        }
        Ok(start << self.cluster_bits)
    }

    /// Adds one reference to `cluster`, which must be in the current block or a later one.
    pub(crate) fn add<W: Write + Seek>(
        &mut self,
        out: &mut Out<W>,
        cluster: u64,
    ) -> Result<(), Error> {
        let b = self.block_of(cluster);
        if b < self.cur {
            return Err(Error::Corrupt(format!(
                "writer bug: refcount of cluster {cluster} after its block was written"
            )));
        }
        if b > self.cur {
            self.flush_block(out)?;
            self.cur = b;
            self.counts.fill(0);
        }
        let c = &mut self.counts[(cluster % self.per_block) as usize];
        *c = c.checked_add(1).ok_or_else(|| {
            Error::Corrupt(format!(
                "writer bug: refcount of cluster {cluster} overflows"
            ))
        })?;
        Ok(())
    }

    /// Refcount of `cluster`, which must be in the current block.
    pub(crate) fn count(&self, cluster: u64) -> u16 {
        if self.block_of(cluster) == self.cur {
            self.counts[(cluster % self.per_block) as usize]
        } else {
            u16::MAX
        }
    }

    /// Writes the current block.
    pub(crate) fn flush_block<W: Write + Seek>(&mut self, out: &mut Out<W>) -> Result<(), Error> {
        let Some(&host) = self.blocks.get(self.cur as usize) else {
            return Ok(());
        };
        let bytes: Vec<u8> = self.counts.iter().flat_map(|c| c.to_be_bytes()).collect();
        out.write_at(host, &bytes)
    }

    /// Allocates the refcount table at the end (with room for the blocks its own clusters
    /// need), writes the last block and the table; returns (offset, clusters).
    pub(crate) fn finish<W: Write + Seek>(
        &mut self,
        out: &mut Out<W>,
    ) -> Result<(u64, u32), Error> {
        let per_table_cluster = self.cs() / 8;
        let mut k = (self.blocks.len() as u64)
            .div_ceil(per_table_cluster)
            .max(1);
        loop {
            // k table clusters span at most k / per_block + 2 blocks, each needing a block
            // cluster that may start one more block.
            let extra = k / self.per_block + 4;
            let k2 = (self.blocks.len() as u64 + extra).div_ceil(per_table_cluster);
            if k2 <= k {
                break;
            }
            k = k2;
        }
        let table = self.alloc(out, k)?;
        if self.blocks.len() as u64 > k * per_table_cluster {
            return Err(Error::Corrupt(
                "writer bug: refcount table too small".into(),
            ));
        }
        self.flush_block(out)?;
        let mut bytes = vec![0u8; (k * self.cs()) as usize];
        for (i, b) in self.blocks.iter().enumerate() {
            bytes[i * 8..i * 8 + 8].copy_from_slice(&b.to_be_bytes());
        }
        out.write_at(table, &bytes)?;
        let clusters = u32::try_from(k).map_err(|_| Error::TooLarge {
            what: "refcount table (clusters)",
            value: k,
        })?;
        Ok((table, clusters))
    }
}
