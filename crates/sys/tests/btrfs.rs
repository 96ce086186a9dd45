//! privileged tests: btrfs subvolumes, snapshots, qgroups and block device ioctls on a scratch
//! btrfs on a loop device (root, btrfs-progs and util-linux required; they fail, not skip,
//! without them).

mod loopfs;

use std::ffi::OsStr;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use loopfs::LoopBtrfs;
use wharf_sys::btrfs::{self, ChildSubvol};
use wharf_sys::{blkdev, fs as sysfs};

const MIB: u64 = 1024 * 1024;

fn open(p: &Path) -> File {
    File::open(p).unwrap_or_else(|e| panic!("open {}: {e}", p.display()))
}

fn errno(r: std::io::Result<impl std::fmt::Debug>) -> i32 {
    r.expect_err("expected an error").raw_os_error().unwrap()
}

fn write_file(p: &Path, len: u64) -> std::io::Result<()> {
    let mut f = File::create(p)?;
    let chunk = vec![0xa5u8; MIB as usize];
    let mut left = len;
    while left > 0 {
        let n = left.min(MIB);
        f.write_all(&chunk[..n as usize])?;
        left -= n;
    }
    f.sync_all()
}

#[test]
fn subvolumes_snapshots_and_read_only() {
    let fs = LoopBtrfs::new();
    let root = fs.root();
    assert!(btrfs::is_btrfs(root).unwrap());
    assert_eq!(sysfs::fs_magic(root).unwrap(), 0x9123_683E);
    assert!(btrfs::is_subvolume(root).unwrap());
    assert_eq!(btrfs::subvol_id(root).unwrap(), 5);

    btrfs::subvol_create(root, OsStr::new("base")).unwrap();
    assert_eq!(
        errno(btrfs::subvol_create(root, OsStr::new("base"))),
        libc::EEXIST
    );
    let base_path = fs.mnt.join("base");
    let base = open(&base_path);
    assert!(btrfs::is_subvolume(base.as_fd()).unwrap());
    let base_id = btrfs::subvol_id(base.as_fd()).unwrap();
    assert!(base_id >= 256, "{base_id}");
    assert!(!btrfs::subvol_read_only(base.as_fd()).unwrap());
    std::fs::write(base_path.join("hello"), b"world").unwrap();
    std::fs::create_dir(base_path.join("plain")).unwrap();
    assert!(!btrfs::is_subvolume(open(&base_path.join("plain")).as_fd()).unwrap());
    // any fd inside a subvolume reports that subvolume's id and flags.
    let hello = open(&base_path.join("hello"));
    assert_eq!(btrfs::subvol_id(hello.as_fd()).unwrap(), base_id);
    assert!(!btrfs::is_subvolume(hello.as_fd()).unwrap());

    btrfs::snapshot(base.as_fd(), root, OsStr::new("snap-rw"), false).unwrap();
    btrfs::snapshot(base.as_fd(), root, OsStr::new("snap-ro"), true).unwrap();
    let rw = open(&fs.mnt.join("snap-rw"));
    let ro = open(&fs.mnt.join("snap-ro"));
    assert!(btrfs::is_subvolume(rw.as_fd()).unwrap());
    assert!(btrfs::is_subvolume(ro.as_fd()).unwrap());
    assert_ne!(btrfs::subvol_id(rw.as_fd()).unwrap(), base_id);
    assert!(!btrfs::subvol_read_only(rw.as_fd()).unwrap());
    assert!(btrfs::subvol_read_only(ro.as_fd()).unwrap());
    assert_eq!(
        std::fs::read(fs.mnt.join("snap-ro/hello")).unwrap(),
        b"world"
    );
    std::fs::write(fs.mnt.join("snap-rw/new"), b"x").unwrap();
    let e = File::create(fs.mnt.join("snap-ro/new")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EROFS));

    // clear and set the flag again.
    btrfs::set_subvol_read_only(ro.as_fd(), false).unwrap();
    assert!(!btrfs::subvol_read_only(ro.as_fd()).unwrap());
    std::fs::write(fs.mnt.join("snap-ro/new"), b"x").unwrap();
    btrfs::set_subvol_read_only(ro.as_fd(), true).unwrap();
    btrfs::set_subvol_read_only(ro.as_fd(), true).unwrap(); // no-op
    assert!(btrfs::subvol_read_only(ro.as_fd()).unwrap());
    let e = std::fs::remove_file(fs.mnt.join("snap-ro/new")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EROFS));
    // a snapshot of a read-only subvolume is writable unless asked otherwise.
    btrfs::snapshot(ro.as_fd(), root, OsStr::new("snap-of-ro"), false).unwrap();
    std::fs::write(fs.mnt.join("snap-of-ro/more"), b"y").unwrap();
    // the flag can only be read and set on a subvolume root, and only subvolumes snapshotted.
    let plain = open(&base_path.join("plain"));
    assert_eq!(
        errno(btrfs::set_subvol_read_only(plain.as_fd(), true)),
        libc::EINVAL
    );
    assert_eq!(errno(btrfs::subvol_read_only(plain.as_fd())), libc::EINVAL);
    assert_eq!(
        errno(btrfs::snapshot(plain.as_fd(), root, OsStr::new("s"), false)),
        libc::EINVAL
    );
    // names are checked before any ioctl.
    let long = "x".repeat(5000);
    assert_eq!(
        errno(btrfs::subvol_create(root, OsStr::new(&long))),
        libc::ENAMETOOLONG
    );
    assert_eq!(
        errno(btrfs::subvol_create(root, OsStr::new(".."))),
        libc::EINVAL
    );

    // destroy: read-only subvolumes too; not a plain directory.
    drop((ro, rw));
    btrfs::subvol_destroy(root, OsStr::new("snap-ro")).unwrap();
    btrfs::subvol_destroy(root, OsStr::new("snap-rw")).unwrap();
    assert!(!fs.mnt.join("snap-ro").exists());
    assert_eq!(
        errno(btrfs::subvol_destroy(base.as_fd(), OsStr::new("plain"))),
        libc::EINVAL
    );
    assert_eq!(
        errno(btrfs::subvol_destroy(root, OsStr::new("missing"))),
        libc::ENOENT
    );
    assert_eq!(
        errno(btrfs::subvol_destroy(root, OsStr::new("a/b"))),
        libc::EINVAL
    );
    let id = btrfs::subvol_id(open(&fs.mnt.join("snap-of-ro")).as_fd()).unwrap();
    btrfs::subvol_destroy_by_id(root, id).unwrap();
    assert!(!fs.mnt.join("snap-of-ro").exists());
    let left: Vec<PathBuf> = btrfs::child_subvolumes(root)
        .unwrap()
        .into_iter()
        .map(|c| c.path)
        .collect();
    assert_eq!(left, [PathBuf::from("base")]);
}

