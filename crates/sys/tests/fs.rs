//! tests of the non-btrfs helpers on the ordinary filesystem of the temp dir (ext4 here): inode
//! flags (needs root for the immutable flag), OFD locks, renames, confined opens.

use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::fs::symlink;
use std::path::Path;

use wharf_sys::fs as sysfs;
use wharf_sys::fsflags::{self, FS_APPEND_FL, FS_IMMUTABLE_FL};
use wharf_sys::lock::{self, LockKind};

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// clears the immutable flag on drop, so a failed assertion does not leave an undeletable
/// temp dir behind.
struct Mutable<'a>(&'a Path);

impl Drop for Mutable<'_> {
    fn drop(&mut self) {
        if let Ok(f) = File::open(self.0) {
            let _ = fsflags::set_immutable(f.as_fd(), false);
        }
    }
}

#[test]
fn immutable_flag_on_a_directory_and_a_file() {
    assert!(
        rustix::process::geteuid().is_root(),
        "setting FS_IMMUTABLE_FL needs root (CAP_LINUX_IMMUTABLE)"
    );
    let dir = tempfile::tempdir().unwrap();
    let top = dir.path().join("image");
    std::fs::create_dir(&top).unwrap();
    let _guard = Mutable(&top);
    let d = File::open(&top).unwrap();
    let before = fsflags::get_flags(d.as_fd()).unwrap();
    assert_eq!(before & FS_IMMUTABLE_FL, 0);

    fsflags::set_immutable(d.as_fd(), true).unwrap();
    fsflags::set_immutable(d.as_fd(), true).unwrap(); // no-op
    let after = fsflags::get_flags(d.as_fd()).unwrap();
    assert_eq!(after, before | FS_IMMUTABLE_FL, "other flags kept");
    // even root cannot add entries to an immutable directory.
    let e = File::create(top.join("x")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EPERM));
    let e = std::fs::rename(&top, dir.path().join("renamed")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EPERM));

    fsflags::set_immutable(d.as_fd(), false).unwrap();
    assert_eq!(fsflags::get_flags(d.as_fd()).unwrap(), before);
    File::create(top.join("x")).unwrap();

    // a file, through an O_RDONLY fd, with set_flags directly.
    let f = File::open(top.join("x")).unwrap();
    let flags = fsflags::get_flags(f.as_fd()).unwrap();
    fsflags::set_flags(f.as_fd(), flags | FS_APPEND_FL).unwrap();
    assert_ne!(fsflags::get_flags(f.as_fd()).unwrap() & FS_APPEND_FL, 0);
    let e = OpenOptions::new()
        .write(true)
        .open(top.join("x"))
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EPERM));
    fsflags::set_flags(f.as_fd(), flags).unwrap();
    OpenOptions::new().write(true).open(top.join("x")).unwrap();
}

#[test]
fn flags_unsupported_on_proc() {
    let f = File::open("/proc/self/status").unwrap();
    let e = fsflags::get_flags(f.as_fd()).unwrap_err();
    assert!(
        matches!(e.raw_os_error(), Some(libc::ENOTTY | libc::EOPNOTSUPP)),
        "{e}"
    );
}

#[test]
fn ofd_locks_conflict_between_open_file_descriptions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".#image.lck");
    let open = || {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .unwrap()
    };
    let (a, b) = (open(), open());

    assert!(lock::try_lock(a.as_fd(), LockKind::Exclusive).unwrap());
    // the same open file description may re-take it.
    assert!(lock::try_lock(a.as_fd(), LockKind::Exclusive).unwrap());
    assert!(!lock::try_lock(b.as_fd(), LockKind::Exclusive).unwrap());
    assert!(!lock::try_lock(b.as_fd(), LockKind::Shared).unwrap());
    // a dup shares the open file description, and so the lock.
    let a2 = a.try_clone().unwrap();
    assert!(lock::try_lock(a2.as_fd(), LockKind::Exclusive).unwrap());
    // closing another fd of the same file does not drop it (unlike POSIX locks).
    drop(open());
    assert!(!lock::try_lock(b.as_fd(), LockKind::Shared).unwrap());

    lock::unlock(a.as_fd()).unwrap();
    assert!(lock::try_lock(b.as_fd(), LockKind::Shared).unwrap());
    assert!(lock::try_lock(a.as_fd(), LockKind::Shared).unwrap());
    assert!(!lock::try_lock(a.as_fd(), LockKind::Exclusive).unwrap());
    lock::unlock(b.as_fd()).unwrap();
    // upgrade once the other shared lock is gone.
    assert!(lock::try_lock(a.as_fd(), LockKind::Exclusive).unwrap());
    // closing every fd of the description releases it.
    drop((a, a2));
    assert!(lock::try_lock(b.as_fd(), LockKind::Exclusive).unwrap());
    lock::unlock(b.as_fd()).unwrap();
    lock::unlock(b.as_fd()).unwrap(); // unlocking twice is fine

    // an exclusive lock needs a writable fd.
    let ro = File::open(&path).unwrap();
    let e = lock::try_lock(ro.as_fd(), LockKind::Exclusive).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EBADF));
}

