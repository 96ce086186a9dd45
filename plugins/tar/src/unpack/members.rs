//! Creating the node of one archive member: regular (and sparse) files, directories,
//! symlinks, device nodes, fifos and hard links.

use std::fs::File;
use std::os::fd::AsFd;

use rustix::fs::{AtFlags, FileType};
use rustix::io::Errno;

use super::entry::{Kind, SparseFormat};
use super::error::UnpackError;
use super::node::{self, Created, Make, Target};
use super::pax::SparseExt;
use super::sparse::{self, MapError, SparseMap};
use super::stream::BLOCK;
use super::tree::Resolve;
use super::tree::{normalize, split_parent, DirRef, Tree};
use super::{data, Unpacker};
use crate::layer::{touch, wrote};

/// The directory `parent` (normalized) beneath the root, with errors naming `entry`.
pub(crate) fn parent_dir(
    tree: &mut Tree,
    entry: &[u8],
    parent: &[u8],
    of_link_target: bool,
) -> Result<DirRef, UnpackError> {
    let beneath = tree.mode() == Resolve::Beneath;
    tree.dir(parent)
        .map_err(|e| parent_err(e, entry, of_link_target, beneath))
}

/// The error of resolving the parent directory of `entry` (or of its hard link target).
pub(crate) fn parent_err(
    e: Errno,
    entry: &[u8],
    of_link_target: bool,
    beneath: bool,
) -> UnpackError {
    match e {
        Errno::LOOP if beneath && of_link_target => {
            UnpackError::unsafe_entry(entry, "hard link target crosses a symlink")
        }
        Errno::LOOP if beneath => UnpackError::unsafe_entry(entry, "path crosses a symlink"),
        Errno::XDEV => UnpackError::unsafe_entry(entry, "path crosses a mount point"),
        e if of_link_target => {
            UnpackError::io("open parent directory of hard link target of", entry, e)
        }
        e => UnpackError::io("open parent directory of", entry, e),
    }
}

