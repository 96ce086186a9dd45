//! Confinement: archive paths are normalized (no absolute paths, no `..`), and parent
//! directories are opened beneath the root fd with `openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)`, so a symlink or mount
//! point anywhere on the way is refused ([`Resolve::Beneath`], plain archives). Image layers
//! ([`Resolve::InRoot`]) follow symlinks in parents, confined to the root (module `resolve`).
//! A few recently used parent fds are cached with their resolved paths.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{mkdirat, openat2, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use super::limits::DIR_CACHE;
use super::resolve::{resolve, Start};

/// How parent directories are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolve {
    /// No symlink may be crossed (plain archives: `unpack`).
    Beneath,
    /// Symlinks are followed but confined to the root, like umoci's SecureJoin (layers).
    InRoot,
}

const RESOLVE: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS)
    .union(ResolveFlags::NO_XDEV);

// no O_NOFOLLOW: with it a final symlink would fail O_DIRECTORY (ENOTDIR); without it,
// RESOLVE_NO_SYMLINKS refuses it like every other symlink on the way (ELOOP).
const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::CLOEXEC);

/// Mode of parent directories the archive does not list (GNU tar: 0777 & ~umask).
const IMPLICIT_DIR_MODE: u32 = 0o755;

/// Opens the directory `path` (relative, normalized) beneath `dir` without following any
/// symlink and without crossing mounts.
pub(crate) fn open_beneath(dir: BorrowedFd<'_>, path: &[u8]) -> Result<OwnedFd, Errno> {
    let mut tries = 0;
    loop {
        match openat2(dir, path, DIR_FLAGS, Mode::empty(), RESOLVE) {
            // a concurrent rename elsewhere on the filesystem: the kernel asks for a retry.
            Err(Errno::AGAIN) if tries < 64 => tries += 1,
            r => return r,
        }
    }
}

/// Normalizes an archive path into `out`: leading `./` and `/`-runs, `.` components and a
/// trailing `/` are dropped; absolute paths (with [`Resolve::InRoot`], for layers, they are
/// taken relative to the root as umoci and Docker do), `..` components and NUL bytes are
/// refused (with the reason). The root itself normalizes to the empty path.
pub(crate) fn normalize(raw: &[u8], out: &mut Vec<u8>, mode: Resolve) -> Result<(), &'static str> {
    out.clear();
    if raw.first() == Some(&b'/') && mode == Resolve::Beneath {
        return Err("absolute path");
    }
    if raw.contains(&0) {
        return Err("path contains a NUL byte");
    }
    for comp in raw.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => return Err("path leaves the image"),
            c => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(c);
            }
        }
    }
    Ok(())
}

/// `(parent, name)` of a normalized, non-empty path.
pub(crate) fn split_parent(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&[], path),
    }
}

/// A directory handed out by [`Tree::dir`], valid until the next call that may evict.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DirRef {
    Root,
    Slot(usize),
}

struct Slot {
    path: Vec<u8>,
    /// The path with symlinks resolved, when it differs from `path`.
    resolved: Option<Vec<u8>>,
    fd: OwnedFd,
    used: u64,
}

/// The root directory fd and a small LRU cache of parent directory fds beneath it.
pub(crate) struct Tree {
    root: OwnedFd,
    mode: Resolve,
    slots: Vec<Slot>,
    clock: u64,
}

impl Tree {
    /// Opens `root`, which must be a directory.
    pub(crate) fn open(root: &Path, mode: Resolve) -> io::Result<Tree> {
        let root = rustix::fs::open(
            root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Tree {
            root,
            mode,
            slots: Vec::with_capacity(DIR_CACHE),
            clock: 0,
        })
    }