#[test]
fn renames() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let d = File::open(dir.path()).unwrap();
    std::fs::write(p("a"), b"A").unwrap();
    std::fs::write(p("b"), b"B").unwrap();
    std::fs::create_dir(p("sub")).unwrap();

    let e = sysfs::rename_noreplace(d.as_fd(), os("a"), d.as_fd(), os("b")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EEXIST));
    assert_eq!(std::fs::read(p("b")).unwrap(), b"B");
    sysfs::rename_noreplace(d.as_fd(), os("a"), d.as_fd(), os("c")).unwrap();
    assert!(!p("a").exists());
    assert_eq!(std::fs::read(p("c")).unwrap(), b"A");

    // exchange two files, then a file and a directory, across directory fds.
    sysfs::rename_exchange(d.as_fd(), os("b"), d.as_fd(), os("c")).unwrap();
    assert_eq!(std::fs::read(p("b")).unwrap(), b"A");
    assert_eq!(std::fs::read(p("c")).unwrap(), b"B");
    let sub = File::open(p("sub")).unwrap();
    std::fs::write(p("sub/inner"), b"I").unwrap();
    sysfs::rename_exchange(d.as_fd(), os("b"), d.as_fd(), os("sub")).unwrap();
    assert_eq!(std::fs::read(p("sub")).unwrap(), b"A");
    assert_eq!(std::fs::read(p("b/inner")).unwrap(), b"I");
    sysfs::rename_noreplace(d.as_fd(), os("c"), sub.as_fd(), os("moved")).unwrap();
    assert_eq!(std::fs::read(p("b/moved")).unwrap(), b"B");
    let e = sysfs::rename_exchange(d.as_fd(), os("sub"), d.as_fd(), os("missing")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
}

#[test]
fn open_in_root_stays_inside() {
    let outer = tempfile::tempdir().unwrap();
    let root_path = outer.path().join("root");
    std::fs::create_dir_all(root_path.join("etc")).unwrap();
    std::fs::create_dir_all(root_path.join("usr/lib")).unwrap();
    std::fs::write(root_path.join("etc/x"), b"inside").unwrap();
    std::fs::write(outer.path().join("x"), b"outside").unwrap();
    std::fs::write(outer.path().join("secret"), b"outside").unwrap();
    symlink("/etc/x", root_path.join("abs")).unwrap();
    symlink("../../x", root_path.join("usr/lib/up")).unwrap();
    symlink("../../../../../../secret", root_path.join("etc/deep")).unwrap();
    symlink("/proc/self/root/etc/hostname", root_path.join("magic")).unwrap();
    let root = File::open(&root_path).unwrap();
    let read = |p: &str| -> std::io::Result<String> {
        let mut s = String::new();
        File::from(sysfs::open_in_root(root.as_fd(), Path::new(p))?).read_to_string(&mut s)?;
        Ok(s)
    };

    assert_eq!(read("etc/x").unwrap(), "inside");
    assert_eq!(read("/etc/x").unwrap(), "inside");
    assert_eq!(read("abs").unwrap(), "inside");
    // "usr/lib/../../x" is "/x" inside the root, which does not exist: no escape to outer/x.
    assert_eq!(
        read("usr/lib/up").unwrap_err().raw_os_error(),
        Some(libc::ENOENT)
    );
    assert_eq!(read("../x").unwrap_err().raw_os_error(), Some(libc::ENOENT));
    assert_eq!(
        read("../../../secret").unwrap_err().raw_os_error(),
        Some(libc::ENOENT)
    );
    assert_eq!(
        read("etc/deep").unwrap_err().raw_os_error(),
        Some(libc::ENOENT)
    );
    std::fs::write(root_path.join("x"), b"root-x").unwrap();
    assert_eq!(read("usr/lib/up").unwrap(), "root-x");
    assert_eq!(read("../x").unwrap(), "root-x");
    // "/proc" does not exist inside the root, so the symlink cannot reach the real one.
    assert!(read("magic").is_err());
    // crossing a mount point (here /proc, from a root of "/") is refused.
    let slash = File::open("/").unwrap();
    let e = sysfs::open_in_root(slash.as_fd(), Path::new("proc/self/status")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EXDEV));
}

#[test]
fn magic_and_syncfs() {
    let dir = tempfile::tempdir().unwrap();
    let d = File::open(dir.path()).unwrap();
    sysfs::syncfs(d.as_fd()).unwrap();
    let proc_ = File::open("/proc").unwrap();
    assert_eq!(sysfs::fs_magic(proc_.as_fd()).unwrap(), 0x9fa0);
    assert_ne!(sysfs::fs_magic(d.as_fd()).unwrap(), 0x9fa0);
}
