//! `clone SRC DST` and `import-fs DIR NAME`: a btrfs snapshot when the source is a subvolume on
//! btrfs, else a new tree filled by a faithful per-file copy (reflink first); raw images by
//! reflink or sparse copy.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use super::lock::Mode;
use super::staging::Staging;
use super::Store;
use crate::backend::BackendError;
use crate::error::{Error, Result};
use crate::image::{Image, ImageType};
use crate::progress::Progress;

/// Options of [`Store::clone_image`] and [`Store::import_fs`].
#[derive(Default)]
pub struct CloneOptions<'a> {
    /// Mark the new image read-only.
    pub read_only: bool,
    /// Replace an existing image of the target name atomically.
    pub force: bool,
    /// Set to stop the copy early; the partial image is removed.
    pub cancel: Option<&'a AtomicBool>,
}

impl Store {
    /// Clone image `src` to the new image `dst` in the import root, sidecars included.
    pub fn clone_image(
        &self,
        src: &str,
        dst: &str,
        opts: &CloneOptions,
        progress: &dyn Progress,
    ) -> Result<Image> {
        crate::name::validate(dst)?;
        let source = self.find(src)?;
        if source.kind == ImageType::Block {
            return Err(Error::Unsupported {
                op: "clone",
                why: format!("image {src} is a block device"),
            });
        }
        let _src_lock = self.lock_name(&source.name, Some(&source), Mode::Shared)?;
        let mut staging = self.stage(dst, stored_kind(source.kind), opts.force)?;
        self.fill(&source.path, source.kind, &staging, opts, progress)?;
        for (path, suffix) in self.sidecars(&source) {
            if path.parent() == Some(source.dir()) {
                staging.add_sidecar(&path, suffix)?;
            }
        }
        staging.commit(opts.read_only)
    }

    /// Make a new image `name` from the directory tree `dir` (outside the store): a snapshot
    /// when `dir` is a btrfs subvolume on the store's filesystem, else a faithful copy.
    pub fn import_fs(
        &self,
        dir: &Path,
        name: &str,
        opts: &CloneOptions,
        progress: &dyn Progress,
    ) -> Result<Image> {
        let meta = std::fs::metadata(dir).map_err(|e| Error::io("stat", dir, e))?;
        if !meta.is_dir() {
            return Err(Error::InvalidArgument(format!(
                "{} is not a directory",
                dir.display()
            )));
        }
        let staging = self.stage(name, ImageType::Directory, opts.force)?;
        let kind = if crate::image::is_subvolume(dir, &meta) {
            ImageType::Subvolume
        } else {
            ImageType::Directory
        };
        self.fill(dir, kind, &staging, opts, progress)?;
        staging.commit(opts.read_only)
    }

    /// Fill the (not yet existing) staging path with a copy of `src`.
    fn fill(
        &self,
        src: &Path,
        kind: ImageType,
        staging: &Staging<'_>,
        opts: &CloneOptions,
        progress: &dyn Progress,
    ) -> Result<()> {
        let target = staging.path().to_path_buf();
        if kind == ImageType::Subvolume {
            if let Some(b) = self.backend_for(self.import_root()) {
                if b.is_native_tree(src) {
                    match b.snapshot(src, &target, opts.read_only) {
                        Ok(()) => return Ok(()),
                        Err(BackendError::Unsupported(_)) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        let report = |n: u64| progress.advance(n);
        let copy_opts = wharf_fsops::CopyOptions {
            reflink: true,
            progress: Some(&report),
            cancel: opts.cancel,
        };
        let total = if progress.wants_total() {
            wharf_fsops::tree_usage(src).ok().map(|u| u.apparent_bytes)
        } else {
            None
        };
        progress.begin(&format!("Copying {}", src.display()), total);
        let copied = if kind == ImageType::Raw {
            wharf_fsops::copy_file(src, &target, &copy_opts).map(|_| ())
        } else {
            staging.create_tree()?;
            wharf_fsops::copy_tree(src, &target, &copy_opts).map(|_| ())
        };
        progress.finish();
        copied?;
        if kind == ImageType::Raw && !opts.read_only {
            // A copy of a read-only raw image is writable unless asked otherwise.
            self.mark_read_only(&target, ImageType::Raw, false)?;
        }
        Ok(())
    }
}

/// What kind of entry a clone of `kind` is staged as before the backend decides.
fn stored_kind(kind: ImageType) -> ImageType {
    match kind {
        ImageType::Raw => ImageType::Raw,
        _ => ImageType::Directory,
    }
}
