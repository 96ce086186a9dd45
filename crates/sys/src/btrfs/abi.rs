//! raw btrfs ioctl ABI (`linux/btrfs.h`): argument structs, opcodes, and one safe wrapper per
//! ioctl that only accepts a [`BtrfsFd`].

use std::io;
use std::mem::size_of;

use rustix::ioctl::{opcode, NoArg, Opcode, Updater};

use super::BtrfsFd;

const MAGIC: u8 = 0x94;

/// `BTRFS_PATH_NAME_MAX + 1`: the name buffer of `btrfs_ioctl_vol_args`.
pub(super) const VOL_NAME_LEN: usize = 4088;
/// the name buffer of `btrfs_ioctl_vol_args_v2` (`BTRFS_SUBVOL_NAME_MAX + 1`).
pub(super) const VOL_V2_NAME_LEN: usize = 4040;
/// `BTRFS_INO_LOOKUP_PATH_MAX`.
pub(super) const INO_LOOKUP_PATH_MAX: usize = 4080;
/// the result buffer of `btrfs_ioctl_search_args` (4096 minus the key).
pub(super) const SEARCH_BUF_LEN: usize = 4096 - size_of::<SearchKey>();

/// `BTRFS_SUBVOL_RDONLY`
pub(super) const SUBVOL_RDONLY: u64 = 1 << 1;
/// `BTRFS_SUBVOL_SPEC_BY_ID`
pub(super) const SUBVOL_SPEC_BY_ID: u64 = 1 << 4;

/// `BTRFS_QGROUP_LIMIT_MAX_RFER`
pub(super) const QGROUP_LIMIT_MAX_RFER: u64 = 1 << 0;
/// `BTRFS_QGROUP_LIMIT_MAX_EXCL`
pub(super) const QGROUP_LIMIT_MAX_EXCL: u64 = 1 << 1;

/// `BTRFS_QUOTA_CTL_ENABLE`
pub(super) const QUOTA_CTL_ENABLE: u64 = 1;
/// `BTRFS_QUOTA_CTL_DISABLE`
pub(super) const QUOTA_CTL_DISABLE: u64 = 2;
/// `BTRFS_QUOTA_CTL_ENABLE_SIMPLE_QUOTA`
pub(super) const QUOTA_CTL_ENABLE_SIMPLE_QUOTA: u64 = 4;

/// `BTRFS_ROOT_TREE_OBJECTID`
pub(super) const ROOT_TREE_OBJECTID: u64 = 1;
/// `BTRFS_QUOTA_TREE_OBJECTID`
pub(super) const QUOTA_TREE_OBJECTID: u64 = 8;

/// `BTRFS_ROOT_BACKREF_KEY`: (child id, 144, parent id) in the root tree.
#[allow(dead_code)]
pub(super) const ROOT_BACKREF_KEY: u32 = 144;
/// `BTRFS_ROOT_REF_KEY`: (parent id, 156, child id) in the root tree.
pub(super) const ROOT_REF_KEY: u32 = 156;
/// `BTRFS_QGROUP_STATUS_KEY`
pub(super) const QGROUP_STATUS_KEY: u32 = 240;
/// `BTRFS_QGROUP_INFO_KEY`
pub(super) const QGROUP_INFO_KEY: u32 = 242;
/// `BTRFS_QGROUP_LIMIT_KEY`
pub(super) const QGROUP_LIMIT_KEY: u32 = 244;

/// `BTRFS_QGROUP_STATUS_FLAG_ON`
pub(super) const QGROUP_STATUS_FLAG_ON: u64 = 1 << 0;

/// `struct btrfs_ioctl_vol_args`
#[repr(C)]
pub(super) struct VolArgs {
    pub fd: i64,
    pub name: [u8; VOL_NAME_LEN],
}

/// `struct btrfs_ioctl_vol_args_v2`; the `size`/`qgroup_inherit` union is kept as `unused`, the
/// `name`/`devid`/`subvolid` union as `name`.
#[repr(C)]
pub(super) struct VolArgsV2 {
    pub fd: i64,
    pub transid: u64,
    pub flags: u64,
    pub unused: [u64; 4],
    pub name: [u8; VOL_V2_NAME_LEN],
}

/// `struct btrfs_ioctl_ino_lookup_args`
#[repr(C)]
pub(super) struct InoLookupArgs {
    pub treeid: u64,
    pub objectid: u64,
    pub name: [u8; INO_LOOKUP_PATH_MAX],
}

