//! Inside the new namespaces: the mount table (nspawn's order: root, /proc, /dev, /sys, /run,
//! /tmp, /run/host, /proc masks, custom mounts, /etc files), all before anything of the image
//! runs.

use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result};
use wharf_sys::mount::{self as m, Flags};
use wharf_sys::mountapi;

use crate::{Config, Prepared};

/// /proc entries made read-only (bind over themselves, remounted ro).
const PROC_READ_ONLY: &[&str] = &[
    "sys",
    "sysrq-trigger",
    "irq",
    "bus",
    "fs",
    "acpi",
    "apm",
    "asound",
    "scsi",
];

const RO: Flags = Flags {
    read_only: true,
    nosuid: true,
    nodev: true,
    noexec: true,
    strictatime: false,
};

const NOSUID_NODEV: Flags = Flags {
    read_only: false,
    nosuid: true,
    nodev: true,
    noexec: false,
    strictatime: false,
};

const NOSUID_NODEV_NOEXEC: Flags = Flags {
    read_only: false,
    nosuid: true,
    nodev: true,
    noexec: true,
    strictatime: false,
};

/// Build the whole mount table and pivot into the image. Returns the kmsg FIFO (for wharf).
/// `trees`: the idmapped root and bind sources wharf made for a user namespace.
pub(crate) fn build(
    cfg: &Config,
    prep: &Prepared,
    notify: &OwnedFd,
    trees: crate::userns::Trees,
) -> Result<OwnedFd> {
    m::make_private_recursive(Path::new("/")).context("make mounts private")?;
    let userns = cfg.private_users.enabled();
    let private_net = cfg.network.new_netns();
    // The root (bind, recursive read-only, --volatile) and, before the pivot, the sources of
    // the custom mounts while the host tree is still reachable (root/).
    let root = &crate::root::enter(cfg, &prep.root, trees.root)?;
    let captured = crate::root::custom::capture(cfg, root, trees.binds)?;
    let etc_trees = crate::etc::capture(&prep.etc)?;
    // In a user namespace the kernel mounts proc and sysfs only while a full instance of them
    // is visible in the mount namespace, and refuses mknod: /proc and /sys are mounted before
    // the pivot, and the /dev nodes are bind mounts of the host's.
    let dev_trees = if userns {
        let mut trees = Vec::new();
        for (name, _, _) in &prep.devices {
            let p = Path::new("/dev").join(name);
            trees.push(m::clone_tree(&p, false).with_context(|| format!("open {}", p.display()))?);
        }
        mount_proc(&root.join("proc"))?;
        let sys = root.join("sys");
        mkdir(&sys)?;
        if private_net {
            // The machine's own sysfs (its network namespace belongs to the user namespace);
            // the tmpfs layout goes on top after the pivot, where the namespace's root can
            // make directories in it.
            m::mount_fs("sysfs", &sys, RO, "").context("mount sysfs")?;
        } else {
            // sysfs belongs to the host's network namespace: the host's, read-only.
            m::bind(Path::new("/sys"), &sys, true).context("bind /sys")?;
            mountapi::set_read_only_recursive(&sys).context("make /sys read-only")?;
        }
        Some(trees)
    } else {
        None
    };
    std::env::set_current_dir(root).context("enter the image root")?;
    m::pivot_root(Path::new("."), Path::new(".")).context("pivot_root")?;
    m::unmount_detach(Path::new(".")).context("detach the old root")?;
    std::env::set_current_dir("/").context("chdir /")?;
    if userns {
        // Off the host tree: become the namespace's root (UID/GID 0, no supplementary groups).
        wharf_sys::process::switch_user(0, 0, &[]).context("become root of the user namespace")?;
    }

    if !userns {
        // /proc for the new PID namespace.
        mount_proc(Path::new("/proc"))?;
    }

    setup_dev(prep, dev_trees)?;

    for name in PROC_READ_ONLY {
        let p = Path::new("/proc").join(name);
        if p.exists() {
            m::bind(&p, &p, false).with_context(|| format!("bind {}", p.display()))?;
            if *name == "sys" && private_net {
                // The machine's own network sysctls stay writable (nspawn: bound before
                // /proc/sys goes read-only, so the remount below does not reach it).
                let net = Path::new("/proc/sys/net");
                m::bind(net, net, false).context("bind /proc/sys/net")?;
            }
            m::remount_bind(&p, RO).with_context(|| format!("remount {} ro", p.display()))?;
        }
    }
    if !userns {
        mkdir(Path::new("/sys"))?;
        if private_net {
            mount_private_sys(Path::new("/sys"))?;
        } else {
            mount("sysfs", "/sys", RO, "")?;
        }
    } else if private_net {
        mount_private_sys(Path::new("/sys"))?;
    }
    // /sys/fs/cgroup: mounted by child.rs once PID 1 is in its cgroup namespace.

    mkdir(Path::new("/run"))?;
    mount(
        "tmpfs",
        "/run",
        NOSUID_NODEV,
        &format!("mode=0755,{LIMITS_RUN}"),
    )?;
    mkdir(Path::new("/tmp"))?;
    mount(
        "tmpfs",
        "/tmp",
        NOSUID_NODEV,
        &format!("mode=01777,{LIMITS_NESTED}"),
    )?;

    let kmsg = crate::runhost::populate(prep, notify)?;
    crate::runhost::cover_proc()?;
    crate::runhost::seal()?;

    // Custom mounts, parents before children.
    crate::root::custom::mount_all(cfg, prep, &captured)?;

    crate::etc::apply(&prep.etc, etc_trees, prep.strict_journal)?;
    // As nspawn after its switch to the new root: the machine's mounts shared among
    // themselves (fresh peer groups: they were made private above, so nothing reaches the
    // host). A container manager is expected to do this (systemd marks `/` shared itself only
    // when it is not in a container); without it mounts that systemd makes in a service's
    // namespace and moves to where PID 1 should see them never arrive, e.g. the ramfs of
    // /run/credentials/UNIT, and the service's credentials are missing.
    m::make_shared_recursive(Path::new("/")).context("make the machine's mounts shared")?;
    wharf_sys::ns::set_hostname(&prep.hostname).context("set the hostname")?;
    Ok(kmsg)
}

