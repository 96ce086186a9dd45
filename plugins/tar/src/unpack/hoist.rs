//! systemd's OS-tree rule for tarballs that wrap the tree in one top-level directory.

use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{
    fchmod, fchown, futimens, openat, statx, unlinkat, AtFlags, Dir, FileType, Gid, Mode, OFlags,
    StatxFlags, StatxTimestamp, Timespec, Timestamps, Uid,
};
use rustix::io::Errno;
use wharf_sys::fs::{open_in_root_with, rename_noreplace};

/// Whether `dir` is an OS tree: it has `etc/os-release` or `usr/lib/os-release` (symlinks
/// resolved inside `dir`).
fn is_os_tree(dir: BorrowedFd<'_>) -> io::Result<bool> {
    for p in ["etc/os-release", "usr/lib/os-release"] {
        match open_in_root_with(dir, Path::new(p), OFlags::PATH) {
            Ok(_) => return Ok(true),
            Err(e) => match Errno::from_io_error(&e) {
                Some(Errno::NOENT | Errno::NOTDIR | Errno::LOOP | Errno::XDEV) => {}
                _ => return Err(e),
            },
        }
    }
    Ok(false)
}

/// The names in `dir` except `.` and `..`.
fn names(dir: BorrowedFd<'_>) -> io::Result<Vec<CString>> {
    let mut out = Vec::new();
    for e in Dir::read_from(dir)? {
        let e = e?;
        let n = e.file_name();
        if n != c"." && n != c".." {
            out.push(n.to_owned());
        }
    }
    Ok(out)
}

fn os(c: &CStr) -> &OsStr {
    OsStr::from_bytes(c.to_bytes())
}

fn timespec(t: StatxTimestamp) -> Timespec {
    Timespec {
        tv_sec: t.tv_sec,
        tv_nsec: i64::from(t.tv_nsec),
    }
}

/// systemd's OS-tree rule: if `root` has no `etc/os-release` or `usr/lib/os-release` and holds
/// exactly one entry, a directory (not a symlink) that has one, that directory's contents are
/// moved up into `root`, `root` takes the inner directory's mode, owner and times, and the
/// emptied inner directory is removed. Returns whether it did so.
pub fn hoist_single_os_dir(root: &Path) -> io::Result<bool> {
    let rootfd: OwnedFd = rustix::fs::open(
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    if is_os_tree(rootfd.as_fd())? {
        return Ok(false);
    }
    let top = names(rootfd.as_fd())?;
    let [child] = top.as_slice() else {
        return Ok(false);
    };
    let childfd = match openat(
        &rootfd,
        child.as_c_str(),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        // a symlink or not a directory.
        Err(Errno::LOOP | Errno::NOTDIR) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    let st = statx(&childfd, c"", AtFlags::EMPTY_PATH, StatxFlags::BASIC_STATS)?;
    if FileType::from_raw_mode(u32::from(st.stx_mode)) != FileType::Directory
        || !is_os_tree(childfd.as_fd())?
    {
        return Ok(false);
    }
    // move it aside first: it may contain an entry with its own name.
    let aside: &CStr = if child.as_c_str() == c".#wharf-hoist" {
        c".#wharf-hoist-"
    } else {
        c".#wharf-hoist"
    };
    rename_noreplace(rootfd.as_fd(), os(child), rootfd.as_fd(), os(aside))?;
    for name in names(childfd.as_fd())? {
        rename_noreplace(childfd.as_fd(), os(&name), rootfd.as_fd(), os(&name))?;
    }
    unlinkat(&rootfd, aside, AtFlags::REMOVEDIR)?;
    fchown(
        &rootfd,
        Some(Uid::from_raw(st.stx_uid)),
        Some(Gid::from_raw(st.stx_gid)),
    )?;
    fchmod(
        &rootfd,
        Mode::from_raw_mode(u32::from(st.stx_mode) & 0o7777),
    )?;
    futimens(
        &rootfd,
        &Timestamps {
            last_access: timespec(st.stx_atime),
            last_modification: timespec(st.stx_mtime),
        },
    )?;
    Ok(true)
}
