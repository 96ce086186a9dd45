//! One archive member: its header fields with the PAX / GNU overrides applied.

use super::acl;
use super::error::UnpackError;
use super::pax::{Ext, Time, Xattr};

/// What an entry creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Dir,
    Symlink,
    Hardlink,
    Char,
    Block,
    Fifo,
}

/// How a sparse file's map is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SparseFormat {
    None,
    /// Old GNU `S` header with extension blocks.
    Gnu,
    /// PAX `GNU.sparse.*` 0.0 / 0.1: map in the records.
    Pax0,
    /// PAX `GNU.sparse.*` 1.0: map at the start of the data.
    Pax1,
}

/// Owner, permissions, times and xattrs of a node.
#[derive(Debug, Clone, Default)]
pub(crate) struct Meta {
    pub uid: u32,
    pub gid: u32,
    /// Permission bits including setuid, setgid and sticky.
    pub mode: u32,
    pub mtime: Time,
    pub atime: Option<Time>,
    /// Includes ACLs converted to `system.posix_acl_*`.
    pub xattrs: Vec<Xattr>,
}

#[derive(Debug)]
pub(crate) struct Entry {
    pub kind: Kind,
    /// The name as stored (after PAX / GNU long names), for resolution and messages.
    pub path: Vec<u8>,
    pub link: Vec<u8>,
    /// Bytes of data following the header(s) in the archive.
    pub size: u64,
    pub dev: (u32, u32),
    pub sparse: SparseFormat,
    pub meta: Meta,
}

impl Default for Entry {
    fn default() -> Self {
        Entry {
            kind: Kind::File,
            path: Vec::new(),
            link: Vec::new(),
            size: 0,
            dev: (0, 0),
            sparse: SparseFormat::None,
            meta: Meta::default(),
        }
    }
}

const ACL_ACCESS: &[u8] = b"system.posix_acl_access";
const ACL_DEFAULT: &[u8] = b"system.posix_acl_default";

impl Entry {
    /// Fills `self` from a header block (checksum already verified) and the pending `ext`,
    /// which is consumed (left cleared for the next entry).
    pub(crate) fn parse(&mut self, block: &[u8; 512], ext: &mut Ext) -> Result<(), UnpackError> {
        let h = tar::Header::from_byte_slice(block);
        self.path.clear();
        match ext.sparse.name.take().or_else(|| ext.path.take()) {
            Some(p) => self.path = p,
            None => self.path.extend_from_slice(&h.path_bytes()),
        }
        let name = &self.path;
        let corrupt = |e: std::io::Error| UnpackError::corrupt(name, e);
        let typeflag = block[156];
        self.kind = match typeflag {
            b'0' | 0 | b'7' | b'S' => Kind::File,
            b'1' => Kind::Hardlink,
            b'2' => Kind::Symlink,
            b'3' => Kind::Char,
            b'4' => Kind::Block,
            b'5' | b'D' => Kind::Dir,
            b'6' => Kind::Fifo,
            other => {
                return Err(UnpackError::corrupt(
                    name,
                    format!("unsupported entry type {:?}", char::from(other)),
                ))
            }
        };
        // V7 archives mark directories with a trailing slash on a regular entry.
        if self.kind == Kind::File && typeflag != b'S' && name.last() == Some(&b'/') {
            self.kind = Kind::Dir;
        }
        self.link.clear();
        match ext.link.take() {
            Some(l) => self.link = l,
            None => {
                if let Some(l) = h.link_name_bytes() {
                    self.link.extend_from_slice(&l);
                }
            }
        }
        self.size = match ext.size {
            Some(s) => s,
            None => h.entry_size().map_err(corrupt)?,
        };
        let m = &mut self.meta;
        m.uid = id(ext.uid.map_or_else(|| h.uid(), Ok).map_err(corrupt)?)
            .ok_or_else(|| UnpackError::corrupt(name, "uid out of range"))?;
        m.gid = id(ext.gid.map_or_else(|| h.gid(), Ok).map_err(corrupt)?)
            .ok_or_else(|| UnpackError::corrupt(name, "gid out of range"))?;
        m.mode = h.mode().map_err(corrupt)? & 0o7777;
        m.mtime = match ext.mtime {
            Some(t) => t,
            None => Time {
                sec: i64::try_from(h.mtime().map_err(corrupt)?)
                    .map_err(|_| UnpackError::corrupt(name, "mtime out of range"))?,
                nsec: 0,
            },
        };
        m.atime = ext.atime;
        self.dev = (0, 0);
        if matches!(self.kind, Kind::Char | Kind::Block) {
            let major = match ext.devmajor {
                Some(v) => v,
                None => h.device_major().map_err(corrupt)?.unwrap_or(0),
            };
            let minor = match ext.devminor {
                Some(v) => v,
                None => h.device_minor().map_err(corrupt)?.unwrap_or(0),
            };
            self.dev = (major, minor);
        }
        m.xattrs.clear();
        m.xattrs.append(&mut ext.xattrs);
        if let Some(text) = ext.acl_access.take() {
            set_acl(&mut m.xattrs, ACL_ACCESS, &text, name)?;
        }
        if let Some(text) = ext.acl_default.take() {
            if self.kind == Kind::Dir {
                set_acl(&mut m.xattrs, ACL_DEFAULT, &text, name)?;
            }
        }
        self.sparse = if typeflag == b'S' {
            SparseFormat::Gnu
        } else if ext.sparse.any && self.kind == Kind::File {
            if ext.sparse.major == Some(1) {
                SparseFormat::Pax1
            } else {
                SparseFormat::Pax0
            }
        } else {
            SparseFormat::None
        };
        Ok(())
    }
}

/// A uid/gid that fits `uid_t` and is not `(uid_t)-1` (which means "unchanged" to chown).
fn id(v: u64) -> Option<u32> {
    u32::try_from(v).ok().filter(|&v| v != u32::MAX)
}

/// Adds an ACL given as text, unless the raw `system.posix_acl_*` xattr is there already:
/// GNU tar `--xattrs --xattrs-include='*'` stores that exact binary value (numeric ids), while
/// its `--acls` text has user and group *names* (never looked up here: such entries without a
/// numeric id are dropped).
fn set_acl(
    xattrs: &mut Vec<Xattr>,
    key: &[u8],
    text: &[u8],
    name: &[u8],
) -> Result<(), UnpackError> {
    if xattrs.iter().any(|x| x.name == key) {
        return Ok(());
    }
    if let Some(value) = acl::text_to_xattr(text).map_err(|e| UnpackError::corrupt(name, e))? {
        xattrs.push(Xattr {
            name: key.to_vec(),
            value,
        });
    }
    Ok(())
}