/// `struct btrfs_ioctl_search_key`
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(super) struct SearchKey {
    pub tree_id: u64,
    pub min_objectid: u64,
    pub max_objectid: u64,
    pub min_offset: u64,
    pub max_offset: u64,
    pub min_transid: u64,
    pub max_transid: u64,
    pub min_type: u32,
    pub max_type: u32,
    pub nr_items: u32,
    pub unused: u32,
    pub unused1: u64,
    pub unused2: u64,
    pub unused3: u64,
    pub unused4: u64,
}

/// `struct btrfs_ioctl_search_args`
#[repr(C)]
pub(super) struct SearchArgs {
    pub key: SearchKey,
    pub buf: [u8; SEARCH_BUF_LEN],
}

/// size of `struct btrfs_ioctl_search_header` (transid, objectid, offset: u64; type, len: u32),
/// which the kernel packs unaligned into [`SearchArgs::buf`].
pub(super) const SEARCH_HEADER_LEN: usize = 32;

/// `struct btrfs_ioctl_quota_ctl_args`
#[repr(C)]
pub(super) struct QuotaCtlArgs {
    pub cmd: u64,
    pub status: u64,
}

/// `struct btrfs_ioctl_subvol_wait`
#[repr(C)]
pub(super) struct SubvolWait {
    pub subvolid: u64,
    pub mode: u32,
    pub count: u32,
}

/// `BTRFS_SUBVOL_SYNC_WAIT_FOR_ONE`
pub(super) const SUBVOL_SYNC_WAIT_FOR_ONE: u32 = 0;

/// `struct btrfs_ioctl_qgroup_assign_args`
#[repr(C)]
pub(super) struct QgroupAssignArgs {
    pub assign: u64,
    pub src: u64,
    pub dst: u64,
}

/// `struct btrfs_ioctl_qgroup_create_args`
#[repr(C)]
pub(super) struct QgroupCreateArgs {
    pub create: u64,
    pub qgroupid: u64,
}

/// `struct btrfs_qgroup_limit`
#[repr(C)]
pub(super) struct QgroupLimit {
    pub flags: u64,
    pub max_rfer: u64,
    pub max_excl: u64,
    pub rsv_rfer: u64,
    pub rsv_excl: u64,
}

/// `struct btrfs_ioctl_qgroup_limit_args`
#[repr(C)]
pub(super) struct QgroupLimitArgs {
    pub qgroupid: u64,
    pub lim: QgroupLimit,
}

const _: () = assert!(size_of::<VolArgs>() == 4096);
const _: () = assert!(size_of::<VolArgsV2>() == 4096);
const _: () = assert!(std::mem::offset_of!(VolArgsV2, name) == 56);
const _: () = assert!(size_of::<InoLookupArgs>() == 4096);
const _: () = assert!(size_of::<SearchKey>() == 104);
const _: () = assert!(size_of::<SearchArgs>() == 4096);
const _: () = assert!(size_of::<QuotaCtlArgs>() == 16);
const _: () = assert!(size_of::<SubvolWait>() == 16);
const _: () = assert!(size_of::<QgroupAssignArgs>() == 24);
const _: () = assert!(size_of::<QgroupCreateArgs>() == 16);
const _: () = assert!(size_of::<QgroupLimitArgs>() == 48);

impl VolArgs {
    pub(super) fn zeroed() -> Self {
        Self {
            fd: 0,
            name: [0; VOL_NAME_LEN],
        }
    }
}

impl VolArgsV2 {
    pub(super) fn zeroed() -> Self {
        Self {
            fd: 0,
            transid: 0,
            flags: 0,
            unused: [0; 4],
            name: [0; VOL_V2_NAME_LEN],
        }
    }
}

impl InoLookupArgs {
    pub(super) fn new(treeid: u64, objectid: u64) -> Self {
        Self {
            treeid,
            objectid,
            name: [0; INO_LOOKUP_PATH_MAX],
        }
    }
}

impl SearchArgs {
    pub(super) fn new(key: SearchKey) -> Self {
        Self {
            key,
            buf: [0; SEARCH_BUF_LEN],
        }
    }
}

