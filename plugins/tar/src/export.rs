//! export-tar: an image tree becomes a (compressed) tar stream.

use std::io::Write;
use std::sync::atomic::AtomicBool;

use wharf_compression::Compression;
use wharf_core::store::LockMode;
use wharf_core::{Error, ImageType, Progress, Result, Store};

use crate::pack::{self, PackError, PackOptions, PackStats};

/// Write image `name` to `out` as a tar stream compressed with `compression`.
pub fn export_tar(
    store: &Store,
    name: &str,
    out: Box<dyn Write + Send>,
    compression: Compression,
    cancel: Option<&AtomicBool>,
    progress: &dyn Progress,
) -> Result<PackStats> {
    let img = store.find(name)?;
    if !img.kind.is_tree() {
        return Err(Error::Unsupported {
            op: "export-tar",
            why: format!(
                "image {name} is a {} image; export-tar writes directory and subvolume images (use export-raw)",
                img.kind
            ),
        });
    }
    debug_assert!(matches!(
        img.kind,
        ImageType::Directory | ImageType::Subvolume
    ));
    // Writers (clone, rename, remove) cannot interleave while we read the tree.
    let _lock = store.lock_name(&img.name, Some(&img), LockMode::Shared)?;
    let total = if progress.wants_total() {
        wharf_fsops::tree_usage(&img.path)
            .ok()
            .map(|u| u.apparent_bytes)
    } else {
        None
    };
    progress.begin(&format!("Exporting {name} ({})", compression.name()), total);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let mut enc = wharf_compression::encoder(compression, out, threads)
        .map_err(|e| Error::io("start compression", &img.path, e))?;
    let report = |n: u64| progress.advance(n);
    let opts = PackOptions {
        progress: Some(&report),
        cancel,
    };
    let stats = pack::pack(&img.path, &mut enc, &opts);
    progress.finish();
    let stats = stats.map_err(|e| match e {
        PackError::Cancelled => Error::Cancelled,
        PackError::Io { op, path, source } => Error::Io { op, path, source },
        PackError::Write(source) => Error::io("write archive", "output", source),
    })?;
    enc.finish()
        .map_err(|e| Error::io("finish compression", "output", e))?;
    Ok(stats)
}