fn mount_proc(at: &Path) -> Result<()> {
    mkdir(at)?;
    m::mount_fs(
        "proc",
        at,
        Flags {
            nosuid: true,
            nodev: true,
            noexec: true,
            ..Flags::default()
        },
        "",
    )
    .with_context(|| format!("mount proc on {}", at.display()))
}

/// Size limits of the machine's own tmpfs mounts, nspawn's: a machine cannot fill the host's
/// memory through /run, /tmp or /dev/shm (each counts against the host's RAM, not the image).
const LIMITS_RUN: &str = "size=20%,nr_inodes=800k";
const LIMITS_NESTED: &str = "size=10%,nr_inodes=400k";
const LIMITS_DEV: &str = "size=4m,nr_inodes=64k";

/// /dev: a tmpfs with copies of the host's nodes (`trees`: bind mounts of them instead, in a
/// user namespace), devpts, /dev/shm and the fd links.
fn setup_dev(prep: &Prepared, trees: Option<Vec<OwnedFd>>) -> Result<()> {
    mkdir(Path::new("/dev"))?;
    mount(
        "tmpfs",
        "/dev",
        Flags {
            nosuid: true,
            strictatime: true,
            ..Flags::default()
        },
        &format!("mode=0755,{LIMITS_DEV}"),
    )?;
    let mut trees = trees.map(Vec::into_iter);
    for (name, rdev, mode) in &prep.devices {
        let p = Path::new("/dev").join(name);
        if let Some(parent) = p.parent().filter(|d| *d != Path::new("/dev")) {
            mkdir(parent)?;
        }
        if let Some(tree) = trees.as_mut().and_then(Iterator::next) {
            fs::File::create(&p).with_context(|| format!("create {}", p.display()))?;
            m::attach_tree(&tree, &p).with_context(|| format!("bind {}", p.display()))?;
            continue;
        }
        m::mknod_char(&p, *mode, *rdev).with_context(|| format!("mknod {}", p.display()))?;
        // mknod's mode is filtered by the umask.
        fs::set_permissions(&p, fs::Permissions::from_mode(*mode))
            .with_context(|| format!("chmod {}", p.display()))?;
    }
    fs::create_dir(Path::new("/dev/pts")).context("create /dev/pts")?;
    mount(
        "devpts",
        "/dev/pts",
        Flags {
            nosuid: true,
            noexec: true,
            ..Flags::default()
        },
        "newinstance,ptmxmode=0666,mode=620,gid=5",
    )?;
    symlink("pts/ptmx", "/dev/ptmx").context("symlink /dev/ptmx")?;
    fs::create_dir(Path::new("/dev/shm")).context("create /dev/shm")?;
    mount(
        "tmpfs",
        "/dev/shm",
        NOSUID_NODEV,
        &format!("mode=01777,{LIMITS_NESTED}"),
    )?;
    // The POSIX message queues of the machine's IPC namespace (the instance belongs to the
    // namespace of the mounter), as nspawn; without it systemd inside starts dev-mqueue.mount
    // to mount it, and a plain command has no /dev/mqueue. A kernel without POSIX message
    // queues (ENODEV) just gets no mount, as with nspawn.
    fs::create_dir(Path::new("/dev/mqueue")).context("create /dev/mqueue")?;
    match m::mount_fs("mqueue", Path::new("/dev/mqueue"), NOSUID_NODEV_NOEXEC, "") {
        Err(e) if e.raw_os_error() == Some(libc::ENODEV) => {
            fs::remove_dir(Path::new("/dev/mqueue")).context("remove /dev/mqueue")?;
        }
        r => r.context("mount mqueue on /dev/mqueue")?,
    }
    for (link, target) in [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ] {
        symlink(target, link).with_context(|| format!("symlink {link}"))?;
    }
    Ok(())
}

