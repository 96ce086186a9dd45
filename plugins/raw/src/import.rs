//! import-raw: a raw disk image, compressed or not, or a qcow2 image, becomes `NAME.raw`.
//!
//! Compression is sniffed from the bytes; after decompression a qcow2 header makes the image
//! go through the hardened qcow2 reader and come out as a sparse raw file. A plain raw file on
//! the store's filesystem is reflinked; everything else is written sparse (zero blocks become
//! holes). The free space of the store is checked before a qcow2 image is expanded.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use wharf_compression::Compression;
use wharf_core::pipe::ThreadedReader;
use wharf_core::{Error, Image, ImageType, Progress, Result, Store};

use crate::convert::qcow2_error;
use crate::sparse;

/// Where the image comes from.
pub enum Source {
    /// A file: seekable, may be reflinked or read in place when it is qcow2.
    File(PathBuf),
    /// A stream (standard input, a download).
    Stream(Box<dyn Read + Send>),
}

/// Options of [`import_raw`].
#[derive(Default)]
pub struct ImportOptions<'a> {
    pub force: bool,
    pub read_only: bool,
    /// Allow a qcow2 backing file, resolved only beneath the image's own directory.
    pub allow_backing_file: bool,
    pub cancel: Option<&'a AtomicBool>,
    /// Size of the input, when known (progress ETA).
    pub input_size: Option<u64>,
}

/// Import `source` as the raw image `name`.
pub fn import_raw(
    store: &Store,
    source: Source,
    name: &str,
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<Image> {
    let staging = store.stage(name, ImageType::Raw, opts.force)?;
    fill_raw(store, source, staging.path(), opts, progress)?;
    staging.commit(opts.read_only)
}

/// Write the raw image for `source` to the new file `target` (a staging path).
pub fn fill_raw(
    store: &Store,
    source: Source,
    target: &Path,
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<()> {
    let target = target.to_path_buf();
    let cancelled = || opts.cancel.is_some_and(|c| c.load(Ordering::Relaxed));
    match source {
        Source::File(path) => {
            let file = File::open(&path).map_err(|e| Error::io("open", &path, e))?;
            let mut head = [0u8; 16];
            let n = file
                .read_at(&mut head, 0)
                .map_err(|e| Error::io("read", &path, e))?;
            let head = &head[..n];
            if wharf_compression::sniff(head) != Compression::None {
                stream_in(store, Box::new(file), &target, opts, progress, &cancelled)?;
            } else if wharf_qcow2::is_qcow2(head) {
                let dir = path.parent().map(Path::to_path_buf);
                convert_qcow2(store, file, dir.as_deref(), &target, opts, progress)?;
            } else {
                progress.begin(&format!("Copying {}", path.display()), opts.input_size);
                let report = |n: u64| progress.advance(n);
                let copy = wharf_fsops::CopyOptions {
                    reflink: true,
                    progress: Some(&report),
                    cancel: opts.cancel,
                };
                let copied = wharf_fsops::copy_file(&path, &target, &copy);
                progress.finish();
                copied?;
                set_mode(&target, 0o644)?;
            }
        }
        Source::Stream(input) => stream_in(store, input, &target, opts, progress, &cancelled)?,
    }
    Ok(())
}

/// Decompress a stream; qcow2 inside goes through a temporary file (the reader needs to seek).
fn stream_in(
    store: &Store,
    input: Box<dyn Read + Send>,
    target: &Path,
    opts: &ImportOptions,
    progress: &dyn Progress,
    cancelled: &dyn Fn() -> bool,
) -> Result<()> {
    let (head, rest) =
        wharf_compression::peek(input, 16).map_err(|e| Error::io("read", target, e))?;
    let compression = wharf_compression::sniff(&head);
    let decoded = wharf_compression::decoder(compression, Box::new(rest))
        .map_err(|e| Error::io("start decompression", target, e))?;
    let reader = ThreadedReader::new(decoded);
    let (head, mut reader) =
        wharf_compression::peek(reader, 16).map_err(|e| Error::io("read", target, e))?;
    let is_qcow2 = wharf_qcow2::is_qcow2(&head);
    let out_path = if is_qcow2 {
        target.with_file_name(format!(
            "{}.qcow2",
            target
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ))
    } else {
        target.to_path_buf()
    };
    let out = create(&out_path)?;
    progress.begin(&format!("Importing ({})", compression.name()), None);
    let mut report = |n: u64| progress.advance(n);
    let written = sparse::write_sparse(&mut reader, &out, &mut report, cancelled);
    progress.finish();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&out_path);
        return Err(if cancelled() {
            Error::Cancelled
        } else {
            Error::InvalidData(format!("cannot read the image: {e}"))
        });
    }
    if !is_qcow2 {
        return Ok(());
    }
    // A streamed qcow2 has no directory to resolve a backing file in.
    let result = convert_qcow2(
        store,
        out,
        None,
        target,
        &ImportOptions {
            allow_backing_file: false,
            ..*opts
        },
        progress,
    );
    let _ = std::fs::remove_file(&out_path);
    result
}

