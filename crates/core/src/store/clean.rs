//! `clean`: remove staging residue (`.#NAME<hex>` left by a crash), ephemeral snapshots of a
//! killed `wharf run -x` (`.#wharf-ephemeral-…`), stale lock files, and hidden
//! images (with `all`, every image that is not a vendor image). Busy images are kept.

use std::fs;
use std::path::Path;

use serde::Serialize;

use super::lock::{local_lock_path, lock_file, Mode};
use super::Store;
use crate::error::{Error, Result};
use crate::util::is_hex16;

/// One entry `clean` removed and the space it freed (exclusive bytes, when known).
#[derive(Debug, Clone, Serialize)]
pub struct Cleaned {
    pub name: String,
    pub freed: Option<u64>,
}

impl Store {
    /// Remove residue and hidden images (every non-vendor image when `all`).
    pub fn clean(&self, all: bool) -> Result<Vec<Cleaned>> {
        let mut out = self.clean_residue()?;
        for img in self.list(true)? {
            if img.vendor || !(all || img.hidden) {
                continue;
            }
            let freed = self
                .usage(&img)
                .ok()
                .and_then(|u| u.usage_exclusive.or(u.usage));
            match self.remove(&img.name) {
                Ok(()) => out.push(Cleaned {
                    name: img.name,
                    freed,
                }),
                Err(Error::Busy(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Staging entries whose owner is gone, and lock files nobody holds.
    fn clean_residue(&self) -> Result<Vec<Cleaned>> {
        let root = self.import_root();
        let entries = match fs::read_dir(root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("read directory", root, e)),
        };
        let mut out = Vec::new();
        for entry in entries.filter_map(|e| e.ok()) {
            let Ok(file_name) = entry.file_name().into_string() else {
                continue;
            };
            let Some(rest) = file_name.strip_prefix(".#") else {
                continue;
            };
            if rest.ends_with(".lck") {
                remove_stale_lock(&root.join(&file_name));
                continue;
            }
            // `wharf run -x` snapshots are locked by their own name (see EPHEMERAL_PREFIX).
            let owner = if rest.starts_with(EPHEMERAL_PREFIX) {
                Some(rest)
            } else {
                staging_owner(rest)
            };
            let Some(owner) = owner else {
                continue;
            };
            // The staging process holds the owner's name lock for as long as it works.
            let Ok(Some(_held)) = lock_file(&local_lock_path(root, owner), Mode::Exclusive) else {
                continue;
            };
            let path = root.join(&file_name);
            let freed = wharf_fsops::tree_usage(&path).ok().map(|u| u.disk_bytes);
            self.remove_entry(&path)?;
            let _ = fs::remove_file(local_lock_path(root, owner));
            out.push(Cleaned {
                name: file_name,
                freed,
            });
        }
        Ok(out)
    }
}

/// Name prefix (after `.#`) of the btrfs snapshots `wharf run --ephemeral` makes beside an
/// image: `.#wharf-ephemeral-<name>-<16 hex>`, locked through
/// `.#wharf-ephemeral-<name>-<16 hex>.lck` while the machine runs (wharf-launcher).
pub const EPHEMERAL_PREFIX: &str = "wharf-ephemeral-";

/// The image name a staging entry `.#<rest>` belongs to: `<name>[.raw|sidecar suffix]<16 hex>`.
fn staging_owner(rest: &str) -> Option<&str> {
    if rest.len() <= 16 || !rest.is_char_boundary(rest.len() - 16) {
        return None;
    }
    let (base, hex) = rest.split_at(rest.len() - 16);
    if !is_hex16(hex) {
        return None;
    }
    let base = base.strip_suffix(".raw").unwrap_or(base);
    let base = super::SIDECAR_SUFFIXES
        .iter()
        .find_map(|s| base.strip_suffix(s))
        .unwrap_or(base);
    (!base.is_empty()).then_some(base)
}

fn remove_stale_lock(path: &Path) {
    if let Ok(Some(_f)) = lock_file(path, Mode::Exclusive) {
        let _ = fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::staging_owner;

    #[test]
    fn staging_owner_parses_every_staging_form() {
        assert_eq!(staging_owner("debian0123456789abcdef"), Some("debian"));
        assert_eq!(staging_owner("disk.raw0123456789abcdef"), Some("disk"));
        assert_eq!(staging_owner("vm.nspawn0123456789abcdef"), Some("vm"));
        assert_eq!(staging_owner("0123456789abcdef"), None);
        assert_eq!(staging_owner("debian"), None);
        assert_eq!(staging_owner("debian0123456789ABCDEF"), None);
    }
}
