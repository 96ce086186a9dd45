//! systemd's OS-tree rule: a tarball wrapping the tree in one directory is hoisted.

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;

use wharf_tar::hoist_single_os_dir;

fn write(path: &Path, data: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, data).unwrap();
}

#[test]
fn single_wrapped_tree_is_hoisted_with_its_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let inner = root.join("rootfs");
    write(&inner.join("usr/lib/os-release"), "ID=test\n");
    symlink("../usr/lib/os-release", inner.join("etc-link")).unwrap();
    write(&inner.join("usr/bin/tool"), "#!/bin/sh\n");
    fs::create_dir(inner.join(".hidden")).unwrap();
    fs::set_permissions(&inner, fs::Permissions::from_mode(0o750)).unwrap();
    std::os::unix::fs::chown(&inner, Some(10), Some(20)).unwrap();
    let t = fs::File::open(&inner).unwrap();
    let mtime = std::time::UNIX_EPOCH + std::time::Duration::new(1_000_000_000, 123_456_789);
    t.set_modified(mtime).unwrap();

    assert!(hoist_single_os_dir(root).unwrap());
    assert!(!inner.exists());
    assert_eq!(
        fs::read_to_string(root.join("usr/lib/os-release")).unwrap(),
        "ID=test\n"
    );
    assert!(root.join("usr/bin/tool").is_file());
    assert!(root.join(".hidden").is_dir());
    assert_eq!(
        fs::read_link(root.join("etc-link")).unwrap(),
        Path::new("../usr/lib/os-release")
    );
    let md = fs::metadata(root).unwrap();
    assert_eq!(md.mode() & 0o7777, 0o750);
    assert_eq!((md.uid(), md.gid()), (10, 20));
    assert_eq!((md.mtime(), md.mtime_nsec()), (1_000_000_000, 123_456_789));
    // a second call finds an OS tree and does nothing.
    assert!(!hoist_single_os_dir(root).unwrap());
}

#[test]
fn inner_entry_named_like_the_wrapper() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(&root.join("x/etc/os-release"), "ID=x\n");
    write(&root.join("x/x"), "same name\n");
    assert!(hoist_single_os_dir(root).unwrap());
    assert_eq!(fs::read_to_string(root.join("x")).unwrap(), "same name\n");
    assert!(root.join("etc/os-release").is_file());
    assert_eq!(fs::read_dir(root).unwrap().count(), 2);
}

#[test]
fn os_release_symlinks_resolve_inside_the_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(&root.join("t/usr/lib/os-release"), "ID=t\n");
    fs::create_dir(root.join("t/etc")).unwrap();
    // absolute: resolved against the inner tree, not the host.
    symlink("/usr/lib/os-release", root.join("t/etc/os-release")).unwrap();
    assert!(hoist_single_os_dir(root).unwrap());
    assert!(root.join("etc/os-release").is_symlink());
}

#[test]
fn left_alone() {
    // already an OS tree (even with one extra directory).
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("etc/os-release"), "ID=a\n");
    assert!(!hoist_single_os_dir(tmp.path()).unwrap());

    // two entries.
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("a/etc/os-release"), "ID=a\n");
    write(&tmp.path().join("b"), "");
    assert!(!hoist_single_os_dir(tmp.path()).unwrap());
    assert!(tmp.path().join("a/etc/os-release").exists());

    // one directory without os-release.
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("a/usr/bin/x"), "");
    assert!(!hoist_single_os_dir(tmp.path()).unwrap());

    // one regular file, and an empty root.
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("f"), "");
    assert!(!hoist_single_os_dir(tmp.path()).unwrap());
    let tmp = tempfile::tempdir().unwrap();
    assert!(!hoist_single_os_dir(tmp.path()).unwrap());

    // one symlink to an OS tree elsewhere: never followed.
    let tmp = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    write(&elsewhere.path().join("etc/os-release"), "ID=e\n");
    symlink(elsewhere.path(), tmp.path().join("link")).unwrap();
    assert!(!hoist_single_os_dir(tmp.path()).unwrap());
    assert!(elsewhere.path().join("etc/os-release").exists());

    // one directory whose os-release is a symlink leaving it (to the host's): not an OS tree.
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir_all(tmp.path().join("d/etc")).unwrap();
    symlink(
        "../../../../../../../../../../etc/hostname",
        tmp.path().join("d/etc/os-release"),
    )
    .unwrap();
    assert!(!hoist_single_os_dir(tmp.path()).unwrap());
}