pub(super) const IOC_SYNC: Opcode = opcode::none(MAGIC, 8);
pub(super) const IOC_SNAP_DESTROY: Opcode = opcode::write::<VolArgs>(MAGIC, 15);
pub(super) const IOC_TREE_SEARCH: Opcode = opcode::read_write::<SearchArgs>(MAGIC, 17);
pub(super) const IOC_INO_LOOKUP: Opcode = opcode::read_write::<InoLookupArgs>(MAGIC, 18);
pub(super) const IOC_SNAP_CREATE_V2: Opcode = opcode::write::<VolArgsV2>(MAGIC, 23);
pub(super) const IOC_SUBVOL_CREATE_V2: Opcode = opcode::write::<VolArgsV2>(MAGIC, 24);
pub(super) const IOC_SUBVOL_GETFLAGS: Opcode = opcode::read::<u64>(MAGIC, 25);
pub(super) const IOC_SUBVOL_SETFLAGS: Opcode = opcode::write::<u64>(MAGIC, 26);
pub(super) const IOC_QUOTA_CTL: Opcode = opcode::read_write::<QuotaCtlArgs>(MAGIC, 40);
pub(super) const IOC_QGROUP_ASSIGN: Opcode = opcode::write::<QgroupAssignArgs>(MAGIC, 41);
pub(super) const IOC_QGROUP_CREATE: Opcode = opcode::write::<QgroupCreateArgs>(MAGIC, 42);
// the kernel declares QGROUP_LIMIT as _IOR although it only reads the argument.
pub(super) const IOC_QGROUP_LIMIT: Opcode = opcode::read::<QgroupLimitArgs>(MAGIC, 43);
pub(super) const IOC_QUOTA_RESCAN_WAIT: Opcode = opcode::none(MAGIC, 46);
pub(super) const IOC_SNAP_DESTROY_V2: Opcode = opcode::write::<VolArgsV2>(MAGIC, 63);
pub(super) const IOC_SUBVOL_SYNC_WAIT: Opcode = opcode::write::<SubvolWait>(MAGIC, 65);

