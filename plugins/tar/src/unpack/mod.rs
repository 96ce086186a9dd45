//! Confined, streaming extraction of a tar stream.
//!
//! The tar crate parses header fields; framing, PAX records, GNU long names and sparse maps
//! are handled here with bounded memory, and every filesystem write is an fd-relative syscall:
//! parents are opened beneath the root with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
//! RESOLVE_NO_MAGICLINKS)` (module `tree`) and the final component is created with `O_EXCL |
//! O_NOFOLLOW`-style calls relative to that fd (module `node`).
//!
//! Accepted: ustar, GNU (long names/links, old sparse `S`, base-256 numbers) and PAX (path,
//! linkpath, size, uid, gid, mtime/atime with nanoseconds, `SCHILY.xattr.*`,
//! `LIBARCHIVE.xattr.*`, `SCHILY.acl.*`, GNU sparse 0.0/0.1/1.0). Global PAX headers and GNU
//! volume labels are ignored; other entry types are refused. After the end-of-archive zero
//! blocks another archive may follow (like `tar --ignore-zeros`); anything else there is
//! trailing garbage, read and ignored.

mod acl;
mod data;
mod dirs;
mod entry;
pub(crate) mod error;
mod hoist;
mod limits;
pub(crate) mod members;
pub(crate) mod node;
mod pax;
mod resolve;
mod sparse;
mod stream;
pub(crate) mod tree;

use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::layer::LayerState;
use dirs::Dirs;
use entry::{Entry, SparseFormat};
pub use error::UnpackError;
pub use hoist::hoist_single_os_dir;
use limits::{MAX_NAME, MAX_PAX};
use node::{Creds, Replace};
use pax::Ext;
use stream::{is_zero, Stream, BLOCK};
use tree::{normalize, Resolve, Tree};

/// Options of [`unpack`].
#[derive(Default, Clone, Copy)]
pub struct UnpackOptions<'a> {
    /// Most bytes of file data (as stored in the archive) to write; more is
    /// [`UnpackError::TooLarge`], detected from the headers before the data is written.
    pub size_max: Option<u64>,
    /// Checked before every entry and every data chunk (≤ 1 MiB).
    pub cancel: Option<&'a AtomicBool>,
    /// Called with the number of archive bytes read since the last call.
    pub progress: Option<&'a (dyn Fn(u64) + Sync)>,
}

/// What [`unpack`] created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnpackStats {
    /// Filesystem entries created or updated (files, directories, links, nodes).
    pub entries: u64,
    /// Bytes of regular file data read from the archive.
    pub bytes: u64,
}

/// Extracts the uncompressed tar stream `input` into the existing, empty directory `root`,
/// confined beneath it: absolute names and `..` components are refused, as is any path that
/// goes through a symlink (or mount point) — including symlinks created by earlier entries —
/// and hard links whose target does. Owners are numeric; modes, nanosecond mtimes, xattrs,
/// ACLs, device numbers and holes are kept. Directory metadata is applied at the end, deepest
/// first. On error, `root` holds a partial tree for the caller to remove.
pub fn unpack(
    input: &mut dyn Read,
    root: &Path,
    opts: &UnpackOptions<'_>,
) -> Result<UnpackStats, UnpackError> {
    extract(input, root, opts, None).map(|(stats, _)| stats)
}

