//! Applying verified layers to a tree.
//!
//! Three threads per layer: one reads the stored blob and hashes every byte of it (digest and
//! size of the descriptor, trailing bytes included), one decompresses and hashes the tar stream
//! (the DiffID), and the caller's thread applies the entries with whiteouts. Compression is
//! sniffed from the first bytes (gzip, zstd or none); the media type's claim is not trusted.
//! A mismatch fails the import after the layer was applied; the caller discards the staging
//! tree, so nothing unverified is ever installed.

use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use wharf_compression::Compression;
use wharf_core::pipe::ThreadedReader;
use wharf_core::{Error, Progress, Result};
use wharf_oci_format::{Digest, DigestHasher};
use wharf_tar::{UnpackError, UnpackOptions};

use crate::resolve::LayerRef;
use crate::source::Source;

const CHUNK: usize = 1 << 20;

/// Totals over all layers.
#[derive(Debug, Default, Clone, Copy)]
pub struct ApplyStats {
    pub layers: usize,
    pub stored_bytes: u64,
    pub tar_bytes: u64,
    pub entries: u64,
    pub whiteouts: u64,
}

/// Apply `layers` in order onto `root`.
pub fn apply_layers(
    src: &dyn Source,
    layers: &[LayerRef],
    root: &Path,
    cancel: Option<&AtomicBool>,
    progress: &dyn Progress,
) -> Result<ApplyStats> {
    let mut stats = ApplyStats::default();
    let total: Option<u64> = layers.iter().map(|l| l.size).sum();
    progress.begin(
        &format!(
            "Applying {} layer{}",
            layers.len(),
            if layers.len() == 1 { "" } else { "s" }
        ),
        total,
    );
    let result = (|| {
        for (i, layer) in layers.iter().enumerate() {
            let s = apply_one(src, layer, root, cancel, progress)
                .map_err(|e| with_layer(e, i, layer))?;
            stats.layers += 1;
            stats.stored_bytes += s.stored_bytes;
            stats.tar_bytes += s.tar_bytes;
            stats.entries += s.entries;
            stats.whiteouts += s.whiteouts;
        }
        Ok(stats)
    })();
    progress.finish();
    result
}

fn with_layer(e: Error, i: usize, layer: &LayerRef) -> Error {
    match e {
        Error::InvalidData(msg) => Error::InvalidData(format!(
            "layer {} ({}): {msg}",
            i + 1,
            layer.digest.as_ref().unwrap_or(&layer.diff_id)
        )),
        other => other,
    }
}

/// The result of hashing a stream: digest and length, set when the stream was read to its end.
type Sealed = Arc<Mutex<Option<(Digest, u64)>>>;

