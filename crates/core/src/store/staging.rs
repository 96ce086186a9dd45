//! Staging and atomic install: a new image is built under `.#NAME<16 hex>` in the import root and
//! renamed into place without replacing (or exchanged with the old one under `--force`). Until
//! [`Staging::commit`] succeeds the image is invisible to listings; dropping an uncommitted
//! staging removes it, and a crash leaves only a `.#` entry that `clean` removes.

use std::fs::{self, File};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::lock::{ImageLock, Mode};
use super::Store;
use crate::backend::{BackendError, TreeKind};
use crate::error::{Error, Result};
use crate::image::{file_name_for, Image, ImageType};
use crate::name;
use crate::util::{fsync_dir, random_hex16};

/// A new image being built. Holds the name lock until committed or dropped.
pub struct Staging<'s> {
    store: &'s Store,
    name: String,
    kind: ImageType,
    path: PathBuf,
    force: bool,
    sidecars: Vec<(PathBuf, String)>,
    committed: bool,
    _lock: ImageLock,
}

impl Store {
    /// Reserve `name` for a new image of `kind`: validate the name, take its lock (failing at
    /// once with "busy"), refuse an existing image unless `force`, and pick a staging path.
    /// Nothing is created on disk except the import root and the lock file.
    pub fn stage(&self, name: &str, kind: ImageType, force: bool) -> Result<Staging<'_>> {
        name::validate(name)?;
        if !force && self.lookup(name)?.is_some() {
            // Checked before locking too, so "exists" wins over "busy" for existing names.
            return Err(Error::Exists(name.to_string()));
        }
        self.ensure_import_root()?;
        let lock = self.lock_name(name, None, Mode::Exclusive)?;
        if let Some(existing) = self.lookup(name)? {
            if !force {
                return Err(Error::Exists(name.to_string()));
            }
            if existing.vendor {
                return Err(Error::ReadOnly {
                    name: name.to_string(),
                    why: "vendor images under /usr cannot be replaced",
                });
            }
        }
        let file = file_name_for(name, kind);
        let path = self
            .import_root()
            .join(format!(".#{file}{}", random_hex16()));
        Ok(Staging {
            store: self,
            name: name.to_string(),
            kind,
            path,
            force,
            sidecars: Vec::new(),
            committed: false,
            _lock: lock,
        })
    }
}

