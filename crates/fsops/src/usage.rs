//! Disk usage of a tree.

use std::collections::HashSet;
use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fd::AsFd;
use rustix::fs::{statx, AtFlags, FileType, Statx, StatxFlags, CWD};
use rustix::io::Errno;

use crate::error::Context;
use crate::walk::{
    file_type, fstatx, inode_key, lstatx, open_dir_at, open_dir_path, read_names, DirHandle, Frame,
    InodeKey, MountRef, Window,
};
use crate::FsError;

/// Result of [`tree_usage`].
///
/// `disk_bytes`: sum of `st_blocks * 512` (each inode once); `apparent_bytes`: sum of the
/// sizes of regular files (each inode once), the total a copy reports through its progress
/// callback; `entries`: number of names visited, the root included.
#[derive(Debug, Default, Clone, Copy)]
pub struct TreeUsage {
    pub disk_bytes: u64,
    pub apparent_bytes: u64,
    pub entries: u64,
}

struct UsageFrame {
    dir: DirHandle,
    names: std::vec::IntoIter<CString>,
}

impl Frame for UsageFrame {
    fn close(&mut self) {
        self.dir.close();
    }

    fn reopen_from(&mut self, child: &Self) -> rustix::io::Result<()> {
        self.dir.reopen_from(&child.dir)
    }
}

#[derive(Default)]
struct Counter {
    usage: TreeUsage,
    seen: HashSet<InodeKey>,
}

impl Counter {
    fn add(&mut self, st: &Statx, count_blocks: bool) {
        self.usage.entries += 1;
        if !count_blocks {
            return;
        }
        let ft = file_type(st);
        if st.stx_nlink > 1 && ft != FileType::Directory && !self.seen.insert(inode_key(st)) {
            return;
        }
        self.usage.disk_bytes += st.stx_blocks * 512;
        if ft == FileType::RegularFile {
            self.usage.apparent_bytes += st.stx_size;
        }
    }
}

/// Disk usage of `path` (a directory tree or a single file; a symlink is not followed):
/// hardlinks counted once, no mount crossing (a mount point counts as an entry without
/// blocks and is not entered).
pub fn tree_usage(path: &Path) -> Result<TreeUsage, FsError> {
    let mask = StatxFlags::BASIC_STATS | StatxFlags::MNT_ID;
    let root = statx(CWD, path, AtFlags::SYMLINK_NOFOLLOW, mask).ctx("statx", || path)?;
    let mut c = Counter::default();
    c.add(&root, true);
    if file_type(&root) != FileType::Directory {
        return Ok(c.usage);
    }
    let fd = open_dir_path(path).ctx("open", || path)?;
    let st = fstatx(fd.as_fd()).ctx("statx", || path)?;
    let mount = MountRef::of(&st);
    let names = read_names(fd.as_fd()).ctx("readdir", || path)?;
    let mut frames = vec![UsageFrame {
        dir: DirHandle::new(fd, &st),
        names: names.into_iter(),
    }];
    let mut window = Window::default();
    let mut rel = PathBuf::new();
    while let Some(top) = frames.last_mut() {
        let Some(name) = top.names.next() else {
            window
                .popping(&mut frames)
                .ctx("reopen parent directory", || path.join(&rel))?;
            frames.pop();
            rel.pop();
            continue;
        };
        let here = || path.join(&rel).join(OsStr::from_bytes(name.to_bytes()));
        let dir = top.dir.fd();
        let st = match lstatx(dir, &name) {
            Err(Errno::NOENT) => continue,
            r => r.ctx("statx", here)?,
        };
        let other = mount.is_other(&st);
        c.add(&st, !other);
        if file_type(&st) != FileType::Directory || other {
            continue;
        }
        let fd = match open_dir_at(dir, &name) {
            Err(Errno::NOENT) => continue,
            r => r.ctx("open", here)?,
        };
        let names = read_names(fd.as_fd()).ctx("readdir", here)?;
        rel.push(OsStr::from_bytes(name.to_bytes()));
        frames.push(UsageFrame {
            dir: DirHandle::new(fd, &st),
            names: names.into_iter(),
        });
        window.pushed(&mut frames);
    }
    Ok(c.usage)
}
