//! Custom mounts (`--bind`, `--bind-ro`, `--tmpfs`, `--overlay`, `--overlay-ro`,
//! `--inaccessible`), sorted by destination so parents come before children.
//!
//! Sources on the host are captured before `pivot_root` (detached mounts: `open_tree` for
//! binds, `fsmount` for overlays) while the host tree is reachable; after it, they are attached
//! at destinations that resolve inside the machine.

use std::fs;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use wharf_sys::mount::{self as m, Flags};
use wharf_sys::mountapi;

use super::options::{relative, Overlay, Source, Tmpfs};
use crate::{Bind, Config, Prepared};

/// Detached mounts made before `pivot_root`.
pub(crate) struct Captured {
    binds: Vec<OwnedFd>,
    overlays: Vec<OwnedFd>,
}

/// A source path of an overlay: host paths as they are, `+` paths inside `root` (which must not
/// lead out of it through symlinks).
fn resolve(src: &Source, root: &Path) -> Result<PathBuf> {
    match src {
        Source::Host(p) => Ok(p.clone()),
        Source::Image(p) => {
            let joined = root.join(relative(p)?);
            let real = joined
                .canonicalize()
                .with_context(|| format!("overlay source +{}", p.display()))?;
            let real_root = root.canonicalize().context("resolve the machine root")?;
            if !real.starts_with(&real_root) {
                bail!("overlay source +{} leads out of the machine", p.display());
            }
            Ok(real)
        }
    }
}

fn make_overlay(o: &Overlay, root: &Path) -> Result<OwnedFd> {
    let lowers = o
        .lowers
        .iter()
        .map(|l| resolve(l, root))
        .collect::<Result<Vec<_>>>()?;
    let lower_refs: Vec<&Path> = lowers.iter().map(PathBuf::as_path).collect();
    let what = || format!("overlay on {}", o.dst.display());
    match &o.upper {
        None => mountapi::overlay(&lower_refs, None, true).with_context(what),
        Some(None) => {
            // A temporary upper layer on a detached tmpfs, reached through its descriptor.
            let tmp = mountapi::tmpfs("0755").context("tmpfs for the overlay")?;
            let base = PathBuf::from(format!("/proc/self/fd/{}", tmp.as_raw_fd()));
            let (upper, work) = (base.join("upper"), base.join("work"));
            fs::create_dir(&upper).context("create the overlay's upper directory")?;
            fs::create_dir(&work).context("create the overlay's work directory")?;
            let fd =
                mountapi::overlay(&lower_refs, Some((&upper, &work)), false).with_context(what);
            drop(tmp);
            fd
        }
        Some(Some(u)) => {
            let upper = resolve(u, root)?;
            // The work directory must be on the upper layer's filesystem: a hidden sibling.
            let name = upper
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "root".into());
            let work = upper
                .parent()
                .unwrap_or(Path::new("/"))
                .join(format!(".#{name}.wharf-overlay-work"));
            fs::create_dir_all(&work).with_context(|| format!("create {}", work.display()))?;
            mountapi::overlay(&lower_refs, Some((&upper, &work)), false).with_context(what)
        }
    }
}

/// Capture bind sources and build overlays; `root` is the machine's root before `pivot_root`.
/// `idmapped`: the sources of the `idmap` binds, in order, made by wharf (user namespaces).
pub(crate) fn capture(cfg: &Config, root: &Path, idmapped: Vec<OwnedFd>) -> Result<Captured> {
    let mut binds = Vec::new();
    let mut idmapped = idmapped.into_iter();
    for b in &cfg.binds {
        if b.idmap {
            binds.push(
                idmapped
                    .next()
                    .context("an idmapped bind source is missing")?,
            );
            continue;
        }
        let tree = m::clone_tree(&b.src, b.recursive)
            .with_context(|| format!("open {}", b.src.display()))?;
        if b.read_only {
            mountapi::set_tree_read_only(tree.as_fd())
                .with_context(|| format!("make the bind of {} read-only", b.src.display()))?;
        }
        binds.push(tree);
    }
    let overlays = cfg
        .overlays
        .iter()
        .map(|o| make_overlay(o, root))
        .collect::<Result<Vec<_>>>()?;
    Ok(Captured { binds, overlays })
}

