//! Building source trees with every kind of entry an OS image holds, and comparing two trees
//! entry by entry: type, mode, owner, size, device numbers, nanosecond mtimes, xattrs (ACLs and
//! file capabilities included), symlink targets, contents, hardlink groups and holes.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::{lchown, symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::sh;

/// Size of the sparse file in [`build_rich_tree`] and how much of it is data.
pub const SPARSE_SIZE: u64 = 100 << 20;
pub const SPARSE_DATA: u64 = 1 << 20;

/// Fill `root` (an existing directory) with one of everything. Uses the system tools
/// (setfattr, setfacl, mknod, touch) so the fixture does not depend on wharf's own code.
pub fn build_rich_tree(root: &Path) {
    let p = |s: &str| root.join(s);
    let w = |s: &str, data: &[u8]| fs::write(root.join(s), data).unwrap();
    for d in [
        "etc",
        "usr/bin",
        "usr/lib",
        "var/tmp",
        "home/user/.cache",
        "dev",
        "run",
    ] {
        fs::create_dir_all(p(d)).unwrap();
    }
    w(
        "usr/lib/os-release",
        b"NAME=\"Test OS\"\nPRETTY_NAME=\"Test OS 1 (fixture)\"\nID=test\n",
    );
    symlink("../usr/lib/os-release", p("etc/os-release")).unwrap();
    w("etc/hostname", b"fixture\n");
    w("etc/machine-id", b"0123456789abcdef0123456789abcdef\n");
    w("empty", b"");
    w("usr/bin/tool", &vec![0xabu8; 300_000]);
    w("usr/bin/suid", b"#!/bin/sh\n");
    fs::set_permissions(p("usr/bin/suid"), fs::Permissions::from_mode(0o4755)).unwrap();
    w("usr/bin/sgid", b"x");
    fs::set_permissions(p("usr/bin/sgid"), fs::Permissions::from_mode(0o2711)).unwrap();
    fs::set_permissions(p("var/tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    w("etc/shadow", b"root:*:1::::::\n");
    fs::set_permissions(p("etc/shadow"), fs::Permissions::from_mode(0o000)).unwrap();
    w("home/user/file", b"user data");
    lchown(p("home/user"), Some(1000), Some(1000)).unwrap();
    lchown(p("home/user/file"), Some(1000), Some(100)).unwrap();
    lchown(p("home/user/.cache"), Some(4_000_000), Some(4_000_001)).unwrap();

    // Hardlink groups of 3 and 2.
    w("usr/bin/a", b"hardlinked a");
    fs::hard_link(p("usr/bin/a"), p("usr/bin/a2")).unwrap();
    fs::hard_link(p("usr/bin/a"), p("usr/lib/a3")).unwrap();
    w("usr/bin/b", b"hardlinked b");
    fs::hard_link(p("usr/bin/b"), p("etc/b2")).unwrap();

    // Symlinks: relative, absolute, dangling, owned by someone else.
    symlink("tool", p("usr/bin/rel")).unwrap();
    symlink("/usr/bin/tool", p("usr/bin/abs")).unwrap();
    symlink("/nowhere/at/all", p("dangling")).unwrap();
    lchown(p("dangling"), Some(1000), Some(1000)).unwrap();

    // Special files.
    sh("mknod", &[p("dev/null").to_str().unwrap(), "c", "1", "3"]);
    sh(
        "mknod",
        &[p("dev/loopx").to_str().unwrap(), "b", "7", "200"],
    );
    sh("mkfifo", &[p("run/fifo").to_str().unwrap()]);
    drop(std::os::unix::net::UnixListener::bind(p("run/sock")).unwrap());

    // A sparse file: 1 MiB of data in the middle of 100 MiB.
    let mut f = fs::File::create(p("var/sparse")).unwrap();
    f.set_len(SPARSE_SIZE).unwrap();
    f.seek(SeekFrom::Start(50 << 20)).unwrap();
    f.write_all(&vec![7u8; SPARSE_DATA as usize]).unwrap();
    drop(f);

    // Extended attributes: user, trusted, a file capability, ACLs (access and default).
    sh(
        "setfattr",
        &[
            "-n",
            "user.note",
            "-v",
            "hello",
            p("usr/bin/tool").to_str().unwrap(),
        ],
    );
    sh(
        "setfattr",
        &[
            "-n",
            "trusted.t",
            "-v",
            "0x00ff10",
            p("etc/hostname").to_str().unwrap(),
        ],
    );
    sh(
        "setfattr",
        &[
            "-n",
            "security.capability",
            "-v",
            "0x0100000200200000000000000000000000000000",
            p("usr/bin/tool").to_str().unwrap(),
        ],
    );
    sh(
        "setfacl",
        &["-m", "u:1000:rw", p("etc/hostname").to_str().unwrap()],
    );
    sh(
        "setfacl",
        &["-d", "-m", "g:100:rx", p("home/user").to_str().unwrap()],
    );
    sh(
        "setfattr",
        &[
            "-h",
            "-n",
            "trusted.link",
            "-v",
            "1",
            p("usr/bin/rel").to_str().unwrap(),
        ],
    );

    // Distinct nanosecond mtimes, applied last (children before parents).
    let mut all: Vec<PathBuf> = walk(root).into_iter().map(|r| root.join(r)).collect();
    all.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for (i, path) in all.iter().enumerate() {
        let stamp = format!("2021-03-04 05:06:{:02}.{:09}", i % 60, 123_456_789 + i);
        sh("touch", &["-h", "-d", &stamp, path.to_str().unwrap()]);
    }
    let root_stamp = "2020-01-02 03:04:05.987654321";
    sh("touch", &["-h", "-d", root_stamp, root.to_str().unwrap()]);
}

/// Relative paths of every entry below `root`, sorted (root itself excluded).
pub fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for e in fs::read_dir(root.join(&rel)).unwrap() {
            let e = e.unwrap();
            let r = rel.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                stack.push(r.clone());
            }
            out.push(r);
        }
    }
    out.sort();
    out
}

