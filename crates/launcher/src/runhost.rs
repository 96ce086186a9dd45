//! `/run/host`: what the container learns about its host (CONTAINER_INTERFACE.md), plus the
//! inaccessible nodes used to mask /proc files, the notify socket, the random boot ID and the
//! /proc/kmsg FIFO. Runs inside the container's mount namespace, after pivot_root.

use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result};
use rustix::fs::{Mode, OFlags};
use wharf_sys::mount::{self as m, Flags};

use crate::identity::Id128;
use crate::Prepared;

/// Where PID 1 finds the notify socket (`$NOTIFY_SOCKET`).
pub const NOTIFY_PATH: &str = "/run/host/notify";
const HOST: &str = "/run/host";
const KMSG_FIFO: &str = "/run/host/proc-kmsg";
const BOOT_ID: &str = "/run/host/proc-sys-kernel-random-boot-id";
const INACCESSIBLE_REG: &str = "/run/host/inaccessible/reg";

/// /proc files hidden behind an empty inaccessible file (nspawn's list plus `sched_debug`).
const PROC_MASKED: &[&str] = &["kcore", "kallsyms", "keys", "timer_list", "sched_debug"];

const RO: Flags = Flags {
    read_only: true,
    nosuid: true,
    nodev: true,
    noexec: true,
    strictatime: false,
};

/// Fill /run/host (a fresh tmpfs /run must be mounted) and bind the notify socket. Returns the
/// kmsg FIFO opened read-write, which wharf keeps open for the container's lifetime.
pub(crate) fn populate(prep: &Prepared, notify: &OwnedFd) -> Result<OwnedFd> {
    let host = Path::new(HOST);
    fs::create_dir(host).context("create /run/host")?;
    write(&host.join("os-release"), &prep.os_release, 0o444)?;
    write(&host.join("container-manager"), b"wharf\n", 0o444)?;
    write(
        &host.join("container-uuid"),
        format!("{}\n", prep.id.uuid()).as_bytes(),
        0o444,
    )?;

    // Inaccessible nodes of every type, mode 000 (device nodes 0:0 cannot be opened anyway).
    let ina = host.join("inaccessible");
    fs::create_dir(&ina).context("create /run/host/inaccessible")?;
    fs::write(ina.join("reg"), b"").context("create inaccessible/reg")?;
    fs::create_dir(ina.join("dir")).context("create inaccessible/dir")?;
    m::mkfifo(&ina.join("fifo"), 0).context("create inaccessible/fifo")?;
    drop(
        std::os::unix::net::UnixListener::bind(ina.join("sock"))
            .context("create inaccessible/sock")?,
    );
    m::mknod_char(&ina.join("chr"), 0, 0).context("create inaccessible/chr")?;
    // A user namespace may make no block device, not even 0:0 (a 0:0 character device is a
    // whiteout, which it may).
    let blk = m::mknod_block(&ina.join("blk"), 0, 0);
    match blk {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) && prep.userns => {}
        r => r.context("create inaccessible/blk")?,
    }
    for n in ["reg", "dir", "fifo", "sock", "chr", "blk"] {
        if n != "blk" || ina.join(n).exists() {
            chmod(&ina.join(n), 0)?;
        }
    }

    wharf_sys::socket::bind(notify, Path::new(NOTIFY_PATH)).context("bind /run/host/notify")?;

    m::mkfifo(Path::new(KMSG_FIFO), 0o600).context("create /run/host/proc-kmsg")?;
    chmod(Path::new(KMSG_FIFO), 0o600)?;
    let kmsg = rustix::fs::open(
        KMSG_FIFO,
        OFlags::RDWR | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .context("open /run/host/proc-kmsg")?;

    let boot_id = Id128::random()?;
    write(
        Path::new(BOOT_ID),
        format!("{}\n", boot_id.uuid()).as_bytes(),
        0o444,
    )?;
    Ok(kmsg)
}

/// Mask /proc files with the inaccessible file, bind the boot ID and the kmsg FIFO. /proc and
/// /run/host must be set up.
pub(crate) fn cover_proc() -> Result<()> {
    for name in PROC_MASKED {
        let p = Path::new("/proc").join(name);
        if p.exists() {
            m::bind(Path::new(INACCESSIBLE_REG), &p, false)
                .with_context(|| format!("mask {}", p.display()))?;
            m::remount_bind(&p, RO).with_context(|| format!("remount {} ro", p.display()))?;
        }
    }
    let boot_id = Path::new("/proc/sys/kernel/random/boot_id");
    m::bind(Path::new(BOOT_ID), boot_id, false).context("bind the boot ID")?;
    m::remount_bind(boot_id, RO).context("remount the boot ID ro")?;
    let kmsg = Path::new("/proc/kmsg");
    if kmsg.exists() {
        m::bind(Path::new(KMSG_FIFO), kmsg, false).context("bind /proc/kmsg")?;
    }
    Ok(())
}

/// Make /run/host read-only, nosuid, nodev, noexec.
pub(crate) fn seal() -> Result<()> {
    let host = Path::new(HOST);
    m::bind(host, host, false).context("bind /run/host")?;
    m::remount_bind(host, RO).context("remount /run/host ro")
}

fn write(p: &Path, data: &[u8], mode: u32) -> Result<()> {
    fs::write(p, data).with_context(|| format!("write {}", p.display()))?;
    chmod(p, mode)
}

fn chmod(p: &Path, mode: u32) -> Result<()> {
    fs::set_permissions(p, fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {}", p.display()))
}
