//! The machine's side of the root, on every start, in its own (private) mount namespace: the
//! root mount the child pivots into, with `--read-only` (recursive) and `--volatile=` applied.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use wharf_sys::mount::{self as m, Flags};
use wharf_sys::mountapi;

use super::{ChildPlan, Volatile};
use crate::Config;

const TMPFS: Flags = Flags {
    read_only: false,
    nosuid: true,
    nodev: true,
    noexec: false,
    strictatime: true,
};

fn mkdir(p: &Path) -> Result<()> {
    fs::create_dir_all(p).with_context(|| format!("create {}", p.display()))
}

/// Prepare the root mount and return its path (a mount point, ready for `pivot_root`).
/// `tree`: the root as a detached (idmapped) mount tree made by wharf, attached instead of a
/// bind mount (user namespaces, docs/launcher.md).
pub(crate) fn enter(
    cfg: &Config,
    plan: &ChildPlan,
    tree: Option<std::os::fd::OwnedFd>,
) -> Result<PathBuf> {
    let root = &cfg.root;
    match cfg.volatile {
        Volatile::No | Volatile::State => {
            match tree {
                Some(t) => m::attach_tree(&t, root).context("attach the idmapped image root")?,
                None => m::bind(root, root, true).context("bind the image root")?,
            }
            if cfg.read_only || cfg.volatile == Volatile::State {
                mountapi::set_read_only_recursive(root).context("make the image root read-only")?;
            }
            if cfg.volatile == Volatile::State {
                let var = root.join("var");
                if !var.is_dir() {
                    bail!("--volatile=state needs a /var directory in the image");
                }
                // In a user namespace: owned by its root (the options count in its IDs).
                let opts = if cfg.private_users.enabled() {
                    "mode=0755,uid=0,gid=0"
                } else {
                    "mode=0755"
                };
                m::mount_fs("tmpfs", &var, TMPFS, opts).context("mount a tmpfs on /var")?;
            }
            Ok(root.clone())
        }
        Volatile::Yes => {
            let usr = root.join("usr");
            if !usr.is_dir() {
                bail!("--volatile=yes needs a /usr directory in the image");
            }
            let s = &plan.scratch;
            m::mount_fs("tmpfs", s, TMPFS, "mode=0755").context("mount the volatile root")?;
            mkdir(&s.join("usr"))?;
            m::bind(&usr, &s.join("usr"), true).context("bind the image's /usr")?;
            mountapi::set_read_only_recursive(&s.join("usr")).context("make /usr read-only")?;
            base_filesystem(s)?;
            Ok(s.clone())
        }
        Volatile::Overlay => {
            let s = &plan.scratch;
            m::mount_fs("tmpfs", s, TMPFS, "mode=0700").context("mount the overlay tmpfs")?;
            let new_root = s.join("root");
            mkdir(&new_root)?;
            let all = std::iter::once(PathBuf::new()).chain(plan.layers.iter().cloned());
            for (i, mp) in all.enumerate() {
                let (upper, work) = (s.join(format!("{i}/upper")), s.join(format!("{i}/work")));
                mkdir(&upper)?;
                mkdir(&work)?;
                let (lower, target) = if i == 0 {
                    (root.clone(), new_root.clone())
                } else {
                    (root.join(&mp), new_root.join(&mp))
                };
                mkdir(&target)?;
                let tree = mountapi::overlay(&[&lower], Some((&upper, &work)), false)
                    .with_context(|| format!("overlay on /{}", mp.display()))?;
                m::attach_tree(&tree, &target)
                    .with_context(|| format!("mount the overlay on /{}", mp.display()))?;
            }
            Ok(new_root)
        }
    }
}

/// The top-level directories and merged-/usr symlinks a tmpfs root needs (systemd's
/// `base_filesystem_create`, reduced): `bin`, `sbin`, `lib*` → `usr/…` where `/usr` has them.
fn base_filesystem(root: &Path) -> Result<()> {
    for link in ["bin", "sbin", "lib", "lib64", "lib32", "libx32"] {
        if root.join("usr").join(link).is_dir() {
            symlink(format!("usr/{link}"), root.join(link))
                .with_context(|| format!("symlink /{link}"))?;
        }
    }
    for (dir, mode) in [
        ("etc", 0o755),
        ("var", 0o755),
        ("root", 0o700),
        ("home", 0o755),
        ("srv", 0o755),
        ("proc", 0o555),
        ("sys", 0o555),
        ("dev", 0o755),
        ("run", 0o755),
        ("tmp", 0o1777),
    ] {
        let p = root.join(dir);
        mkdir(&p)?;
        fs::set_permissions(&p, fs::Permissions::from_mode(mode))
            .with_context(|| format!("chmod {}", p.display()))?;
    }
    Ok(())
}