#[test]
fn nested_child_subvolumes() {
    let fs = LoopBtrfs::new();
    let root = fs.root();
    let m = |p: &str| fs.mnt.join(p);
    assert_eq!(btrfs::child_subvolumes(root).unwrap(), []);

    btrfs::subvol_create(root, OsStr::new("a")).unwrap();
    btrfs::subvol_create(open(&m("a")).as_fd(), OsStr::new("b")).unwrap();
    btrfs::subvol_create(open(&m("a/b")).as_fd(), OsStr::new("c")).unwrap();
    std::fs::create_dir_all(m("a/var/lib/machines")).unwrap();
    btrfs::subvol_create(open(&m("a/var/lib/machines")).as_fd(), OsStr::new("x")).unwrap();
    std::fs::create_dir(m("top")).unwrap();
    btrfs::subvol_create(open(&m("top")).as_fd(), OsStr::new("z")).unwrap();

    let id = |p: &str| btrfs::subvol_id(open(&m(p)).as_fd()).unwrap();
    let child = |p: &str, rel: &str| ChildSubvol {
        id: id(p),
        path: PathBuf::from(rel),
    };
    assert_eq!(
        btrfs::child_subvolumes(root).unwrap(),
        [
            child("a", "a"),
            child("a/b", "a/b"),
            child("top/z", "top/z"),
            child("a/b/c", "a/b/c"),
            child("a/var/lib/machines/x", "a/var/lib/machines/x"),
        ]
    );
    let a = open(&m("a"));
    assert_eq!(
        btrfs::child_subvolumes(a.as_fd()).unwrap(),
        [
            child("a/b", "b"),
            child("a/b/c", "b/c"),
            child("a/var/lib/machines/x", "var/lib/machines/x"),
        ]
    );
    // any fd inside `a` (here a plain directory) lists the children of `a`.
    let var = open(&m("a/var"));
    assert_eq!(btrfs::child_subvolumes(var.as_fd()).unwrap().len(), 3);
    assert_eq!(
        btrfs::child_subvolumes(open(&m("a/b/c")).as_fd()).unwrap(),
        []
    );

    // a snapshot leaves an empty placeholder directory (inode 2) where `b` was.
    btrfs::snapshot(a.as_fd(), root, OsStr::new("a-snap"), true).unwrap();
    let placeholder = open(&m("a-snap/b"));
    assert!(!btrfs::is_subvolume(placeholder.as_fd()).unwrap());
    assert_eq!(placeholder.metadata().unwrap().ino(), 2);
    assert_eq!(std::fs::read_dir(m("a-snap/b")).unwrap().count(), 0);
    assert_eq!(
        btrfs::child_subvolumes(open(&m("a-snap")).as_fd()).unwrap(),
        []
    );

    // a subvolume with children cannot be destroyed; children first works.
    assert_eq!(
        errno(btrfs::subvol_destroy(root, OsStr::new("a"))),
        libc::ENOTEMPTY
    );
    let mut children = btrfs::child_subvolumes(a.as_fd()).unwrap();
    children.reverse();
    for c in children {
        let parent = open(&m("a").join(c.path.parent().unwrap()));
        btrfs::subvol_destroy(parent.as_fd(), c.path.file_name().unwrap()).unwrap();
    }
    drop((a, var));
    btrfs::subvol_destroy(root, OsStr::new("a")).unwrap();
    btrfs::subvol_destroy(root, OsStr::new("a-snap")).unwrap();
    let left: Vec<PathBuf> = btrfs::child_subvolumes(root)
        .unwrap()
        .into_iter()
        .map(|c| c.path)
        .collect();
    assert_eq!(left, [PathBuf::from("top/z")]);
}