/// The extractor shared by [`unpack`] (`layer` is None) and [`crate::apply_layer`] (which
/// passes its state and gets it back with the stats).
pub(crate) fn extract(
    input: &mut dyn Read,
    root: &Path,
    opts: &UnpackOptions<'_>,
    layer: Option<LayerState>,
) -> Result<(UnpackStats, Option<LayerState>), UnpackError> {
    let root_name = root.as_os_str().as_bytes();
    let mode = if layer.is_some() {
        Resolve::InRoot
    } else {
        Resolve::Beneath
    };
    let tree = Tree::open(root, mode).map_err(|e| UnpackError::io("open", root_name, e))?;
    let st = rustix::fs::fstat(tree.root()).map_err(|e| UnpackError::io("stat", root_name, e))?;
    let mut creds = Creds::current();
    if st.st_mode & 0o2000 != 0 {
        // a setgid root hands its group to new nodes: always chown.
        creds.gid = u32::MAX;
    }
    let mut u = Unpacker {
        stream: Stream::new(input, opts.progress),
        tree,
        opts,
        creds,
        stats: UnpackStats::default(),
        ext: Ext::default(),
        entry: Entry::default(),
        norm: Vec::new(),
        meta_buf: Vec::new(),
        dirs: Dirs::default(),
        layer,
    };
    u.run()?;
    if u.layer.is_some() {
        u.finish_layer()?;
    }
    u.dirs.apply(&u.tree, u.creds)?;
    Ok((u.stats, u.layer))
}

pub(crate) struct Unpacker<'a, 'o> {
    stream: Stream<'a>,
    pub(crate) tree: Tree,
    opts: &'o UnpackOptions<'o>,
    pub(crate) creds: Creds,
    pub(crate) stats: UnpackStats,
    /// Overrides collected for the next entry.
    ext: Ext,
    entry: Entry,
    /// The normalized path of the current entry.
    pub(crate) norm: Vec<u8>,
    /// Data of PAX headers and GNU long names.
    meta_buf: Vec<u8>,
    dirs: Dirs,
    /// Set when applying an image layer (whiteouts, replacing lower-layer nodes).
    pub(crate) layer: Option<LayerState>,
}

impl Unpacker<'_, '_> {
    /// How an existing directory in the way of a new non-directory is removed.
    pub(crate) fn replace(&self) -> Replace {
        if self.layer.is_some() {
            Replace::Recursive
        } else {
            Replace::EmptyDir
        }
    }

    /// The entry path as stored (for messages).
    pub(crate) fn entry_path(&self) -> &[u8] {
        &self.entry.path
    }

    fn cancelled(&self) -> Result<(), UnpackError> {
        match self.opts.cancel {
            Some(c) if c.load(Ordering::Relaxed) => Err(UnpackError::Cancelled),
            _ => Ok(()),
        }
    }

    fn read_err(&self, e: std::io::Error) -> UnpackError {
        UnpackError::io("read archive", &self.entry.path, e)
    }

    fn next_block(&mut self) -> Result<Option<[u8; BLOCK]>, UnpackError> {
        self.stream.block().map_err(|e| self.read_err(e))
    }

    fn run(&mut self) -> Result<(), UnpackError> {
        self.entry.path.clear();
        let mut pending: Option<[u8; BLOCK]> = None;
        loop {
            self.cancelled()?;
            let block = match pending.take() {
                Some(b) => b,
                None => self.next_block()?.ok_or_else(|| {
                    UnpackError::corrupt(
                        &self.entry.path,
                        "archive ends without its end-of-archive blocks (truncated?)",
                    )
                })?,
            };
            if is_zero(&block) {
                match self.after_end()? {
                    Some(next) => pending = Some(next),
                    None => return Ok(()),
                }
                continue;
            }
            if !checksum_ok(&block) {
                return Err(UnpackError::corrupt(
                    &[],
                    format!(
                        "bad header checksum at offset {} (not a tar archive, or corrupt)",
                        self.stream.pos() - BLOCK as u64
                    ),
                ));
            }
            self.header(&block)?;
        }
    }

    /// After a zero block: more zero blocks, then either the end of input, another archive
    /// (a valid header: returned), or trailing garbage (drained).
    fn after_end(&mut self) -> Result<Option<[u8; BLOCK]>, UnpackError> {
        loop {
            let Some(block) = self.next_block()? else {
                return self
                    .stream
                    .drain()
                    .map(|()| None)
                    .map_err(|e| self.read_err(e));
            };
            if is_zero(&block) {
                continue;
            }
            if checksum_ok(&block) {
                return Ok(Some(block));
            }
            self.stream.drain().map_err(|e| self.read_err(e))?;
            return Ok(None);
        }
    }

