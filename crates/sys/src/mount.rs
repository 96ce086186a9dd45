//! Mounting for the launcher: thin wrappers over rustix's safe mount API plus `pivot_root`,
//! detaching unmounts and device nodes.

use std::io;
use std::path::Path;

use rustix::fs::{FileType, Mode, CWD};
use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};

/// Flags for [`mount_fs`] and [`remount_bind`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    pub read_only: bool,
    pub nosuid: bool,
    pub nodev: bool,
    pub noexec: bool,
    pub strictatime: bool,
}

impl Flags {
    fn bits(self) -> MountFlags {
        let mut f = MountFlags::empty();
        for (on, flag) in [
            (self.read_only, MountFlags::RDONLY),
            (self.nosuid, MountFlags::NOSUID),
            (self.nodev, MountFlags::NODEV),
            (self.noexec, MountFlags::NOEXEC),
            (self.strictatime, MountFlags::STRICTATIME),
        ] {
            if on {
                f |= flag;
            }
        }
        f
    }
}

/// `mount(NULL, path, NULL, MS_REC|MS_PRIVATE)`: no propagation in or out of `path` and below.
pub fn make_private_recursive(path: &Path) -> io::Result<()> {
    rustix::mount::mount_change(
        path,
        MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
    )
    .map_err(Into::into)
}

/// `mount(NULL, path, NULL, MS_REC|MS_SHARED)`: every mount at and below `path` becomes
/// shared, each in a peer group of its own unless it already had one (so mounts made in
/// namespaces cloned from this one later propagate back, and nothing reaches a namespace whose
/// mounts were private before).
pub fn make_shared_recursive(path: &Path) -> io::Result<()> {
    rustix::mount::mount_change(
        path,
        MountPropagationFlags::SHARED | MountPropagationFlags::REC,
    )
    .map_err(Into::into)
}

/// Bind-mount `src` on `dst` (recursively with `recursive`).
pub fn bind(src: &Path, dst: &Path, recursive: bool) -> io::Result<()> {
    if recursive {
        rustix::mount::mount_bind_recursive(src, dst)
    } else {
        rustix::mount::mount_bind(src, dst)
    }
    .map_err(Into::into)
}

/// Change the per-mount flags of the bind mount at `path` (`MS_REMOUNT|MS_BIND|flags`).
pub fn remount_bind(path: &Path, flags: Flags) -> io::Result<()> {
    rustix::mount::mount_remount(path, MountFlags::BIND | flags.bits(), "").map_err(Into::into)
}

/// Mount a new instance of filesystem `fstype` on `target`.
pub fn mount_fs(fstype: &str, target: &Path, flags: Flags, data: &str) -> io::Result<()> {
    let data = std::ffi::CString::new(data).map_err(|_| io::Error::other("NUL in mount data"))?;
    rustix::mount::mount(fstype, target, fstype, flags.bits(), Some(data.as_c_str()))
        .map_err(Into::into)
}

/// `pivot_root(new_root, put_old)`.
pub fn pivot_root(new_root: &Path, put_old: &Path) -> io::Result<()> {
    rustix::process::pivot_root(new_root, put_old).map_err(Into::into)
}

/// `umount2(path, MNT_DETACH)`.
pub fn unmount_detach(path: &Path) -> io::Result<()> {
    rustix::mount::unmount(path, UnmountFlags::DETACH).map_err(Into::into)
}

/// Make a character device node `path` with `mode` (permission bits) and device `rdev`.
pub fn mknod_char(path: &Path, mode: u32, rdev: u64) -> io::Result<()> {
    rustix::fs::mknodat(
        CWD,
        path,
        FileType::CharacterDevice,
        Mode::from_raw_mode(mode),
        rdev,
    )
    .map_err(Into::into)
}

/// `open_tree(path, OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC[|AT_RECURSIVE])`: a detached copy of the
/// mount(s) at `path`, attachable later with [`attach_tree`] (also after `pivot_root`, when
/// `path` is no longer reachable).
pub fn clone_tree(path: &Path, recursive: bool) -> io::Result<std::os::fd::OwnedFd> {
    use rustix::mount::OpenTreeFlags;
    let mut flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
    if recursive {
        flags |= OpenTreeFlags::AT_RECURSIVE;
    }
    rustix::mount::open_tree(CWD, path, flags).map_err(Into::into)
}

/// `move_mount(tree, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH)`: attach a [`clone_tree`]
/// result at `dst`.
pub fn attach_tree(tree: &std::os::fd::OwnedFd, dst: &Path) -> io::Result<()> {
    rustix::mount::move_mount(
        tree,
        "",
        CWD,
        dst,
        rustix::mount::MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(Into::into)
}

/// `move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH|MOVE_MOUNT_T_EMPTY_PATH)`: attach a
/// [`clone_tree`] result on the file or directory `target` is open on (an `O_PATH` descriptor
/// is enough). The target must be in the caller's mount namespace, which may be another one
/// than the tree was cloned in (after `setns`).
pub fn attach_tree_at(
    tree: &std::os::fd::OwnedFd,
    target: std::os::fd::BorrowedFd<'_>,
) -> io::Result<()> {
    use rustix::mount::MoveMountFlags;
    rustix::mount::move_mount(
        tree,
        "",
        target,
        "",
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
    )
    .map_err(Into::into)
}

/// Make a FIFO `path` with `mode`.
pub fn mkfifo(path: &Path, mode: u32) -> io::Result<()> {
    rustix::fs::mknodat(CWD, path, FileType::Fifo, Mode::from_raw_mode(mode), 0).map_err(Into::into)
}

/// Make a block device node `path` with `mode` and device `rdev`.
pub fn mknod_block(path: &Path, mode: u32, rdev: u64) -> io::Result<()> {
    rustix::fs::mknodat(
        CWD,
        path,
        FileType::BlockDevice,
        Mode::from_raw_mode(mode),
        rdev,
    )
    .map_err(Into::into)
}
