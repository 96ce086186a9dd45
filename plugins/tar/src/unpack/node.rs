//! Creating one node relative to its parent directory fd, replacing what is there, and
//! applying owner, xattrs, mode and times in the order that keeps them all:
//! chown (clears setuid bits and `security.capability`) → xattrs → chmod → times.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{
    chmodat, chownat, fchmod, fchown, fsetxattr, futimens, lsetxattr, mkdirat, openat, statat,
    unlinkat, utimensat, AtFlags, FileType, Gid, Mode, OFlags, Timespec, Timestamps, Uid,
    XattrFlags, UTIME_OMIT,
};
use rustix::io::Errno;

use super::entry::Meta;
use super::pax::Time;

/// Mode of a directory while it is being filled (the real one is applied at the end).
const DIR_CREATE_MODE: u32 = 0o700;
/// Mode of a regular file or node until its metadata is applied.
const FILE_CREATE_MODE: u32 = 0o600;

/// The outcome of [`create`].
pub(crate) enum Created {
    /// A new node (an fd for regular files).
    New(Option<OwnedFd>),
    /// A directory was already there and is kept.
    KeptDir,
}

/// What to create.
pub(crate) enum Make<'a> {
    Dir,
    File,
    Symlink(&'a [u8]),
    Node(FileType, rustix::fs::Dev),
    Hardlink(BorrowedFd<'a>, &'a [u8]),
}

/// How an existing directory in the way of a new non-directory is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replace {
    /// Only when empty (plain archives: anything else is an error).
    EmptyDir,
    /// With everything in it (image layers: a lower layer's directory).
    Recursive,
}

/// Creates `name` in `dir` (never following a symlink at `name`). Something already there is
/// removed first, except that a directory over a directory is kept. Returns the outcome and
/// whether a directory or symlink was removed (cached directory fds may then be stale).
pub(crate) fn create(
    dir: BorrowedFd<'_>,
    name: &[u8],
    what: &Make<'_>,
    replace: Replace,
) -> Result<(Created, bool), (&'static str, Errno)> {
    let mut stale = false;
    for attempt in 0..2 {
        match make(dir, name, what) {
            Ok(fd) => return Ok((Created::New(fd), stale)),
            Err((_, Errno::EXIST)) if attempt == 0 => {}
            Err(e) => return Err(e),
        }
        let st = statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).map_err(|e| ("stat", e))?;
        let ft = FileType::from_raw_mode(st.st_mode);
        let is_dir = ft == FileType::Directory;
        if is_dir && matches!(what, Make::Dir) {
            return Ok((Created::KeptDir, stale));
        }
        stale |= is_dir || ft == FileType::Symlink;
        remove(dir, name, is_dir, replace).map_err(|e| ("remove existing", e))?;
    }
    Err(("create", Errno::EXIST))
}

/// Removes `name` from `dir` (a directory only if empty, or recursively).
pub(crate) fn remove(
    dir: BorrowedFd<'_>,
    name: &[u8],
    is_dir: bool,
    replace: Replace,
) -> Result<(), Errno> {
    match (is_dir, replace) {
        (false, _) => unlinkat(dir, name, AtFlags::empty()),
        (true, Replace::EmptyDir) => unlinkat(dir, name, AtFlags::REMOVEDIR),
        (true, Replace::Recursive) => {
            let c = CString::new(name).map_err(|_| Errno::INVAL)?;
            let shown = Path::new(OsStr::from_bytes(name));
            wharf_fsops::remove_tree_at(dir, &c, shown)
                .map_err(|e| e.raw_os_error().map_or(Errno::IO, Errno::from_raw_os_error))
        }
    }
}

/// xattrs a layer never removes from a node it keeps (umoci: host-specific).
const KEEP_XATTRS: &[&[u8]] = &[b"security.selinux"];

