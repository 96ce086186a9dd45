//! wharf's side of the root: done once per run, before the first start, in wharf's own private
//! mount namespace (so everything mounted here vanishes with wharf, even when it is killed).
//!
//! - raw images: one autoclear loop device per filesystem, each mounted under
//!   `/run/wharf/stage/part/N`, then composed under `/run/wharf/stage/root` by DPS mount point;
//! - `--ephemeral`: a btrfs snapshot of a subvolume image (no namespace needed), else one
//!   overlayfs per filesystem with the image as the lower layer and upper/work on the stage
//!   tmpfs.
//!
//! The machine's own mount namespace is cloned from wharf's, so it sees the composed root.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use wharf_sys::loopdev::{self, LoopDevice};
use wharf_sys::mount as m;
use wharf_sys::mountapi;

use super::{dissect, ephemeral, Volatile};
use crate::Config;

/// Host directory under which wharf mounts its private trees (an empty directory on the host;
/// the mounts exist only in wharf's and the machine's mount namespaces).
pub(crate) const RUN_DIR: &str = "/run/wharf";

/// What the child needs to know about the staged root.
#[derive(Debug, Clone, Default)]
pub(crate) struct ChildPlan {
    /// Mount points (relative to the root) of the image's other filesystems, for
    /// `--volatile=overlay`, which needs one overlay per filesystem.
    pub layers: Vec<PathBuf>,
    /// Where the child mounts its scratch tmpfs (`--volatile=`).
    pub scratch: PathBuf,
}

/// The staged root; torn down on drop.
pub(crate) struct Stage {
    /// `cfg` with `root` (and, for `--ephemeral`, `machine`) replaced.
    pub cfg: Config,
    pub plan: ChildPlan,
    mounted: Option<PathBuf>,
    loops: Vec<LoopDevice>,
    snapshot: Option<ephemeral::Snapshot>,
    /// The root already shows the image owned by the user namespace's range (idmapped overlay
    /// lowers): no idmapping or chown is needed on top.
    pub premapped: bool,
}

impl Drop for Stage {
    fn drop(&mut self) {
        if let Some(p) = self.mounted.take() {
            let _ = mountapi::detach(&p);
        }
        // With the mounts gone (or going), clearing detaches at once or marks for autoclear.
        self.loops.clear();
        self.snapshot.take();
    }
}

