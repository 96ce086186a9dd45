//! Faithful copies of trees and single files.

mod entry;
mod file;
pub(crate) mod meta;
mod tree;

use std::path::Path;
use std::sync::atomic::AtomicBool;

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{openat, unlinkat, AtFlags, FileType, Mode, OFlags, CWD};
use rustix::io::Errno;

use crate::error::Context;
use crate::walk::{file_type, fstatx};
use crate::FsError;
use file::{DataCopier, DataError, Method};

/// Progress callback: called with the number of bytes newly copied (a delta), at least every
/// few MiB and at the end of each regular file. Holes count as copied, so the deltas of one
/// file add up to its apparent size.
pub type Progress<'a> = &'a (dyn Fn(u64) + Sync);

/// Options of [`copy_tree`] and [`copy_file`].
pub struct CopyOptions<'a> {
    /// Try `FICLONE` per file first; fall back silently to a sparse copy on
    /// EXDEV/EOPNOTSUPP/EINVAL/ENOTTY (and stop trying for the rest of the copy).
    pub reflink: bool,
    /// Progress callback, see [`Progress`].
    pub progress: Option<Progress<'a>>,
    /// Checked between files and between chunks; when set the copy returns
    /// [`FsError::Cancelled`].
    pub cancel: Option<&'a AtomicBool>,
}

impl Default for CopyOptions<'_> {
    fn default() -> Self {
        CopyOptions {
            reflink: true,
            progress: None,
            cancel: None,
        }
    }
}

/// What a copy did.
///
/// `files` counts regular files whose data was copied, `hardlinks` the extra names created with
/// `link()` (of any file type), `dirs` the directories created (not the destination root),
/// `specials` device nodes, fifos and sockets, `bytes` the apparent size of the copied regular
/// files, `reflinked_files` the files cloned with `FICLONE`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CopyStats {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub specials: u64,
    pub hardlinks: u64,
    pub bytes: u64,
    pub reflinked_files: u64,
}

/// Copy the *contents* of directory `src` into the existing empty directory `dst`, then give
/// `dst` the owner, mode, xattrs and timestamps of `src`.
///
/// Never follows symlinks inside the tree (the two root paths themselves are resolved
/// normally); never descends into a different mount (a mount point is recreated as an empty
/// directory with the mount point's metadata; a bind-mounted file as an empty file); nested
/// btrfs subvolumes are copied as plain directories. Keeps numeric owners, full modes, all
/// xattrs (ACLs, file capabilities, `trusted.*`, `user.*`, `security.*`), atime/mtime with
/// nanoseconds, hardlink groups, holes, symlink targets, device nodes, fifos and sockets. If
/// `dst` lies inside `src`, it is skipped. On error or cancellation the partial copy is left
/// in `dst` for the caller to remove.
pub fn copy_tree(src: &Path, dst: &Path, opts: &CopyOptions) -> Result<CopyStats, FsError> {
    tree::run(src, dst, opts)
}

/// Copy one regular file to a new path `dst` (must not exist, created `O_EXCL`): reflink if
/// possible, else a sparse copy (holes stay holes, all-zero 4 KiB blocks become holes),
/// keeping owner, mode, xattrs and times. `src` itself is opened following symlinks. On error
/// or cancellation the partial `dst` is removed.
pub fn copy_file(src: &Path, dst: &Path, opts: &CopyOptions) -> Result<CopyStats, FsError> {
    let mut data = DataCopier::new(opts);
    data.check_cancel()?;
    let src_fd = open_source(CWD, src, true).ctx("open", || src)?;
    let st = fstatx(src_fd.as_fd()).ctx("statx", || src)?;
    if file_type(&st) != FileType::RegularFile {
        return Err(FsError::io(
            "open",
            src,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"),
        ));
    }
    let dst_fd = create_dest(CWD, dst).ctx("create", || dst)?;
    let result = (|| {
        let method = data.copy(src_fd.as_fd(), dst_fd.as_fd(), st.stx_size);
        let method = data_result(method, || src.to_owned(), || dst.to_owned())?;
        meta::apply_fd(src_fd.as_fd(), dst_fd.as_fd(), &st, false)
            .map_err(|e| e.into_fs(|| src.to_owned(), || dst.to_owned()))?;
        Ok(CopyStats {
            files: 1,
            bytes: st.stx_size,
            reflinked_files: u64::from(method == Method::Reflink),
            ..CopyStats::default()
        })
    })();
    if result.is_err() {
        drop(dst_fd);
        let _ = unlinkat(CWD, dst, AtFlags::empty());
    }
    result
}

/// Open a source file for reading, following a final symlink only if `follow`. Tries
/// `O_NOATIME` first (allowed for the owner or with CAP_FOWNER).
fn open_source<P: rustix::path::Arg + Copy>(
    dir: BorrowedFd<'_>,
    path: P,
    follow: bool,
) -> rustix::io::Result<OwnedFd> {
    // O_NONBLOCK: never hang if the entry was swapped for a fifo.
    let mut flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK;
    if !follow {
        flags |= OFlags::NOFOLLOW;
    }
    match openat(dir, path, flags | OFlags::NOATIME, Mode::empty()) {
        Err(Errno::PERM) => openat(dir, path, flags, Mode::empty()),
        r => r,
    }
}

/// Create a new file for writing, `O_EXCL`, mode 0600 until the real mode is applied.
fn create_dest<P: rustix::path::Arg>(dir: BorrowedFd<'_>, path: P) -> rustix::io::Result<OwnedFd> {
    openat(
        dir,
        path,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
}

fn data_result(
    r: Result<Method, DataError>,
    src: impl FnOnce() -> std::path::PathBuf,
    dst: impl FnOnce() -> std::path::PathBuf,
) -> Result<Method, FsError> {
    match r {
        Ok(m) => Ok(m),
        Err(DataError::Cancelled) => Err(FsError::Cancelled),
        Err(DataError::Src(op, e)) => Err(FsError::io(op, src(), e)),
        Err(DataError::Dst(op, e)) => Err(FsError::io(op, dst(), e)),
    }
}
