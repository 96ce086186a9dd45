//! export-raw: a raw image as a (compressed) byte stream.

use std::fs::File;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use wharf_compression::Compression;
use wharf_core::store::LockMode;
use wharf_core::{Error, ImageType, Progress, Result, Store};

use crate::sparse::read_full;

/// Copy raw image `name` uncompressed to the new file `dst`: a reflink where the filesystem
/// allows, else a sparse copy (systemd's uncompressed export fills the holes).
pub fn export_raw_file(
    store: &Store,
    name: &str,
    dst: &std::path::Path,
    cancel: Option<&AtomicBool>,
    progress: &dyn Progress,
) -> Result<()> {
    let img = raw_image(store, name)?;
    let _lock = store.lock_name(&img.name, Some(&img), LockMode::Shared)?;
    let size = std::fs::metadata(&img.path).map(|m| m.len()).ok();
    progress.begin(&format!("Exporting {name}"), size);
    let report = |n: u64| progress.advance(n);
    let copy = wharf_fsops::CopyOptions {
        reflink: true,
        progress: Some(&report),
        cancel,
    };
    let copied = wharf_fsops::copy_file(&img.path, dst, &copy);
    progress.finish();
    copied?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dst, std::fs::Permissions::from_mode(0o644))
        .map_err(|e| Error::io("chmod", dst, e))
}

fn raw_image(store: &Store, name: &str) -> Result<wharf_core::Image> {
    let img = store.find(name)?;
    if img.kind != ImageType::Raw {
        return Err(Error::Unsupported {
            op: "export-raw",
            why: format!(
                "image {name} is a {} image; export-raw writes raw images (use export-tar)",
                img.kind
            ),
        });
    }
    Ok(img)
}

/// Write raw image `name` to `out`, compressed with `compression`. Returns the bytes read.
pub fn export_raw(
    store: &Store,
    name: &str,
    out: Box<dyn Write + Send>,
    compression: Compression,
    cancel: Option<&AtomicBool>,
    progress: &dyn Progress,
) -> Result<u64> {
    let img = raw_image(store, name)?;
    let _lock = store.lock_name(&img.name, Some(&img), LockMode::Shared)?;
    let mut f = File::open(&img.path).map_err(|e| Error::io("open", &img.path, e))?;
    let size = f
        .metadata()
        .map_err(|e| Error::io("stat", &img.path, e))?
        .len();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let mut enc = wharf_compression::encoder(compression, out, threads)
        .map_err(|e| Error::io("start compression", &img.path, e))?;
    progress.begin(
        &format!("Exporting {name} ({})", compression.name()),
        Some(size),
    );
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    let result = loop {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            break Err(Error::Cancelled);
        }
        let n = match read_full(&mut f as &mut dyn Read, &mut buf) {
            Ok(n) => n,
            Err(e) => break Err(Error::io("read", &img.path, e)),
        };
        if n == 0 {
            break Ok(());
        }
        if let Err(e) = enc.write_all(&buf[..n]) {
            break Err(Error::io("write", "output", e));
        }
        done += n as u64;
        progress.advance(n as u64);
    };
    progress.finish();
    result?;
    enc.finish()
        .map_err(|e| Error::io("finish compression", "output", e))?;
    Ok(done)
}