    pub(crate) fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    pub(crate) fn fd(&self, r: DirRef) -> BorrowedFd<'_> {
        match r {
            DirRef::Root => self.root.as_fd(),
            DirRef::Slot(i) => self.slots[i].fd.as_fd(),
        }
    }

    pub(crate) fn mode(&self) -> Resolve {
        self.mode
    }

    /// The path of `r` relative to the root with symlinks resolved (empty: the root).
    pub(crate) fn resolved(&self, r: DirRef) -> &[u8] {
        match r {
            DirRef::Root => b"",
            DirRef::Slot(i) => {
                let s = &self.slots[i];
                s.resolved.as_deref().unwrap_or(&s.path)
            }
        }
    }

    /// Drops every cached fd: after a directory or symlink was removed or replaced, a cached
    /// fd could point at a deleted directory (or one a path no longer resolves to).
    pub(crate) fn forget(&mut self) {
        self.slots.clear();
    }

    /// The directory `path` (normalized; empty is the root), opened beneath the root (without
    /// symlinks, or through them confined to the root, per [`Resolve`]); missing directories on
    /// the way are created with mode 0755. The most recently returned slot is never the one
    /// evicted, so two refs can be held at once.
    pub(crate) fn dir(&mut self, path: &[u8]) -> Result<DirRef, Errno> {
        self.find(path, true)?.ok_or(Errno::NOENT)
    }

    /// Like [`Tree::dir`] without creating anything: `Ok(None)` when a component is missing
    /// or not a directory ([`Resolve::InRoot`] only).
    pub(crate) fn lookup(&mut self, path: &[u8]) -> Result<Option<DirRef>, Errno> {
        debug_assert_eq!(self.mode, Resolve::InRoot);
        self.find(path, false)
    }

    fn find(&mut self, path: &[u8], create: bool) -> Result<Option<DirRef>, Errno> {
        if path.is_empty() {
            return Ok(Some(DirRef::Root));
        }
        self.clock += 1;
        if let Some(i) = self.slots.iter().position(|s| s.path == path) {
            self.slots[i].used = self.clock;
            return Ok(Some(DirRef::Slot(i)));
        }
        // start from the longest cached ancestor.
        let base = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                path.len() > s.path.len() && path.starts_with(&s.path) && path[s.path.len()] == b'/'
            })
            .max_by_key(|(_, s)| s.path.len())
            .map(|(i, s)| (i, s.path.len() + 1));
        let (base_fd, base_resolved, rest) = match base {
            Some((i, skip)) => {
                let s = &self.slots[i];
                let r = s.resolved.as_deref().unwrap_or(&s.path);
                (s.fd.as_fd(), r, &path[skip..])
            }
            None => (self.root.as_fd(), &b""[..], path),
        };
        let (fd, resolved) = match (open_beneath(base_fd, rest), self.mode) {
            (Ok(fd), _) => (fd, join_resolved(base_resolved, rest, path)),
            (Err(Errno::NOENT), Resolve::Beneath) => (create_missing(base_fd, rest)?, None),
            (Err(Errno::NOENT | Errno::LOOP), Resolve::InRoot) => {
                let start = Start {
                    fd: base_fd,
                    resolved: base_resolved,
                };
                match resolve(self.root.as_fd(), start, rest, create)? {
                    Some((fd, r)) => {
                        let r = (r != path).then_some(r);
                        (fd, r)
                    }
                    None => return Ok(None),
                }
            }
            (Err(Errno::NOTDIR), Resolve::InRoot) if !create => return Ok(None),
            (Err(e), _) => return Err(e),
        };
        Ok(Some(DirRef::Slot(self.insert(path, resolved, fd))))
    }

    fn insert(&mut self, path: &[u8], resolved: Option<Vec<u8>>, fd: OwnedFd) -> usize {
        let slot = Slot {
            path: path.to_vec(),
            resolved,
            fd,
            used: self.clock,
        };
        if self.slots.len() < DIR_CACHE {
            self.slots.push(slot);
            return self.slots.len() - 1;
        }
        let lru = self
            .slots
            .iter()
            .enumerate()
            .min_by_key(|(_, s)| s.used)
            .map_or(0, |(i, _)| i);
        self.slots[lru] = slot;
        lru
    }
}

