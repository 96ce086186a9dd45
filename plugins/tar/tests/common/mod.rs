//! Shared helpers of the wharf-tar integration tests (a root tier: chown, mknod, trusted.*
//! and security.* xattrs need root; GNU tar, attr, acl and python3 must be installed).

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufReader, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use wharf_tar::{unpack, UnpackError, UnpackOptions, UnpackStats};

/// Runs a shell script (bash, `set -euo pipefail`) in `dir`; panics with its output on failure
/// or when bash itself is missing.
pub fn sh(dir: &Path, script: &str) {
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail\n{script}"))
        .current_dir(dir)
        .output()
        .expect("bash must be installed");
    assert!(
        out.status.success(),
        "script failed in {}:\n{script}\nstdout: {}\nstderr: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a python3 script with `args`; panics on failure.
pub fn python(script: &str, args: &[&str]) {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 must be installed (the hostile-archive tests build archives with it)");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Unpacks the archive file `archive` into `root` with our code.
pub fn unpack_file(
    archive: &Path,
    root: &Path,
    opts: &UnpackOptions<'_>,
) -> Result<UnpackStats, UnpackError> {
    let mut f = BufReader::with_capacity(1 << 16, File::open(archive).unwrap());
    unpack(&mut f, root, opts)
}

/// Everything compared about one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: &'static str,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: u64,
    pub mtime: (i64, i64),
    pub xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
    pub link: Option<PathBuf>,
    pub hash: Option<u64>,
}

/// A scanned tree: nodes by relative path ("" is the root), hardlink groups, and allocated
/// 512-byte sectors per regular file.
pub struct Tree {
    pub nodes: BTreeMap<PathBuf, Node>,
    pub links: BTreeSet<BTreeSet<PathBuf>>,
    pub blocks: BTreeMap<PathBuf, u64>,
}

fn xattrs(path: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut names = vec![0u8; 65536];
    let n = rustix::fs::llistxattr(path, &mut names).unwrap();
    for name in names[..n].split(|&b| b == 0).filter(|s| !s.is_empty()) {
        let mut value = vec![0u8; 65536];
        let k = rustix::fs::lgetxattr(path, name, &mut value).unwrap();
        value.truncate(k);
        out.insert(name.to_vec(), value);
    }
    out
}

/// FNV-1a over the file content.
fn hash(path: &Path) -> u64 {
    let mut f = File::open(path).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            return h;
        }
        for &b in &buf[..n] {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
}

pub fn scan(root: &Path) -> Tree {
    let mut t = Tree {
        nodes: BTreeMap::new(),
        links: BTreeSet::new(),
        blocks: BTreeMap::new(),
    };
    let mut inodes: BTreeMap<u64, BTreeSet<PathBuf>> = BTreeMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let full = root.join(&rel);
        let md = std::fs::symlink_metadata(&full).unwrap();
        let ft = md.file_type();
        let kind = if ft.is_dir() {
            "dir"
        } else if ft.is_file() {
            "file"
        } else if ft.is_symlink() {
            "symlink"
        } else if ft.is_char_device() {
            "char"
        } else if ft.is_block_device() {
            "block"
        } else if ft.is_fifo() {
            "fifo"
        } else {
            "socket"
        };
        let node = Node {
            kind,
            mode: md.mode() & 0o7777,
            uid: md.uid(),
            gid: md.gid(),
            rdev: md.rdev(),
            size: if ft.is_dir() { 0 } else { md.size() },
            mtime: (md.mtime(), md.mtime_nsec()),
            xattrs: xattrs(&full),
            link: ft.is_symlink().then(|| std::fs::read_link(&full).unwrap()),
            hash: ft.is_file().then(|| hash(&full)),
        };
        if ft.is_file() {
            t.blocks.insert(rel.clone(), md.blocks());
            if md.nlink() > 1 {
                inodes.entry(md.ino()).or_default().insert(rel.clone());
            }
        }
        if ft.is_dir() {
            for e in std::fs::read_dir(&full).unwrap() {
                stack.push(rel.join(e.unwrap().file_name()));
            }
        }
        t.nodes.insert(rel, node);
    }
    t.links = inodes.into_values().collect();
    t
}

/// Asserts that two trees are equal node by node (and in their hardlink groups); `what`
/// names the comparison in failures. `exact_times`: compare nanoseconds too.
pub fn assert_same(a: &Tree, b: &Tree, what: &str, exact_times: bool) {
    let pa: Vec<_> = a.nodes.keys().collect();
    let pb: Vec<_> = b.nodes.keys().collect();
    assert_eq!(pa, pb, "{what}: different paths");
    for (path, na) in &a.nodes {
        let mut na = na.clone();
        let mut nb = b.nodes[path].clone();
        if !exact_times {
            na.mtime.1 = 0;
            nb.mtime.1 = 0;
        }
        assert_eq!(na, nb, "{what}: {path:?} differs");
    }
    assert_eq!(a.links, b.links, "{what}: hardlink groups differ");
}

/// Asserts that `dir` exists and is empty (nothing escaped into it).
pub fn assert_empty(dir: &Path) {
    let entries: Vec<_> = std::fs::read_dir(dir).unwrap().collect();
    assert!(
        entries.is_empty(),
        "{} is not empty: {entries:?}",
        dir.display()
    );
}
