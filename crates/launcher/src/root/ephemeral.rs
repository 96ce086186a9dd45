//! `--ephemeral` on btrfs: a writable snapshot of a subvolume image beside it, named
//! `.#wharf-ephemeral-<name>-<16 hex>` and locked (OFD lock on
//! `.#wharf-ephemeral-<name>-<16 hex>.lck`) for as long as the machine runs; removed on exit.
//! A snapshot whose lock nobody holds is residue of a killed wharf: the next ephemeral run in
//! that directory (and `wharf clean`) removes it.

use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use wharf_sys::btrfs;
use wharf_sys::lock::{try_lock, LockKind};

/// Name prefix of ephemeral snapshots (after `.#`), shared with `wharf clean`.
pub use wharf_core::store::EPHEMERAL_PREFIX as PREFIX;

/// A running ephemeral snapshot; removed (with its lock file) on drop.
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub path: PathBuf,
    lock_path: PathBuf,
    _lock: File,
}

fn lock_path(dir: &Path, entry: &str) -> PathBuf {
    dir.join(format!("{entry}.lck"))
}

/// Open and exclusively lock `path`; `None` when someone else holds it.
fn lock(path: &Path) -> io::Result<Option<File>> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(path)?;
    Ok(try_lock(f.as_fd(), LockKind::Exclusive)?.then_some(f))
}

/// Snapshot `image` (a btrfs subvolume) as `.#wharf-ephemeral-<name>-<hex>` in its directory.
/// `Ok(None)` when `image` is not a subvolume root (the caller then uses an overlay).
pub(crate) fn snapshot(image: &Path, name: &str, hex: &str) -> Result<Option<Snapshot>> {
    let src = File::open(image).with_context(|| format!("open {}", image.display()))?;
    if !btrfs::is_subvolume(src.as_fd()).unwrap_or(false) {
        return Ok(None);
    }
    let dir = image.parent().unwrap_or(Path::new("/"));
    remove_residue(dir);
    let entry = format!(".#{PREFIX}{name}-{hex}");
    let lock_path = lock_path(dir, &entry);
    // Lock first: a concurrent residue sweep never sees an unlocked fresh snapshot.
    let lock = lock(&lock_path)
        .with_context(|| format!("lock {}", lock_path.display()))?
        .with_context(|| format!("{} is locked", lock_path.display()))?;
    let parent = File::open(dir).with_context(|| format!("open {}", dir.display()))?;
    if let Err(e) = btrfs::snapshot(src.as_fd(), parent.as_fd(), OsStr::new(&entry), false) {
        let _ = std::fs::remove_file(&lock_path);
        return Err(e).with_context(|| format!("snapshot {}", image.display()));
    }
    Ok(Some(Snapshot {
        path: dir.join(&entry),
        lock_path,
        _lock: lock,
    }))
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        let _ = remove_subvolume(&self.path);
        let _ = std::fs::remove_file(&self.lock_path);
    }
}

/// Delete subvolume `path` and the subvolumes created inside it; a plain directory (a copy left
/// by something else) is removed as a tree.
fn remove_subvolume(path: &Path) -> io::Result<()> {
    let f = File::open(path)?;
    if !btrfs::is_subvolume(f.as_fd())? {
        return std::fs::remove_dir_all(path);
    }
    // Nested subvolumes (made inside the machine) first, deepest first.
    if let Ok(children) = btrfs::child_subvolumes(f.as_fd()) {
        for c in children.iter().rev() {
            let p = path.join(&c.path);
            if let (Some(parent), Some(name)) = (p.parent(), p.file_name()) {
                if let (Ok(pf), Ok(cf)) = (File::open(parent), File::open(&p)) {
                    let _ = btrfs::set_subvol_read_only(cf.as_fd(), false);
                    let _ = btrfs::subvol_destroy(pf.as_fd(), name);
                }
            }
        }
    }
    drop(f);
    let parent = File::open(path.parent().unwrap_or(Path::new("/")))?;
    let name = path.file_name().unwrap_or_default();
    // A mount of the snapshot can take a moment to go away after the machine ended.
    let mut last = Ok(());
    for _ in 0..50 {
        last = btrfs::subvol_destroy(parent.as_fd(), name);
        match &last {
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            _ => break,
        }
    }
    last
}

/// Remove every `.#wharf-ephemeral-*` snapshot in `dir` whose lock is free (its wharf is gone).
pub(crate) fn remove_residue(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with(&format!(".#{PREFIX}")) || name.ends_with(".lck") {
            continue;
        }
        let lp = lock_path(dir, name);
        if let Ok(Some(_held)) = lock(&lp) {
            let _ = remove_subvolume(&dir.join(name));
            let _ = std::fs::remove_file(&lp);
        }
    }
}
