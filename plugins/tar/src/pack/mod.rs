//! export-tar: write an image tree as a deterministic tar stream.
//!
//! Entries come in a fixed order (depth first, names sorted bytewise), named `./path` like
//! `tar -C DIR -c .`, with numeric owners only (no user or group names), nanosecond mtimes and
//! every xattr (ACLs and file capabilities included) in PAX `SCHILY.xattr.*` records, which GNU
//! tar and systemd-import restore. Hardlinks become link members; device nodes and fifos are
//! kept; sockets cannot be stored in tar and are skipped and reported (systemd#40239 fails the
//! whole export on them). Symlinks are never followed.

mod header;

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use header::Member;

/// Options of [`pack`].
#[derive(Default)]
pub struct PackOptions<'a> {
    /// Called with the number of file-data bytes written since the last call.
    pub progress: Option<&'a (dyn Fn(u64) + Sync)>,
    /// Set to stop early with [`PackError::Cancelled`].
    pub cancel: Option<&'a AtomicBool>,
}

/// What [`pack`] wrote.
#[derive(Debug, Default)]
pub struct PackStats {
    pub entries: u64,
    pub bytes: u64,
    /// Sockets found and left out (paths relative to the root).
    pub skipped_sockets: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("write tar stream: {0}")]
    Write(io::Error),
    #[error("export cancelled")]
    Cancelled,
}

/// Write the tree at `root` to `out` as a tar stream (not compressed).
pub fn pack(root: &Path, out: &mut dyn Write, opts: &PackOptions) -> Result<PackStats, PackError> {
    let mut p = Packer {
        root,
        out,
        opts,
        stats: PackStats::default(),
        links: HashMap::new(),
        buf: vec![0u8; 1 << 20],
    };
    p.entry(Path::new(""))?;
    header::finish(p.out).map_err(PackError::Write)?;
    p.out.flush().map_err(PackError::Write)?;
    Ok(p.stats)
}

struct Packer<'a, 'o> {
    root: &'a Path,
    out: &'o mut dyn Write,
    opts: &'a PackOptions<'a>,
    stats: PackStats,
    /// (dev, ino) of multiply linked files → the member name they were first written as.
    links: HashMap<(u64, u64), Vec<u8>>,
    buf: Vec<u8>,
}