fn mount(fstype: &str, target: &str, flags: Flags, data: &str) -> Result<()> {
    m::mount_fs(fstype, Path::new(target), flags, data)
        .with_context(|| format!("mount {fstype} on {target}"))
}

/// /sys with a private network, as nspawn: a read-only tmpfs holding only `block bus class dev
/// devices kernel` of a sysfs mounted in the machine's network namespace (so /sys/class/net
/// lists the machine's own links), all read-only.
fn mount_private_sys(sys: &Path) -> Result<()> {
    m::mount_fs("tmpfs", sys, NOSUID_NODEV, "mode=0555")
        .with_context(|| format!("mount tmpfs on {}", sys.display()))?;
    let full = &sys.join("full");
    mkdir(full)?;
    m::mount_fs("sysfs", full, RO, "")
        .with_context(|| format!("mount sysfs on {}", full.display()))?;
    for sub in ["block", "bus", "class", "dev", "devices", "kernel"] {
        let src = full.join(sub);
        if !src.exists() {
            continue;
        }
        let dst = sys.join(sub);
        mkdir(&dst)?;
        m::bind(&src, &dst, true).with_context(|| format!("bind {}", dst.display()))?;
        m::remount_bind(&dst, RO).with_context(|| format!("remount {} ro", dst.display()))?;
    }
    m::unmount_detach(full).context("detach /sys/full")?;
    fs::remove_dir(full).context("remove /sys/full")?;
    // The mount point of the machine's cgroup2 (mounted later by child.rs).
    mkdir(&sys.join("fs/cgroup"))?;
    m::remount_bind(sys, RO).context("remount /sys ro")
}

fn mkdir(p: &Path) -> Result<()> {
    if p.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(p).with_context(|| format!("create mount point {}", p.display()))
}
