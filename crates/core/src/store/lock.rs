//! Per-image locks, compatible with systemd's: an OFD lock on `<dir>/.#<file>.lck` (plus, for the
//! system store, `/run/systemd/nspawn/locks/name-<name>`). Non-blocking: the loser learns at once
//! that the image is busy.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use wharf_sys::lock::{try_lock, LockKind};

use crate::error::{Error, Result};

/// Where systemd-nspawn keeps its global per-name locks.
pub const NSPAWN_LOCK_DIR: &str = "/run/systemd/nspawn/locks";

/// Whether a lock excludes everyone else or only writers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Shared,
    Exclusive,
}

/// A set of held lock files for one image; released (and removed when free) on drop.
#[derive(Debug)]
pub struct ImageLock {
    held: Vec<Held>,
}

#[derive(Debug)]
struct Held {
    file: File,
    path: PathBuf,
    mode: Mode,
}

impl ImageLock {
    /// Take every lock in `paths` for image `name`; `Error::Busy` as soon as one is held by
    /// someone else. Duplicate paths are taken once.
    pub(crate) fn acquire(name: &str, paths: &[PathBuf], mode: Mode) -> Result<Self> {
        let mut held = Vec::new();
        for path in paths {
            if held.iter().any(|h: &Held| &h.path == path) {
                continue;
            }
            match lock_file(path, mode) {
                Ok(Some(file)) => held.push(Held {
                    file,
                    path: path.clone(),
                    mode,
                }),
                Ok(None) => return Err(Error::Busy(name.to_string())),
                Err(e) => return Err(Error::io("lock", path, e)),
            }
        }
        Ok(ImageLock { held })
    }
}

impl Drop for ImageLock {
    fn drop(&mut self) {
        for h in self.held.drain(..) {
            // Remove the lock file only while we hold it exclusively, so nobody else is using it;
            // lockers verify after locking that the path still names their inode.
            let exclusive = h.mode == Mode::Exclusive
                || try_lock(h.file.as_fd(), LockKind::Exclusive).unwrap_or(false);
            if exclusive {
                let _ = fs::remove_file(&h.path);
            }
        }
    }
}

/// The lock file systemd uses for entry `file_name` in `dir`.
pub(crate) fn local_lock_path(dir: &Path, file_name: &str) -> PathBuf {
    dir.join(format!(".#{file_name}.lck"))
}

/// Try to lock `path` (creating it); `Ok(None)` when another holder conflicts.
///
/// A holder releasing a shared lock upgrades it to exclusive for a moment before it unlinks the
/// file (see `Drop for ImageLock`), so a conflict may be that release rather than a real holder.
/// A conflict is therefore retried with a short backoff (at most about 60 ms in all) and reported
/// only when it persists; a file unlinked or replaced meanwhile is reopened at once.
pub(crate) fn lock_file(path: &Path, mode: Mode) -> io::Result<Option<File>> {
    let kind = match mode {
        Mode::Shared => LockKind::Shared,
        Mode::Exclusive => LockKind::Exclusive,
    };
    let mut backoff = std::time::Duration::from_millis(1);
    for _ in 0..64 {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(path)?;
        let locked = try_lock(file.as_fd(), kind)?;
        // The previous holder may have unlinked the file between our open and our lock.
        if !names_inode(path, &file)? {
            continue;
        }
        if locked {
            return Ok(Some(file));
        }
        if backoff > RELEASE_GRACE {
            return Ok(None);
        }
        std::thread::sleep(backoff);
        backoff *= 2;
    }
    Err(io::Error::other("lock file keeps being replaced"))
}

/// The longest single wait for a conflicting holder that may be releasing its lock.
const RELEASE_GRACE: std::time::Duration = std::time::Duration::from_millis(32);

/// Whether `path` still names the inode `file` was opened from.
fn names_inode(path: &Path, file: &File) -> io::Result<bool> {
    let ours = file.metadata()?;
    match fs::symlink_metadata(path) {
        Ok(now) => Ok(now.dev() == ours.dev() && now.ino() == ours.ino()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_excludes_and_is_released_on_drop() {
        let d = tempfile::tempdir().unwrap();
        let p = local_lock_path(d.path(), "img");
        let a = ImageLock::acquire("img", std::slice::from_ref(&p), Mode::Exclusive).unwrap();
        let e = ImageLock::acquire("img", std::slice::from_ref(&p), Mode::Exclusive).unwrap_err();
        assert_eq!(e.to_string(), "image img is busy");
        assert!(ImageLock::acquire("img", std::slice::from_ref(&p), Mode::Shared).is_err());
        drop(a);
        assert!(!p.exists(), "lock file removed after release");
        let _b = ImageLock::acquire("img", std::slice::from_ref(&p), Mode::Exclusive).unwrap();
    }

    #[test]
    fn shared_locks_coexist_but_block_exclusive() {
        let d = tempfile::tempdir().unwrap();
        let p = local_lock_path(d.path(), "img");
        let a = ImageLock::acquire("img", std::slice::from_ref(&p), Mode::Shared).unwrap();
        let b = ImageLock::acquire("img", std::slice::from_ref(&p), Mode::Shared).unwrap();
        assert!(ImageLock::acquire("img", std::slice::from_ref(&p), Mode::Exclusive).is_err());
        drop(a);
        drop(b);
        assert!(ImageLock::acquire("img", &[p], Mode::Exclusive).is_ok());
    }

    #[test]
    fn a_shared_lock_being_released_is_not_a_conflict() {
        // A releasing shared holder briefly holds the file exclusively, then unlinks it.
        let d = tempfile::tempdir().unwrap();
        let p = local_lock_path(d.path(), "img");
        let releasing = lock_file(&p, Mode::Exclusive).unwrap().unwrap();
        let path = p.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(5));
            fs::remove_file(&path).unwrap();
            drop(releasing);
        });
        let got = ImageLock::acquire("img", std::slice::from_ref(&p), Mode::Shared);
        t.join().unwrap();
        assert!(got.is_ok(), "{got:?}");
    }

    #[test]
    fn duplicate_paths_are_taken_once() {
        let d = tempfile::tempdir().unwrap();
        let p = local_lock_path(d.path(), "img");
        assert!(ImageLock::acquire("img", &[p.clone(), p], Mode::Exclusive).is_ok());
    }
}