#[test]
fn quota_and_qgroups() {
    let fs = LoopBtrfs::new();
    let root = fs.root();
    assert!(!btrfs::quota_enabled(root).unwrap());
    assert_eq!(btrfs::qgroup_info(root, 5).unwrap(), None);
    assert_eq!(
        errno(btrfs::qgroup_set_limit(root, 5, Some(MIB))),
        libc::ENOTCONN
    );

    btrfs::quota_enable(root).unwrap();
    btrfs::quota_enable(root).unwrap(); // already on: no-op
    assert!(btrfs::quota_enabled(root).unwrap());
    btrfs::quota_rescan_wait(root).unwrap();

    btrfs::subvol_create(root, OsStr::new("q")).unwrap();
    let q = open(&fs.mnt.join("q"));
    let qid = btrfs::subvol_id(q.as_fd()).unwrap();
    write_file(&fs.mnt.join("q/data"), 8 * MIB).unwrap();
    sysfs::syncfs(root).unwrap();
    let info = btrfs::qgroup_info(root, qid)
        .unwrap()
        .expect("qgroup 0/qid");
    assert!(info.referenced >= 8 * MIB, "{info:?}");
    assert!(info.exclusive >= 8 * MIB, "{info:?}");
    assert_eq!((info.max_referenced, info.max_exclusive), (None, None));
    assert_eq!(btrfs::qgroup_info(root, 999_999).unwrap(), None);

    btrfs::qgroup_set_limit(root, qid, Some(16 * MIB)).unwrap();
    let info = btrfs::qgroup_info(q.as_fd(), qid).unwrap().unwrap();
    assert_eq!(info.max_referenced, Some(16 * MIB));
    assert_eq!(info.max_exclusive, None);
    // the limit is enforced.
    let e = write_file(&fs.mnt.join("q/big"), 32 * MIB).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EDQUOT), "{e}");
    std::fs::remove_file(fs.mnt.join("q/big")).unwrap();
    // qgroupid 0 means the subvolume of the fd; None removes the limit.
    btrfs::qgroup_set_limit(q.as_fd(), 0, Some(20 * MIB)).unwrap();
    assert_eq!(
        btrfs::qgroup_info(root, qid)
            .unwrap()
            .unwrap()
            .max_referenced,
        Some(20 * MIB)
    );
    btrfs::qgroup_set_limit(root, qid, None).unwrap();
    assert_eq!(
        btrfs::qgroup_info(root, qid)
            .unwrap()
            .unwrap()
            .max_referenced,
        None
    );
    write_file(&fs.mnt.join("q/big"), 32 * MIB).unwrap();

    // a higher-level qgroup with the subvolume as member.
    let parent = btrfs::qgroupid(1, 100);
    btrfs::qgroup_create(root, parent).unwrap();
    assert_eq!(errno(btrfs::qgroup_create(root, parent)), libc::EEXIST);
    btrfs::qgroup_assign(root, qid, parent, true).unwrap();
    btrfs::quota_rescan_wait(root).unwrap();
    sysfs::syncfs(root).unwrap();
    assert!(btrfs::qgroup_info(root, parent).unwrap().is_some());
    assert_eq!(errno(btrfs::qgroup_destroy(root, parent)), libc::EBUSY);
    btrfs::qgroup_assign(root, qid, parent, false).unwrap();
    btrfs::qgroup_destroy(root, parent).unwrap();
    assert_eq!(btrfs::qgroup_info(root, parent).unwrap(), None);

    // right after deleting the subvolume its qgroup is busy until the cleaner has dropped the
    // subvolume; once that is done, the kernel (6.8+) has removed the qgroup itself.
    drop(q);
    btrfs::subvol_destroy(root, OsStr::new("q")).unwrap();
    match btrfs::qgroup_destroy(root, qid) {
        Ok(()) => {}
        Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EBUSY), "{e}"),
    }
    btrfs::fs_sync(root).unwrap();
    btrfs::subvol_sync_wait(root, qid).unwrap();
    btrfs::subvol_sync_wait(root, qid).unwrap(); // already gone
    match btrfs::qgroup_destroy(root, qid) {
        Ok(()) => {}
        Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{e}"),
    }
    assert_eq!(btrfs::qgroup_info(root, qid).unwrap(), None);

    btrfs::quota_disable(root).unwrap();
    assert!(!btrfs::quota_enabled(root).unwrap());
    assert_eq!(btrfs::qgroup_info(root, 5).unwrap(), None);
}

