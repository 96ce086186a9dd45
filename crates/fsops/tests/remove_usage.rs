//! remove_tree (immutable/append-only flags, symlinks, mounts) and tree_usage (root tier).

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use common::*;
use rustix::fs::{ioctl_getflags, ioctl_setflags, IFlags};
use wharf_fsops::{remove_tree, tree_usage};

fn add_flags(path: &Path, add: IFlags) {
    let f = fs::File::open(path).unwrap();
    let flags = ioctl_getflags(&f).unwrap();
    ioctl_setflags(&f, flags | add).unwrap();
}

#[test]
fn remove_tree_clears_immutable_and_append_only() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let top = tmp.path().join("image");
    fs::create_dir_all(top.join("sub/deeper")).unwrap();
    write(&top.join("sub/deeper/file"), b"x");
    write(&top.join("immutable"), b"i");
    write(&top.join("appendonly"), b"a");
    write(&top.join("sub/plain"), b"p");
    symlink("/nonexistent", top.join("sub/link")).unwrap();
    add_flags(&top.join("immutable"), IFlags::IMMUTABLE);
    add_flags(&top.join("appendonly"), IFlags::APPEND);
    add_flags(&top.join("sub/deeper"), IFlags::IMMUTABLE);
    add_flags(&top.join("sub"), IFlags::APPEND);
    add_flags(&top, IFlags::IMMUTABLE);
    assert!(
        fs::remove_file(top.join("immutable")).is_err(),
        "flags are in effect"
    );
    remove_tree(&top).unwrap();
    assert!(!top.exists());
    // Missing path is fine.
    remove_tree(&top).unwrap();
    remove_tree(&tmp.path().join("never/existed")).unwrap();
}

#[test]
fn remove_tree_does_not_follow_symlinks() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    write(&outside.join("keep"), b"keep");
    let top = tmp.path().join("tree");
    fs::create_dir(&top).unwrap();
    symlink(&outside, top.join("to-outside")).unwrap();
    symlink(&outside, tmp.path().join("toplink")).unwrap();
    remove_tree(&top).unwrap();
    assert!(outside.join("keep").exists());
    // A symlink as the path itself is unlinked, its target kept.
    remove_tree(&tmp.path().join("toplink")).unwrap();
    assert!(fs::symlink_metadata(tmp.path().join("toplink")).is_err());
    assert!(outside.join("keep").exists());
    // A single file, immutable.
    let f = tmp.path().join("single");
    write(&f, b"s");
    add_flags(&f, IFlags::IMMUTABLE);
    remove_tree(&f).unwrap();
    assert!(!f.exists());
}

#[test]
fn remove_tree_stops_at_mounts() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let top = tmp.path().join("tree");
    let mnt = top.join("mnt");
    fs::create_dir_all(&mnt).unwrap();
    mount_tmpfs(&mnt);
    write(&mnt.join("on-other-fs"), b"keep");
    let inner = remove_tree(&top);
    let mount_itself = remove_tree(&mnt);
    let survived = mnt.join("on-other-fs").exists();
    umount(&mnt);
    let err = inner.unwrap_err();
    assert_eq!(
        err.raw_os_error(),
        Some(rustix::io::Errno::BUSY.raw_os_error())
    );
    let err = mount_itself.unwrap_err();
    assert_eq!(
        err.raw_os_error(),
        Some(rustix::io::Errno::BUSY.raw_os_error())
    );
    assert!(survived, "files on the other mount were removed");
    remove_tree(&top).unwrap();
    assert!(!top.exists());
}

#[test]
fn tree_usage_counts_hardlinks_once() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let top = tmp.path().join("tree");
    fs::create_dir_all(top.join("a/b")).unwrap();
    write(&top.join("a/big"), &pattern(1 << 20, 1));
    fs::hard_link(top.join("a/big"), top.join("a/b/big2")).unwrap();
    fs::hard_link(top.join("a/big"), top.join("big3")).unwrap();
    write(&top.join("small"), b"12345");
    symlink("a/big", top.join("link")).unwrap();
    drop(make_sparse(&top.join("sparse")));
    let u = tree_usage(&top).unwrap();
    assert_eq!(u.apparent_bytes, (1 << 20) + 5 + 100 * MIB);
    assert_eq!(
        u.entries, 9,
        "root, a, a/b, big, big2, big3, small, link, sparse"
    );
    let big = fs::metadata(top.join("a/big")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert!(u.disk_bytes >= big.blocks() * 512 + 2 * MIB / 2);
    assert!(
        u.disk_bytes < 2 * (big.blocks() * 512) + 2 * MIB,
        "hardlinked data counted more than once: {}",
        u.disk_bytes
    );
    let single = tree_usage(&top.join("small")).unwrap();
    assert_eq!((single.apparent_bytes, single.entries), (5, 1));
    assert!(tree_usage(&tmp.path().join("missing")).is_err());
}
