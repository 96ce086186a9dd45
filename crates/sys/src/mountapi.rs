//! The newer mount calls the launcher's image handling needs: a private mount namespace for
//! wharf itself, recursive mount attributes (`mount_setattr`), and detached overlayfs/tmpfs
//! mounts built with `fsopen`/`fsconfig`/`fsmount` (attachable later with
//! [`crate::mount::attach_tree`]).

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::mount::{
    fsconfig_create, fsconfig_set_string, fsmount, fsopen, FsMountFlags, FsOpenFlags,
    MountAttrFlags, MountPropagationFlags,
};

/// `unshare(CLONE_NEWNS)` followed by `MS_SLAVE|MS_REC` on `/`: the calling process gets its own
/// copy of the mount table; host mount events still propagate in, its own mounts never
/// propagate out, and they vanish with the namespace when the last process using it exits.
/// The process must be single-threaded (CLONE_NEWNS implies CLONE_FS).
pub fn unshare_private_mounts() -> io::Result<()> {
    // SAFETY: only CLONE_NEWNS is passed. The concern of `unshare_unsafe` is CLONE_FILES
    // (threads losing descriptors); a new mount namespace changes no memory or descriptor
    // state, so no Rust invariant can be broken.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNS) }?;
    rustix::mount::mount_change(
        "/",
        MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
    )?;
    Ok(())
}

/// `struct mount_attr` (linux/mount.h, `MOUNT_ATTR_SIZE_VER0`).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const _: () = assert!(std::mem::size_of::<MountAttr>() == 32);

fn setattr(dirfd: BorrowedFd<'_>, path: &OsStr, flags: libc::c_uint, set: u64) -> io::Result<()> {
    setattr_userns(dirfd, path, flags, set, 0)
}