#[test]
fn block_device_ioctls() {
    let fs = LoopBtrfs::new();
    let dev = open(Path::new(fs.dev.as_deref().unwrap()));
    assert_eq!(blkdev::size(dev.as_fd()).unwrap(), loopfs::IMAGE_SIZE);
    assert!(!blkdev::read_only(dev.as_fd()).unwrap());
    blkdev::set_read_only(dev.as_fd(), true).unwrap();
    assert!(blkdev::read_only(dev.as_fd()).unwrap());
    blkdev::set_read_only(dev.as_fd(), false).unwrap();
    assert!(!blkdev::read_only(dev.as_fd()).unwrap());
    // the btrfs functions refuse a block device (its ioctl numbers mean other things there).
    assert_eq!(errno(btrfs::subvol_id(dev.as_fd())), libc::ENOTTY);
}

#[test]
fn not_btrfs_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = open(dir.path());
    assert!(!btrfs::is_btrfs(d.as_fd()).unwrap());
    assert!(!btrfs::is_subvolume(d.as_fd()).unwrap());
    for e in [
        errno(btrfs::subvol_create(d.as_fd(), OsStr::new("x"))),
        errno(btrfs::subvol_id(d.as_fd())),
        errno(btrfs::subvol_read_only(d.as_fd())),
        errno(btrfs::child_subvolumes(d.as_fd())),
        errno(btrfs::quota_enabled(d.as_fd())),
        errno(btrfs::qgroup_info(d.as_fd(), 5)),
        errno(btrfs::snapshot(d.as_fd(), d.as_fd(), OsStr::new("y"), true)),
    ] {
        assert_eq!(e, libc::ENOTTY);
    }
    assert!(!dir.path().join("x").exists());
}
