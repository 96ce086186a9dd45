//! Directory copies for `copy-to`/`copy-from`: a recursive copy between two open directories,
//! walked by descriptor only. Every entry is opened relative to its parent directory with
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` (and `RESOLVE_NO_XDEV` on the machine's
//! side): names come from `readdir` and hold no `/`, symlinks are copied as links and never
//! followed, so nothing outside the two trees is read or written. Mode, owner (numeric),
//! timestamps and extended attributes are copied; hard links become separate files.

use std::ffi::{CStr, OsStr};
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use anyhow::{bail, Context, Result};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat, Timespec, Timestamps};
use rustix::io::Errno;
use wharf_sys::fs::open_beneath;

/// Deeper trees are refused (a machine could build one to exhaust the stack).
const MAX_DEPTH: u32 = 256;
/// Extended attribute names and values (the kernel's own limit is 64 KiB for each).
const MAX_XATTR: usize = 64 * 1024;

/// One side of a copy: `same_mount` refuses to cross mount points (`EXDEV`), `label` names
/// the side in errors ("in the machine", "on the host").
#[derive(Debug, Clone, Copy)]
pub struct Side {
    pub same_mount: bool,
    pub label: &'static str,
}

/// What was copied.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub entries: u64,
    pub bytes: u64,
}

struct Walk<'a> {
    src: Side,
    dst: Side,
    counts: &'a mut Counts,
}

fn stat_at(dir: BorrowedFd<'_>, name: &CStr) -> rustix::io::Result<Stat> {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
}

fn file_type(st: &Stat) -> FileType {
    FileType::from_raw_mode(st.st_mode)
}

fn perm(st: &Stat) -> Mode {
    Mode::from_raw_mode(st.st_mode & 0o7777)
}

fn times(st: &Stat) -> Timestamps {
    Timestamps {
        last_access: Timespec {
            tv_sec: st.st_atime,
            tv_nsec: st.st_atime_nsec as _,
        },
        last_modification: Timespec {
            tv_sec: st.st_mtime,
            tv_nsec: st.st_mtime_nsec as _,
        },
    }
}

fn ids(st: &Stat) -> (Option<rustix::fs::Uid>, Option<rustix::fs::Gid>) {
    (
        Some(rustix::fs::Uid::from_raw(st.st_uid)),
        Some(rustix::fs::Gid::from_raw(st.st_gid)),
    )
}

fn os(name: &CStr) -> &OsStr {
    OsStr::from_bytes(name.to_bytes())
}

/// Copy directory `src` (open) into directory `dst` (open, existing; merged into: existing
/// directories are entered, existing non-directories replaced, a directory never replaces a
/// non-directory nor the reverse), then give `dst` the metadata of `src`. `src_path` and
/// `dst_path` name the two directories in errors.
pub fn copy_dir(
    src: BorrowedFd<'_>,
    src_side: Side,
    src_path: &Path,
    dst: BorrowedFd<'_>,
    dst_side: Side,
    dst_path: &Path,
) -> Result<Counts> {
    let mut counts = Counts::default();
    let mut w = Walk {
        src: src_side,
        dst: dst_side,
        counts: &mut counts,
    };
    w.dir(src, src_path, dst, dst_path, 0)?;
    let st = rustix::fs::fstat(src).with_context(|| format!("stat {}", src_path.display()))?;
    finish(dst, &st, Some(src), dst_path)?;
    Ok(counts)
}

/// Owner, mode, extended attributes (from `xattr_src` when given) and times onto open `dst`.
fn finish(
    dst: BorrowedFd<'_>,
    st: &Stat,
    xattr_src: Option<BorrowedFd<'_>>,
    dst_path: &Path,
) -> Result<()> {
    let (u, g) = ids(st);
    rustix::fs::fchown(dst, u, g).with_context(|| format!("chown {}", dst_path.display()))?;
    // After chown, which clears set-user-ID bits.
    rustix::fs::fchmod(dst, perm(st)).with_context(|| format!("chmod {}", dst_path.display()))?;
    if let Some(src) = xattr_src {
        copy_xattrs(src, dst)
            .with_context(|| format!("extended attributes of {}", dst_path.display()))?;
    }
    rustix::fs::futimens(dst, &times(st))
        .with_context(|| format!("set the times of {}", dst_path.display()))
}

/// Copy `size` bytes of `from` to `to` (both at offset 0), leaving holes as holes
/// (`SEEK_DATA`/`SEEK_HOLE`); bytes written.
fn copy_sparse(from: &File, to: &File, size: u64) -> std::io::Result<u64> {
    use rustix::fs::SeekFrom;
    let mut pos = 0u64;
    let mut written = 0u64;
    while pos < size {
        let data = match rustix::fs::seek(from, SeekFrom::Data(pos)) {
            Ok(d) => d,
            Err(Errno::NXIO) => break,
            Err(e) => return Err(e.into()),
        };
        let hole = rustix::fs::seek(from, SeekFrom::Hole(data))?.min(size);
        let mut off_in = data;
        let mut off_out = data;
        while off_in < hole {
            let len = usize::try_from(hole - off_in)
                .unwrap_or(usize::MAX)
                .min(1 << 30);
            let n = match rustix::fs::copy_file_range(
                from,
                Some(&mut off_in),
                to,
                Some(&mut off_out),
                len,
            ) {
                Ok(0) => break,
                Ok(n) => n,
                Err(Errno::XDEV)
                | Err(Errno::INVAL)
                | Err(Errno::NOSYS)
                | Err(Errno::OPNOTSUPP) => {
                    let n = copy_range(from, to, off_in, hole - off_in)?;
                    off_in += n;
                    off_out += n;
                    n as usize
                }
                Err(e) => return Err(e.into()),
            };
            written += n as u64;
        }
        pos = hole.max(off_in);
    }
    to.set_len(size)?;
    Ok(written)
}

/// Plain read/write of `len` bytes at `off` (when `copy_file_range` cannot be used).
fn copy_range(from: &File, to: &File, off: u64, len: u64) -> std::io::Result<u64> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0;
    while done < len {
        let want = (len - done).min(buf.len() as u64) as usize;
        let n = from.read_at(&mut buf[..want], off + done)?;
        if n == 0 {
            break;
        }
        to.write_all_at(&buf[..n], off + done)?;
        done += n as u64;
    }
    Ok(done)
}

fn xattr_names(fd: BorrowedFd<'_>) -> rustix::io::Result<Vec<Vec<u8>>> {
    let size = match rustix::fs::flistxattr_query(fd) {
        Ok(s) => s,
        Err(Errno::OPNOTSUPP) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    if size == 0 {
        return Ok(Vec::new());
    }
    let mut buf = vec![0u8; size.min(MAX_XATTR)];
    let n = rustix::fs::flistxattr(fd, &mut buf[..])?;
    Ok(buf[..n.min(buf.len())]
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| s.to_vec())
        .collect())
}

fn copy_xattrs(src: BorrowedFd<'_>, dst: BorrowedFd<'_>) -> Result<()> {
    for name in xattr_names(src).context("list")? {
        let Ok(cname) = std::ffi::CString::new(name) else {
            continue;
        };
        let mut buf = vec![0u8; MAX_XATTR];
        let n = match rustix::fs::fgetxattr(src, cname.as_c_str(), &mut buf[..]) {
            Ok(n) => n,
            Err(Errno::NODATA) => continue,
            Err(e) => return Err(e).with_context(|| format!("read {}", cname.to_string_lossy())),
        };
        match rustix::fs::fsetxattr(
            dst,
            cname.as_c_str(),
            &buf[..n.min(buf.len())],
            rustix::fs::XattrFlags::empty(),
        ) {
            // The destination's filesystem has no such attributes: skip them.
            Ok(()) | Err(Errno::OPNOTSUPP) => {}
            Err(e) => return Err(e).with_context(|| format!("write {}", cname.to_string_lossy())),
        }
    }
    Ok(())
}

impl Walk<'_> {
    fn open(
        &self,
        dir: BorrowedFd<'_>,
        name: &CStr,
        flags: OFlags,
        src: bool,
        path: &Path,
    ) -> Result<OwnedFd> {
        let side = if src { self.src } else { self.dst };
        open_beneath(
            dir,
            os(name),
            flags | OFlags::NOCTTY,
            0o600,
            side.same_mount,
        )
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::EXDEV) {
                anyhow::anyhow!(
                    "{}: a mount point {} (not crossed)",
                    path.display(),
                    side.label
                )
            } else {
                anyhow::Error::new(e).context(format!("open {} {}", path.display(), side.label))
            }
        })
    }

    fn dir(
        &mut self,
        src: BorrowedFd<'_>,
        src_path: &Path,
        dst: BorrowedFd<'_>,
        dst_path: &Path,
        depth: u32,
    ) -> Result<()> {
        if depth > MAX_DEPTH {
            bail!("{}: more than {MAX_DEPTH} levels deep", src_path.display());
        }
        let rd = rustix::fs::Dir::read_from(src)
            .with_context(|| format!("read {} {}", src_path.display(), self.src.label))?;
        for ent in rd {
            let ent = ent.with_context(|| format!("read {}", src_path.display()))?;
            let name = ent.file_name();
            if matches!(name.to_bytes(), b"." | b"..") {
                continue;
            }
            let sp = src_path.join(os(name));
            let dp = dst_path.join(os(name));
            self.entry(src, name, &sp, dst, &dp, depth)?;
        }
        Ok(())
    }

    fn entry(
        &mut self,
        src: BorrowedFd<'_>,
        name: &CStr,
        sp: &Path,
        dst: BorrowedFd<'_>,
        dp: &Path,
        depth: u32,
    ) -> Result<()> {
        let st = stat_at(src, name).with_context(|| format!("stat {}", sp.display()))?;
        let kind = file_type(&st);
        let existing = match stat_at(dst, name) {
            Ok(d) => Some(file_type(&d)),
            Err(Errno::NOENT) => None,
            Err(e) => return Err(e).with_context(|| format!("stat {}", dp.display())),
        };
        let is_dir = kind == FileType::Directory;
        match existing {
            Some(FileType::Directory) if !is_dir => {
                bail!(
                    "{}: is a directory {}, refusing to replace it with a non-directory",
                    dp.display(),
                    self.dst.label
                )
            }
            Some(t) if is_dir && t != FileType::Directory => {
                bail!(
                    "{}: is not a directory {}, refusing to replace it with a directory",
                    dp.display(),
                    self.dst.label
                )
            }
            Some(t) if t != FileType::Directory => {
                rustix::fs::unlinkat(dst, name, AtFlags::empty())
                    .with_context(|| format!("remove {}", dp.display()))?;
            }
            _ => {}
        }
        self.counts.entries += 1;
        match kind {
            FileType::Directory => {
                if existing.is_none() {
                    rustix::fs::mkdirat(dst, name, Mode::from_raw_mode(0o700))
                        .with_context(|| format!("create {}", dp.display()))?;
                }
                let s = self.open(src, name, OFlags::RDONLY | OFlags::DIRECTORY, true, sp)?;
                let d = self.open(dst, name, OFlags::RDONLY | OFlags::DIRECTORY, false, dp)?;
                self.dir(s.as_fd(), sp, d.as_fd(), dp, depth + 1)?;
                finish(d.as_fd(), &st, Some(s.as_fd()), dp)?;
            }
            FileType::RegularFile => {
                let s = self.open(src, name, OFlags::RDONLY | OFlags::NONBLOCK, true, sp)?;
                let d = self.open(
                    dst,
                    name,
                    OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL,
                    false,
                    dp,
                )?;
                let (from, to) = (File::from(s), File::from(d));
                self.counts.bytes += copy_sparse(&from, &to, st.st_size as u64)
                    .with_context(|| format!("copy {} to {}", sp.display(), dp.display()))?;
                finish(to.as_fd(), &st, Some(from.as_fd()), dp)?;
            }
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(src, name, Vec::new())
                    .with_context(|| format!("read the link {}", sp.display()))?;
                rustix::fs::symlinkat(target.as_c_str(), dst, name)
                    .with_context(|| format!("create the link {}", dp.display()))?;
                self.link_meta(dst, name, &st, dp)?;
                self.node_xattrs(src, dst, name, dp)?;
            }
            FileType::Fifo
            | FileType::CharacterDevice
            | FileType::BlockDevice
            | FileType::Socket => {
                rustix::fs::mknodat(dst, name, kind, perm(&st), st.st_rdev)
                    .with_context(|| format!("create {}", dp.display()))?;
                self.link_meta(dst, name, &st, dp)?;
                rustix::fs::chmodat(dst, name, perm(&st), AtFlags::empty())
                    .with_context(|| format!("chmod {}", dp.display()))?;
                self.node_xattrs(src, dst, name, dp)?;
                rustix::fs::utimensat(dst, name, &times(&st), AtFlags::SYMLINK_NOFOLLOW)
                    .with_context(|| format!("set the times of {}", dp.display()))?;
            }
            FileType::Unknown => bail!("{}: unknown file type", sp.display()),
        }
        Ok(())
    }

    /// Extended attributes of an entry that is not opened (a symlink, a device node, a fifo),
    /// through `/proc/self/fd/DIR/NAME` (the directory's magic link is followed, NAME is not).
    fn node_xattrs(
        &self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        name: &CStr,
        dp: &Path,
    ) -> Result<()> {
        use std::os::fd::AsRawFd;
        let at = |d: BorrowedFd<'_>| {
            Path::new(&format!("/proc/self/fd/{}", d.as_raw_fd())).join(os(name))
        };
        let (sp, tp) = (at(src), at(dst));
        let size = match rustix::fs::llistxattr_query(&sp) {
            Ok(0) | Err(Errno::OPNOTSUPP) | Err(Errno::PERM) => return Ok(()),
            Ok(n) => n,
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("list the extended attributes for {}", dp.display()))
            }
        };
        let mut list = vec![0u8; size.min(MAX_XATTR)];
        let n = rustix::fs::llistxattr(&sp, &mut list[..]).unwrap_or(0);
        for attr in list[..n.min(list.len())]
            .split(|&b| b == 0)
            .filter(|a| !a.is_empty())
        {
            let Ok(cname) = std::ffi::CString::new(attr) else {
                continue;
            };
            let mut buf = vec![0u8; MAX_XATTR];
            let Ok(len) = rustix::fs::lgetxattr(&sp, cname.as_c_str(), &mut buf[..]) else {
                continue;
            };
            match rustix::fs::lsetxattr(
                &tp,
                cname.as_c_str(),
                &buf[..len.min(buf.len())],
                rustix::fs::XattrFlags::empty(),
            ) {
                Ok(()) | Err(Errno::OPNOTSUPP) => {}
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("set {} on {}", cname.to_string_lossy(), dp.display())
                    })
                }
            }
        }
        Ok(())
    }

    /// Owner and times of a just-created entry that is not opened (links, nodes), never
    /// following it.
    fn link_meta(&self, dst: BorrowedFd<'_>, name: &CStr, st: &Stat, dp: &Path) -> Result<()> {
        let (u, g) = ids(st);
        rustix::fs::chownat(dst, name, u, g, AtFlags::SYMLINK_NOFOLLOW)
            .with_context(|| format!("chown {}", dp.display()))?;
        rustix::fs::utimensat(dst, name, &times(st), AtFlags::SYMLINK_NOFOLLOW)
            .with_context(|| format!("set the times of {}", dp.display()))
    }
}

/// The directory `name` of open directory `parent` (`path` for errors), created (mode 0700,
/// the copy sets the final mode) when missing; a non-directory there is refused.
pub fn dir_at(parent: BorrowedFd<'_>, name: &OsStr, path: &Path, side: Side) -> Result<OwnedFd> {
    match rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) if file_type(&st) == FileType::Directory => {}
        Ok(_) => bail!(
            "{}: is not a directory {}, refusing to replace it with a directory",
            path.display(),
            side.label
        ),
        Err(Errno::NOENT) => rustix::fs::mkdirat(parent, name, Mode::from_raw_mode(0o700))
            .with_context(|| format!("create {} {}", path.display(), side.label))?,
        Err(e) => return Err(e).with_context(|| format!("stat {} {}", path.display(), side.label)),
    }
    open_beneath(
        parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY,
        0,
        side.same_mount,
    )
    .with_context(|| format!("open {} {}", path.display(), side.label))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    const HOST: Side = Side {
        same_mount: false,
        label: "on the host",
    };

    #[test]
    fn tree_with_links_modes_and_conflicts() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        let dst = t.path().join("dst");
        std::fs::create_dir_all(src.join("a/b")).unwrap();
        std::fs::write(src.join("a/b/f"), "data").unwrap();
        std::fs::set_permissions(src.join("a/b/f"), std::fs::Permissions::from_mode(0o640))
            .unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.join("a/link")).unwrap();
        std::fs::create_dir(&dst).unwrap();
        let s = File::open(&src).unwrap();
        let d = File::open(&dst).unwrap();
        let c = copy_dir(s.as_fd(), HOST, &src, d.as_fd(), HOST, &dst).unwrap();
        assert_eq!(c.entries, 4);
        assert_eq!(c.bytes, 4);
        assert_eq!(std::fs::read_to_string(dst.join("a/b/f")).unwrap(), "data");
        let md = std::fs::metadata(dst.join("a/b/f")).unwrap();
        assert_eq!(md.mode() & 0o7777, 0o640);
        assert_eq!(
            md.mtime(),
            std::fs::metadata(src.join("a/b/f")).unwrap().mtime()
        );
        assert_eq!(
            std::fs::read_link(dst.join("a/link")).unwrap(),
            Path::new("/etc/passwd")
        );
        // Again: merged, files replaced.
        copy_dir(s.as_fd(), HOST, &src, d.as_fd(), HOST, &dst).unwrap();
        // A file where the source has a directory: refused.
        std::fs::remove_dir_all(dst.join("a/b")).unwrap();
        std::fs::write(dst.join("a/b"), "x").unwrap();
        let e = copy_dir(s.as_fd(), HOST, &src, d.as_fd(), HOST, &dst).unwrap_err();
        assert!(
            format!("{e:#}").contains("refusing to replace it with a directory"),
            "{e:#}"
        );
    }
}
