//! copy_tree fidelity (root tier: needs root for chown, mknod, trusted.*/security.* xattrs,
//! and mount).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use common::*;
use rustix::fs::{linkat, makedev, mknodat, AtFlags, FileType, Mode, CWD};
use wharf_fsops::{copy_tree, tree_usage, CopyOptions, CopyStats, FsError};

fn mknod(path: &Path, ft: FileType, mode: u32, dev: u64) {
    mknodat(CWD, path, ft, Mode::from_raw_mode(mode), dev).unwrap();
}

fn hardlink(from: &Path, to: &Path) {
    // linkat without AT_SYMLINK_FOLLOW links a symlink itself.
    linkat(CWD, from, CWD, to, AtFlags::empty()).unwrap();
}

/// Build a tree with every kind of entry and metadata a clone must keep.
fn build_source(src: &Path) {
    for d in ["etc/shared", "bin", "tmp", "dev", "links", "sym", "ro"] {
        fs::create_dir_all(src.join(d)).unwrap();
    }
    // Regular files: owners, ACL, user./trusted. xattrs, no permissions at all, empty.
    let passwd = src.join("etc/passwd");
    write(&passwd, b"root:x:0:0::/root:/bin/sh\n");
    lchown(&passwd, 1000, 1001);
    set_xattr(&passwd, "user.foo", b"bar");
    set_xattr(&passwd, "trusted.t", b"\x00\x01binary\xff");
    set_xattr(&passwd, "system.posix_acl_access", &sample_acl());
    let shadow = src.join("etc/shadow");
    write(&shadow, b"secret\n");
    chmod(&shadow, 0o000);
    write(&src.join("etc/empty"), b"");
    let shared = src.join("etc/shared");
    lchown(&shared, 0, 1001);
    chmod(&shared, 0o2775);
    write(&shared.join("inner"), b"inner\n");
    // setuid root + file capability (chown would drop both: order of operations matters).
    let ping = src.join("bin/ping");
    write(&ping, &pattern(10_000, 3));
    lchown(&ping, 0, 0);
    set_xattr(&ping, "security.capability", &cap_net_raw_ep());
    chmod(&ping, 0o4755);
    let sgid = src.join("bin/sgid");
    write(&sgid, b"#!/bin/sh\n");
    lchown(&sgid, 1234, 5678);
    chmod(&sgid, 0o2711);
    chmod(&src.join("tmp"), 0o1777);
    // Specials.
    mknod(
        &src.join("dev/null"),
        FileType::CharacterDevice,
        0o666,
        makedev(1, 3),
    );
    mknod(
        &src.join("dev/loop0"),
        FileType::BlockDevice,
        0o660,
        makedev(7, 0),
    );
    lchown(&src.join("dev/loop0"), 0, 6);
    mknod(&src.join("dev/fifo"), FileType::Fifo, 0o620, 0);
    lchown(&src.join("dev/fifo"), 7, 0);
    drop(UnixListener::bind(src.join("dev/sock")).unwrap());
    chmod(&src.join("dev/sock"), 0o755);
    // Hardlink groups across directories, including a symlink and a fifo group.
    write(&src.join("links/a1"), b"group A");
    lchown(&src.join("links/a1"), 1, 1);
    hardlink(&src.join("links/a1"), &src.join("etc/a2"));
    hardlink(&src.join("links/a1"), &src.join("links/a3"));
    write(&src.join("links/b1"), b"group B");
    hardlink(&src.join("links/b1"), &src.join("links/b2"));
    symlink("dangling-target", src.join("links/sl1")).unwrap();
    hardlink(&src.join("links/sl1"), &src.join("links/sl2"));
    hardlink(&src.join("dev/fifo"), &src.join("links/fifo2"));
    // Symlinks: relative, absolute, dangling, to a directory, non-UTF-8 target.
    symlink("../etc/passwd", src.join("sym/rel")).unwrap();
    lchown(&src.join("sym/rel"), 1000, 1000);
    symlink("/etc/shadow", src.join("sym/abs")).unwrap();
    set_xattr(&src.join("sym/abs"), "trusted.sym", b"on a symlink");
    symlink("no/such/target", src.join("sym/dangling")).unwrap();
    symlink("../etc", src.join("sym/dir")).unwrap();
    symlink(os(b"t\xff\xfe\n"), src.join("sym/weird")).unwrap();
    // Sparse file, read-only directory, odd name, directory ACLs.
    drop(make_sparse(&src.join("sparse")));
    write(&src.join("ro/file"), b"read only");
    chmod(&src.join("ro/file"), 0o444);
    chmod(&src.join("ro"), 0o500);
    write(&src.join(os(b"name \xff\xfe\nwith newline")), b"odd");
    set_xattr(&shared, "system.posix_acl_access", &sample_acl());
    set_xattr(&shared, "system.posix_acl_default", &sample_acl());
    set_xattr(&shared, "user.dir", b"dir xattr");
    // The root: owner, mode, xattrs, default ACL (set last: not inherited by the entries).
    lchown(src, 100, 200);
    chmod(src, 0o750);
    set_xattr(src, "user.root", b"1");
    set_xattr(src, "system.posix_acl_default", &sample_acl());
    set_all_times(src);
}