/// The resolved path of `base`/`rest` when `base` resolved to `base_resolved` and `rest` has
/// no symlinks; `None` when that is `path` itself.
fn join_resolved(base_resolved: &[u8], rest: &[u8], path: &[u8]) -> Option<Vec<u8>> {
    let mut r = base_resolved.to_vec();
    if !r.is_empty() {
        r.push(b'/');
    }
    r.extend_from_slice(rest);
    (r != path).then_some(r)
}

/// Opens `rest` beneath `base` component by component, creating missing directories.
fn create_missing(base: BorrowedFd<'_>, rest: &[u8]) -> Result<OwnedFd, Errno> {
    let mut cur: Option<OwnedFd> = None;
    for comp in rest.split(|&b| b == b'/') {
        let at = cur.as_ref().map_or(base, |f| f.as_fd());
        let next = match open_beneath(at, comp) {
            Err(Errno::NOENT) => {
                match mkdirat(at, comp, Mode::from_raw_mode(IMPLICIT_DIR_MODE)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(e),
                }
                open_beneath(at, comp)?
            }
            r => r?,
        };
        cur = Some(next);
    }
    cur.ok_or(Errno::INVAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> Result<String, &'static str> {
        let mut out = Vec::new();
        normalize(s.as_bytes(), &mut out, Resolve::Beneath)
            .map(|()| String::from_utf8(out).unwrap())
    }

    #[test]
    fn normalization() {
        assert_eq!(norm("./a/b").unwrap(), "a/b");
        assert_eq!(norm("././a//b/./c/").unwrap(), "a/b/c");
        assert_eq!(norm("./").unwrap(), "");
        assert_eq!(norm(".").unwrap(), "");
        assert_eq!(norm("a...b/..c").unwrap(), "a...b/..c");
        assert_eq!(norm("/etc/passwd"), Err("absolute path"));
        assert_eq!(norm("../x"), Err("path leaves the image"));
        assert_eq!(norm("a/../../x"), Err("path leaves the image"));
        assert_eq!(norm("a/.."), Err("path leaves the image"));
        let mut out = Vec::new();
        normalize(b"//etc/./passwd", &mut out, Resolve::InRoot).unwrap();
        assert_eq!(out, b"etc/passwd");
        assert!(normalize(b"/../x", &mut out, Resolve::InRoot).is_err());
        assert_eq!(norm("a\0b"), Err("path contains a NUL byte"));
    }

    #[test]
    fn parents() {
        assert_eq!(split_parent(b"a/b/c"), (&b"a/b"[..], &b"c"[..]));
        assert_eq!(split_parent(b"c"), (&b""[..], &b"c"[..]));
    }

    #[test]
    fn cache_and_confinement() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("a/b")).unwrap();
        std::os::unix::fs::symlink("/tmp", tmp.path().join("a/l")).unwrap();
        let mut t = Tree::open(tmp.path(), Resolve::Beneath).unwrap();
        let a = t.dir(b"a").unwrap();
        let ab = t.dir(b"a/b").unwrap();
        assert!(matches!((a, ab), (DirRef::Slot(0), DirRef::Slot(1))));
        assert_eq!(t.dir(b"a/l").unwrap_err(), Errno::LOOP);
        assert_eq!(t.dir(b"a/l/x").unwrap_err(), Errno::LOOP);
        t.dir(b"x/y/z").unwrap();
        assert!(tmp.path().join("x/y/z").is_dir());
        for i in 0..40 {
            t.dir(format!("d{i}").as_bytes()).unwrap();
            let keep = t.dir(b"a").unwrap();
            let other = t.dir(format!("e{i}").as_bytes()).unwrap();
            assert!(t.fd(keep).try_clone_to_owned().is_ok());
            assert!(!matches!((keep, other), (DirRef::Slot(x), DirRef::Slot(y)) if x == y));
        }
        assert!(t.slots.len() <= DIR_CACHE);
    }
}
