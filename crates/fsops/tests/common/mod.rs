//! Helpers shared by the integration tests (root tier: run as root on ext4 temp dirs).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::{CString, OsString};
use std::fs;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use rustix::fs::{
    chownat, lgetxattr, llistxattr, lsetxattr, utimensat, AtFlags, Gid, Timespec, Timestamps, Uid,
    XattrFlags, CWD,
};

pub const MIB: u64 = 1 << 20;

/// The tests need root (chown, mknod, trusted.* xattrs, inode flags, mount): fail loudly.
pub fn require_root() {
    assert!(
        rustix::process::geteuid().is_root(),
        "the wharf-fsops integration tests must run as root"
    );
}

pub fn set_xattr(path: &Path, name: &str, value: &[u8]) {
    lsetxattr(path, name, value, XattrFlags::empty())
        .unwrap_or_else(|e| panic!("setxattr {name} on {}: {e}", path.display()));
}

pub fn xattrs(path: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut list = vec![0u8; 65536];
    let n = llistxattr(path, &mut list[..]).unwrap();
    let mut out = BTreeMap::new();
    for name in list[..n].split(|&b| b == 0).filter(|s| !s.is_empty()) {
        let mut value = vec![0u8; 65536];
        let cname = CString::new(name).unwrap();
        let len = lgetxattr(path, cname.as_c_str(), &mut value[..]).unwrap();
        value.truncate(len);
        out.insert(name.to_vec(), value);
    }
    out
}

pub fn lchown(path: &Path, uid: u32, gid: u32) {
    chownat(
        CWD,
        path,
        Some(Uid::from_raw(uid)),
        Some(Gid::from_raw(gid)),
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap();
}

pub fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// Set atime/mtime (not following symlinks). Tests use atimes later than mtime and ctime
/// (an hour in the future) so that relatime does not update them when the trees are read.
pub fn set_times(path: &Path, atime: (i64, i64), mtime: (i64, i64)) {
    let ts = Timestamps {
        last_access: Timespec {
            tv_sec: atime.0,
            tv_nsec: atime.1,
        },
        last_modification: Timespec {
            tv_sec: mtime.0,
            tv_nsec: mtime.1,
        },
    };
    utimensat(CWD, path, &ts, AtFlags::SYMLINK_NOFOLLOW).unwrap();
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A raw POSIX ACL xattr (version 2): entries of (tag, perm, id).
pub fn acl_blob(entries: &[(u16, u16, u32)]) -> Vec<u8> {
    let mut v = 2u32.to_le_bytes().to_vec();
    for &(tag, perm, id) in entries {
        v.extend_from_slice(&tag.to_le_bytes());
        v.extend_from_slice(&perm.to_le_bytes());
        v.extend_from_slice(&id.to_le_bytes());
    }
    v
}

pub const ACL_USER_OBJ: u16 = 0x01;
pub const ACL_USER: u16 = 0x02;
pub const ACL_GROUP_OBJ: u16 = 0x04;
pub const ACL_MASK: u16 = 0x10;
pub const ACL_OTHER: u16 = 0x20;
pub const ACL_UNDEFINED: u32 = u32::MAX;

/// `user::rw-, user:1000:r--, group::r--, mask::r--, other::---`
pub fn sample_acl() -> Vec<u8> {
    acl_blob(&[
        (ACL_USER_OBJ, 6, ACL_UNDEFINED),
        (ACL_USER, 4, 1000),
        (ACL_GROUP_OBJ, 4, ACL_UNDEFINED),
        (ACL_MASK, 4, ACL_UNDEFINED),
        (ACL_OTHER, 0, ACL_UNDEFINED),
    ])
}

/// `security.capability` v2 blob for `cap_net_raw+ep`.
pub fn cap_net_raw_ep() -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&(0x0200_0000u32 | 1).to_le_bytes()); // VFS_CAP_REVISION_2 | EFFECTIVE
    v.extend_from_slice(&(1u32 << 13).to_le_bytes()); // permitted[0]: CAP_NET_RAW
    v.extend_from_slice(&0u32.to_le_bytes()); // inheritable[0]
    v.extend_from_slice(&0u32.to_le_bytes()); // permitted[1]
    v.extend_from_slice(&0u32.to_le_bytes()); // inheritable[1]
    v
}

/// Deterministic non-zero bytes.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i as u32).wrapping_mul(2_654_435_761) >> 13) as u8 | 1)
        .map(|b| b.wrapping_add(seed) | 1)
        .collect()
}

/// A 100 MiB sparse file: 4 KiB of data at 0, 1 MiB at 50 MiB (with an explicitly written
/// all-zero 16 KiB run in its middle, which a copy must turn into a hole), 100 MiB apparent.
pub fn make_sparse(path: &Path) -> fs::File {
    let f = fs::File::create(path).unwrap();
    f.write_all_at(&pattern(4096, 1), 0).unwrap();
    let mut data = pattern(MIB as usize, 7);
    data[256 * 1024..272 * 1024].fill(0);
    f.write_all_at(&data, 50 * MIB).unwrap();
    f.set_len(100 * MIB).unwrap();
    f.sync_all().unwrap();
    f
}