/// Distinct nanosecond times on every entry, directories after their contents.
fn set_all_times(root: &Path) {
    let mut i = 0i64;
    set_times_rec(root, &mut i);
}

fn set_times_rec(path: &Path, i: &mut i64) {
    let md = fs::symlink_metadata(path).unwrap();
    if md.is_dir() {
        let mut names: Vec<_> = fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        for p in names {
            set_times_rec(&p, i);
        }
    }
    *i += 1;
    let base = now() + 3600;
    set_times(
        path,
        (base + *i, (*i * 7_777_777 + 1) % 1_000_000_000),
        (
            1_500_000_000 + *i * 1000,
            (*i * 123_456_789 + 3) % 1_000_000_000,
        ),
    );
}

/// Stats a copy of `snap`'s tree must report.
fn expected_stats(snap: &Snapshot) -> CopyStats {
    let mut st = CopyStats::default();
    let mut seen = BTreeSet::new();
    for (rel, e) in &snap.entries {
        if rel.as_os_str().is_empty() {
            continue;
        }
        if e.kind == 0o040000 {
            st.dirs += 1;
            continue;
        }
        if !seen.insert(snap.inos[rel]) {
            st.hardlinks += 1;
            continue;
        }
        match e.kind {
            0o100000 => {
                st.files += 1;
                st.bytes += e.size;
            }
            0o120000 => st.symlinks += 1,
            _ => st.specials += 1,
        }
    }
    st
}

/// Hardlink structure: source inode ↔ destination inode must be a bijection.
fn assert_same_link_groups(src: &Snapshot, dst: &Snapshot) {
    let mut map: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    for (rel, e) in &src.entries {
        if e.kind != 0o040000 {
            map.entry(src.inos[rel]).or_default().insert(dst.inos[rel]);
        }
    }
    let mut targets = BTreeSet::new();
    for (src_ino, dst_inos) in &map {
        assert_eq!(
            dst_inos.len(),
            1,
            "source inode {src_ino} split into {dst_inos:?}"
        );
        let d = *dst_inos.iter().next().unwrap();
        assert!(targets.insert(d), "two source inodes merged into {d}");
    }
}

fn tree_pair() -> (tempfile::TempDir, PathBuf, PathBuf) {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let dst = tmp.path().join("dst");
    fs::create_dir(&src).unwrap();
    fs::create_dir(&dst).unwrap();
    (tmp, src, dst)
}

