//! The layer-specific steps of the extractor: bookkeeping of written paths and changed
//! directories, whiteouts, deferred hard links, and restoring directory times at the end.

use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{fstat, futimens, statat, AtFlags, Dir, FileType, Timespec, Timestamps};
use rustix::io::Errno;

use super::{Deferred, LayerState, Saved, OPAQUE, WHITEOUT_PREFIX};
use crate::unpack::error::{lossy, UnpackError};
use crate::unpack::members::{join, parent_err};
use crate::unpack::node::{self, Replace};
use crate::unpack::tree::{open_beneath, split_parent, DirRef, Tree};
use crate::unpack::Unpacker;

/// Records the times of the directory `fd` (resolved path `path`) the first time the layer
/// changes its entries.
fn save_times(layer: &mut LayerState, path: &[u8], fd: BorrowedFd<'_>) -> Result<(), UnpackError> {
    if layer.touched.contains_key(path) {
        return Ok(());
    }
    let st = fstat(fd).map_err(|e| UnpackError::io("stat directory", path, e))?;
    let times = Timestamps {
        last_access: Timespec {
            tv_sec: st.st_atime,
            tv_nsec: st.st_atime_nsec as _,
        },
        last_modification: Timespec {
            tv_sec: st.st_mtime,
            tv_nsec: st.st_mtime_nsec as _,
        },
    };
    layer.touched.insert(
        path.to_vec(),
        Saved {
            ino: st.st_ino,
            times,
        },
    );
    Ok(())
}