/// Expand the qcow2 image in `file` into the sparse raw file `target`.
fn convert_qcow2(
    store: &Store,
    file: File,
    image_dir: Option<&Path>,
    target: &Path,
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<()> {
    let qopts = wharf_qcow2::Options {
        allow_backing_file: opts.allow_backing_file && image_dir.is_some(),
    };
    let mut reader = wharf_qcow2::Reader::open(file, &qopts).map_err(qcow2_error)?;
    if let (Some(backing), Some(dir)) = (reader.header().backing_file.clone(), image_dir) {
        let format = reader.header().backing_format.clone();
        reader = reader.with_backing(open_backing(dir, &backing, format.as_deref())?);
    }
    let size = reader.virtual_size();
    check_space(store, reader.allocated_bytes().map_err(qcow2_error)?)?;
    let mut out = create(target)?;
    progress.begin("Converting qcow2", Some(size));
    let cancelled = || opts.cancel.is_some_and(|c| c.load(Ordering::Relaxed));
    let mut report = |n: u64| {
        progress.advance(n);
    };
    let copied = reader.copy_to_raw(&mut out, &mut report);
    progress.finish();
    if cancelled() {
        return Err(Error::Cancelled);
    }
    copied.map_err(qcow2_error)?;
    out.set_len(size)
        .map_err(|e| Error::io("truncate", target, e))?;
    Ok(())
}

/// Open backing file `name` of an image in `dir`: a plain relative name, resolved beneath
/// `dir` only, as raw or as qcow2 (which may not have a backing file of its own).
fn open_backing(
    dir: &Path,
    name: &str,
    format: Option<&str>,
) -> Result<Box<dyn wharf_qcow2::ReadAt>> {
    let rel = wharf_qcow2::check_backing_name(name).map_err(qcow2_error)?;
    let dirfd = File::open(dir).map_err(|e| Error::io("open", dir, e))?;
    let fd = wharf_sys::fs::open_in_root(std::os::fd::AsFd::as_fd(&dirfd), rel)
        .map_err(|e| Error::io("open backing file", dir.join(rel), e))?;
    let file = File::from(fd);
    let mut head = [0u8; 4];
    let n = file
        .read_at(&mut head, 0)
        .map_err(|e| Error::io("read", dir.join(rel), e))?;
    match (format, wharf_qcow2::is_qcow2(&head[..n])) {
        (Some("raw"), _) | (None, false) => Ok(Box::new(file)),
        (Some("qcow2"), true) | (None, true) => {
            let inner = wharf_qcow2::Reader::open(file, &wharf_qcow2::Options::default()).map_err(qcow2_error)?;
            Ok(Box::new(inner))
        }
        (Some(other), _) => Err(Error::InvalidData(format!(
            "backing file {name} has format {other:?}, which does not match its contents or is not supported"
        ))),
    }
}

/// Refuse to start an expansion that cannot fit (systemd#5859 fails half-way instead).
fn check_space(store: &Store, needed: u64) -> Result<()> {
    let root = store.import_root();
    let st = rustix::fs::statvfs(root).map_err(|e| Error::io("statvfs", root, e.into()))?;
    let avail = st.f_bavail.saturating_mul(st.f_frsize);
    if needed > avail {
        return Err(Error::InvalidArgument(format!(
            "not enough space in {}: the image holds {needed} bytes of data, {avail} bytes are free",
            root.display()
        )));
    }
    Ok(())
}

fn create(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)
        .map_err(|e| Error::io("create", path, e))
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io("chmod", path, e))
}