#[test]
fn copy_tree_preserves_everything() {
    let (_tmp, src, dst) = tree_pair();
    build_source(&src);
    let before = snapshot(&src);
    let progressed = AtomicU64::new(0);
    let progress = |n: u64| {
        progressed.fetch_add(n, Ordering::Relaxed);
    };
    let opts = CopyOptions {
        progress: Some(&progress),
        ..CopyOptions::default()
    };
    let stats = copy_tree(&src, &dst, &opts).unwrap();
    let after = snapshot(&dst);
    assert_same_meta(&before, &after);
    assert_same_link_groups(&before, &after);
    assert_eq!(stats, expected_stats(&before));
    assert_eq!(stats.reflinked_files, 0, "ext4 has no reflinks");
    assert_eq!(progressed.load(Ordering::Relaxed), stats.bytes);
    assert_eq!(tree_usage(&src).unwrap().apparent_bytes, stats.bytes);
    // The source was not modified by the copy (atimes included).
    assert_same_meta(&before, &snapshot(&src));

    // Spot checks on the interesting entries.
    let ping = xattrs(&dst.join("bin/ping"));
    assert_eq!(ping[&b"security.capability"[..]], cap_net_raw_ep());
    assert_eq!(
        fs::symlink_metadata(dst.join("bin/ping")).unwrap().mode(),
        0o104755
    );
    assert_eq!(
        xattrs(&dst.join("etc/passwd"))[&b"system.posix_acl_access"[..]],
        sample_acl()
    );
    assert_eq!(xattrs(&dst)[&b"system.posix_acl_default"[..]], sample_acl());
    let sock = fs::symlink_metadata(dst.join("dev/sock")).unwrap();
    assert_eq!(sock.mode() & 0o170000, 0o140000, "socket kept");
    assert_eq!(
        fs::symlink_metadata(dst.join("dev/null")).unwrap().rdev(),
        makedev(1, 3)
    );
    assert_eq!(
        fs::read_link(dst.join("sym/abs")).unwrap(),
        Path::new("/etc/shadow")
    );
    let ino = |p: &str| fs::symlink_metadata(dst.join(p)).unwrap().ino();
    assert_eq!(ino("links/a1"), ino("etc/a2"));
    assert_eq!(ino("links/a1"), ino("links/a3"));
    assert_eq!(ino("links/b1"), ino("links/b2"));
    assert_ne!(ino("links/a1"), ino("links/b1"));
    assert_eq!(ino("links/sl1"), ino("links/sl2"));
    assert_eq!(ino("dev/fifo"), ino("links/fifo2"));

    // Holes: the 100 MiB file with ~1 MiB of data stays ~1 MiB, the written zero run became
    // a hole, and the bytes are identical.
    let src_blocks = before.blocks[Path::new("sparse")] * 512;
    let dst_blocks = after.blocks[Path::new("sparse")] * 512;
    assert!(
        dst_blocks <= MIB + 64 * 1024,
        "sparse copy uses {dst_blocks} bytes"
    );
    assert!(
        dst_blocks < src_blocks,
        "zero run not punched: {dst_blocks} vs {src_blocks}"
    );

    // Contents last (reading changes nothing we compared, but keep it after the metadata).
    for (rel, e) in &before.entries {
        if e.kind == 0o100000 {
            assert!(
                same_content(&src.join(rel), &dst.join(rel)),
                "{}: content",
                rel.display()
            );
        }
    }
}

#[test]
fn mount_points_become_empty_directories() {
    let (_tmp, src, dst) = tree_pair();
    let mnt = src.join("mnt");
    fs::create_dir(&mnt).unwrap();
    write(&src.join("before"), b"x");
    mount_tmpfs(&mnt);
    write(&mnt.join("inside"), b"must not be copied");
    chmod(&mnt, 0o711);
    lchown(&mnt, 5, 6);
    let stats = copy_tree(&src, &dst, &CopyOptions::default());
    let mnt_md = fs::symlink_metadata(&mnt).unwrap();
    umount(&mnt);
    let stats = stats.unwrap();
    assert_eq!(stats.files, 1);
    assert_eq!(stats.dirs, 1);
    let copy = fs::symlink_metadata(dst.join("mnt")).unwrap();
    assert!(copy.is_dir());
    assert_eq!(copy.mode(), mnt_md.mode());
    assert_eq!((copy.uid(), copy.gid()), (5, 6));
    assert_eq!(fs::read_dir(dst.join("mnt")).unwrap().count(), 0);
    assert!(dst.join("before").exists());
}