/// The directory at the resolved `path` (no symlinks on the way), or None if it is gone.
fn open_resolved(root: BorrowedFd<'_>, path: &[u8]) -> Result<Option<OwnedFd>, Errno> {
    let r = if path.is_empty() {
        root.try_clone_to_owned().map_err(|_| Errno::MFILE)
    } else {
        open_beneath(root, path)
    };
    match r {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Before the entries of directory `dir` change: remember its times (layers only).
pub(crate) fn touch(
    layer: &mut Option<LayerState>,
    tree: &Tree,
    dir: DirRef,
) -> Result<(), UnpackError> {
    match layer {
        Some(layer) => save_times(layer, tree.resolved(dir), tree.fd(dir)),
        None => Ok(()),
    }
}

/// After `name` was created in `dir`: this layer wrote it (layers only).
pub(crate) fn wrote(layer: &mut Option<LayerState>, tree: &Tree, dir: DirRef, name: &[u8]) {
    if let Some(layer) = layer {
        layer.upper.insert_child(tree.resolved(dir), name);
    }
}

impl Unpacker<'_, '_> {
    /// A whiteout entry (`self.norm` ends in `.wh.NAME` or is an opaque marker).
    pub(crate) fn whiteout(&mut self) -> Result<(), UnpackError> {
        let (parent, name) = split_parent(&self.norm);
        let opaque = name == OPAQUE;
        let target = name[WHITEOUT_PREFIX.len()..].to_vec();
        if !opaque {
            match &target[..] {
                b"" => return Err(self.refuse("whiteout without a name")),
                b"." | b".." => return Err(self.refuse("whiteout of \".\" or \"..\"")),
                _ => {}
            }
        }
        let layer = self.layer.as_mut().expect("whiteouts are for layers");
        if opaque {
            layer.opaque_dirs += 1;
        } else {
            layer.whiteouts += 1;
        }
        let parent = parent.to_vec();
        let dir = match self.tree.lookup(&parent) {
            Ok(Some(d)) => d,
            // nothing there to hide.
            Ok(None) => return Ok(()),
            Err(e) => return Err(parent_err(e, self.entry_path(), false, false)),
        };
        if opaque {
            let resolved = self.tree.resolved(dir).to_vec();
            return self.remove_lower(resolved);
        }
        let st = match statat(self.tree.fd(dir), &target[..], AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT | Errno::NOTDIR) => return Ok(()),
            Err(e) => return Err(UnpackError::io("stat", self.entry_path(), e)),
        };
        let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
        let resolved = join(self.tree.resolved(dir), &target);
        let layer = self.layer.as_mut().expect("whiteouts are for layers");
        if layer.upper.contains(&resolved) {
            // written by this layer: only what lower layers left beneath it goes.
            return if is_dir {
                self.remove_lower(resolved)
            } else {
                Ok(())
            };
        }
        touch(&mut self.layer, &self.tree, dir)?;
        node::remove(self.tree.fd(dir), &target, is_dir, Replace::Recursive)
            .map_err(|e| UnpackError::io("remove", &resolved, e))?;
        self.tree.forget();
        Ok(())
    }

    fn refuse(&self, reason: &'static str) -> UnpackError {
        UnpackError::unsafe_entry(self.entry_path(), reason)
    }

    /// Removes from the directory at the resolved path `top`, and from every directory
    /// beneath it this layer wrote into, the entries this layer did not write.
    fn remove_lower(&mut self, top: Vec<u8>) -> Result<(), UnpackError> {
        let mut work = vec![top];
        let mut removed = false;
        while let Some(dir) = work.pop() {
            let fd = match open_resolved(self.tree.root(), &dir) {
                Ok(Some(fd)) => fd,
                Ok(None) => continue,
                Err(e) => return Err(UnpackError::io("open directory", &dir, e)),
            };
            let names =
                read_dir(fd.as_fd()).map_err(|e| UnpackError::io("read directory", &dir, e))?;
            let layer = self.layer.as_mut().expect("whiteouts are for layers");
            for (name, ft) in names {
                let child = join(&dir, &name);
                let ft = match ft {
                    FileType::Unknown => match statat(&fd, &name[..], AtFlags::SYMLINK_NOFOLLOW) {
                        Ok(st) => FileType::from_raw_mode(st.st_mode),
                        Err(Errno::NOENT) => continue,
                        Err(e) => return Err(UnpackError::io("stat", &child, e)),
                    },
                    ft => ft,
                };
                let is_dir = ft == FileType::Directory;
                if layer.upper.contains(&child) {
                    if is_dir {
                        work.push(child);
                    }
                    continue;
                }
                save_times(layer, &dir, fd.as_fd())?;
                node::remove(fd.as_fd(), &name, is_dir, Replace::Recursive)
                    .map_err(|e| UnpackError::io("remove", &child, e))?;
                removed = true;
            }
        }
        if removed {
            self.tree.forget();
        }
        Ok(())
    }

    /// A hard link whose target does not exist yet: created at the end of the layer.
    pub(crate) fn defer_link(&mut self, shown: Vec<u8>, norm: Vec<u8>, target: Vec<u8>) {
        let written_before = self.written(&norm);
        if let Some(layer) = self.layer.as_mut() {
            layer.deferred.push(Deferred {
                shown,
                norm,
                target,
                written_before,
            });
        }
    }

    /// The end of a layer: deferred hard links, then the saved times of the directories it
    /// changed (the metadata of the directories it lists comes after, from `Dirs`).
    pub(crate) fn finish_layer(&mut self) -> Result<(), UnpackError> {
        self.link_deferred()?;
        let Some(layer) = self.layer.as_mut() else {
            return Ok(());
        };
        for (path, saved) in std::mem::take(&mut layer.touched) {
            let fd = match open_resolved(self.tree.root(), &path) {
                Ok(Some(fd)) => fd,
                Ok(None) => continue,
                Err(e) => return Err(UnpackError::io("open directory", &path, e)),
            };
            let st = fstat(&fd).map_err(|e| UnpackError::io("stat directory", &path, e))?;
            if st.st_ino != saved.ino {
                continue;
            }
            futimens(&fd, &saved.times).map_err(|e| UnpackError::io("set times", &path, e))?;
        }
        Ok(())
    }

    /// Creates the deferred hard links, a link to another deferred link after that one; a
    /// target still missing is an error naming both.
    fn link_deferred(&mut self) -> Result<(), UnpackError> {
        let Some(layer) = self.layer.as_mut() else {
            return Ok(());
        };
        let list = std::mem::take(&mut layer.deferred);
        let by_path: HashMap<&[u8], usize> = list
            .iter()
            .enumerate()
            .map(|(i, d)| (d.norm.as_slice(), i))
            .collect();
        // 0: to do, 1: waiting for its target's link, 2: done.
        let mut state = vec![0u8; list.len()];
        for i in 0..list.len() {
            let mut stack = vec![i];
            while let Some(&j) = stack.last() {
                if state[j] == 2 {
                    stack.pop();
                    continue;
                }
                state[j] = 1;
                if let Some(&k) = by_path.get(list[j].target.as_slice()) {
                    if k != j && state[k] == 0 {
                        stack.push(k);
                        continue;
                    }
                }
                let d = &list[j];
                // an entry of the same name after the link entry wins.
                let later = !d.written_before && self.written(&d.norm);
                if !later && !self.link(&d.shown, &d.norm, &d.target)? {
                    return Err(UnpackError::corrupt(
                        &d.shown,
                        format!("hard link target {:?} does not exist", lossy(&d.target)),
                    ));
                }
                state[j] = 2;
                stack.pop();
            }
        }
        Ok(())
    }

    /// Whether the layer has written `norm` (normalized, not resolved).
    fn written(&mut self, norm: &[u8]) -> bool {
        let (parent, name) = split_parent(norm);
        let Ok(Some(dir)) = self.tree.lookup(parent) else {
            return false;
        };
        let path = join(self.tree.resolved(dir), name);
        self.layer.as_mut().is_some_and(|l| l.upper.contains(&path))
    }
}

/// The entries of a directory with their types (`Unknown` where the filesystem gives none).
fn read_dir(fd: BorrowedFd<'_>) -> Result<Vec<(Vec<u8>, FileType)>, Errno> {
    let mut out = Vec::new();
    for e in Dir::read_from(fd)? {
        let e = e?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            out.push((n.to_vec(), e.file_type()));
        }
    }
    Ok(out)
}
