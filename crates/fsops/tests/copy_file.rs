//! copy_file: sparse copy, reflink fallback on ext4, metadata, O_EXCL, cancellation (root tier).

mod common;

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use common::*;
use wharf_fsops::{copy_file, CopyOptions, FsError};

fn entry(s: &Snapshot) -> &EntryMeta {
    &s.entries[Path::new("")]
}

#[test]
fn sparse_copy_with_reflink_fallback_keeps_holes_and_metadata() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("image.raw");
    drop(make_sparse(&src));
    lchown(&src, 4321, 8765);
    set_xattr(&src, "user.origin", b"test");
    set_xattr(&src, "security.capability", &cap_net_raw_ep());
    chmod(&src, 0o6751);
    set_times(&src, (now() + 3600, 1), (1_234_567_890, 999_999_999));
    let before = snapshot(&src);

    let dst = tmp.path().join("clone.raw");
    let calls = AtomicU64::new(0);
    let total = AtomicU64::new(0);
    let progress = |n: u64| {
        calls.fetch_add(1, Ordering::Relaxed);
        total.fetch_add(n, Ordering::Relaxed);
    };
    let opts = CopyOptions {
        progress: Some(&progress),
        ..CopyOptions::default() // reflink: true, falls back on ext4
    };
    let stats = copy_file(&src, &dst, &opts).unwrap();
    assert_eq!(stats.files, 1);
    assert_eq!(stats.bytes, 100 * MIB);
    assert_eq!(stats.reflinked_files, 0);
    assert_eq!(total.load(Ordering::Relaxed), 100 * MIB);
    assert!(calls.load(Ordering::Relaxed) >= 2);

    let after = snapshot(&dst);
    assert_eq!(entry(&before), entry(&after));
    let disk = after.blocks[Path::new("")] * 512;
    assert!(disk <= MIB + 64 * 1024, "copy occupies {disk} bytes");
    assert!(disk < before.blocks[Path::new("")] * 512);
    assert!(same_content(&src, &dst));
}

#[test]
fn dense_and_empty_files() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("dense");
    // Not a multiple of 4 KiB, zero blocks at the start and end.
    let mut data = vec![0u8; 8192];
    data.extend(pattern(3 * 1024 * 1024 + 17, 9));
    data.extend(vec![0u8; 5000]);
    write(&src, &data);
    let dst = tmp.path().join("dense.copy");
    let opts = CopyOptions {
        reflink: false,
        ..CopyOptions::default()
    };
    copy_file(&src, &dst, &opts).unwrap();
    assert_eq!(fs::read(&dst).unwrap(), data);

    let empty = tmp.path().join("empty");
    write(&empty, b"");
    let stats = copy_file(&empty, &tmp.path().join("empty.copy"), &opts).unwrap();
    assert_eq!(stats.bytes, 0);
    assert_eq!(
        fs::metadata(tmp.path().join("empty.copy")).unwrap().len(),
        0
    );
}

#[test]
fn existing_destination_is_refused() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("a");
    let dst = tmp.path().join("b");
    write(&src, b"new");
    write(&dst, b"old");
    let err = copy_file(&src, &dst, &CopyOptions::default()).unwrap_err();
    assert_eq!(err.io_kind(), Some(std::io::ErrorKind::AlreadyExists));
    assert_eq!(fs::read(&dst).unwrap(), b"old");
    // A dangling symlink as destination is not followed either.
    let link = tmp.path().join("link");
    symlink(tmp.path().join("target"), &link).unwrap();
    let err = copy_file(&src, &link, &CopyOptions::default()).unwrap_err();
    assert_eq!(err.io_kind(), Some(std::io::ErrorKind::AlreadyExists));
    assert!(!tmp.path().join("target").exists());
}

#[test]
fn cancelled_copy_removes_partial_destination() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("big");
    write(&src, &pattern(16 * 1024 * 1024, 5));
    let dst = tmp.path().join("big.copy");
    let cancel = AtomicBool::new(false);
    let progress = |_: u64| cancel.store(true, Ordering::Relaxed);
    let opts = CopyOptions {
        reflink: false,
        progress: Some(&progress),
        cancel: Some(&cancel),
    };
    let err = copy_file(&src, &dst, &opts).unwrap_err();
    assert!(matches!(err, FsError::Cancelled));
    assert!(!dst.exists());
}

#[test]
fn source_must_be_a_regular_file() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let err = copy_file(tmp.path(), &tmp.path().join("x"), &CopyOptions::default()).unwrap_err();
    assert_eq!(err.io_kind(), Some(std::io::ErrorKind::InvalidInput));
    assert!(!tmp.path().join("x").exists());
    let md = fs::metadata(tmp.path()).unwrap();
    assert!(md.mode() & 0o040000 != 0);
}
