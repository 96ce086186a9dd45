//! Inside the new namespaces: the mount table (nspawn's order: root, /proc, /dev, /sys, /run,
//! /tmp, /run/host, /proc masks, custom mounts, /etc files), all before anything of the image
//! runs.

use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result};
use wharf_sys::mount::{self as m, Flags};

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

/// Build the whole mount table and pivot into the image. Returns the kmsg FIFO (for wharf).
pub(crate) fn build(cfg: &Config, prep: &Prepared, notify: &OwnedFd) -> Result<OwnedFd> {
    m::make_private_recursive(Path::new("/")).context("make mounts private")?;
    // The root (bind, recursive read-only, --volatile) and, before the pivot, the sources of
    // the custom mounts while the host tree is still reachable (root/).
    let root = &crate::root::enter(cfg, &prep.root)?;
    let captured = crate::root::custom::capture(cfg, root)?;
    let etc_trees = crate::etc::capture(&prep.etc)?;
    std::env::set_current_dir(root).context("enter the image root")?;
    m::pivot_root(Path::new("."), Path::new(".")).context("pivot_root")?;
    m::unmount_detach(Path::new(".")).context("detach the old root")?;
    std::env::set_current_dir("/").context("chdir /")?;

    // /proc for the new PID namespace.
    mkdir(Path::new("/proc"))?;
    mount(
        "proc",
        "/proc",
        Flags {
            nosuid: true,
            nodev: true,
            noexec: true,
            ..Flags::default()
        },
        "",
    )?;

    setup_dev(prep)?;

    let private_net = cfg.network.new_netns();
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
    mkdir(Path::new("/sys"))?;
    if private_net {
        mount_private_sys()?;
    } else {
        mount("sysfs", "/sys", RO, "")?;
    }
    // /sys/fs/cgroup: mounted by child.rs once PID 1 is in its cgroup namespace.

    mkdir(Path::new("/run"))?;
    mount("tmpfs", "/run", NOSUID_NODEV, "mode=0755")?;
    mkdir(Path::new("/tmp"))?;
    mount("tmpfs", "/tmp", NOSUID_NODEV, "mode=01777")?;

    let kmsg = crate::runhost::populate(prep, notify)?;
    crate::runhost::cover_proc()?;
    crate::runhost::seal()?;

    // Custom mounts, parents before children.
    crate::root::custom::mount_all(cfg, prep, &captured)?;

    crate::etc::apply(&prep.etc, etc_trees, prep.strict_journal)?;
    wharf_sys::ns::set_hostname(&prep.hostname).context("set the hostname")?;
    Ok(kmsg)
}

fn setup_dev(prep: &Prepared) -> Result<()> {
    mkdir(Path::new("/dev"))?;
    mount(
        "tmpfs",
        "/dev",
        Flags {
            nosuid: true,
            strictatime: true,
            ..Flags::default()
        },
        "mode=0755",
    )?;
    for (name, rdev) in &prep.devices {
        let p = Path::new("/dev").join(name);
        m::mknod_char(&p, 0o666, *rdev).with_context(|| format!("mknod {}", p.display()))?;
        // mknod's mode is filtered by the umask.
        fs::set_permissions(&p, fs::Permissions::from_mode(0o666))
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
    mount("tmpfs", "/dev/shm", NOSUID_NODEV, "mode=01777")?;
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
fn mount_private_sys() -> Result<()> {
    mount("tmpfs", "/sys", NOSUID_NODEV, "mode=0555")?;
    let full = Path::new("/sys/full");
    mkdir(full)?;
    mount("sysfs", "/sys/full", RO, "")?;
    for sub in ["block", "bus", "class", "dev", "devices", "kernel"] {
        let src = full.join(sub);
        if !src.exists() {
            continue;
        }
        let dst = Path::new("/sys").join(sub);
        mkdir(&dst)?;
        m::bind(&src, &dst, true).with_context(|| format!("bind {}", dst.display()))?;
        m::remount_bind(&dst, RO).with_context(|| format!("remount {} ro", dst.display()))?;
    }
    m::unmount_detach(full).context("detach /sys/full")?;
    fs::remove_dir(full).context("remove /sys/full")?;
    // The mount point of the machine's cgroup2 (mounted later by child.rs).
    mkdir(Path::new("/sys/fs/cgroup"))?;
    m::remount_bind(Path::new("/sys"), RO).context("remount /sys ro")
}

fn mkdir(p: &Path) -> Result<()> {
    if p.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(p).with_context(|| format!("create mount point {}", p.display()))
}
