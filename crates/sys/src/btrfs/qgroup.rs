//! btrfs quota groups: enabling quota, reading usage and limits, setting limits.
//!
//! A qgroup id is `level << 48 | id`; the level-0 qgroup `0/<subvolid>` of each subvolume has the
//! id of the subvolume itself. Usage figures live in the quota tree and are only updated when a
//! transaction commits, so read them after a `syncfs`.

use std::io;
use std::ops::ControlFlow;
use std::os::fd::BorrowedFd;

use super::abi::{self, QgroupAssignArgs, QgroupCreateArgs, QgroupLimit, QgroupLimitArgs};
use super::abi::{QuotaCtlArgs, QUOTA_TREE_OBJECTID};
use super::search::{self, le_u64, Key};
use super::BtrfsFd;

/// the qgroup id `level/id`.
pub const fn qgroupid(level: u16, id: u64) -> u64 {
    ((level as u64) << 48) | (id & ((1 << 48) - 1))
}

/// usage and limits of one qgroup, as of the last transaction commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QgroupInfo {
    /// bytes referenced by the qgroup.
    pub referenced: u64,
    /// bytes referenced only by this qgroup.
    pub exclusive: u64,
    /// limit on `referenced`, if any.
    pub max_referenced: Option<u64>,
    /// limit on `exclusive`, if any.
    pub max_exclusive: Option<u64>,
}

/// the data of the quota tree item (0, `item_type`, `offset`); `Ok(None)` when there is no such
/// item or no quota tree (quota disabled).
fn quota_item(fd: BtrfsFd<'_>, item_type: u32, offset: u64) -> io::Result<Option<Vec<u8>>> {
    let key = Key {
        objectid: 0,
        item_type,
        offset,
    };
    let found = search::search(fd, QUOTA_TREE_OBJECTID, key, key, |item| {
        if item.key == key {
            ControlFlow::Break(item.data.to_vec())
        } else {
            ControlFlow::Continue(())
        }
    });
    match found {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        r => r,
    }
}

/// whether quota (qgroups, full or simple) is enabled on the filesystem of `fd`: the quota tree
/// exists and its status item says "on". Needs CAP_SYS_ADMIN (`TREE_SEARCH`).
pub fn quota_enabled(fd: BorrowedFd<'_>) -> io::Result<bool> {
    let fd = BtrfsFd::new(fd)?;
    let status = quota_item(fd, abi::QGROUP_STATUS_KEY, 0)?;
    // struct btrfs_qgroup_status_item { le64 version; le64 generation; le64 flags; ... }
    Ok(status
        .and_then(|s| le_u64(&s, 16))
        .is_some_and(|flags| flags & abi::QGROUP_STATUS_FLAG_ON != 0))
}

fn quota_ctl(fd: BorrowedFd<'_>, cmd: u64) -> io::Result<()> {
    let fd = BtrfsFd::dir(fd)?;
    let mut args = QuotaCtlArgs { cmd, status: 0 };
    abi::quota_ctl(fd, &mut args)
}

/// enables full qgroup accounting on the filesystem of `fd` (`BTRFS_QUOTA_CTL_ENABLE`); a
/// no-op when already enabled. Starts a rescan (see [`quota_rescan_wait`]). Needs CAP_SYS_ADMIN.
pub fn quota_enable(fd: BorrowedFd<'_>) -> io::Result<()> {
    quota_ctl(fd, abi::QUOTA_CTL_ENABLE)
}

/// enables simple quotas (`BTRFS_QUOTA_CTL_ENABLE_SIMPLE_QUOTA`, kernel 6.7+): cheaper
/// accounting that charges extents to the subvolume that wrote them.
pub fn quota_enable_simple(fd: BorrowedFd<'_>) -> io::Result<()> {
    quota_ctl(fd, abi::QUOTA_CTL_ENABLE_SIMPLE_QUOTA)
}

/// disables quota on the filesystem of `fd` (`BTRFS_QUOTA_CTL_DISABLE`).
pub fn quota_disable(fd: BorrowedFd<'_>) -> io::Result<()> {
    quota_ctl(fd, abi::QUOTA_CTL_DISABLE)
}

/// waits for a running quota rescan to finish (`BTRFS_IOC_QUOTA_RESCAN_WAIT`); returns at once
/// when none is running.
pub fn quota_rescan_wait(fd: BorrowedFd<'_>) -> io::Result<()> {
    abi::quota_rescan_wait(BtrfsFd::dir(fd)?)
}

