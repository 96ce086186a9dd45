//! The verbs that change existing images: rename, remove, read-only, set-limit.

use std::fs::{self, File};
use std::os::fd::AsFd;
use std::path::Path;

use super::inspect::dir_immutable;
use super::lock::Mode;
use super::staging::file_name_of;
use super::Store;
use crate::error::{Error, Result};
use crate::image::{file_name_for, Image, ImageType};
use crate::name;

impl Store {
    /// Rename image `old` to `new` in the directory it lives in, sidecars included.
    pub fn rename(&self, old: &str, new: &str) -> Result<Image> {
        name::validate(new)?;
        let img = self.find(old)?;
        refuse_vendor(&img, "renamed")?;
        if self.lookup(new)?.is_some() {
            return Err(Error::Exists(new.to_string()));
        }
        let _old_lock = self.lock_name(&img.name, Some(&img), Mode::Exclusive)?;
        let _new_lock = self.lock_name(new, None, Mode::Exclusive)?;
        if self.lookup(new)?.is_some() {
            return Err(Error::Exists(new.to_string()));
        }
        let dir = img.dir().to_path_buf();
        let new_file = file_name_for(new, img.kind);
        let is_link = fs::symlink_metadata(&img.path).is_ok_and(|m| m.file_type().is_symlink());
        let immutable = !is_link && img.kind == ImageType::Directory && dir_immutable(&img.path);
        if immutable {
            self.mark_read_only(&img.path, ImageType::Directory, false)?;
        }
        let d = File::open(&dir).map_err(|e| Error::io("open", &dir, e))?;
        let renamed = wharf_sys::fs::rename_noreplace(
            d.as_fd(),
            file_name_of(&img.path).as_ref(),
            d.as_fd(),
            new_file.as_ref(),
        );
        let now_at = if renamed.is_ok() {
            dir.join(&new_file)
        } else {
            img.path.clone()
        };
        if immutable {
            self.mark_read_only(&now_at, ImageType::Directory, true)?;
        }
        renamed.map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Error::Exists(new.to_string()),
            _ => Error::io("rename", &img.path, e),
        })?;
        self.rename_sidecars(&img, new)?;
        self.lookup(new)?
            .ok_or_else(|| Error::NotFound(new.to_string()))
    }

    /// Remove image `name` and its sidecars. The image is first renamed to a hidden temporary
    /// name, so an interrupted removal never leaves a half image in listings.
    pub fn remove(&self, name: &str) -> Result<()> {
        let img = self.find(name)?;
        refuse_vendor(&img, "removed")?;
        let _lock = self.lock_name(&img.name, Some(&img), Mode::Exclusive)?;
        let meta = fs::symlink_metadata(&img.path).map_err(|e| Error::io("stat", &img.path, e))?;
        if meta.file_type().is_symlink() || img.kind == ImageType::Block {
            // A link (/etc/machines convention) or device node: drop the entry, never the target.
            fs::remove_file(&img.path).map_err(|e| Error::io("remove", &img.path, e))?;
        } else {
            let hidden = self.hide(&img.path, &img.name)?;
            self.remove_entry(&hidden)?;
        }
        self.remove_sidecars(&img)
    }

    /// Mark image `name` read-only or writable.
    pub fn set_read_only(&self, name: &str, read_only: bool) -> Result<Image> {
        let img = self.find(name)?;
        refuse_vendor(&img, "changed")?;
        if img.hidden {
            return Err(Error::ReadOnly {
                name: img.name,
                why: "hidden images are always read-only",
            });
        }
        let _lock = self.lock_name(&img.name, Some(&img), Mode::Exclusive)?;
        self.mark_read_only(&img.path, img.kind, read_only)?;
        self.find(name)
    }

    /// Limit the space image `name` (or, with `None`, the whole import root) may use; `bytes`
    /// `None` removes the limit. Needs a btrfs subvolume (quota groups are enabled on demand).
    pub fn set_limit(&self, name: Option<&str>, bytes: Option<u64>) -> Result<()> {
        let (path, what) = match name {
            Some(n) => {
                let img = self.find(n)?;
                refuse_vendor(&img, "changed")?;
                if img.kind != ImageType::Subvolume {
                    return Err(limit_unsupported(
                        &img.path,
                        &format!("image {n} is a {}", img.kind),
                    ));
                }
                (img.path, format!("image {n}"))
            }
            None => (
                self.import_root().to_path_buf(),
                "the image pool".to_string(),
            ),
        };
        let parent = path.parent().unwrap_or(&path).to_path_buf();
        let backend = self
            .backend_for(&parent)
            .filter(|b| b.is_native_tree(&path))
            .ok_or_else(|| limit_unsupported(&path, &format!("{what} is not a btrfs subvolume")))?;
        let _lock = match name {
            Some(n) => Some(self.lock_name(n, None, Mode::Exclusive)?),
            None => None,
        };
        backend.set_limit(&path, bytes).map_err(|e| match e {
            crate::BackendError::Unsupported(why) => Error::Unsupported {
                op: "set-limit",
                why,
            },
            other => other.into(),
        })
    }
}

fn refuse_vendor(img: &Image, verb: &str) -> Result<()> {
    if img.vendor {
        let why = match verb {
            "renamed" => "vendor images under /usr cannot be renamed",
            "removed" => "vendor images under /usr cannot be removed",
            _ => "vendor images under /usr cannot be changed",
        };
        return Err(Error::ReadOnly {
            name: img.name.clone(),
            why,
        });
    }
    Ok(())
}

fn limit_unsupported(path: &Path, what: &str) -> Error {
    Error::Unsupported {
        op: "set-limit",
        why: format!(
            "{what} on {}; size limits need a btrfs subvolume",
            crate::util::fs_name(path)
        ),
    }
}
