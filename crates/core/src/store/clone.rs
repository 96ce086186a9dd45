//! `clone SRC DST`: a btrfs snapshot when the source is a subvolume on btrfs, else a new tree
//! filled by a faithful per-file copy (reflink first); raw images by reflink or sparse copy.

use std::sync::atomic::AtomicBool;

use super::lock::Mode;
use super::Store;
use crate::backend::BackendError;
use crate::error::{Error, Result};
use crate::image::{Image, ImageType};
use crate::progress::Progress;

/// Options of [`Store::clone_image`].
#[derive(Default)]
pub struct CloneOptions<'a> {
    /// Mark the clone read-only.
    pub read_only: bool,
    /// Set to stop the copy early; the partial clone is removed.
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
        let mut staging = self.stage(dst, stored_kind(source.kind), false)?;
        let target = staging.path().to_path_buf();

        let snapshotted = source.kind == ImageType::Subvolume
            && match self.backend_for(self.import_root()) {
                Some(b) if b.is_native_tree(&source.path) => {
                    match b.snapshot(&source.path, &target, opts.read_only) {
                        Ok(()) => true,
                        Err(BackendError::Unsupported(_)) => false,
                        Err(e) => return Err(e.into()),
                    }
                }
                _ => false,
            };

        if !snapshotted {
            let report = |n: u64| progress.advance(n);
            let copy_opts = wharf_fsops::CopyOptions {
                reflink: true,
                progress: Some(&report),
                cancel: opts.cancel,
            };
            let total = if progress.wants_total() {
                match source.kind {
                    ImageType::Raw => std::fs::metadata(&source.path).ok().map(|m| m.len()),
                    _ => wharf_fsops::tree_usage(&source.path)
                        .ok()
                        .map(|u| u.apparent_bytes),
                }
            } else {
                None
            };
            progress.begin(&format!("Cloning {src} to {dst}"), total);
            let copied = if source.kind == ImageType::Raw {
                wharf_fsops::copy_file(&source.path, &target, &copy_opts).map(|_| ())
            } else {
                staging.create_tree()?;
                wharf_fsops::copy_tree(&source.path, &target, &copy_opts).map(|_| ())
            };
            progress.finish();
            copied?;
            if source.kind == ImageType::Raw && !opts.read_only {
                // A clone of a read-only raw image is writable unless asked otherwise.
                self.mark_read_only(&target, ImageType::Raw, false)?;
            }
        }

        for (path, suffix) in self.sidecars(&source) {
            if path.parent() == Some(source.dir()) {
                staging.add_sidecar(&path, suffix)?;
            }
        }
        // A snapshot was already taken read-only when asked; marking again is harmless.
        staging.commit(opts.read_only)
    }
}

/// What kind of entry a clone of `kind` is staged as before the backend decides.
fn stored_kind(kind: ImageType) -> ImageType {
    match kind {
        ImageType::Raw => ImageType::Raw,
        _ => ImageType::Directory,
    }
}