/// Byte-for-byte comparison of two files, chunked.
pub fn same_content(a: &Path, b: &Path) -> bool {
    let mut fa = fs::File::open(a).unwrap();
    let mut fb = fs::File::open(b).unwrap();
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let na = read_full(&mut fa, &mut ba);
        let nb = read_full(&mut fb, &mut bb);
        if na != nb || ba[..na] != bb[..nb] {
            return false;
        }
        if na == 0 {
            return true;
        }
    }
}

fn read_full(f: &mut fs::File, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]).unwrap() {
            0 => break,
            k => n += k,
        }
    }
    n
}

/// Everything a faithful copy must preserve about one entry (except content and inode number).
#[derive(Debug, Clone, PartialEq)]
pub struct EntryMeta {
    pub kind: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: u64,
    pub nlink: u64,
    pub mtime: (i64, i64),
    pub atime: (i64, i64),
    pub xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
    pub link_target: Option<OsString>,
}

pub struct Snapshot {
    pub entries: BTreeMap<PathBuf, EntryMeta>,
    pub inos: BTreeMap<PathBuf, u64>,
    pub blocks: BTreeMap<PathBuf, u64>,
}

/// Metadata of every entry below `root` (the root itself under the empty path). Reads
/// metadata before listing a directory. Iterative, for deep trees.
pub fn snapshot(root: &Path) -> Snapshot {
    let mut s = Snapshot {
        entries: BTreeMap::new(),
        inos: BTreeMap::new(),
        blocks: BTreeMap::new(),
    };
    let mut todo = vec![PathBuf::new()];
    while let Some(rel) = todo.pop() {
        let path = if rel.as_os_str().is_empty() {
            root.to_owned() // join("") would add a trailing slash
        } else {
            root.join(&rel)
        };
        let md = fs::symlink_metadata(&path).unwrap();
        let ft = md.file_type();
        let link_target = ft
            .is_symlink()
            .then(|| fs::read_link(&path).unwrap().into_os_string());
        s.entries.insert(
            rel.clone(),
            EntryMeta {
                kind: md.mode() & 0o170000,
                mode: md.mode(),
                uid: md.uid(),
                gid: md.gid(),
                rdev: md.rdev(),
                size: if ft.is_dir() { 0 } else { md.size() },
                nlink: if ft.is_dir() { 0 } else { md.nlink() },
                mtime: (md.mtime(), md.mtime_nsec()),
                atime: (md.atime(), md.atime_nsec()),
                xattrs: xattrs(&path),
                link_target,
            },
        );
        s.inos.insert(rel.clone(), md.ino());
        s.blocks.insert(rel.clone(), md.blocks());
        if ft.is_dir() {
            for e in fs::read_dir(&path).unwrap() {
                todo.push(rel.join(e.unwrap().file_name()));
            }
        }
    }
    s
}

/// Assert that two snapshots agree on every entry, field by field (clear failure messages).
pub fn assert_same_meta(src: &Snapshot, dst: &Snapshot) {
    let src_names: Vec<_> = src.entries.keys().collect();
    let dst_names: Vec<_> = dst.entries.keys().collect();
    assert_eq!(src_names, dst_names, "entry names differ");
    for (rel, a) in &src.entries {
        let b = &dst.entries[rel];
        let p = rel.display();
        assert_eq!(a.kind, b.kind, "{p}: file type");
        assert_eq!(a.mode, b.mode, "{p}: mode {:o} vs {:o}", a.mode, b.mode);
        assert_eq!((a.uid, a.gid), (b.uid, b.gid), "{p}: owner");
        assert_eq!(a.rdev, b.rdev, "{p}: rdev");
        assert_eq!(a.size, b.size, "{p}: size");
        assert_eq!(a.nlink, b.nlink, "{p}: nlink");
        assert_eq!(a.mtime, b.mtime, "{p}: mtime");
        assert_eq!(a.atime, b.atime, "{p}: atime");
        assert_eq!(a.xattrs, b.xattrs, "{p}: xattrs");
        assert_eq!(a.link_target, b.link_target, "{p}: symlink target");
    }
}

/// Write a small file.
pub fn write(path: &Path, data: &[u8]) {
    let mut f = fs::File::create(path).unwrap();
    f.write_all(data).unwrap();
}

/// A path from raw bytes (for non-UTF-8 names).
pub fn os(bytes: &[u8]) -> &std::ffi::OsStr {
    std::ffi::OsStr::from_bytes(bytes)
}

/// Number of open fds of this process.
pub fn open_fds() -> usize {
    fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Mount a small tmpfs (root tier: fails loudly if mounting is impossible).
pub fn mount_tmpfs(at: &Path) {
    let st = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "wharf-test"])
        .arg(at)
        .status()
        .expect("run mount");
    assert!(st.success(), "mount tmpfs at {}", at.display());
}

pub fn umount(at: &Path) {
    let st = std::process::Command::new("umount")
        .arg(at)
        .status()
        .expect("run umount");
    assert!(st.success(), "umount {}", at.display());
}
