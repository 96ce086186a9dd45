//! `wharf copy-to`/`copy-from`: files and directory trees between the host and a running
//! machine, through the machine's root (`/proc/LEADER/root`) with every path inside it resolved
//! by `openat2` confined to that root (`RESOLVE_IN_ROOT`, no magic links, no mount crossing):
//! symlinks and `..` in the machine cannot reach the host. Trees are walked by descriptor
//! ([`super::copytree`]).

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rustix::fs::OFlags;
use wharf_sys::fs::open_in_root_with;

use super::copytree::{self, Side};

const MACHINE: Side = Side {
    same_mount: true,
    label: "in the machine",
};
const HOST: Side = Side {
    same_mount: false,
    label: "on the host",
};

/// `path`'s parent and file name (`path` is absolute or relative; `/` has no name).
fn split(path: &Path) -> Result<(&Path, &std::ffi::OsStr)> {
    match (path.parent(), path.file_name()) {
        (Some(p), Some(n)) => Ok((
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            },
            n,
        )),
        _ => bail!("{}: not a path to copy a directory to", path.display()),
    }
}

fn machine_root(leader: u32) -> Result<File> {
    File::open(format!("/proc/{leader}/root")).context("open the machine's root")
}

/// Where a copy lands: `dst` itself, or `dst/<name of src>` when `dst` is a directory (or ends
/// in `/`).
fn target(dst: &Path, src: &Path, is_dir: impl Fn(&Path) -> bool) -> Result<PathBuf> {
    let ends_slash = dst.as_os_str().to_string_lossy().ends_with('/');
    if ends_slash || is_dir(dst) {
        let Some(name) = src.file_name() else {
            bail!("{}: no file name to copy to", src.display());
        };
        Ok(dst.join(name))
    } else {
        Ok(dst.to_path_buf())
    }
}

/// Copy host file `src` to `dst` in the machine (default: the same path); bytes copied. In a
/// machine with a user namespace the file is written as the machine's root (the range's base
/// as filesystem UID/GID), so that its idmapped root can store it (as UID 0).
pub fn copy_to(leader: u32, src: &Path, dst: Option<&Path>) -> Result<u64> {
    let root = machine_root(leader)?;
    let mut from = File::open(src).with_context(|| format!("open {}", src.display()))?;
    let range = super::proc::uid_range(leader);
    let _as_root = range.map(|(base, _)| FsIds::set(base));
    let md = from
        .metadata()
        .with_context(|| format!("stat {}", src.display()))?;
    if md.is_dir() && range.is_some() {
        // Owners would have to be shifted into the range, and the filesystem IDs that let the
        // idmapped root store new entries also drop CAP_CHOWN: not supported yet.
        bail!(
            "{}: directories cannot be copied into a machine with a user namespace yet (copy files, or a tar archive)",
            src.display()
        );
    }
    if md.is_dir() {
        // Without DST: the same path (merged into an existing directory).
        let dst = match dst {
            None => src.to_path_buf(),
            Some(d) => target(d, src, |p| {
                open_in_root_with(root.as_fd(), p, OFlags::PATH | OFlags::DIRECTORY).is_ok()
            })?,
        };
        let (parent, name) = split(&dst)?;
        let parent = open_in_root_with(root.as_fd(), parent, OFlags::RDONLY | OFlags::DIRECTORY)
            .with_context(|| format!("open {} in the machine", parent.display()))?;
        let to = copytree::dir_at(parent.as_fd(), name, &dst, MACHINE)?;
        let c = copytree::copy_dir(from.as_fd(), HOST, src, to.as_fd(), MACHINE, &dst)?;
        return Ok(c.bytes);
    }
    if !md.is_file() {
        bail!(
            "{}: only regular files and directories can be copied",
            src.display()
        );
    }
    let dst = dst.unwrap_or(src);
    let dst = target(dst, src, |p| {
        open_in_root_with(root.as_fd(), p, OFlags::PATH | OFlags::DIRECTORY).is_ok()
    })?;
    // The last component is never followed: a symlink there is refused, not written through.
    let fd = open_in_root_with(
        root.as_fd(),
        &dst,
        OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::NOFOLLOW | OFlags::NOCTTY,
    )
    .with_context(|| format!("open {} in the machine", dst.display()))?;
    let mut to = File::from(fd);
    let n = io::copy(&mut from, &mut to).with_context(|| format!("copy to {}", dst.display()))?;
    use std::os::unix::fs::PermissionsExt;
    let _ = to.set_permissions(std::fs::Permissions::from_mode(
        md.permissions().mode() & 0o7777,
    ));
    Ok(n)
}

/// The thread's filesystem IDs switched until drop.
struct FsIds(u32, u32);

impl FsIds {
    fn set(id: u32) -> FsIds {
        let (u, g) = wharf_sys::process::set_fs_ids(id, id);
        FsIds(u, g)
    }
}

impl Drop for FsIds {
    fn drop(&mut self) {
        wharf_sys::process::set_fs_ids(self.0, self.1);
    }
}

/// Copy file `src` of the machine to `dst` on the host (default: the same path); bytes copied.
pub fn copy_from(leader: u32, src: &Path, dst: Option<&Path>) -> Result<u64> {
    let root = machine_root(leader)?;
    let fd = open_in_root_with(
        root.as_fd(),
        src,
        OFlags::RDONLY | OFlags::NOCTTY | OFlags::NONBLOCK,
    )
    .with_context(|| format!("open {} in the machine", src.display()))?;
    let mut from = File::from(fd);
    let md = from.metadata()?;
    if md.is_dir() {
        let dst = match dst {
            None => src.to_path_buf(),
            Some(d) => target(d, src, |p| p.is_dir())?,
        };
        let (parent, name) = split(&dst)?;
        let parent = File::open(parent).with_context(|| format!("open {}", parent.display()))?;
        let to = copytree::dir_at(parent.as_fd(), name, &dst, HOST)?;
        let c = copytree::copy_dir(from.as_fd(), MACHINE, src, to.as_fd(), HOST, &dst)?;
        return Ok(c.bytes);
    }
    if !md.is_file() {
        bail!(
            "{}: only regular files and directories can be copied",
            src.display()
        );
    }
    let dst = dst.unwrap_or(src);
    let dst = target(dst, src, |p| p.is_dir())?;
    let mut to = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&dst)
        .with_context(|| format!("create {}", dst.display()))?;
    let n = io::copy(&mut from, &mut to).with_context(|| format!("copy to {}", dst.display()))?;
    use std::os::unix::fs::PermissionsExt;
    let _ = to.set_permissions(std::fs::Permissions::from_mode(
        md.permissions().mode() & 0o7777,
    ));
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let no = |_: &Path| false;
        let yes = |_: &Path| true;
        assert_eq!(
            target(Path::new("/a/b"), Path::new("/x/f"), no).unwrap(),
            Path::new("/a/b")
        );
        assert_eq!(
            target(Path::new("/a/b"), Path::new("/x/f"), yes).unwrap(),
            Path::new("/a/b/f")
        );
        assert_eq!(
            target(Path::new("/a/"), Path::new("/x/f"), no).unwrap(),
            Path::new("/a/f")
        );
    }
}