    fn header(&mut self, block: &[u8; BLOCK]) -> Result<(), UnpackError> {
        let h = tar::Header::from_byte_slice(block);
        match block[156] {
            b'x' | b'X' => {
                let data = self.read_meta(h, MAX_PAX, "PAX header")?;
                let r = self.ext.apply(&data);
                self.meta_buf = data;
                r.map_err(|e| UnpackError::corrupt(&self.entry.path, e))
            }
            b'L' | b'K' => {
                let mut data = self.read_meta(h, MAX_NAME as u64, "GNU long name")?;
                while data.last() == Some(&0) {
                    data.pop();
                }
                if block[156] == b'L' {
                    self.ext.path = Some(data);
                } else {
                    self.ext.link = Some(data);
                }
                Ok(())
            }
            // global PAX headers and volume labels: nothing to create.
            b'g' | b'V' => {
                let size = h.entry_size().map_err(|e| UnpackError::corrupt(&[], e))?;
                self.skip_data(size, 0)
            }
            _ => self.entry(block),
        }
    }

    fn entry(&mut self, block: &[u8; BLOCK]) -> Result<(), UnpackError> {
        let parsed = self.entry.parse(block, &mut self.ext);
        let sparse = std::mem::take(&mut self.ext.sparse);
        self.ext.clear();
        parsed?;
        normalize(&self.entry.path, &mut self.norm, self.tree.mode())
            .map_err(|reason| UnpackError::unsafe_entry(&self.entry.path, reason))?;
        if self.layer.is_some() && crate::layer::is_whiteout(&self.norm) {
            if self.entry.sparse != SparseFormat::None {
                return Err(UnpackError::corrupt(
                    &self.entry.path,
                    "whiteout stored as a sparse file",
                ));
            }
            self.whiteout()?;
            return self.skip_data(self.entry.size, 0);
        }
        let done = self.create_member(block, &sparse)?;
        self.stats.entries += 1;
        self.skip_data(self.entry.size, done)
    }

    /// The data of a metadata entry (at most `max` bytes), padding consumed.
    fn read_meta(&mut self, h: &tar::Header, max: u64, what: &str) -> Result<Vec<u8>, UnpackError> {
        let size = h.entry_size().map_err(|e| UnpackError::corrupt(&[], e))?;
        if size > max {
            return Err(UnpackError::corrupt(
                &[],
                format!("{what} of {size} bytes exceeds the limit of {max}"),
            ));
        }
        let mut data = std::mem::take(&mut self.meta_buf);
        data.clear();
        let n = size as usize;
        if !self
            .stream
            .read_into(n, &mut data)
            .map_err(|e| self.read_err(e))?
        {
            return Err(UnpackError::corrupt(
                &[],
                format!("archive ends inside a {what}"),
            ));
        }
        self.skip_data(size, size)?;
        Ok(data)
    }

    /// Skips the rest of an entry's data area: `size` bytes plus padding, `done` already read.
    fn skip_data(&mut self, size: u64, done: u64) -> Result<(), UnpackError> {
        let padded = size
            .checked_next_multiple_of(BLOCK as u64)
            .ok_or_else(|| UnpackError::corrupt(&self.entry.path, "impossible entry size"))?;
        let ok = self
            .stream
            .skip(padded - done.min(padded))
            .map_err(|e| self.read_err(e))?;
        if !ok {
            return Err(UnpackError::corrupt(
                &self.entry.path,
                "archive ends inside an entry",
            ));
        }
        Ok(())
    }
}

/// Whether the header checksum matches (unsigned sum, or the signed one old tars wrote).
fn checksum_ok(block: &[u8; BLOCK]) -> bool {
    let Ok(stored) = tar::Header::from_byte_slice(block).cksum() else {
        return false;
    };
    let field = 148..156;
    let (mut unsigned, mut signed) = (0u32, 0i32);
    for (i, &b) in block.iter().enumerate() {
        let b = if field.contains(&i) { b' ' } else { b };
        unsigned += u32::from(b);
        signed += i32::from(b as i8);
    }
    stored == unsigned || i64::from(stored) == i64::from(signed)
}
