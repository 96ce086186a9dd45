//! Where image files come from: an OCI layout directory, or a tarball (an OCI layout in a tar,
//! `docker save` output in any of its variants). Files are named by their path inside the
//! layout (`index.json`, `blobs/sha256/<hex>`, `manifest.json`, `<id>/layer.tar`).
//!
//! A directory is read through `openat2(RESOLVE_IN_ROOT)`, so symlinks inside it cannot lead
//! outside. A tarball is indexed once (member name → offset and size); its symlinks and hard
//! links (skopeo writes `<v1id>/layer.tar` as a symlink to `<diffid>.tar`) are resolved inside the
//! archive, never on the host.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Most members a layout tarball may have (a docker save of many images has a few thousand).
const MAX_MEMBERS: usize = 1 << 20;
/// Most links followed to resolve one member name.
const MAX_LINKS: usize = 16;
/// Largest JSON document read into memory (manifests, configs, index.json).
pub const MAX_JSON: u64 = 64 << 20;

/// A layout's files, by relative path.
pub trait Source: Send + Sync {
    /// Open the file at `path` (relative, `/`-separated) and return it with its size.
    fn open(&self, path: &str) -> io::Result<(Box<dyn Read + Send>, u64)>;

    /// Whether `path` exists.
    fn exists(&self, path: &str) -> bool {
        self.open(path).is_ok()
    }

    /// Read a small file (JSON) completely; larger than [`MAX_JSON`] is an error.
    fn read_small(&self, path: &str) -> io::Result<Vec<u8>> {
        let (mut r, size) = self.open(path)?;
        if size > MAX_JSON {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{path} is too large ({size} bytes)"),
            ));
        }
        let mut buf = Vec::with_capacity(size as usize);
        r.by_ref().take(MAX_JSON + 1).read_to_end(&mut buf)?;
        Ok(buf)
    }

    /// How the source is called in messages.
    fn describe(&self) -> String;
}

/// Normalise a member or layout path: strip `./` and leading `/`, refuse `..` and empty names.
pub fn clean_path(p: &str) -> io::Result<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("path {p:?} leaves the layout"),
                ))
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("empty path {p:?}"),
        ));
    }
    Ok(parts.join("/"))
}

/// An OCI layout (or unpacked docker save) in a directory.
pub struct DirSource {
    dir: PathBuf,
    fd: OwnedFd,
}

impl DirSource {
    pub fn open(dir: &Path) -> io::Result<DirSource> {
        let f = File::open(dir)?;
        Ok(DirSource {
            dir: dir.to_path_buf(),
            fd: f.into(),
        })
    }
}

impl Source for DirSource {
    fn open(&self, path: &str) -> io::Result<(Box<dyn Read + Send>, u64)> {
        let rel = clean_path(path)?;
        let fd = wharf_sys::fs::open_in_root(self.fd.as_fd(), Path::new(&rel))
            .map_err(|e| io::Error::new(e.kind(), format!("{rel}: {e}")))?;
        let f = File::from(fd);
        let md = f.metadata()?;
        if !md.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{rel} is not a regular file"),
            ));
        }
        Ok((Box::new(f), md.len()))
    }

    fn describe(&self) -> String {
        self.dir.display().to_string()
    }
}

#[derive(Debug, Clone)]
enum Member {
    File { offset: u64, size: u64 },
    Symlink(String),
    Hardlink(String),
}

/// A layout inside an uncompressed tar file.
pub struct TarSource {
    name: String,
    file: File,
    members: HashMap<String, Member>,
}

