//! Metadata copying: extended attributes (raw, including ACLs and file capabilities), owner,
//! mode and timestamps.

use std::ffi::{CStr, CString};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::FsError;

use rustix::fd::BorrowedFd;
use rustix::fs::{
    chmodat, chownat, fchmod, fchown, fgetxattr, fgetxattr_query, flistxattr, flistxattr_query,
    fremovexattr, fsetxattr, futimens, lgetxattr, lgetxattr_query, llistxattr, llistxattr_query,
    lremovexattr, lsetxattr, utimensat, AtFlags, Gid, Mode, Statx, StatxTimestamp, Timespec,
    Timestamps, Uid, XattrFlags,
};
use rustix::io::{Errno, Result};

/// Something whose extended attributes can be read and written: an open fd (regular files,
/// directories) or a path that is not followed (symlinks, device nodes, fifos, sockets).
pub(crate) enum Node<'a> {
    Fd(BorrowedFd<'a>),
    Path(PathBuf),
}

impl Node<'_> {
    /// A path naming `name` inside the directory `dir` without a string path to the
    /// directory: `/proc/self/fd/N/name` (the magic link is followed, `name` is not). Falls back
    /// to `fallback` when /proc is not available.
    pub(crate) fn at(
        dir: BorrowedFd<'_>,
        name: &CStr,
        proc_ok: bool,
        fallback: impl FnOnce() -> PathBuf,
    ) -> Self {
        if proc_ok {
            let mut p = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
            p.push(std::ffi::OsStr::from_bytes(name.to_bytes()));
            Node::Path(p)
        } else {
            Node::Path(fallback())
        }
    }

    fn list_query(&self) -> Result<usize> {
        match self {
            Node::Fd(fd) => flistxattr_query(fd),
            Node::Path(p) => llistxattr_query(p),
        }
    }

    fn list(&self, buf: &mut [u8]) -> Result<usize> {
        match self {
            Node::Fd(fd) => flistxattr(fd, buf),
            Node::Path(p) => llistxattr(p, buf),
        }
    }

    fn get_query(&self, name: &CStr) -> Result<usize> {
        match self {
            Node::Fd(fd) => fgetxattr_query(fd, name),
            Node::Path(p) => lgetxattr_query(p, name),
        }
    }

    fn get(&self, name: &CStr, buf: &mut [u8]) -> Result<usize> {
        match self {
            Node::Fd(fd) => fgetxattr(fd, name, buf),
            Node::Path(p) => lgetxattr(p, name, buf),
        }
    }

    fn set(&self, name: &CStr, value: &[u8]) -> Result<()> {
        match self {
            Node::Fd(fd) => fsetxattr(fd, name, value, XattrFlags::empty()),
            Node::Path(p) => lsetxattr(p, name, value, XattrFlags::empty()),
        }
    }

    fn remove(&self, name: &CStr) -> Result<()> {
        match self {
            Node::Fd(fd) => fremovexattr(fd, name),
            Node::Path(p) => lremovexattr(p, name),
        }
    }

    /// Names of all extended attributes; empty when the filesystem has none.
    pub(crate) fn names(&self) -> Result<Vec<CString>> {
        loop {
            let size = match self.list_query() {
                Ok(s) => s,
                Err(Errno::OPNOTSUPP) => return Ok(Vec::new()),
                Err(e) => return Err(e),
            };
            if size == 0 {
                return Ok(Vec::new());
            }
            let mut buf = vec![0u8; size];
            match self.list(&mut buf) {
                Ok(n) => {
                    return Ok(buf[..n]
                        .split(|&b| b == 0)
                        .filter(|s| !s.is_empty())
                        .map(|s| CString::new(s).expect("no interior NUL after split"))
                        .collect())
                }
                Err(Errno::RANGE) => continue, // grew in between
                Err(e) => return Err(e),
            }
        }
    }

    /// The value of one attribute; `None` if it vanished in between.
    fn value(&self, name: &CStr) -> Result<Option<Vec<u8>>> {
        loop {
            let size = match self.get_query(name) {
                Ok(s) => s,
                Err(Errno::NODATA) => return Ok(None),
                Err(e) => return Err(e),
            };
            let mut buf = vec![0u8; size];
            match self.get(name, &mut buf) {
                Ok(n) => {
                    buf.truncate(n);
                    return Ok(Some(buf));
                }
                Err(Errno::RANGE) => continue,
                Err(Errno::NODATA) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    /// All attributes with their values.
    pub(crate) fn read_all(&self) -> Result<Vec<(CString, Vec<u8>)>> {
        let mut out = Vec::new();
        for name in self.names()? {
            if let Some(v) = self.value(&name)? {
                out.push((name, v));
            }
        }
        Ok(out)
    }
}

/// Which side of a metadata copy failed, for the error's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Src,
    Dst,
}

/// A failed metadata operation; the caller turns it into an [`FsError`] with the right path.
#[derive(Debug)]
pub(crate) struct MetaErr {
    pub(crate) side: Side,
    pub(crate) op: &'static str,
    pub(crate) errno: Errno,
}

impl MetaErr {
    fn src(op: &'static str) -> impl FnOnce(Errno) -> MetaErr {
        move |errno| MetaErr {
            side: Side::Src,
            op,
            errno,
        }
    }

    fn dst(op: &'static str) -> impl FnOnce(Errno) -> MetaErr {
        move |errno| MetaErr {
            side: Side::Dst,
            op,
            errno,
        }
    }

    pub(crate) fn into_fs(
        self,
        src: impl FnOnce() -> PathBuf,
        dst: impl FnOnce() -> PathBuf,
    ) -> FsError {
        let path = match self.side {
            Side::Src => src(),
            Side::Dst => dst(),
        };
        FsError::io(self.op, path, self.errno)
    }
}

/// Copy every extended attribute of `src` to `dst` verbatim. The error names the side.
pub(crate) fn copy_xattrs(src: &Node<'_>, dst: &Node<'_>) -> std::result::Result<(), MetaErr> {
    let attrs = src.read_all().map_err(MetaErr::src("getxattr"))?;
    for (name, value) in &attrs {
        dst.set(name, value).map_err(MetaErr::dst("setxattr"))?;
    }
    Ok(())
}

/// Make the xattrs of `dst` equal to those of `src`: set all of them, then remove the ones
/// `src` lacks (except `security.*`, which the LSM manages). Used on the pre-existing
/// destination root.
pub(crate) fn sync_xattrs(src: &Node<'_>, dst: &Node<'_>) -> std::result::Result<(), MetaErr> {
    let attrs = src.read_all().map_err(MetaErr::src("getxattr"))?;
    for (name, value) in &attrs {
        dst.set(name, value).map_err(MetaErr::dst("setxattr"))?;
    }
    let existing = dst.names().map_err(MetaErr::dst("listxattr"))?;
    for name in existing {
        let keep =
            attrs.iter().any(|(n, _)| *n == name) || name.to_bytes().starts_with(b"security.");
        if !keep {
            match dst.remove(&name) {
                Ok(()) | Err(Errno::NODATA) => {}
                Err(e) => return Err(MetaErr::dst("removexattr")(e)),
            }
        }
    }
    Ok(())
}

/// Remove one xattr if present (ignoring filesystems without xattrs).
pub(crate) fn remove_xattr_if_present(node: &Node<'_>, name: &CStr) -> Result<()> {
    match node.remove(name) {
        Ok(()) | Err(Errno::NODATA | Errno::OPNOTSUPP) => Ok(()),
        Err(e) => Err(e),
    }
}

fn owner(st: &Statx) -> (Option<Uid>, Option<Gid>) {
    (
        Some(Uid::from_raw(st.stx_uid)),
        Some(Gid::from_raw(st.stx_gid)),
    )
}

fn ts(t: &StatxTimestamp) -> Timespec {
    Timespec {
        tv_sec: t.tv_sec,
        tv_nsec: t.tv_nsec.into(),
    }
}

pub(crate) fn timestamps(st: &Statx) -> Timestamps {
    Timestamps {
        last_access: ts(&st.stx_atime),
        last_modification: ts(&st.stx_mtime),
    }
}

pub(crate) fn fchown_like(fd: BorrowedFd<'_>, st: &Statx) -> Result<()> {
    let (u, g) = owner(st);
    fchown(fd, u, g)
}

pub(crate) fn fchmod_like(fd: BorrowedFd<'_>, st: &Statx) -> Result<()> {
    fchmod(fd, crate::walk::mode_bits(st))
}

pub(crate) fn futimens_like(fd: BorrowedFd<'_>, st: &Statx) -> Result<()> {
    futimens(fd, &timestamps(st))
}

pub(crate) fn lchown_at(dir: BorrowedFd<'_>, name: &CStr, st: &Statx) -> Result<()> {
    let (u, g) = owner(st);
    chownat(dir, name, u, g, AtFlags::SYMLINK_NOFOLLOW)
}

/// chmod of a non-symlink entry by name (the entry was just created by us, it is not a symlink).
pub(crate) fn chmod_at(dir: BorrowedFd<'_>, name: &CStr, mode: Mode) -> Result<()> {
    chmodat(dir, name, mode, AtFlags::empty())
}

pub(crate) fn lutimens_at(dir: BorrowedFd<'_>, name: &CStr, st: &Statx) -> Result<()> {
    utimensat(dir, name, &timestamps(st), AtFlags::SYMLINK_NOFOLLOW)
}

/// Whether `/proc/self/fd` can be used to name entries relative to directory fds.
pub(crate) fn proc_fd_usable() -> bool {
    Path::new("/proc/self/fd").is_dir()
}

/// Give the new `dst` the metadata of `src` (both open fds: regular files and directories).
///
/// Order: owner, xattrs, mode, times. The owner goes first because `chown` drops
/// `security.capability` and the setuid/setgid bits; xattrs before the mode because setting a
/// POSIX access ACL rewrites the group bits; times last.
pub(crate) fn apply_fd(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    st: &Statx,
    sync: bool,
) -> std::result::Result<(), MetaErr> {
    fchown_like(dst, st).map_err(MetaErr::dst("chown"))?;
    if sync {
        sync_xattrs(&Node::Fd(src), &Node::Fd(dst))?;
    } else {
        copy_xattrs(&Node::Fd(src), &Node::Fd(dst))?;
    }
    fchmod_like(dst, st).map_err(MetaErr::dst("chmod"))?;
    futimens_like(dst, st).map_err(MetaErr::dst("utimens"))
}

/// Same as [`apply_fd`] for an entry named relative to directory fds, never following it
/// (symlinks, device nodes, fifos, sockets, mount points). Symlinks get no chmod.
pub(crate) fn apply_at(
    src: &Node<'_>,
    dst_dir: BorrowedFd<'_>,
    dst: &Node<'_>,
    name: &CStr,
    st: &Statx,
    chmod: bool,
) -> std::result::Result<(), MetaErr> {
    lchown_at(dst_dir, name, st).map_err(MetaErr::dst("lchown"))?;
    copy_xattrs(src, dst)?;
    if chmod {
        chmod_at(dst_dir, name, crate::walk::mode_bits(st)).map_err(MetaErr::dst("chmod"))?;
    }
    lutimens_at(dst_dir, name, st).map_err(MetaErr::dst("utimens"))
}
