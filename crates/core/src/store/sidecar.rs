//! Sidecar files: `NAME.nspawn`, `NAME.oci-config`, `NAME.oci-origin`, `NAME.roothash`, `NAME.verity`, … beside an image. They follow
//! the image through clone, rename and remove. In the system store `.nspawn` files in
//! /etc/systemd/nspawn and /run/systemd/nspawn follow renames and removals too.

use std::fs;
use std::path::{Path, PathBuf};

use super::Store;
use crate::error::{Error, Result};
use crate::image::Image;

/// Suffixes of the files that belong to an image and travel with it.
pub const SIDECAR_SUFFIXES: &[&str] = &[
    ".nspawn",
    ".oci-config",
    ".oci-origin",
    ".roothash",
    ".roothash.p7s",
    ".usrhash",
    ".usrhash.p7s",
    ".verity",
];

/// Settings directories systemd-nspawn reads `NAME.nspawn` from (system store only).
const NSPAWN_SETTINGS_DIRS: &[&str] = &["/etc/systemd/nspawn", "/run/systemd/nspawn"];

impl Store {
    /// Existing sidecars of `img` as (path, suffix), next to the image first.
    pub fn sidecars(&self, img: &Image) -> Vec<(PathBuf, &'static str)> {
        let mut out = Vec::new();
        for dir in self.sidecar_dirs(img.dir()) {
            for suffix in SIDECAR_SUFFIXES {
                if dir != img.dir() && *suffix != ".nspawn" {
                    continue;
                }
                let p = dir.join(format!("{}{suffix}", img.name));
                if fs::symlink_metadata(&p).is_ok() {
                    out.push((p, *suffix));
                }
            }
        }
        out
    }

    /// Rename the sidecars of `img` to belong to `new_name`, in the directories they are in.
    pub(crate) fn rename_sidecars(&self, img: &Image, new_name: &str) -> Result<()> {
        for (path, suffix) in self.sidecars(img) {
            let to = sibling(&path, &format!("{new_name}{suffix}"));
            fs::rename(&path, &to).map_err(|e| Error::io("rename sidecar", &path, e))?;
        }
        Ok(())
    }

    /// Remove the sidecars of `img`.
    pub(crate) fn remove_sidecars(&self, img: &Image) -> Result<()> {
        for (path, _) in self.sidecars(img) {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("remove sidecar", &path, e)),
            }
        }
        Ok(())
    }

    fn sidecar_dirs(&self, image_dir: &Path) -> Vec<PathBuf> {
        let mut dirs = vec![image_dir.to_path_buf()];
        if self.is_system() {
            dirs.extend(NSPAWN_SETTINGS_DIRS.iter().map(PathBuf::from));
        }
        dirs
    }
}

fn sibling(path: &Path, file_name: &str) -> PathBuf {
    path.parent().unwrap_or(Path::new("/")).join(file_name)
}