/// defines a safe wrapper for one ioctl whose argument is a pointer to `$ty`.
macro_rules! btrfs_ioctl {
    ($(#[$doc:meta])* $name:ident, $opcode:expr, $ty:ty) => {
        $(#[$doc])*
        pub(super) fn $name(fd: BtrfsFd<'_>, arg: &mut $ty) -> io::Result<()> {
            // SAFETY: `BtrfsFd` guarantees the fd is a directory or regular file on btrfs, so the
            // request reaches btrfs_ioctl() and no other driver. The opcode is built from the
            // kernel's number and `size_of::<$ty>()`, and `$ty` is a `#[repr(C)]` copy of the
            // kernel struct whose size is asserted at compile time, so the kernel reads and
            // writes only within `*arg`, an exclusive, initialised borrow that outlives the call.
            unsafe { rustix::ioctl::ioctl(fd.fd(), Updater::<{ $opcode }, $ty>::new(arg)) }
                .map_err(io::Error::from)
        }
    };
}

btrfs_ioctl!(
    /// `BTRFS_IOC_SNAP_DESTROY` (v1)
    snap_destroy_v1, IOC_SNAP_DESTROY, VolArgs);
btrfs_ioctl!(
    /// `BTRFS_IOC_TREE_SEARCH`
    tree_search, IOC_TREE_SEARCH, SearchArgs);
btrfs_ioctl!(
    /// `BTRFS_IOC_INO_LOOKUP`
    ino_lookup, IOC_INO_LOOKUP, InoLookupArgs);
btrfs_ioctl!(
    /// `BTRFS_IOC_SNAP_CREATE_V2`
    snap_create_v2, IOC_SNAP_CREATE_V2, VolArgsV2);
btrfs_ioctl!(
    /// `BTRFS_IOC_SUBVOL_CREATE_V2`
    subvol_create_v2, IOC_SUBVOL_CREATE_V2, VolArgsV2);
btrfs_ioctl!(
    /// `BTRFS_IOC_SUBVOL_GETFLAGS`
    subvol_getflags, IOC_SUBVOL_GETFLAGS, u64);
btrfs_ioctl!(
    /// `BTRFS_IOC_SUBVOL_SETFLAGS`
    subvol_setflags, IOC_SUBVOL_SETFLAGS, u64);
btrfs_ioctl!(
    /// `BTRFS_IOC_QUOTA_CTL`
    quota_ctl, IOC_QUOTA_CTL, QuotaCtlArgs);
btrfs_ioctl!(
    /// `BTRFS_IOC_QGROUP_ASSIGN`
    qgroup_assign, IOC_QGROUP_ASSIGN, QgroupAssignArgs);
btrfs_ioctl!(
    /// `BTRFS_IOC_QGROUP_CREATE`
    qgroup_create, IOC_QGROUP_CREATE, QgroupCreateArgs);
btrfs_ioctl!(
    /// `BTRFS_IOC_QGROUP_LIMIT`
    qgroup_limit, IOC_QGROUP_LIMIT, QgroupLimitArgs);
btrfs_ioctl!(
    /// `BTRFS_IOC_SNAP_DESTROY_V2`
    snap_destroy_v2, IOC_SNAP_DESTROY_V2, VolArgsV2);
btrfs_ioctl!(
    /// `BTRFS_IOC_SUBVOL_SYNC_WAIT` (kernel 6.13+)
    subvol_sync_wait, IOC_SUBVOL_SYNC_WAIT, SubvolWait);

/// `BTRFS_IOC_SYNC`
pub(super) fn sync(fd: BtrfsFd<'_>) -> io::Result<()> {
    // SAFETY: `BtrfsFd` guarantees the request reaches btrfs_ioctl(); BTRFS_IOC_SYNC takes no
    // argument and touches no user memory.
    unsafe { rustix::ioctl::ioctl(fd.fd(), NoArg::<IOC_SYNC>::new()) }.map_err(io::Error::from)
}

/// `BTRFS_IOC_QUOTA_RESCAN_WAIT`
pub(super) fn quota_rescan_wait(fd: BtrfsFd<'_>) -> io::Result<()> {
    // SAFETY: `BtrfsFd` guarantees the request reaches btrfs_ioctl(); QUOTA_RESCAN_WAIT takes no
    // argument and touches no user memory.
    unsafe { rustix::ioctl::ioctl(fd.fd(), NoArg::<IOC_QUOTA_RESCAN_WAIT>::new()) }
        .map_err(io::Error::from)
}

/// copies `name` into a NUL-terminated fixed buffer; `EINVAL` for an empty name or one with a
/// NUL or `/`, `ENAMETOOLONG` when it does not fit.
pub(super) fn put_name(buf: &mut [u8], name: &[u8]) -> io::Result<()> {
    if name.is_empty() || name.contains(&0) || name.contains(&b'/') || name == b"." || name == b".."
    {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    if name.len() >= buf.len() {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    buf[..name.len()].copy_from_slice(name);
    buf[name.len()] = 0;
    Ok(())
}

/// the bytes of a NUL-terminated fixed buffer up to the first NUL.
pub(super) fn get_name(buf: &[u8]) -> &[u8] {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    &buf[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// the numbers `linux/btrfs.h` yields on the asm-generic ioctl encoding (x86, arm, riscv …).
    #[test]
    #[cfg(any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "riscv64"
    ))]
    fn opcodes_match_the_kernel_headers() {
        assert_eq!(IOC_SYNC, 0x9408);
        assert_eq!(IOC_SNAP_DESTROY, 0x5000_940f);
        assert_eq!(IOC_TREE_SEARCH, 0xd000_9411);
        assert_eq!(IOC_INO_LOOKUP, 0xd000_9412);
        assert_eq!(IOC_SNAP_CREATE_V2, 0x5000_9417);
        assert_eq!(IOC_SUBVOL_CREATE_V2, 0x5000_9418);
        assert_eq!(IOC_SUBVOL_GETFLAGS, 0x8008_9419);
        assert_eq!(IOC_SUBVOL_SETFLAGS, 0x4008_941a);
        assert_eq!(IOC_QUOTA_CTL, 0xc010_9428);
        assert_eq!(IOC_QGROUP_ASSIGN, 0x4018_9429);
        assert_eq!(IOC_QGROUP_CREATE, 0x4010_942a);
        assert_eq!(IOC_QGROUP_LIMIT, 0x8030_942b);
        assert_eq!(IOC_QUOTA_RESCAN_WAIT, 0x942e);
        assert_eq!(IOC_SNAP_DESTROY_V2, 0x5000_943f);
        assert_eq!(IOC_SUBVOL_SYNC_WAIT, 0x4010_9441);
    }

    #[test]
    fn names_are_validated() {
        let mut buf = [0xffu8; 8];
        put_name(&mut buf, b"abc").unwrap();
        assert_eq!(get_name(&buf), b"abc");
        for bad in [&b""[..], b".", b"..", b"a/b", b"a\0b"] {
            let err = put_name(&mut buf, bad).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{bad:?}");
        }
        let err = put_name(&mut buf, b"12345678").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENAMETOOLONG));
        put_name(&mut buf, b"1234567").unwrap();
    }
}
