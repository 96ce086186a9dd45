//! Parent resolution for image layers: like umoci's `SecureJoin`, symlinks on the way are
//! followed but confined to the root — the walk goes one component at a time, each opened
//! beneath the current directory fd without following anything (`openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)`); a symlink found there is
//! read and its target spliced into the rest of the path: an absolute target restarts at the
//! root, `..` drops the last component of the path resolved so far and never climbs above the
//! root (as `RESOLVE_IN_ROOT` does). The walk knows the resolved path (relative to the root)
//! of every directory it returns, which the layer applier needs to track what a layer wrote.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{fchmod, mkdirat, readlinkat, Mode};
use rustix::io::Errno;

use super::tree::open_beneath;

/// Most symlinks followed in one resolution (SecureJoin's limit); more is `ELOOP`.
const MAX_SYMLINKS: u32 = 255;

/// Mode of parent directories a layer does not list (umoci: 0777 & ~umask; here always 0755
/// so the result does not depend on the caller's umask).
pub(crate) const IMPLICIT_DIR_MODE: u32 = 0o755;

/// Where a resolution starts: a directory fd and its resolved path (empty: the root).
pub(crate) struct Start<'a> {
    pub fd: BorrowedFd<'a>,
    pub resolved: &'a [u8],
}

/// Resolves `rest` (relative, normalized or a symlink target) from `start` inside `root`.
/// Returns the directory and its resolved path, `Ok(None)` when a component is missing and
/// `create` is false (also when one is not a directory), or an error: `ENOTDIR` (a component
/// is not a directory, with `create`), `ELOOP` (too many symlinks), `EXDEV` (a mount point).
pub(crate) fn resolve(
    root: BorrowedFd<'_>,
    start: Start<'_>,
    rest: &[u8],
    create: bool,
) -> Result<Option<(OwnedFd, Vec<u8>)>, Errno> {
    let mut resolved = start.resolved.to_vec();
    // None: at `base` (the start, or the root after an absolute target or `..` to the top).
    let mut cur: Option<OwnedFd> = None;
    let mut base = start.fd;
    let mut path = rest.to_vec();
    let mut pos = 0;
    let mut links = 0;
    while pos <= path.len() {
        let end = path[pos..]
            .iter()
            .position(|&b| b == b'/')
            .map_or(path.len(), |i| pos + i);
        let comp = &path[pos..end];
        let next_pos = end + 1;
        match comp {
            b"" | b"." => {}
            b".." => {
                match resolved.iter().rposition(|&b| b == b'/') {
                    Some(i) => resolved.truncate(i),
                    None => resolved.clear(),
                }
                if resolved.is_empty() {
                    cur = None;
                    base = root;
                } else {
                    cur = Some(open_beneath(root, &resolved)?);
                }
            }
            _ => {
                let at = cur.as_ref().map_or(base, |f| f.as_fd());
                let opened = match open_beneath(at, comp) {
                    Err(Errno::NOENT) if create => {
                        match mkdirat(at, comp, Mode::from_raw_mode(IMPLICIT_DIR_MODE)) {
                            Ok(()) => {
                                let fd = open_beneath(at, comp)?;
                                fchmod(&fd, Mode::from_raw_mode(IMPLICIT_DIR_MODE))?;
                                Ok(fd)
                            }
                            Err(Errno::EXIST) => open_beneath(at, comp),
                            Err(e) => Err(e),
                        }
                    }
                    r => r,
                };
                match opened {
                    Ok(fd) => {
                        if !resolved.is_empty() {
                            resolved.push(b'/');
                        }
                        resolved.extend_from_slice(comp);
                        cur = Some(fd);
                    }
                    Err(Errno::LOOP) => {
                        // a symlink (RESOLVE_NO_SYMLINKS): splice its target in.
                        links += 1;
                        if links > MAX_SYMLINKS {
                            return Err(Errno::LOOP);
                        }
                        let target = readlinkat(at, comp, Vec::new())?;
                        let target = target.as_bytes();
                        if target.is_empty() {
                            return missing(create);
                        }
                        let mut spliced = target.to_vec();
                        if next_pos <= path.len() {
                            spliced.push(b'/');
                            spliced.extend_from_slice(&path[next_pos..]);
                        }
                        if target[0] == b'/' {
                            resolved.clear();
                            cur = None;
                            base = root;
                        }
                        path = spliced;
                        pos = 0;
                        continue;
                    }
                    Err(Errno::NOENT) => return missing(create),
                    Err(Errno::NOTDIR) if !create => return Ok(None),
                    Err(e) => return Err(e),
                }
            }
        }
        pos = next_pos;
    }
    let fd = match cur {
        Some(fd) => fd,
        None => base.try_clone_to_owned().map_err(|_| Errno::MFILE)?,
    };
    Ok(Some((fd, resolved)))
}

fn missing(create: bool) -> Result<Option<(OwnedFd, Vec<u8>)>, Errno> {
    if create {
        Err(Errno::NOENT)
    } else {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn run(root: &std::path::Path, path: &str, create: bool) -> Result<Option<String>, Errno> {
        let fd = rustix::fs::open(
            root,
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY,
            Mode::empty(),
        )
        .unwrap();
        let start = Start {
            fd: fd.as_fd(),
            resolved: b"",
        };
        resolve(fd.as_fd(), start, path.as_bytes(), create)
            .map(|o| o.map(|(_, r)| String::from_utf8(r).unwrap()))
    }

    #[test]
    fn symlinks_stay_in_root() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        std::fs::create_dir_all(r.join("usr/bin")).unwrap();
        symlink("usr/bin", r.join("bin")).unwrap();
        symlink("/usr", r.join("abs")).unwrap();
        symlink("../../../../../etc", r.join("usr/up")).unwrap();
        symlink("loop2", r.join("loop1")).unwrap();
        symlink("loop1", r.join("loop2")).unwrap();
        std::fs::write(r.join("file"), b"").unwrap();
        assert_eq!(run(r, "bin", false).unwrap().unwrap(), "usr/bin");
        assert_eq!(run(r, "abs/bin", false).unwrap().unwrap(), "usr/bin");
        assert_eq!(run(r, "usr/up", false).unwrap(), None);
        assert_eq!(run(r, "usr/up/x", true).unwrap().unwrap(), "etc/x");
        assert!(r.join("etc/x").is_dir());
        assert_eq!(run(r, "loop1", false).unwrap_err(), Errno::LOOP);
        assert_eq!(run(r, "file/x", false).unwrap(), None);
        assert_eq!(run(r, "file/x", true).unwrap_err(), Errno::NOTDIR);
        assert_eq!(run(r, "missing/deep", false).unwrap(), None);
        assert_eq!(
            run(r, "bin/new/deep", true).unwrap().unwrap(),
            "usr/bin/new/deep"
        );
        assert!(r.join("usr/bin/new/deep").is_dir());
    }
}