/// Removes the xattrs of `fd` that `meta` does not set (except [`KEEP_XATTRS`]), so an
/// existing directory a layer lists again ends up with exactly the layer's xattrs; a
/// filesystem without xattrs is fine.
pub(crate) fn clear_other_xattrs(fd: BorrowedFd<'_>, meta: &Meta) -> Result<(), Errno> {
    let names = match list_xattrs(fd) {
        Ok(n) => n,
        Err(Errno::OPNOTSUPP) => return Ok(()),
        Err(e) => return Err(e),
    };
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        if KEEP_XATTRS.contains(&name) || meta.xattrs.iter().any(|x| x.name == name) {
            continue;
        }
        match rustix::fs::fremovexattr(fd, name) {
            Ok(()) | Err(Errno::NODATA) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The NUL-separated xattr names of `fd`.
fn list_xattrs(fd: BorrowedFd<'_>) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; 1024];
    loop {
        match rustix::fs::flistxattr(fd, &mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            // the kernel's list is at most 64 KiB (XATTR_LIST_MAX).
            Err(Errno::RANGE) if buf.len() < (1 << 16) => buf.resize(buf.len() * 4, 0),
            Err(e) => return Err(e),
        }
    }
}

fn make(
    dir: BorrowedFd<'_>,
    name: &[u8],
    what: &Make<'_>,
) -> Result<Option<OwnedFd>, (&'static str, Errno)> {
    match *what {
        Make::Dir => mkdirat(dir, name, Mode::from_raw_mode(DIR_CREATE_MODE))
            .map(|()| None)
            .map_err(|e| ("mkdir", e)),
        Make::File => openat(
            dir,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(FILE_CREATE_MODE),
        )
        .map(Some)
        .map_err(|e| ("create", e)),
        Make::Symlink(target) => rustix::fs::symlinkat(target, dir, name)
            .map(|()| None)
            .map_err(|e| ("symlink", e)),
        Make::Node(ft, dev) => {
            rustix::fs::mknodat(dir, name, ft, Mode::from_raw_mode(FILE_CREATE_MODE), dev)
                .map(|()| None)
                .map_err(|e| ("mknod", e))
        }
        Make::Hardlink(tdir, tname) => rustix::fs::linkat(tdir, tname, dir, name, AtFlags::empty())
            .map(|()| None)
            .map_err(|e| ("link", e)),
    }
}

/// Where metadata goes: an open fd (files, directories) or a name in a directory that is not
/// followed (symlinks, device nodes, fifos).
pub(crate) enum Target<'a> {
    Fd(BorrowedFd<'a>),
    At {
        dir: BorrowedFd<'a>,
        name: &'a [u8],
        symlink: bool,
    },
}

/// Who we are: a node created by us already has this owner, so chown can be skipped.
#[derive(Clone, Copy)]
pub(crate) struct Creds {
    pub uid: u32,
    pub gid: u32,
}

impl Creds {
    pub(crate) fn current() -> Self {
        Creds {
            uid: rustix::process::geteuid().as_raw(),
            gid: rustix::process::getegid().as_raw(),
        }
    }
}

/// Applies owner, xattrs, mode (not on symlinks) and times. `fresh`: the node was created by
/// us (so it is owned by `creds` and has no xattrs to keep).
pub(crate) fn apply(
    t: &Target<'_>,
    meta: &Meta,
    creds: Creds,
    fresh: bool,
) -> Result<(), (&'static str, io::Error)> {
    let (uid, gid) = (meta.uid, meta.gid);
    if !fresh || uid != creds.uid || gid != creds.gid {
        let (u, g) = (Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)));
        match *t {
            Target::Fd(fd) => fchown(fd, u, g),
            Target::At { dir, name, .. } => chownat(dir, name, u, g, AtFlags::SYMLINK_NOFOLLOW),
        }
        .map_err(|e| ("chown", e.into()))?;
    }
    for x in &meta.xattrs {
        let r = match *t {
            Target::Fd(fd) => fsetxattr(fd, x.name.as_slice(), &x.value, XattrFlags::empty()),
            Target::At { dir, name, .. } => lsetxattr(
                proc_path(dir, name),
                x.name.as_slice(),
                &x.value,
                XattrFlags::empty(),
            ),
        };
        match r {
            // the filesystem stores no xattrs (of this namespace): like GNU tar, go on.
            Ok(()) | Err(Errno::OPNOTSUPP) => {}
            Err(e) => {
                return Err((
                    "setxattr",
                    io::Error::other(format!(
                        "{:?}: {}",
                        String::from_utf8_lossy(&x.name),
                        io::Error::from(e)
                    )),
                ))
            }
        }
    }
    let mode = Mode::from_raw_mode(meta.mode);
    match *t {
        Target::Fd(fd) => fchmod(fd, mode),
        Target::At { symlink: true, .. } => Ok(()),
        // a device node or fifo we just created: nothing else writes in the tree meanwhile.
        Target::At { dir, name, .. } => chmodat(dir, name, mode, AtFlags::empty()),
    }
    .map_err(|e| ("chmod", e.into()))?;
    let times = Timestamps {
        last_access: meta.atime.map_or(
            Timespec {
                tv_sec: 0,
                tv_nsec: UTIME_OMIT,
            },
            timespec,
        ),
        last_modification: timespec(meta.mtime),
    };
    match *t {
        Target::Fd(fd) => futimens(fd, &times),
        Target::At { dir, name, .. } => utimensat(dir, name, &times, AtFlags::SYMLINK_NOFOLLOW),
    }
    .map_err(|e| ("set times", e.into()))
}

fn timespec(t: Time) -> Timespec {
    Timespec {
        tv_sec: t.sec,
        tv_nsec: i64::from(t.nsec),
    }
}

/// `/proc/self/fd/DIR/NAME`: names `name` in `dir` for the path-only xattr calls (the magic
/// link is followed to the directory, `name` itself is not followed).
fn proc_path(dir: BorrowedFd<'_>, name: &[u8]) -> Vec<u8> {
    let mut p = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    p.extend_from_slice(name);
    p
}
