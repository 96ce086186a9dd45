//! subvolume create / snapshot / destroy, the read-only flag, ids and child subvolumes.

use std::ffi::OsStr;
use std::io;
use std::ops::ControlFlow;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::abi::{self, InoLookupArgs, VolArgs, VolArgsV2};
use super::search::{self, le_u16, le_u64, Key};
use super::{BtrfsFd, BTRFS_FIRST_FREE_OBJECTID};

/// whether `fd` is the root directory of a btrfs subvolume (a directory on btrfs with inode
/// 256). `Ok(false)` for anything not on btrfs, and for the inode-2 placeholder directories a
/// snapshot leaves where nested subvolumes were.
pub fn is_subvolume(fd: BorrowedFd<'_>) -> io::Result<bool> {
    Ok(BtrfsFd::check(fd)?.is_some_and(|fd| fd.is_subvolume_root()))
}

/// creates an empty subvolume `name` in directory `parent` (`BTRFS_IOC_SUBVOL_CREATE_V2`).
/// `ENOTTY` when `parent` is not on btrfs; `EEXIST` when `name` exists.
pub fn subvol_create(parent: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    let parent = BtrfsFd::dir(parent)?;
    let mut args = VolArgsV2::zeroed();
    abi::put_name(&mut args.name, name.as_bytes())?;
    abi::subvol_create_v2(parent, &mut args)
}

/// snapshots subvolume `src` as `name` in directory `dst_parent` (`BTRFS_IOC_SNAP_CREATE_V2`),
/// read-only when `read_only`. `src` must be the root of a subvolume (`EINVAL` otherwise). Nested
/// subvolumes of `src` are not included: the snapshot holds empty placeholder directories
/// (inode 2) in their place. `ENOTTY` when either fd is not on btrfs, `EXDEV` when they are on
/// different filesystems.
pub fn snapshot(
    src: BorrowedFd<'_>,
    dst_parent: BorrowedFd<'_>,
    name: &OsStr,
    read_only: bool,
) -> io::Result<()> {
    let src = BtrfsFd::dir(src)?;
    let dst_parent = BtrfsFd::dir(dst_parent)?;
    let mut args = VolArgsV2::zeroed();
    abi::put_name(&mut args.name, name.as_bytes())?;
    args.fd = i64::from(src.fd().as_raw_fd());
    if read_only {
        args.flags = abi::SUBVOL_RDONLY;
    }
    abi::snap_create_v2(dst_parent, &mut args)
}

/// deletes subvolume `name` of directory `parent` (`BTRFS_IOC_SNAP_DESTROY_V2`, or the v1 ioctl
/// on kernels older than 5.7). Works on read-only subvolumes; `ENOTEMPTY` while it still
/// contains other subvolumes, `EINVAL` when `name` is not a subvolume. Needs CAP_SYS_ADMIN (or
/// the `user_subvol_rm_allowed` mount option). The space is reclaimed in the background.
pub fn subvol_destroy(parent: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    let parent = BtrfsFd::dir(parent)?;
    let mut args = VolArgsV2::zeroed();
    abi::put_name(&mut args.name, name.as_bytes())?;
    match abi::snap_destroy_v2(parent, &mut args) {
        Err(e) if e.raw_os_error() == Some(libc::ENOTTY) => {
            let mut args = VolArgs::zeroed();
            abi::put_name(&mut args.name, name.as_bytes())?;
            abi::snap_destroy_v1(parent, &mut args)
        }
        r => r,
    }
}

/// deletes the subvolume with id `subvolid` (`BTRFS_IOC_SNAP_DESTROY_V2` with
/// `BTRFS_SUBVOL_SPEC_BY_ID`); `fd` is any directory of the same filesystem. Needs CAP_SYS_ADMIN
/// and kernel 5.7.
pub fn subvol_destroy_by_id(fd: BorrowedFd<'_>, subvolid: u64) -> io::Result<()> {
    let fd = BtrfsFd::dir(fd)?;
    let mut args = VolArgsV2::zeroed();
    args.flags = abi::SUBVOL_SPEC_BY_ID;
    args.name[..8].copy_from_slice(&subvolid.to_ne_bytes());
    abi::snap_destroy_v2(fd, &mut args)
}

/// commits the current transaction and wakes the btrfs cleaner thread, which then starts
/// reclaiming deleted subvolumes (`BTRFS_IOC_SYNC`, what `btrfs filesystem sync` does).
pub fn fs_sync(fd: BorrowedFd<'_>) -> io::Result<()> {
    abi::sync(BtrfsFd::new(fd)?)
}

/// waits until deleted subvolume `subvolid` has been fully cleaned up, so that its space and
/// its qgroup are released (`BTRFS_IOC_SUBVOL_SYNC_WAIT`, kernel 6.13+, else `ENOTTY`).
/// Returns at once when it is already gone; `EINTR` when interrupted. The cleaner only runs
/// every commit interval (30 s by default) unless woken, so call [`fs_sync`] first. Needs
/// CAP_SYS_ADMIN.
pub fn subvol_sync_wait(fd: BorrowedFd<'_>, subvolid: u64) -> io::Result<()> {
    let fd = BtrfsFd::new(fd)?;
    let mut args = abi::SubvolWait {
        subvolid,
        mode: abi::SUBVOL_SYNC_WAIT_FOR_ONE,
        count: 0,
    };
    match abi::subvol_sync_wait(fd, &mut args) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        r => r,
    }
}

