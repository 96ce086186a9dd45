//! import-tar: an (optionally compressed) tar stream becomes an image, through staging.
//!
//! The input is read and decompressed on one thread while the tar stream is extracted on
//! another; compression is sniffed from the first bytes, never from a file name.

use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use wharf_compression::Compression;
use wharf_core::pipe::ThreadedReader;
use wharf_core::{Error, Image, ImageType, Progress, Result, Store};

use crate::unpack::{self, UnpackError, UnpackOptions};

/// Options of [`import_tar`].
#[derive(Default)]
pub struct ImportOptions<'a> {
    /// Replace an existing image of that name.
    pub force: bool,
    /// Mark the new image read-only.
    pub read_only: bool,
    /// Refuse archives that unpack to more than this many bytes of file data.
    pub size_max: Option<u64>,
    /// Set to stop; the partial image is removed.
    pub cancel: Option<&'a AtomicBool>,
    /// Total size of the input, when known (for the progress ETA).
    pub input_size: Option<u64>,
}

/// Import the tar stream `input` as the new image `name`. The name is checked (and locked)
/// before a byte is read.
pub fn import_tar(
    store: &Store,
    input: Box<dyn Read + Send>,
    name: &str,
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<Image> {
    let staging = store.stage(name, ImageType::Directory, opts.force)?;
    staging.create_tree()?;
    unpack_stream(input, staging.path(), opts, progress)?;
    unpack::hoist_single_os_dir(staging.path())
        .map_err(|e| Error::io("move OS tree up", staging.path(), e))?;
    staging.commit(opts.read_only)
}

/// Decompress and extract `input` into the existing empty directory `root`.
pub fn unpack_stream(
    input: Box<dyn Read + Send>,
    root: &Path,
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<unpack::UnpackStats> {
    let consumed = Arc::new(AtomicU64::new(0));
    let counting = Counting {
        inner: input,
        count: Arc::clone(&consumed),
    };
    let (head, rest) =
        wharf_compression::peek(counting, 16).map_err(|e| Error::io("read", "input", e))?;
    let compression = wharf_compression::sniff(&head);
    let decoded = wharf_compression::decoder(compression, Box::new(rest))
        .map_err(|e| Error::io("start decompression of", "input", e))?;
    let mut reader = ThreadedReader::new(decoded);
    progress.begin(
        &format!("Importing ({})", describe(compression)),
        opts.input_size,
    );
    let seen = AtomicU64::new(0);
    let report = |_: u64| {
        let now = consumed.load(Ordering::Relaxed);
        let before = seen.swap(now, Ordering::Relaxed);
        progress.advance(now.saturating_sub(before));
    };
    let uopts = UnpackOptions {
        size_max: opts.size_max,
        cancel: opts.cancel,
        progress: Some(&report),
    };
    let result = unpack::unpack(&mut reader, root, &uopts);
    progress.finish();
    result.map_err(|e| match e {
        UnpackError::Cancelled => Error::Cancelled,
        other => Error::InvalidData(other.to_string()),
    })
}

fn describe(c: Compression) -> &'static str {
    c.name()
}

/// Counts the bytes read through it, for progress from another thread.
struct Counting {
    inner: Box<dyn Read + Send>,
    count: Arc<AtomicU64>,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