/// `parent/name` (`name` alone under the root).
pub(crate) fn join(parent: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(parent.len() + 1 + name.len());
    if !parent.is_empty() {
        p.extend_from_slice(parent);
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

impl Unpacker<'_, '_> {
    /// Creates the node of the entry just parsed (`self.entry`, `self.norm`); returns how
    /// many bytes of its data were consumed.
    pub(super) fn create_member(
        &mut self,
        block: &[u8; BLOCK],
        sparse: &SparseExt,
    ) -> Result<u64, UnpackError> {
        if self.norm.is_empty() && self.entry.kind != Kind::Dir {
            return Err(UnpackError::unsafe_entry(
                &self.entry.path,
                "entry replaces the image root",
            ));
        }
        match self.entry.kind {
            Kind::Dir => self.directory().map(|()| 0),
            Kind::File => {
                let map = self.sparse_map(block, sparse)?;
                self.file(map)
            }
            Kind::Hardlink => self.hardlink().map(|()| 0),
            Kind::Symlink | Kind::Char | Kind::Block | Kind::Fifo => self.special().map(|()| 0),
        }
    }

    fn map_err(&self, e: MapError) -> UnpackError {
        match e {
            MapError::Bad(m) => UnpackError::corrupt(&self.entry.path, m),
            MapError::Truncated => {
                UnpackError::corrupt(&self.entry.path, "archive ends inside a sparse map")
            }
            MapError::Read(e) => self.read_err(e),
        }
    }

    /// The sparse map of a GNU `S` or PAX 0.x entry; for PAX 1.0 an empty map with the real
    /// size and `true` (its segments are read from the data).
    fn sparse_map(
        &mut self,
        block: &[u8; BLOCK],
        ext: &SparseExt,
    ) -> Result<Option<(SparseMap, bool)>, UnpackError> {
        Ok(match self.entry.sparse {
            SparseFormat::None => None,
            SparseFormat::Gnu => {
                let h = tar::Header::from_byte_slice(block);
                let map = sparse::from_gnu(h, &mut self.stream).map_err(|e| self.map_err(e))?;
                Some((map, false))
            }
            SparseFormat::Pax0 => {
                let map = sparse::from_pax(ext, self.entry.size).map_err(|e| self.map_err(e))?;
                Some((map, false))
            }
            SparseFormat::Pax1 => {
                let real_size = ext.real_size.ok_or_else(|| {
                    UnpackError::corrupt(
                        &self.entry.path,
                        "sparse file without GNU.sparse.realsize",
                    )
                })?;
                let map = SparseMap {
                    real_size,
                    segments: Vec::new(),
                };
                Some((map, true))
            }
        })
    }

    /// A regular file: create, data (holes kept), then metadata. Returns the data consumed
    /// (all of it).
    fn file(&mut self, map: Option<(SparseMap, bool)>) -> Result<u64, UnpackError> {
        let size = self.entry.size;
        if let Some(max) = self.opts.size_max {
            if self.stats.bytes.saturating_add(size) > max {
                return Err(UnpackError::TooLarge(max));
            }
        }
        let (parent, name) = split_parent(&self.norm);
        let dir = parent_dir(&mut self.tree, &self.entry.path, parent, false)?;
        touch(&mut self.layer, &self.tree, dir)?;
        let path = &self.entry.path;
        let (created, stale) = node::create(self.tree.fd(dir), name, &Make::File, self.replace())
            .map_err(|(op, e)| UnpackError::io(op, path, e))?;
        wrote(&mut self.layer, &self.tree, dir, name);
        if stale {
            self.tree.forget();
        }
        let Created::New(Some(fd)) = created else {
            return Err(UnpackError::io("create", path, Errno::EXIST));
        };
        let file = File::from(fd);
        let cancel = self.opts.cancel;
        let (written_end, real_size) = match map {
            None => (
                data::copy(&mut self.stream, &file, 0, size, cancel, path)?,
                size,
            ),
            Some((mut map, in_data)) => {
                let mut map_bytes = 0;
                if in_data {
                    let (m, n) = sparse::read_v1(&mut self.stream, map.real_size, size)
                        .map_err(|e| self.map_err(e))?;
                    map = m;
                    map_bytes = n;
                }
                let path = &self.entry.path;
                map.validate(size - map_bytes)
                    .map_err(|e| UnpackError::corrupt(path, e))?;
                let mut end = 0;
                for &(off, len) in &map.segments {
                    end = end.max(data::copy(&mut self.stream, &file, off, len, cancel, path)?);
                }
                (end, map.real_size)
            }
        };
        let path = &self.entry.path;
        if written_end < real_size {
            file.set_len(real_size)
                .map_err(|e| UnpackError::io("truncate", path, e))?;
        }
        self.stats.bytes += size;
        if self.layer.is_some() {
            // a lower layer's directory may hold a default ACL the new file inherited: like
            // umoci, a layer's file has exactly the xattrs of its entry.
            node::clear_other_xattrs(file.as_fd(), &self.entry.meta)
                .map_err(|e| UnpackError::io("remove xattrs of", path, e))?;
        }
        node::apply(
            &Target::Fd(file.as_fd()),
            &self.entry.meta,
            self.creds,
            true,
        )
        .map_err(|(op, e)| UnpackError::io(op, path, e))?;
        Ok(size)
    }

    /// A directory: created (or an existing one kept); its metadata waits for the end.
    fn directory(&mut self) -> Result<(), UnpackError> {
        let layer = self.layer.is_some();
        if self.norm.is_empty() {
            self.dirs.push(b"", &self.entry.meta, layer);
            return Ok(());
        }
        let (parent, name) = split_parent(&self.norm);
        let dir = parent_dir(&mut self.tree, &self.entry.path, parent, false)?;
        touch(&mut self.layer, &self.tree, dir)?;
        let path = &self.entry.path;
        let (_, stale) = node::create(self.tree.fd(dir), name, &Make::Dir, self.replace())
            .map_err(|(op, e)| UnpackError::io(op, path, e))?;
        wrote(&mut self.layer, &self.tree, dir, name);
        let resolved = join(self.tree.resolved(dir), name);
        if stale {
            self.tree.forget();
        }
        self.dirs.push(&resolved, &self.entry.meta, layer);
        Ok(())
    }

    /// A symlink, device node or fifo: metadata through its name, never following it.
    fn special(&mut self) -> Result<(), UnpackError> {
        let (parent, name) = split_parent(&self.norm);
        let dir = parent_dir(&mut self.tree, &self.entry.path, parent, false)?;
        touch(&mut self.layer, &self.tree, dir)?;
        let replace = self.replace();
        let e = &self.entry;
        let make = match e.kind {
            Kind::Symlink => Make::Symlink(&e.link),
            Kind::Char => Make::Node(
                FileType::CharacterDevice,
                rustix::fs::makedev(e.dev.0, e.dev.1),
            ),
            Kind::Block => Make::Node(FileType::BlockDevice, rustix::fs::makedev(e.dev.0, e.dev.1)),
            _ => Make::Node(FileType::Fifo, 0),
        };
        let dirfd = self.tree.fd(dir);
        let (_, stale) = node::create(dirfd, name, &make, replace)
            .map_err(|(op, err)| UnpackError::io(op, &e.path, err))?;
        let target = Target::At {
            dir: dirfd,
            name,
            symlink: e.kind == Kind::Symlink,
        };
        node::apply(&target, &e.meta, self.creds, true)
            .map_err(|(op, err)| UnpackError::io(op, &e.path, err))?;
        wrote(&mut self.layer, &self.tree, dir, name);
        if stale {
            self.tree.forget();
        }
        Ok(())
    }

    /// A hard link: its target must resolve beneath the root without symlinks (layers: with
    /// symlinks in its parents, confined to the root; the final component is never followed)
    /// and must not be a directory. In a layer, a link whose target does not exist yet waits
    /// for the end of the layer.
    fn hardlink(&mut self) -> Result<(), UnpackError> {
        let path = &self.entry.path;
        let mut target = Vec::new();
        normalize(&self.entry.link, &mut target, self.tree.mode()).map_err(|r| {
            UnpackError::unsafe_entry(
                path,
                match r {
                    "absolute path" => "hard link target is an absolute path",
                    "path leaves the image" => "hard link target leaves the image",
                    _ => "hard link target contains a NUL byte",
                },
            )
        })?;
        if target.is_empty() {
            return Err(UnpackError::unsafe_entry(path, "hard link to a directory"));
        }
        if target == self.norm {
            return Ok(());
        }
        let (shown, norm) = (self.entry.path.clone(), self.norm.clone());
        if !self.link(&shown, &norm, &target)? {
            self.defer_link(shown, norm, target);
        }
        Ok(())
    }

    /// Creates the hard link `norm` (entry `shown`) to `target` (both normalized). Returns
    /// false, creating nothing, when a layer's link target does not exist (yet).
    pub(crate) fn link(
        &mut self,
        shown: &[u8],
        norm: &[u8],
        target: &[u8],
    ) -> Result<bool, UnpackError> {
        let layer = self.layer.is_some();
        let (tparent, tname) = split_parent(target);
        let tdir = if layer {
            match self.tree.lookup(tparent) {
                Ok(Some(d)) => d,
                Ok(None) => return Ok(false),
                Err(e) => return Err(parent_err(e, shown, true, false)),
            }
        } else {
            parent_dir(&mut self.tree, shown, tparent, true)?
        };
        let st = match rustix::fs::statat(self.tree.fd(tdir), tname, AtFlags::SYMLINK_NOFOLLOW) {
            Err(Errno::NOENT) if layer => return Ok(false),
            r => r.map_err(|e| UnpackError::io("stat hard link target of", shown, e))?,
        };
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            return Err(UnpackError::unsafe_entry(shown, "hard link to a directory"));
        }
        let (parent, name) = split_parent(norm);
        let dir = parent_dir(&mut self.tree, shown, parent, false)?;
        touch(&mut self.layer, &self.tree, dir)?;
        let make = Make::Hardlink(self.tree.fd(tdir), tname);
        let (_, stale) = node::create(self.tree.fd(dir), name, &make, self.replace())
            .map_err(|(op, e)| UnpackError::io(op, shown, e))?;
        wrote(&mut self.layer, &self.tree, dir, name);
        if stale {
            self.tree.forget();
        }
        Ok(true)
    }
}