impl TarSource {
    /// Index the members of the tar file `file`.
    pub fn open(mut file: File, name: &str) -> io::Result<TarSource> {
        file.seek(SeekFrom::Start(0))?;
        let mut members = HashMap::new();
        let mut archive = tar::Archive::new(&file);
        for entry in archive.entries_with_seek()? {
            // The tar crate's message quotes the header bytes (arbitrary, multi-line input):
            // name the archive instead.
            let entry = entry.map_err(|_| bad(format!("{name}: not a valid tar archive")))?;
            if members.len() >= MAX_MEMBERS {
                return Err(bad(format!("{name}: too many members")));
            }
            let raw = entry.path_bytes();
            let Ok(path) = std::str::from_utf8(&raw) else {
                continue; // layouts only name files in ASCII
            };
            let Ok(path) = clean_path(path) else {
                continue;
            };
            let kind = entry.header().entry_type();
            let member = if kind.is_file() || kind.is_contiguous() {
                Member::File {
                    offset: entry.raw_file_position(),
                    size: entry.size(),
                }
            } else if kind.is_symlink() || kind.is_hard_link() {
                let Some(target) = entry.link_name_bytes() else {
                    continue;
                };
                let target = String::from_utf8_lossy(&target).into_owned();
                if kind.is_symlink() {
                    Member::Symlink(target)
                } else {
                    Member::Hardlink(target)
                }
            } else {
                continue;
            };
            members.insert(path, member);
        }
        Ok(TarSource {
            name: name.to_string(),
            file,
            members,
        })
    }

    /// The member a path names after following links, as (offset, size).
    fn resolve(&self, path: &str) -> io::Result<(u64, u64)> {
        let mut cur = clean_path(path)?;
        for _ in 0..MAX_LINKS {
            match self.members.get(&cur) {
                None => {
                    return Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("{cur}: no such member in {}", self.name),
                    ))
                }
                Some(Member::File { offset, size }) => return Ok((*offset, *size)),
                Some(Member::Hardlink(t)) => cur = clean_path(t)?,
                Some(Member::Symlink(t)) => {
                    cur = if t.starts_with('/') {
                        clean_path(t)?
                    } else {
                        let dir = cur.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                        resolve_relative(dir, t)?
                    };
                }
            }
        }
        Err(bad(format!(
            "{path}: too many levels of links in {}",
            self.name
        )))
    }
}

/// `dir/target` with `..` applied lexically; leaving the archive root is an error.
fn resolve_relative(dir: &str, target: &str) -> io::Result<String> {
    let mut parts: Vec<&str> = dir.split('/').filter(|c| !c.is_empty()).collect();
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(bad(format!("link target {target:?} leaves the archive")));
                }
            }
            c => parts.push(c),
        }
    }
    clean_path(&parts.join("/"))
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

impl Source for TarSource {
    fn open(&self, path: &str) -> io::Result<(Box<dyn Read + Send>, u64)> {
        let (offset, size) = self.resolve(path)?;
        let mut f = self.file.try_clone()?;
        f.seek(SeekFrom::Start(offset))?;
        Ok((
            Box::new(Section {
                file: f,
                left: size,
            }),
            size,
        ))
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

/// `size` bytes of a file from its current offset; a short file is an error.
struct Section {
    file: File,
    left: u64,
}

impl Read for Section {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let n = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let got = self.file.read(&mut buf[..n])?;
        if got == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "archive member is truncated",
            ));
        }
        self.left -= got as u64;
        Ok(got)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_cleaned_and_confined() {
        assert_eq!(clean_path("./blobs/sha256/ab").unwrap(), "blobs/sha256/ab");
        assert_eq!(clean_path("/manifest.json").unwrap(), "manifest.json");
        assert!(clean_path("../x").is_err());
        assert!(clean_path("a/../../x").is_err());
        assert!(clean_path("./").is_err());
        assert_eq!(resolve_relative("abc", "../def.tar").unwrap(), "def.tar");
        assert!(resolve_relative("abc", "../../def.tar").is_err());
    }

    #[test]
    fn tar_members_and_links_resolve_inside_the_archive() {
        let mut b = tar::Builder::new(Vec::new());
        let mut add = |name: &str, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, data).unwrap();
        };
        add("./manifest.json", b"[]");
        add("aa.tar", b"layer bytes");
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_cksum();
        b.append_link(&mut h, "v1/layer.tar", "../aa.tar").unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_cksum();
        b.append_link(&mut h, "evil/layer.tar", "../../etc/passwd")
            .unwrap();
        let bytes = b.into_inner().unwrap();
        let mut f = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut f, &bytes).unwrap();
        let src = TarSource::open(f, "t.tar").unwrap();
        assert_eq!(src.read_small("manifest.json").unwrap(), b"[]");
        assert_eq!(src.read_small("v1/layer.tar").unwrap(), b"layer bytes");
        assert!(src.open("evil/layer.tar").is_err());
        assert!(src.open("missing").is_err());
    }
}
