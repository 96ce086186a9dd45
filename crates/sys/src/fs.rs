//! small safe filesystem helpers over rustix: no-replace and exchange renames, opening a path
//! confined to a root directory, `syncfs` and the filesystem magic.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{Mode, OFlags, RenameFlags, ResolveFlags};

/// `renameat2(RENAME_NOREPLACE)`: `EEXIST` when `new` exists. `EINVAL` on filesystems that do
/// not support the flag.
pub fn rename_noreplace(
    olddir: BorrowedFd<'_>,
    old: &OsStr,
    newdir: BorrowedFd<'_>,
    new: &OsStr,
) -> io::Result<()> {
    Ok(rustix::fs::renameat_with(
        olddir,
        old,
        newdir,
        new,
        RenameFlags::NOREPLACE,
    )?)
}

/// `renameat2(RENAME_EXCHANGE)`: atomically swaps `old` and `new`, which must both exist (of
/// any types).
pub fn rename_exchange(
    olddir: BorrowedFd<'_>,
    old: &OsStr,
    newdir: BorrowedFd<'_>,
    new: &OsStr,
) -> io::Result<()> {
    Ok(rustix::fs::renameat_with(
        olddir,
        old,
        newdir,
        new,
        RenameFlags::EXCHANGE,
    )?)
}

/// the resolve flags of [`open_in_root`].
const IN_ROOT: ResolveFlags = ResolveFlags::IN_ROOT
    .union(ResolveFlags::NO_MAGICLINKS)
    .union(ResolveFlags::NO_XDEV);

/// opens `path` read-only (`O_RDONLY | O_CLOEXEC | O_NOCTTY`) as if `root` were `/`
/// (`openat2` with `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV`): absolute
/// symlinks and `..` cannot leave `root`, and no mount point is crossed (`EXDEV`). The final
/// component is followed if it is a symlink. Opening a FIFO this way blocks until a writer
/// appears; see [`open_in_root_with`] to pass `O_NONBLOCK` or `O_NOFOLLOW`, `O_DIRECTORY` …
pub fn open_in_root(root: BorrowedFd<'_>, path: &Path) -> io::Result<OwnedFd> {
    open_in_root_with(root, path, OFlags::RDONLY | OFlags::NOCTTY)
}

/// like [`open_in_root`] with the given open flags (`O_CLOEXEC` is always added; `O_CREAT`
/// creates with mode 0644).
pub fn open_in_root_with(root: BorrowedFd<'_>, path: &Path, flags: OFlags) -> io::Result<OwnedFd> {
    // O_TMPFILE includes the O_DIRECTORY bit, so test it whole (intersects would match
    // O_DIRECTORY alone and openat2 refuses a mode without O_CREAT/O_TMPFILE).
    let mode = if flags.contains(OFlags::CREATE) || flags.contains(OFlags::TMPFILE) {
        Mode::from_raw_mode(0o644)
    } else {
        Mode::empty()
    };
    loop {
        match rustix::fs::openat2(root, path, flags | OFlags::CLOEXEC, mode, IN_ROOT) {
            // the kernel asks for a retry when a rename raced with the lookup.
            Err(rustix::io::Errno::AGAIN) => continue,
            r => return Ok(r?),
        }
    }
}

/// like [`open_in_root_with`], but mount points inside `root` may be crossed
/// (`RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`): for a caller already inside the mount
/// namespace `root` belongs to, where every mount below `root` is the machine's own.
pub fn open_in_root_crossing(
    root: BorrowedFd<'_>,
    path: &Path,
    flags: OFlags,
) -> io::Result<OwnedFd> {
    let mode = if flags.contains(OFlags::CREATE) || flags.contains(OFlags::TMPFILE) {
        Mode::from_raw_mode(0o644)
    } else {
        Mode::empty()
    };
    let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
    loop {
        match rustix::fs::openat2(root, path, flags | OFlags::CLOEXEC, mode, resolve) {
            Err(rustix::io::Errno::AGAIN) => continue,
            r => return Ok(r?),
        }
    }
}

/// opens the entry `name` of directory `dir` without following any symlink and without
/// leaving `dir` (`openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, plus
/// `RESOLVE_NO_XDEV` when `same_mount`: a mount point gives `EXDEV`). `O_CREAT` creates with
/// `mode`.
pub fn open_beneath(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    flags: OFlags,
    mode: u32,
    same_mount: bool,
) -> io::Result<OwnedFd> {
    let mut resolve =
        ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    if same_mount {
        resolve |= ResolveFlags::NO_XDEV;
    }
    let mode = if flags.contains(OFlags::CREATE) {
        Mode::from_raw_mode(mode)
    } else {
        Mode::empty()
    };
    loop {
        match rustix::fs::openat2(dir, name, flags | OFlags::CLOEXEC, mode, resolve) {
            Err(rustix::io::Errno::AGAIN) => continue,
            r => return Ok(r?),
        }
    }
}

/// `syncfs(fd)`: writes out the whole filesystem containing `fd`.
pub fn syncfs(fd: BorrowedFd<'_>) -> io::Result<()> {
    Ok(rustix::fs::syncfs(fd)?)
}

/// the `f_type` magic number (`fstatfs`) of the filesystem containing `fd`, e.g.
/// [`crate::btrfs::BTRFS_SUPER_MAGIC`], `0xEF53` for ext2/3/4, `0x01021994` for tmpfs.
pub fn fs_magic(fd: BorrowedFd<'_>) -> io::Result<u64> {
    let st = rustix::fs::fstatfs(fd)?;
    // f_type is a signed long; magic numbers are 32-bit, so on 32-bit targets a magic with the
    // top bit set (like btrfs') must not be sign-extended.
    #[allow(clippy::unnecessary_cast)]
    let magic = if std::mem::size_of_val(&st.f_type) <= 4 {
        u64::from(st.f_type as u32)
    } else {
        st.f_type as u64
    };
    Ok(magic)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn directories_open_in_root_with_o_path() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("sub")).unwrap();
        let root = std::fs::File::open(t.path()).unwrap();
        let flags = OFlags::PATH | OFlags::DIRECTORY;
        open_in_root_with(root.as_fd(), Path::new("/sub"), flags).unwrap();
        open_in_root_with(root.as_fd(), Path::new("/../sub"), OFlags::DIRECTORY).unwrap();
        let made = open_in_root_with(
            root.as_fd(),
            Path::new("/new"),
            OFlags::CREATE | OFlags::WRONLY,
        );
        assert!(made.is_ok());
    }
}