/// usage and limits of qgroup `qgroupid`, read from the quota tree (`QGROUP_INFO` and
/// `QGROUP_LIMIT` items). `None` when quota is disabled or there is no such qgroup. Needs
/// CAP_SYS_ADMIN.
pub fn qgroup_info(fd: BorrowedFd<'_>, qgroupid: u64) -> io::Result<Option<QgroupInfo>> {
    let fd = BtrfsFd::new(fd)?;
    let Some(info) = quota_item(fd, abi::QGROUP_INFO_KEY, qgroupid)? else {
        return Ok(None);
    };
    // struct btrfs_qgroup_info_item { le64 generation, rfer, rfer_cmpr, excl, excl_cmpr; }
    let (Some(referenced), Some(exclusive)) = (le_u64(&info, 8), le_u64(&info, 24)) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "short btrfs qgroup info item",
        ));
    };
    let mut out = QgroupInfo {
        referenced,
        exclusive,
        max_referenced: None,
        max_exclusive: None,
    };
    // struct btrfs_qgroup_limit_item { le64 flags, max_rfer, max_excl, rsv_rfer, rsv_excl; }
    if let Some(limit) = quota_item(fd, abi::QGROUP_LIMIT_KEY, qgroupid)? {
        let flags = le_u64(&limit, 0).unwrap_or(0);
        if flags & abi::QGROUP_LIMIT_MAX_RFER != 0 {
            out.max_referenced = le_u64(&limit, 8);
        }
        if flags & abi::QGROUP_LIMIT_MAX_EXCL != 0 {
            out.max_exclusive = le_u64(&limit, 16);
        }
    }
    Ok(Some(out))
}

/// sets (or with `None` removes) the limit on the bytes referenced by qgroup `qgroupid`
/// (`BTRFS_IOC_QGROUP_LIMIT` with `BTRFS_QGROUP_LIMIT_MAX_RFER`; "no limit" is `u64::MAX`).
/// `qgroupid` 0 means the qgroup of the subvolume containing `fd`. `ENOTCONN` when quota is
/// disabled. Needs CAP_SYS_ADMIN.
pub fn qgroup_set_limit(
    fd: BorrowedFd<'_>,
    qgroupid: u64,
    max_referenced: Option<u64>,
) -> io::Result<()> {
    let fd = BtrfsFd::new(fd)?;
    let mut args = QgroupLimitArgs {
        qgroupid,
        lim: QgroupLimit {
            flags: abi::QGROUP_LIMIT_MAX_RFER,
            max_rfer: max_referenced.unwrap_or(u64::MAX),
            max_excl: 0,
            rsv_rfer: 0,
            rsv_excl: 0,
        },
    };
    abi::qgroup_limit(fd, &mut args)
}

fn qgroup_create_args(fd: BorrowedFd<'_>, create: bool, qgroupid: u64) -> io::Result<()> {
    let fd = BtrfsFd::dir(fd)?;
    let mut args = QgroupCreateArgs {
        create: u64::from(create),
        qgroupid,
    };
    abi::qgroup_create(fd, &mut args)
}

/// creates qgroup `qgroupid` (`BTRFS_IOC_QGROUP_CREATE`); `EEXIST` when it exists, `ENOTCONN`
/// when quota is disabled. Needs CAP_SYS_ADMIN.
pub fn qgroup_create(fd: BorrowedFd<'_>, qgroupid: u64) -> io::Result<()> {
    qgroup_create_args(fd, true, qgroupid)
}

/// removes qgroup `qgroupid` (`BTRFS_IOC_QGROUP_CREATE` with `create = 0`), e.g. the level-0
/// qgroup of a deleted subvolume. `ENOENT` when it does not exist, `ENOTCONN` when quota is
/// disabled, `EBUSY` while it has members, or (level 0) while its subvolume exists or is not yet
/// fully cleaned after deletion. Kernels 6.8+ remove the level-0 qgroup of a deleted subvolume
/// themselves once the cleaner has dropped it (see `subvol_sync_wait`), so after a
/// `subvol_destroy` both `EBUSY` and `ENOENT` mean "nothing left to do". Needs CAP_SYS_ADMIN.
pub fn qgroup_destroy(fd: BorrowedFd<'_>, qgroupid: u64) -> io::Result<()> {
    qgroup_create_args(fd, false, qgroupid)
}

/// makes qgroup `src` a member of the higher-level qgroup `dst` (`assign`), or removes that
/// relation (`BTRFS_IOC_QGROUP_ASSIGN`). Needs CAP_SYS_ADMIN. The kernel may mark the quota
/// numbers inconsistent afterwards, to be fixed by a rescan.
pub fn qgroup_assign(fd: BorrowedFd<'_>, src: u64, dst: u64, assign: bool) -> io::Result<()> {
    let fd = BtrfsFd::dir(fd)?;
    let mut args = QgroupAssignArgs {
        assign: u64::from(assign),
        src,
        dst,
    };
    abi::qgroup_assign(fd, &mut args)
}