fn subvol_flags(fd: BtrfsFd<'_>) -> io::Result<u64> {
    let mut flags = 0u64;
    abi::subvol_getflags(fd, &mut flags)?;
    Ok(flags)
}

/// whether subvolume `fd` is read-only (`BTRFS_IOC_SUBVOL_GETFLAGS`). `fd` must be the root
/// directory of the subvolume (`EINVAL` otherwise).
pub fn subvol_read_only(fd: BorrowedFd<'_>) -> io::Result<bool> {
    let fd = BtrfsFd::new(fd)?;
    Ok(subvol_flags(fd)? & abi::SUBVOL_RDONLY != 0)
}

/// sets or clears the read-only flag of subvolume `fd`, which must be the subvolume's root
/// directory (else `EINVAL`). A no-op when the flag already has that value.
pub fn set_subvol_read_only(fd: BorrowedFd<'_>, read_only: bool) -> io::Result<()> {
    let fd = BtrfsFd::dir(fd)?;
    let old = subvol_flags(fd)?;
    let mut new = if read_only {
        old | abi::SUBVOL_RDONLY
    } else {
        old & !abi::SUBVOL_RDONLY
    };
    if new == old {
        return Ok(());
    }
    abi::subvol_setflags(fd, &mut new)
}

/// the id (tree id) of the subvolume containing `fd` (`BTRFS_IOC_INO_LOOKUP`); 5 for the
/// top-level subvolume. Works unprivileged.
pub fn subvol_id(fd: BorrowedFd<'_>) -> io::Result<u64> {
    subvol_id_of(BtrfsFd::new(fd)?)
}

fn subvol_id_of(fd: BtrfsFd<'_>) -> io::Result<u64> {
    let mut args = InoLookupArgs::new(0, BTRFS_FIRST_FREE_OBJECTID);
    abi::ino_lookup(fd, &mut args)?;
    Ok(args.treeid)
}

/// a subvolume below another one, as found by [`child_subvolumes`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildSubvol {
    /// the subvolume id.
    pub id: u64,
    /// the path relative to the root of the subvolume that was asked about, e.g.
    /// `var/lib/machines/x`.
    pub path: PathBuf,
}

/// every subvolume below the subvolume containing `fd`, direct and nested, parents before their
/// children (sorted by path depth, then path). Needs CAP_SYS_ADMIN (`TREE_SEARCH`).
pub fn child_subvolumes(fd: BorrowedFd<'_>) -> io::Result<Vec<ChildSubvol>> {
    let fd = BtrfsFd::new(fd)?;
    let root = subvol_id_of(fd)?;
    let mut out: Vec<ChildSubvol> = Vec::new();
    let mut queue: Vec<(u64, PathBuf)> = vec![(root, PathBuf::new())];
    while let Some((parent, parent_path)) = queue.pop() {
        for (id, dirid, name) in root_refs(fd, parent)? {
            let dir = ino_path(fd, parent, dirid)?;
            let path = parent_path
                .join(OsStr::from_bytes(&dir))
                .join(OsStr::from_bytes(&name));
            queue.push((id, path.clone()));
            out.push(ChildSubvol { id, path });
        }
    }
    out.sort_by(|a, b| {
        let depth = |p: &Path| p.components().count();
        depth(&a.path)
            .cmp(&depth(&b.path))
            .then_with(|| a.path.cmp(&b.path))
    });
    Ok(out)
}

/// the (child id, directory inode in `parent`, name) of each direct child subvolume of `parent`,
/// from the `ROOT_REF` items (parent, 156, child) of the root tree. These carry the same
/// `btrfs_root_ref` payload as the `ROOT_BACKREF` items (child, 144, parent), but form one
/// contiguous key range.
fn root_refs(fd: BtrfsFd<'_>, parent: u64) -> io::Result<Vec<(u64, u64, Vec<u8>)>> {
    let mut refs = Vec::new();
    let min = Key {
        objectid: parent,
        item_type: abi::ROOT_REF_KEY,
        offset: 0,
    };
    let max = Key {
        offset: u64::MAX,
        ..min
    };
    search::search::<()>(fd, abi::ROOT_TREE_OBJECTID, min, max, |item| {
        if item.key.objectid == parent && item.key.item_type == abi::ROOT_REF_KEY {
            // struct btrfs_root_ref { le64 dirid; le64 sequence; le16 name_len; } then the name.
            let dirid = le_u64(item.data, 0);
            let len = le_u16(item.data, 16).map(usize::from);
            if let (Some(dirid), Some(len)) = (dirid, len) {
                if let Some(name) = item.data.get(18..18 + len) {
                    refs.push((item.key.offset, dirid, name.to_vec()));
                }
            }
        }
        ControlFlow::Continue(())
    })?;
    Ok(refs)
}

/// the path of directory `dirid` inside subvolume `treeid`, relative to its root: empty for the
/// root itself, else with a trailing `/` (`BTRFS_IOC_INO_LOOKUP`, needs CAP_SYS_ADMIN).
fn ino_path(fd: BtrfsFd<'_>, treeid: u64, dirid: u64) -> io::Result<Vec<u8>> {
    if dirid == BTRFS_FIRST_FREE_OBJECTID {
        return Ok(Vec::new());
    }
    let mut args = InoLookupArgs::new(treeid, dirid);
    abi::ino_lookup(fd, &mut args)?;
    Ok(abi::get_name(&args.name).to_vec())
}
