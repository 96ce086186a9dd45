//! Directory metadata, applied after all entries are in place (creating children would
//! change a directory's mtime, and a default ACL would leak into them), deepest first.

use std::cmp::Reverse;
use std::os::fd::{AsFd, OwnedFd};

use rustix::io::Errno;

use super::entry::Meta;
use super::error::UnpackError;
use super::node::{self, Creds, Target};
use super::tree::{open_beneath, Tree};

#[derive(Default)]
pub(crate) struct Dirs {
    /// (resolved path, metadata, whether xattrs the entry does not list are removed).
    list: Vec<(Vec<u8>, Meta, bool)>,
}

impl Dirs {
    /// Records the metadata of directory `path` (resolved, no symlinks; empty for the root).
    /// `replace_xattrs`: the directory may hold xattrs of its own (a lower layer's), which are
    /// removed unless the entry lists them.
    pub(crate) fn push(&mut self, path: &[u8], meta: &Meta, replace_xattrs: bool) {
        self.list
            .push((path.to_vec(), meta.clone(), replace_xattrs));
    }

    /// Applies every recorded directory's owner, xattrs, mode and times, deepest first (in
    /// archive order among equals, so the last entry for a path wins). A path that is no
    /// longer a directory (replaced by a later entry) is skipped.
    pub(crate) fn apply(&mut self, tree: &Tree, creds: Creds) -> Result<(), UnpackError> {
        self.list.sort_by_key(|(p, _, _)| Reverse(depth(p)));
        for (path, meta, replace_xattrs) in &self.list {
            let opened: OwnedFd;
            let fd = if path.is_empty() {
                tree.root()
            } else {
                match open_beneath(tree.root(), path) {
                    Ok(fd) => {
                        opened = fd;
                        opened.as_fd()
                    }
                    Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => continue,
                    Err(e) => return Err(UnpackError::io("open directory", path, e)),
                }
            };
            if *replace_xattrs {
                node::clear_other_xattrs(fd, meta)
                    .map_err(|e| UnpackError::io("remove xattrs of", path, e))?;
            }
            node::apply(&Target::Fd(fd), meta, creds, false)
                .map_err(|(op, e)| UnpackError::io(op, path, e))?;
        }
        self.list.clear();
        Ok(())
    }
}

fn depth(path: &[u8]) -> usize {
    if path.is_empty() {
        0
    } else {
        1 + path.iter().filter(|&&b| b == b'/').count()
    }
}