/// 16 random lowercase hex digits (the ephemeral machine name suffix, as nspawn's).
fn random_hex16() -> Result<String> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("getrandom: {e}"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

fn mkdir(p: &Path) -> Result<()> {
    fs::create_dir_all(p).with_context(|| format!("create {}", p.display()))
}

impl Stage {
    /// `userns`: with `-x` and an idmapping ownership, a user namespace with the machine's
    /// maps: an overlay's lower layers are then idmapped mounts of the image (overlayfs itself
    /// refuses idmapping), so the overlay shows the image owned by the range; see
    /// [`Stage::premapped`].
    pub(crate) fn new(cfg: &Config, userns: Option<&std::os::fd::OwnedFd>) -> Result<Stage> {
        let mut stage = Stage {
            premapped: false,
            cfg: cfg.clone(),
            plan: ChildPlan {
                layers: Vec::new(),
                scratch: Path::new(RUN_DIR).join("scratch"),
            },
            mounted: None,
            loops: Vec::new(),
            snapshot: None,
        };
        if cfg.volatile != Volatile::No {
            mkdir(&stage.plan.scratch)?;
        }
        if cfg.ephemeral {
            let hex = random_hex16()?;
            // nspawn appends 16 hex digits; the result must stay a valid hostname (≤ 64).
            let mut base = cfg.machine.clone();
            while base.len() > 64 - 17 {
                base.pop();
            }
            stage.cfg.machine = format!("{base}-{hex}");
            if !cfg.raw_image {
                if let Some(snap) = ephemeral::snapshot(&cfg.root, &cfg.machine, &hex)? {
                    stage.cfg.root = snap.path.clone();
                    stage.snapshot = Some(snap);
                    return Ok(stage);
                }
            }
        }
        if !(cfg.raw_image || cfg.ephemeral) {
            return Ok(stage);
        }
        mountapi::unshare_private_mounts().context("create wharf's mount namespace")?;
        let dir = Path::new(RUN_DIR).join("stage");
        mkdir(&dir)?;
        m::mount_fs("tmpfs", &dir, m::Flags::default(), "mode=0700")
            .with_context(|| format!("mount a tmpfs on {}", dir.display()))?;
        stage.mounted = Some(dir.clone());

        let layers = if cfg.raw_image {
            stage.mount_raw(&dir)?
        } else {
            vec![(PathBuf::new(), cfg.root.clone(), cfg.read_only)]
        };
        let root = dir.join("root");
        mkdir(&root)?;
        for (i, (mp, src, ro)) in layers.iter().enumerate() {
            let target = if i == 0 { root.clone() } else { root.join(mp) };
            if i > 0 && !target.is_dir() {
                fs::create_dir_all(&target).with_context(|| {
                    format!(
                        "the image has no mount point /{} and cannot get one",
                        mp.display()
                    )
                })?;
            }
            if cfg.ephemeral {
                let upper = dir.join(format!("ephemeral/{i}/upper"));
                let work = dir.join(format!("ephemeral/{i}/work"));
                mkdir(&upper)?;
                mkdir(&work)?;
                let lower = match userns {
                    Some(ns) => {
                        let lower = dir.join(format!("ephemeral/{i}/lower"));
                        mkdir(&lower)?;
                        let t = m::clone_tree(src, false)
                            .with_context(|| format!("open {}", src.display()))?;
                        mountapi::set_tree_idmap(t.as_fd(), ns.as_fd())
                            .with_context(|| format!("idmap {}", src.display()))?;
                        m::attach_tree(&t, &lower)
                            .with_context(|| format!("attach {}", lower.display()))?;
                        stage.premapped = true;
                        lower
                    }
                    None => src.clone(),
                };
                let tree = mountapi::overlay(&[&lower], Some((&upper, &work)), false)
                    .with_context(|| format!("overlay on {}", src.display()))?;
                m::attach_tree(&tree, &target)
                    .with_context(|| format!("mount the overlay on /{}", mp.display()))?;
            } else {
                m::bind(src, &target, true)
                    .with_context(|| format!("bind {} on {}", src.display(), target.display()))?;
                if *ro {
                    mountapi::set_read_only_recursive(&target)
                        .with_context(|| format!("make {} read-only", target.display()))?;
                }
            }
            if i > 0 {
                stage.plan.layers.push(mp.clone());
            }
        }
        stage.cfg.root = root;
        Ok(stage)
    }

    /// Attach and mount every filesystem of the raw image `cfg.root`; (mount point, mounted
    /// directory, read-only) per filesystem, root first.
    fn mount_raw(&mut self, dir: &Path) -> Result<Vec<(PathBuf, PathBuf, bool)>> {
        let image = self.cfg.root.clone();
        // Ephemeral and volatile runs never write the image: changes go to an overlay or tmpfs.
        let never_written = self.cfg.ephemeral || self.cfg.volatile != Volatile::No;
        let mut ro = self.cfg.read_only || never_written;
        let mut file = match OpenOptions::new().read(true).write(!ro).open(&image) {
            Err(e) if !ro && is_read_only_error(&e) => {
                ro = true;
                File::open(&image)
            }
            r => r,
        }
        .with_context(|| format!("open {}", image.display()))?;
        if !never_written {
            self.cfg.read_only = ro;
        }
        let Some(arch) = wharf_gpt::host_arch() else {
            bail!("raw images are not supported on this architecture");
        };
        let parts = dissect::plan(&mut file, arch)
            .with_context(|| format!("dissect {}", image.display()))?;
        let has_xbootldr = parts.iter().any(|p| p.designator == "xbootldr");
        let mut out: Vec<(PathBuf, PathBuf, bool)> = Vec::new();
        // Root first (mount point ""), so the ESP's place can be decided from its directories.
        for (i, mut p) in parts.into_iter().enumerate() {
            let part_ro = ro || p.read_only;
            if p.designator == "esp" {
                let root = out.first().map(|r| r.1.clone()).unwrap_or_default();
                let mp = dissect::esp_mountpoint(
                    has_xbootldr,
                    root.join("efi").is_dir(),
                    root.join("boot").is_dir(),
                );
                p.mountpoint = PathBuf::from(mp);
            }
            let dev =
                loopdev::attach(file.as_fd(), p.offset, p.size, part_ro).with_context(|| {
                    format!(
                        "attach partition {} ({}) to a loop device",
                        p.index, p.designator
                    )
                })?;
            let target = dir.join(format!("part/{i}"));
            mkdir(&target)?;
            let data = if p.fstype == "vfat" { "umask=0077" } else { "" };
            let mounted = mountapi::mount_device(dev.path(), &target, p.fstype, part_ro, data);
            // The boot partitions are not needed to run the machine: a kernel without their
            // filesystem (vfat) skips them instead of refusing the image.
            if matches!(&mounted, Err(e) if e.raw_os_error() == Some(libc::ENODEV))
                && matches!(p.designator, "esp" | "xbootldr")
            {
                continue;
            }
            mounted.with_context(|| {
                format!(
                    "mount partition {} ({}, {}) of {}",
                    p.index,
                    p.designator,
                    p.fstype,
                    image.display()
                )
            })?;
            self.loops.push(dev);
            out.push((p.mountpoint.clone(), target, part_ro));
        }
        // Parents before children (the ESP may have moved).
        out[1..].sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}

fn is_read_only_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EROFS | libc::EACCES | libc::EPERM | libc::ETXTBSY)
    )
}