#[test]
fn destination_inside_source_is_not_copied_into_itself() {
    let (_tmp, src, _) = tree_pair();
    write(&src.join("f"), b"data");
    let dst = src.join("clone");
    fs::create_dir(&dst).unwrap();
    let stats = copy_tree(&src, &dst, &CopyOptions::default()).unwrap();
    assert_eq!(stats.files, 1);
    assert_eq!(stats.dirs, 0);
    assert!(!dst.join("clone").exists());
}

#[test]
fn default_acl_of_destination_root_is_not_inherited() {
    let (_tmp, src, dst) = tree_pair();
    write(&src.join("f"), b"data");
    fs::create_dir(src.join("d")).unwrap();
    set_xattr(&dst, "system.posix_acl_default", &sample_acl());
    set_xattr(&dst, "user.stale", b"x");
    copy_tree(&src, &dst, &CopyOptions::default()).unwrap();
    assert!(xattrs(&dst.join("f")).is_empty());
    assert!(xattrs(&dst.join("d")).is_empty());
    assert_eq!(xattrs(&dst), xattrs(&src));
}

fn small_tree(src: &Path, files: usize) {
    for i in 0..files {
        write(&src.join(format!("f{i}")), &pattern(100_000, i as u8));
    }
}

#[test]
fn cancel_before_start() {
    let (_tmp, src, dst) = tree_pair();
    small_tree(&src, 3);
    let cancel = AtomicBool::new(true);
    let opts = CopyOptions {
        cancel: Some(&cancel),
        ..CopyOptions::default()
    };
    let err = copy_tree(&src, &dst, &opts).unwrap_err();
    assert!(matches!(err, FsError::Cancelled), "{err}");
    assert_eq!(err.io_kind(), None);
    assert_eq!(fs::read_dir(&dst).unwrap().count(), 0);
}

#[test]
fn cancel_during_copy() {
    let (_tmp, src, dst) = tree_pair();
    small_tree(&src, 20);
    let cancel = AtomicBool::new(false);
    let calls = Mutex::new(0u32);
    let progress = |_: u64| {
        *calls.lock().unwrap() += 1;
        cancel.store(true, Ordering::Relaxed);
    };
    let opts = CopyOptions {
        progress: Some(&progress),
        cancel: Some(&cancel),
        reflink: false,
    };
    let err = copy_tree(&src, &dst, &opts).unwrap_err();
    assert!(matches!(err, FsError::Cancelled), "{err}");
    assert!(fs::read_dir(&dst).unwrap().count() < 20);
}

#[test]
fn errors_name_path_and_operation() {
    let (_tmp, src, dst) = tree_pair();
    write(&src.join("f"), b"data");
    write(&dst.join("f"), b"already there");
    let err = copy_tree(&src, &dst, &CopyOptions::default()).unwrap_err();
    assert_eq!(err.io_kind(), Some(std::io::ErrorKind::AlreadyExists));
    assert_eq!(err.raw_os_error(), Some(libc_eexist()));
    let msg = err.to_string();
    assert!(msg.starts_with("create "), "{msg}");
    assert!(msg.contains(&*dst.join("f").to_string_lossy()), "{msg}");

    let missing = copy_tree(&src.join("nope"), &dst, &CopyOptions::default()).unwrap_err();
    assert_eq!(missing.io_kind(), Some(std::io::ErrorKind::NotFound));
}

fn libc_eexist() -> i32 {
    rustix::io::Errno::EXIST.raw_os_error()
}