/// Every xattr of `path` (not following symlinks), name → value.
pub fn xattrs(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut names = vec![0u8; 65536];
    let n = rustix::fs::llistxattr(path, &mut names).unwrap();
    let mut out = BTreeMap::new();
    for name in names[..n].split(|b| *b == 0).filter(|s| !s.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        let mut val = vec![0u8; 65536];
        let len = rustix::fs::lgetxattr(path, name.as_str(), &mut val).unwrap();
        val.truncate(len);
        out.insert(name, val);
    }
    out
}

/// Assert that tree `b` is a faithful copy of tree `a`, including the roots' own metadata.
pub fn assert_same_tree(a: &Path, b: &Path) {
    assert_same_tree_except(a, b, |_| false);
}

/// [`assert_same_tree`], except that xattrs for which `extra_in_b(name)` holds may exist in `b`
/// without being in `a` (GNU tar, for one, does not restore POSIX ACLs stored as
/// `SCHILY.xattr.system.posix_acl_*`, which wharf does).
pub fn assert_same_tree_except(a: &Path, b: &Path, extra_in_b: impl Fn(&str) -> bool) {
    let ea = walk(a);
    let eb = walk(b);
    assert_eq!(ea, eb, "entry lists differ");
    let mut groups_a: BTreeMap<u64, BTreeSet<PathBuf>> = BTreeMap::new();
    let mut groups_b: BTreeMap<u64, BTreeSet<PathBuf>> = BTreeMap::new();
    for rel in std::iter::once(PathBuf::new()).chain(ea) {
        let (pa, pb) = (a.join(&rel), b.join(&rel));
        let (ma, mb) = (
            fs::symlink_metadata(&pa).unwrap(),
            fs::symlink_metadata(&pb).unwrap(),
        );
        let ctx = rel.display();
        assert_eq!(ma.mode(), mb.mode(), "mode/type of {ctx}");
        assert_eq!((ma.uid(), ma.gid()), (mb.uid(), mb.gid()), "owner of {ctx}");
        assert_eq!(ma.rdev(), mb.rdev(), "device number of {ctx}");
        assert_eq!(
            (ma.mtime(), ma.mtime_nsec()),
            (mb.mtime(), mb.mtime_nsec()),
            "mtime of {ctx}"
        );
        let mut xb = xattrs(&pb);
        let xa = xattrs(&pa);
        xb.retain(|k, _| xa.contains_key(k) || !extra_in_b(k));
        assert_eq!(xa, xb, "xattrs of {ctx}");
        let ft = ma.file_type();
        if ft.is_symlink() {
            assert_eq!(
                fs::read_link(&pa).unwrap(),
                fs::read_link(&pb).unwrap(),
                "target of {ctx}"
            );
        } else if ft.is_file() {
            assert_eq!(ma.size(), mb.size(), "size of {ctx}");
            assert!(same_content(&pa, &pb), "content of {ctx}");
            // Holes stay holes: the copy allocates no more than the original plus slack
            // (filesystems preallocate differently depending on the writer's chunk sizes).
            assert!(
                mb.blocks() <= ma.blocks() + ma.blocks() / 4 + 64,
                "{ctx} grew from {} to {} blocks",
                ma.blocks(),
                mb.blocks()
            );
            if ma.nlink() > 1 {
                groups_a.entry(ma.ino()).or_default().insert(rel.clone());
                groups_b.entry(mb.ino()).or_default().insert(rel.clone());
            }
        }
    }
    let sets = |g: BTreeMap<u64, BTreeSet<PathBuf>>| g.into_values().collect::<BTreeSet<_>>();
    assert_eq!(sets(groups_a), sets(groups_b), "hardlink groups");
}

fn same_content(a: &Path, b: &Path) -> bool {
    use std::io::Read;
    let (mut fa, mut fb) = (fs::File::open(a).unwrap(), fs::File::open(b).unwrap());
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
}

/// Write `mib` MiB of incompressible data spread over files in `root`, for slow copies.
pub fn build_bulk_tree(root: &Path, mib: usize) {
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let chunk: Vec<u8> = (0..(1 << 20))
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect();
    for i in 0..mib {
        let dir = root.join(format!("d{}", i / 16));
        fs::create_dir_all(&dir).unwrap();
        let mut data = chunk.clone();
        data[..8].copy_from_slice(&(i as u64).to_le_bytes());
        fs::write(dir.join(format!("f{i}")), &data).unwrap();
    }
}