fn setattr_userns(
    dirfd: BorrowedFd<'_>,
    path: &OsStr,
    flags: libc::c_uint,
    set: u64,
    userns_fd: u64,
) -> io::Result<()> {
    let c = std::ffi::CString::new(path.as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let attr = MountAttr {
        attr_set: set,
        attr_clr: 0,
        propagation: 0,
        userns_fd,
    };
    // SAFETY: mount_setattr(2) reads a NUL-terminated path (`c`, alive for the call) and
    // `size` bytes of `struct mount_attr` from `&attr` (repr(C), 32 bytes = VER0, alive for the
    // call); `dirfd` is a valid borrowed descriptor. It writes no memory of ours.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd.as_raw_fd(),
            c.as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Makes the mount at `path` and every mount below it read-only
/// (`mount_setattr(AT_RECURSIVE, MOUNT_ATTR_RDONLY)`).
pub fn set_read_only_recursive(path: &Path) -> io::Result<()> {
    setattr(
        rustix::fs::CWD,
        path.as_os_str(),
        libc::AT_RECURSIVE as libc::c_uint,
        MountAttrFlags::MOUNT_ATTR_RDONLY.bits().into(),
    )
}

/// Makes a detached mount tree (an [`crate::mount::clone_tree`] result, or [`overlay`]) and
/// every mount in it read-only.
pub fn set_tree_read_only(tree: BorrowedFd<'_>) -> io::Result<()> {
    setattr(
        tree,
        OsStr::new(""),
        (libc::AT_RECURSIVE | libc::AT_EMPTY_PATH) as libc::c_uint,
        MountAttrFlags::MOUNT_ATTR_RDONLY.bits().into(),
    )
}

/// Idmaps a detached mount tree (an [`crate::mount::clone_tree`] result, not attached yet) and
/// every mount in it with the UID/GID maps of the user namespace `userns` (an open
/// `/proc/PID/ns/user`), `mount_setattr(AT_RECURSIVE, MOUNT_ATTR_IDMAP)`: files owned by 0 on
/// disk then appear owned by the namespace's root, and what its root creates is stored as 0.
/// Needs CAP_SYS_ADMIN in the initial user namespace; filesystems without idmapping support
/// refuse with `EINVAL`.
pub fn set_tree_idmap(tree: BorrowedFd<'_>, userns: BorrowedFd<'_>) -> io::Result<()> {
    setattr_userns(
        tree,
        OsStr::new(""),
        (libc::AT_RECURSIVE | libc::AT_EMPTY_PATH) as libc::c_uint,
        MountAttrFlags::MOUNT_ATTR_IDMAP.bits().into(),
        userns.as_raw_fd() as u64,
    )
}

/// An overlayfs mount, not attached anywhere yet: `lowers` lowest first, `upper`/`work` for a
/// writable overlay (both on one filesystem), read-only without. Paths are passed one by one
/// (`lowerdir+`, Linux 6.8), so they need no escaping; older kernels get a `lowerdir=` list
/// with `:`, `,` and `\` escaped.
pub fn overlay(
    lowers: &[&Path],
    upper_work: Option<(&Path, &Path)>,
    read_only: bool,
) -> io::Result<OwnedFd> {
    let fs = fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
    let plus = lowers
        .iter()
        .rev()
        .try_for_each(|l| fsconfig_set_string(fs.as_fd(), "lowerdir+", *l));
    if let Err(e) = plus {
        if e != rustix::io::Errno::INVAL || lowers.is_empty() {
            return Err(e.into());
        }
        // Before 6.8: one escaped, top-first list on a fresh context.
        return overlay_legacy(lowers, upper_work, read_only);
    }
    finish_overlay(fs, upper_work, read_only)
}

fn overlay_legacy(
    lowers: &[&Path],
    upper_work: Option<(&Path, &Path)>,
    read_only: bool,
) -> io::Result<OwnedFd> {
    let fs = fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
    let mut list = Vec::new();
    for (i, l) in lowers.iter().rev().enumerate() {
        if i > 0 {
            list.push(b':');
        }
        for &b in l.as_os_str().as_bytes() {
            if matches!(b, b':' | b',' | b'\\') {
                list.push(b'\\');
            }
            list.push(b);
        }
    }
    fsconfig_set_string(fs.as_fd(), "lowerdir", OsStr::from_bytes(&list))?;
    finish_overlay(fs, upper_work, read_only)
}

fn finish_overlay(
    fs: OwnedFd,
    upper_work: Option<(&Path, &Path)>,
    read_only: bool,
) -> io::Result<OwnedFd> {
    if let Some((upper, work)) = upper_work {
        fsconfig_set_string(fs.as_fd(), "upperdir", upper)?;
        fsconfig_set_string(fs.as_fd(), "workdir", work)?;
    }
    fsconfig_create(fs.as_fd())?;
    let attrs = if read_only || upper_work.is_none() {
        MountAttrFlags::MOUNT_ATTR_RDONLY
    } else {
        MountAttrFlags::empty()
    };
    Ok(fsmount(fs.as_fd(), FsMountFlags::FSMOUNT_CLOEXEC, attrs)?)
}

/// A tmpfs, not attached anywhere yet (`mode` as an octal mount option value).
pub fn tmpfs(mode: &str) -> io::Result<OwnedFd> {
    let fs = fsopen("tmpfs", FsOpenFlags::FSOPEN_CLOEXEC)?;
    fsconfig_set_string(fs.as_fd(), "mode", mode)?;
    fsconfig_create(fs.as_fd())?;
    Ok(fsmount(
        fs.as_fd(),
        FsMountFlags::FSMOUNT_CLOEXEC,
        MountAttrFlags::MOUNT_ATTR_NODEV | MountAttrFlags::MOUNT_ATTR_NOSUID,
    )?)
}

/// Mounts block device `device` (filesystem `fstype`, mount options `data`) on `target`.
pub fn mount_device(
    device: &Path,
    target: &Path,
    fstype: &str,
    read_only: bool,
    data: &str,
) -> io::Result<()> {
    let data = std::ffi::CString::new(data).map_err(|_| io::Error::other("NUL in mount data"))?;
    let flags = if read_only {
        rustix::mount::MountFlags::RDONLY
    } else {
        rustix::mount::MountFlags::empty()
    };
    rustix::mount::mount(device, target, fstype, flags, Some(data.as_c_str())).map_err(Into::into)
}

/// `umount2(path, MNT_DETACH)` of `path` and everything below it.
pub fn detach(path: &Path) -> io::Result<()> {
    rustix::mount::unmount(path, rustix::mount::UnmountFlags::DETACH).map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_attr_layout() {
        assert_eq!(std::mem::size_of::<MountAttr>(), 32);
    }
}