impl Packer<'_, '_> {
    /// Write the member for `rel` and, for a directory, everything below it.
    fn entry(&mut self, rel: &Path) -> Result<(), PackError> {
        if self.opts.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(PackError::Cancelled);
        }
        let abs = self.root.join(rel);
        let meta = fs::symlink_metadata(&abs).map_err(|e| io_err("stat", &abs, e))?;
        let ft = meta.file_type();
        if ft.is_socket() {
            self.stats.skipped_sockets.push(rel.to_path_buf());
            return Ok(());
        }
        let mut name = b"./".to_vec();
        name.extend_from_slice(rel.as_os_str().as_bytes());
        if ft.is_dir() && !rel.as_os_str().is_empty() {
            name.push(b'/');
        }
        let xattrs = read_xattrs(&abs)?;
        let (dev_major, dev_minor) = (
            rustix::fs::major(meta.rdev()),
            rustix::fs::minor(meta.rdev()),
        );
        let mut m = Member {
            path: &name,
            kind: header::REGULAR,
            mode: meta.mode(),
            uid: u64::from(meta.uid()),
            gid: u64::from(meta.gid()),
            size: 0,
            mtime_sec: meta.mtime(),
            mtime_nsec: meta.mtime_nsec() as u32,
            link: b"",
            dev_major: 0,
            dev_minor: 0,
            xattrs: &xattrs,
        };
        let target;
        let first;
        if ft.is_dir() {
            m.kind = header::DIRECTORY;
        } else if ft.is_symlink() {
            target = fs::read_link(&abs).map_err(|e| io_err("readlink", &abs, e))?;
            m.kind = header::SYMLINK;
            m.link = target.as_os_str().as_bytes();
        } else if ft.is_char_device() || ft.is_block_device() {
            m.kind = if ft.is_char_device() {
                header::CHAR
            } else {
                header::BLOCK
            };
            (m.dev_major, m.dev_minor) = (dev_major, dev_minor);
        } else if ft.is_fifo() {
            m.kind = header::FIFO;
        }
        if !ft.is_dir() && meta.nlink() > 1 {
            match self.links.get(&(meta.dev(), meta.ino())) {
                Some(f) => {
                    first = f.clone();
                    m.kind = header::HARDLINK;
                    m.link = &first;
                }
                None => {
                    self.links.insert((meta.dev(), meta.ino()), name.clone());
                }
            }
        }
        if m.kind == header::REGULAR {
            m.size = meta.size();
        }
        header::write_member(self.out, &m).map_err(PackError::Write)?;
        self.stats.entries += 1;
        if m.kind == header::REGULAR {
            self.copy_data(&abs, meta.size())?;
        }
        if ft.is_dir() {
            let mut names: Vec<_> = fs::read_dir(&abs)
                .map_err(|e| io_err("read directory", &abs, e))?
                .map(|e| e.map(|e| e.file_name()))
                .collect::<Result<_, _>>()
                .map_err(|e| io_err("read directory", &abs, e))?;
            names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            for n in names {
                self.entry(&rel.join(OsStr::new(&n)))?;
            }
        }
        Ok(())
    }

    /// Copy exactly `size` bytes of the file (it may not change size under us).
    fn copy_data(&mut self, abs: &Path, size: u64) -> Result<(), PackError> {
        let mut f: File = OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(abs)
            .map_err(|e| io_err("open", abs, e))?;
        let mut left = size;
        while left > 0 {
            let want = self.buf.len().min(left as usize);
            let n = match f.read(&mut self.buf[..want]) {
                Ok(0) => {
                    return Err(io_err(
                        "read",
                        abs,
                        io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank during export"),
                    ))
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err("read", abs, e)),
            };
            self.out
                .write_all(&self.buf[..n])
                .map_err(PackError::Write)?;
            left -= n as u64;
            if let Some(p) = self.opts.progress {
                p(n as u64);
            }
            if self.opts.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                return Err(PackError::Cancelled);
            }
        }
        self.stats.bytes += size;
        header::pad(self.out, size).map_err(PackError::Write)
    }
}

/// Extended attributes as (name, value) pairs.
type Xattrs = Vec<(Vec<u8>, Vec<u8>)>;

/// Every xattr of `path` without following symlinks, sorted by name.
fn read_xattrs(path: &Path) -> Result<Xattrs, PackError> {
    let mut names = vec![0u8; 4096];
    let len = loop {
        match rustix::fs::llistxattr(path, &mut names) {
            Ok(n) => break n,
            Err(rustix::io::Errno::RANGE) => names.resize(names.len() * 4, 0),
            Err(rustix::io::Errno::NOTSUP) => return Ok(Vec::new()),
            Err(e) => return Err(io_err("list xattrs", path, e.into())),
        }
        if names.len() > 1 << 20 {
            return Err(io_err(
                "list xattrs",
                path,
                io::Error::other("xattr list too long"),
            ));
        }
    };
    let mut out = Vec::new();
    'names: for n in names[..len].split(|c| *c == 0).filter(|n| !n.is_empty()) {
        let cname = OsStr::from_bytes(n);
        let mut val = vec![0u8; 256];
        loop {
            match rustix::fs::lgetxattr(path, cname, &mut val) {
                Ok(k) => {
                    val.truncate(k);
                    break;
                }
                Err(rustix::io::Errno::RANGE) if val.len() < 1 << 20 => {
                    let l = val.len() * 8;
                    val.resize(l, 0);
                }
                // Removed since it was listed.
                Err(rustix::io::Errno::NODATA) => continue 'names,
                Err(e) => return Err(io_err("read xattr", path, e.into())),
            }
        }
        out.push((n.to_vec(), val));
    }
    out.sort();
    Ok(out)
}

fn io_err(op: &'static str, path: &Path, source: io::Error) -> PackError {
    PackError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}
