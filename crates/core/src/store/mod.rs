//! The machine store: image discovery over the search path, and the image verbs.
//!
//! Layout and rules follow systemd's so that images move freely between wharf and
//! systemd-nspawn/machinectl: images live in `/var/lib/machines` (searched together with
//! [`SEARCH_PATH`]), new images are staged as `.#NAME<16 hex>` and renamed into place without
//! replacing, `NAME.nspawn` and other sidecars sit next to the image, and locks are OFD locks on
//! `.#NAME.lck`.

mod clean;
mod clone;
mod inspect;
pub mod lock;
mod modify;
mod remove;
mod sidecar;
mod staging;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use clean::{Cleaned, EPHEMERAL_PREFIX};
pub use clone::CloneOptions;
pub use inspect::{ImageDetails, ImageUsage};
pub use lock::{ImageLock, Mode as LockMode};
pub use sidecar::SIDECAR_SUFFIXES;
pub use staging::Staging;

use crate::backend::StorageBackend;
use crate::error::{Error, Result};
use crate::image::{self, Candidate, Image};
use crate::name;
use crate::registry::Registry;

/// Where machine images are looked up, in order; the first match of a name wins.
pub const SEARCH_PATH: &[&str] = &[
    "/etc/machines",
    "/run/machines",
    "/var/lib/machines",
    "/usr/local/lib/machines",
    "/usr/lib/machines",
];

/// Where new images are written by default.
pub const DEFAULT_IMPORT_ROOT: &str = "/var/lib/machines";

/// A machine image store: a search path of directories and the one new images go to.
pub struct Store {
    roots: Vec<PathBuf>,
    import_root: PathBuf,
    registry: Registry,
    system: bool,
}

impl Store {
    /// The system store: [`SEARCH_PATH`], writing into [`DEFAULT_IMPORT_ROOT`]. Takes
    /// systemd-nspawn's global name locks too, so a running nspawn container keeps its image busy.
    pub fn system(registry: Registry) -> Self {
        Store {
            roots: SEARCH_PATH.iter().map(PathBuf::from).collect(),
            import_root: PathBuf::from(DEFAULT_IMPORT_ROOT),
            registry,
            system: true,
        }
    }

    /// A store made of the one directory `root` (`--image-root`, `WHARF_IMAGE_ROOT`).
    pub fn at(root: impl Into<PathBuf>, registry: Registry) -> Self {
        let root = root.into();
        Store {
            roots: vec![root.clone()],
            import_root: root,
            registry,
            system: false,
        }
    }

    /// A store searching `roots` in order and writing new images into `import_root`.
    pub fn with_search_path(roots: Vec<PathBuf>, import_root: PathBuf, registry: Registry) -> Self {
        Store {
            roots,
            import_root,
            registry,
            system: false,
        }
    }

    /// The directory new images are written to.
    pub fn import_root(&self) -> &Path {
        &self.import_root
    }

    /// The directories searched, in order.
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Every image, first match of a name winning; hidden images only when `all`.
    pub fn list(&self, all: bool) -> Result<Vec<Image>> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for root in &self.roots {
            let entries = match fs::read_dir(root) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io("read directory", root, e)),
            };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect();
            // Directories before NAME.raw, so the lookup order of find() holds here too.
            names.sort_by_key(|n| entry_order(n));
            for file_name in names {
                let Some(c) = image::recognise(root, &file_name) else {
                    continue;
                };
                if (!all && name::is_hidden(&c.name)) || !seen.insert(c.name.clone()) {
                    continue;
                }
                out.push(self.complete(c));
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The image called `name`.
    pub fn find(&self, name: &str) -> Result<Image> {
        name::validate(name)?;
        self.lookup(name)?
            .ok_or_else(|| Error::NotFound(name.to_string()))
    }

    /// The image called `name` (already validated), if any.
    pub(crate) fn lookup(&self, name: &str) -> Result<Option<Image>> {
        for root in &self.roots {
            for file_name in [name.to_string(), format!("{name}.raw")] {
                if let Some(c) = image::recognise(root, &file_name) {
                    return Ok(Some(self.complete(c)));
                }
            }
        }
        Ok(None)
    }

    /// The storage backend managing directory `dir`, if a registered plugin claims it.
    pub(crate) fn backend_for(&self, dir: &Path) -> Option<Arc<dyn StorageBackend>> {
        self.registry.storage_for(dir)
    }

    /// Create the import root if missing (mode 0700, as systemd's workers do).
    pub(crate) fn ensure_import_root(&self) -> Result<()> {
        let root = &self.import_root;
        if root.is_dir() {
            return Ok(());
        }
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .map_err(|e| Error::io("create image root", root, e))
    }

    /// Lock the name `name` in this store (and the lock of its existing entry, when given).
    pub fn lock_name(
        &self,
        name: &str,
        existing: Option<&Image>,
        mode: LockMode,
    ) -> Result<ImageLock> {
        let mut paths = vec![lock::local_lock_path(&self.import_root, name)];
        if let Some(img) = existing {
            paths.push(lock::local_lock_path(img.dir(), &img.file_name()));
        }
        if self.system && fs::create_dir_all(lock::NSPAWN_LOCK_DIR).is_ok() {
            paths.push(Path::new(lock::NSPAWN_LOCK_DIR).join(format!("name-{name}")));
        }
        if !self.import_root.exists() {
            self.ensure_import_root()?;
        }
        ImageLock::acquire(name, &paths, mode)
    }

    /// Whether this store is the system one (search path, nspawn lock and settings dirs).
    pub(crate) fn is_system(&self) -> bool {
        self.system
    }

    fn complete(&self, c: Candidate) -> Image {
        let vendor = c.path.starts_with("/usr/");
        let hidden = name::is_hidden(&c.name);
        let read_only = vendor || hidden || self.native_read_only(&c);
        let to_usec = |t: std::io::Result<std::time::SystemTime>| {
            t.ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_micros() as u64)
        };
        Image {
            crtime_usec: to_usec(c.meta.created()),
            mtime_usec: to_usec(c.meta.modified()),
            name: c.name,
            path: c.path,
            kind: c.kind,
            read_only,
            vendor,
            hidden,
        }
    }
}

/// Sort key for entries of one root: trees and devices before `NAME.raw` of the same name.
fn entry_order(file_name: &str) -> (String, bool) {
    match file_name.strip_suffix(".raw") {
        Some(stem) => (stem.to_string(), true),
        None => (file_name.to_string(), false),
    }
}