fn apply_one(
    src: &dyn Source,
    layer: &LayerRef,
    root: &Path,
    cancel: Option<&AtomicBool>,
    progress: &dyn Progress,
) -> Result<ApplyStats> {
    let (blob, blob_size) = src
        .open(&layer.path)
        .map_err(|e| Error::InvalidData(format!("cannot open {}: {e}", layer.path)))?;
    if let Some(want) = layer.size {
        if blob_size != want {
            return Err(Error::InvalidData(format!(
                "{} has {blob_size} bytes, the manifest says {want}",
                layer.path
            )));
        }
    }
    let algorithm_of = layer
        .digest
        .clone()
        .unwrap_or_else(|| layer.diff_id.clone());
    let stored = Arc::new(Mutex::new(None));
    let (rx, reader) = spawn_hashing_reader(blob, algorithm_of.hasher(), Arc::clone(&stored));
    let channel = ChannelReader::new(rx);
    let (head, rest) = wharf_compression::peek(channel, 8)
        .map_err(|e| Error::InvalidData(format!("read {}: {e}", layer.path)))?;
    let compression = wharf_compression::sniff(&head);
    if !matches!(
        compression,
        Compression::None | Compression::Gzip | Compression::Zstd
    ) {
        return Err(Error::InvalidData(format!(
            "{} is compressed with {}, which image layers do not use",
            layer.path,
            compression.name()
        )));
    }
    let decoded = wharf_compression::decoder(compression, Box::new(rest))
        .map_err(|e| Error::InvalidData(format!("decompress {}: {e}", layer.path)))?;
    let tar_sealed = Arc::new(Mutex::new(None));
    let hashing = Hashing {
        inner: decoded,
        hasher: Some(layer.diff_id.hasher()),
        count: 0,
        sealed: Arc::clone(&tar_sealed),
    };
    let mut tar = ThreadedReader::new(hashing);
    let report = |n: u64| progress.advance(n);
    let opts = UnpackOptions {
        size_max: None,
        cancel,
        progress: if layer.size.is_some() {
            None
        } else {
            Some(&report)
        },
    };
    let applied = wharf_tar::apply_layer(&mut tar, root, &opts);
    // Read what follows the tar's end (padding) so the DiffID covers the whole stream.
    let drained = applied
        .as_ref()
        .ok()
        .map(|_| io::copy(&mut tar, &mut io::sink()));
    drop(tar);
    let stats = applied.map_err(|e| match e {
        UnpackError::Cancelled => Error::Cancelled,
        other => Error::InvalidData(other.to_string()),
    })?;
    if let Some(Err(e)) = drained {
        return Err(Error::InvalidData(format!(
            "decompress {}: {e}",
            layer.path
        )));
    }
    reader
        .join()
        .map_err(|_| Error::InvalidData("blob reader panicked".into()))?
        .map_err(|e| Error::InvalidData(format!("read {}: {e}", layer.path)))?;
    if let Some(size) = layer.size {
        progress.advance(size);
    }
    let (got_blob, blob_len) = stored
        .lock()
        .unwrap()
        .clone()
        .ok_or_else(|| Error::InvalidData(format!("{} was not read to its end", layer.path)))?;
    if let Some(want) = &layer.digest {
        if &got_blob != want {
            return Err(Error::InvalidData(format!(
                "digest mismatch: the blob hashes to {got_blob}"
            )));
        }
    }
    let (got_diff, tar_len) = tar_sealed.lock().unwrap().clone().ok_or_else(|| {
        Error::InvalidData(format!("{} was not decompressed to its end", layer.path))
    })?;
    if got_diff != layer.diff_id {
        return Err(Error::InvalidData(format!(
            "DiffID mismatch: the uncompressed layer hashes to {got_diff}, the config says {}",
            layer.diff_id
        )));
    }
    Ok(ApplyStats {
        layers: 1,
        stored_bytes: blob_len,
        tar_bytes: tar_len,
        entries: stats.entries,
        whiteouts: stats.whiteouts + stats.opaque_dirs,
    })
}

/// Read `blob` to its end on a new thread, hashing every byte, and hand the bytes over a
/// bounded channel. When the consumer stops early (trailing bytes after a compressed stream)
/// the rest is still read and hashed.
fn spawn_hashing_reader(
    mut blob: Box<dyn Read + Send>,
    mut hasher: DigestHasher,
    sealed: Sealed,
) -> (Receiver<Vec<u8>>, JoinHandle<io::Result<()>>) {
    let (tx, rx): (SyncSender<Vec<u8>>, _) = sync_channel(4);
    let handle = std::thread::Builder::new()
        .name("wharf-blob".into())
        .spawn(move || {
            let mut count = 0u64;
            let mut listening = true;
            loop {
                let mut buf = vec![0u8; CHUNK];
                let n = loop {
                    match blob.read(&mut buf) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        r => break r?,
                    }
                };
                if n == 0 {
                    break;
                }
                buf.truncate(n);
                hasher.update(&buf);
                count += n as u64;
                if listening && tx.send(buf).is_err() {
                    listening = false;
                }
            }
            *sealed.lock().unwrap() = Some((hasher.finish(), count));
            Ok(())
        })
        .expect("spawn blob reader thread");
    (rx, handle)
}

/// The receiving end of [`spawn_hashing_reader`] as a reader.
struct ChannelReader {
    rx: Receiver<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
}

impl ChannelReader {
    fn new(rx: Receiver<Vec<u8>>) -> Self {
        ChannelReader {
            rx,
            cur: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            match self.rx.recv() {
                Ok(v) => {
                    self.cur = v;
                    self.pos = 0;
                }
                // The sender is gone: end of the blob (its errors come from join()).
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Hashes what is read through it; at the end of the stream the digest is sealed.
struct Hashing {
    inner: Box<dyn Read + Send>,
    hasher: Option<DigestHasher>,
    count: u64,
    sealed: Sealed,
}

impl Read for Hashing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = self.hasher.as_mut() {
            if n == 0 {
                let h = self.hasher.take().unwrap();
                *self.sealed.lock().unwrap() = Some((h.finish(), self.count));
            } else {
                h.update(&buf[..n]);
                self.count += n as u64;
            }
        }
        Ok(n)
    }
}

/// Whether the cancel flag is set.
pub fn cancelled(cancel: Option<&AtomicBool>) -> bool {
    cancel.is_some_and(|c| c.load(Ordering::Relaxed))
}