enum Custom<'a> {
    Bind(&'a Bind, &'a OwnedFd, bool),
    Tmpfs(&'a Tmpfs),
    Overlay(&'a OwnedFd),
    Inaccessible,
}

const NOSUID_NODEV: Flags = Flags {
    read_only: false,
    nosuid: true,
    nodev: true,
    noexec: false,
    strictatime: false,
};

/// Mount everything after `pivot_root` (and after /run/host exists: `--inaccessible` binds its
/// `inaccessible/` nodes).
pub(crate) fn mount_all(cfg: &Config, prep: &Prepared, captured: &Captured) -> Result<()> {
    let mut custom: Vec<(&Path, Custom)> = cfg
        .binds
        .iter()
        .zip(&captured.binds)
        .zip(&prep.bind_dirs)
        .map(|((b, fd), dir)| (b.dst.as_path(), Custom::Bind(b, fd, *dir)))
        .chain(
            cfg.tmpfs
                .iter()
                .map(|t| (t.path.as_path(), Custom::Tmpfs(t))),
        )
        .chain(
            cfg.overlays
                .iter()
                .zip(&captured.overlays)
                .map(|(o, fd)| (o.dst.as_path(), Custom::Overlay(fd))),
        )
        .chain(
            cfg.inaccessible
                .iter()
                .map(|p| (p.as_path(), Custom::Inaccessible)),
        )
        .collect();
    custom.sort_by(|a, b| a.0.cmp(b.0));
    for (dst, c) in custom {
        match c {
            Custom::Bind(b, tree, is_dir) => {
                if is_dir {
                    mkdir(dst)?;
                } else if !dst.exists() {
                    if let Some(parent) = dst.parent() {
                        mkdir(parent)?;
                    }
                    fs::File::create(dst)
                        .with_context(|| format!("create mount point {}", dst.display()))?;
                }
                m::attach_tree(tree, dst)
                    .with_context(|| format!("bind {} on {}", b.src.display(), dst.display()))?;
            }
            Custom::Tmpfs(t) => {
                mkdir(dst)?;
                m::mount_fs("tmpfs", dst, NOSUID_NODEV, &t.options)
                    .with_context(|| format!("mount tmpfs on {} ({})", dst.display(), t.options))?;
            }
            Custom::Overlay(tree) => {
                mkdir(dst)?;
                m::attach_tree(tree, dst)
                    .with_context(|| format!("mount the overlay on {}", dst.display()))?;
            }
            Custom::Inaccessible => inaccessible(dst)?,
        }
    }
    Ok(())
}

/// Cover `path` with the inaccessible node of its type (mode 000), read-only.
fn inaccessible(path: &Path) -> Result<()> {
    let md = fs::metadata(path).with_context(|| {
        format!(
            "--inaccessible={}: no such file or directory",
            path.display()
        )
    })?;
    let ft = md.file_type();
    let node = if ft.is_dir() {
        "dir"
    } else if ft.is_file() {
        "reg"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "sock"
    } else if ft.is_block_device() {
        "blk"
    } else {
        "chr"
    };
    let src = Path::new("/run/host/inaccessible").join(node);
    m::bind(&src, path, false).with_context(|| format!("make {} inaccessible", path.display()))?;
    m::remount_bind(
        path,
        Flags {
            read_only: true,
            nosuid: true,
            nodev: true,
            noexec: true,
            strictatime: false,
        },
    )
    .with_context(|| format!("remount {} read-only", path.display()))
}

fn mkdir(p: &Path) -> Result<()> {
    if p.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(p).with_context(|| format!("create mount point {}", p.display()))
}