impl std::fmt::Debug for Staging<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staging")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Staging<'_> {
    /// Where to build the image.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn kind(&self) -> ImageType {
        self.kind
    }

    /// Create the staging tree: a native tree (btrfs subvolume) when the backend can, else a
    /// directory with mode 0755.
    pub fn create_tree(&self) -> Result<TreeKind> {
        if let Some(b) = self.store.backend_for(self.store.import_root()) {
            match b.create_tree(&self.path) {
                Ok(k) => return Ok(k),
                Err(BackendError::Unsupported(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        fs::DirBuilder::new()
            .mode(0o755)
            .create(&self.path)
            .map_err(|e| Error::io("create directory", &self.path, e))?;
        Ok(TreeKind::Directory)
    }

    /// Create the staging tree as a writable snapshot of the tree at `src` when the store's
    /// backend can (a btrfs subvolume on the store's filesystem). `Ok(false)`: it cannot, and
    /// nothing was created.
    pub fn create_tree_as_snapshot(&self, src: &Path) -> Result<bool> {
        if let Some(b) = self.store.backend_for(self.store.import_root()) {
            if b.is_native_tree(src) {
                match b.snapshot(src, &self.path, false) {
                    Ok(()) => return Ok(true),
                    Err(BackendError::Unsupported(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(false)
    }

    /// Install a copy of `src` as the sidecar `NAME<suffix>` (e.g. ".nspawn") at commit.
    pub fn add_sidecar(&mut self, src: &Path, suffix: &str) -> Result<()> {
        let tmp =
            self.store
                .import_root()
                .join(format!(".#{}{suffix}{}", self.name, random_hex16()));
        fs::copy(src, &tmp).map_err(|e| Error::io("copy sidecar", src, e))?;
        self.sidecars.push((tmp, format!("{}{suffix}", self.name)));
        Ok(())
    }

    /// Install `bytes` as the sidecar `NAME<suffix>` at commit.
    pub fn add_sidecar_bytes(&mut self, bytes: &[u8], suffix: &str) -> Result<()> {
        let tmp =
            self.store
                .import_root()
                .join(format!(".#{}{suffix}{}", self.name, random_hex16()));
        fs::write(&tmp, bytes).map_err(|e| Error::io("write sidecar", &tmp, e))?;
        self.sidecars.push((tmp, format!("{}{suffix}", self.name)));
        Ok(())
    }

    /// Move the staged image into place and mark it read-only if asked. Without `force` an
    /// image that appeared meanwhile under the name makes this fail with "already exists".
    pub fn commit(mut self, read_only: bool) -> Result<Image> {
        let root = self.store.import_root().to_path_buf();
        if read_only && self.kind == ImageType::Raw {
            fs::set_permissions(&self.path, fs::Permissions::from_mode(0o444))
                .map_err(|e| Error::io("chmod", &self.path, e))?;
        }
        let dir = File::open(&root).map_err(|e| Error::io("open", &root, e))?;
        // Make the content durable before it becomes visible: one file needs only its own
        // fsync; a tree of many files is cheapest to flush with one syncfs.
        if self.kind == ImageType::Raw {
            File::open(&self.path)
                .and_then(|f| f.sync_all())
                .map_err(|e| Error::io("fsync", &self.path, e))?;
        } else {
            wharf_sys::fs::syncfs(dir.as_fd()).map_err(|e| Error::io("syncfs", &root, e))?;
        }
        let tmp_name = file_name_of(&self.path);
        let final_name = file_name_for(&self.name, self.kind);
        let final_path = root.join(&final_name);
        let mut displaced: Option<PathBuf> = None;

        if self.force && fs::symlink_metadata(&final_path).is_ok() {
            // Same entry name: swap atomically, then delete the old image from the temp name.
            self.store.prepare_for_rename(&final_path)?;
            wharf_sys::fs::rename_exchange(
                dir.as_fd(),
                tmp_name.as_ref(),
                dir.as_fd(),
                final_name.as_ref(),
            )
            .map_err(|e| Error::io("exchange", &final_path, e))?;
            displaced = Some(self.path.clone());
        } else {
            match wharf_sys::fs::rename_noreplace(
                dir.as_fd(),
                tmp_name.as_ref(),
                dir.as_fd(),
                final_name.as_ref(),
            ) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(Error::Exists(self.name.clone()))
                }
                Err(e) => return Err(Error::io("rename", &final_path, e)),
            }
            if self.force {
                // The name may have been taken by the other kind (NAME vs NAME.raw).
                let other_kind = if self.kind == ImageType::Raw {
                    ImageType::Directory
                } else {
                    ImageType::Raw
                };
                let other = root.join(file_name_for(&self.name, other_kind));
                if fs::symlink_metadata(&other).is_ok() {
                    displaced = Some(self.store.hide(&other, &self.name)?);
                }
            }
        }
        self.committed = true;
        if read_only && self.kind.is_tree() {
            self.store
                .mark_read_only(&final_path, self.kind_on_disk(&final_path), true)?;
        }
        for (tmp, final_sidecar) in self.sidecars.drain(..) {
            let to = root.join(&final_sidecar);
            fs::rename(&tmp, &to).map_err(|e| Error::io("install sidecar", &to, e))?;
        }
        fsync_dir(&root).map_err(|e| Error::io("fsync", &root, e))?;
        if let Some(old) = displaced {
            self.store.remove_entry(&old)?;
        }
        self.store
            .lookup(&self.name)?
            .ok_or_else(|| Error::NotFound(self.name.clone()))
    }

    fn kind_on_disk(&self, path: &Path) -> ImageType {
        match fs::metadata(path) {
            Ok(m) if crate::image::is_subvolume(path, &m) => ImageType::Subvolume,
            _ => self.kind,
        }
    }
}

impl Drop for Staging<'_> {
    fn drop(&mut self) {
        if !self.committed {
            let _ = self.store.remove_entry(&self.path);
        }
        for (tmp, _) in self.sidecars.drain(..) {
            let _ = fs::remove_file(tmp);
        }
    }
}

pub(crate) fn file_name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
