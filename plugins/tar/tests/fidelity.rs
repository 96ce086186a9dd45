//! Fidelity: a tree with every kind of entry, packed by GNU tar in several formats, unpacked by
//! wharf and by GNU tar; both results must be identical (and, where the format keeps it all,
//! identical to the source).

mod common;

use std::path::Path;

use common::{assert_same, scan, sh, unpack_file};
use wharf_tar::UnpackOptions;

/// Builds the source tree in `dir` (run as root).
const BUILD_TREE: &str = r#"
mkdir -p dir/sub sticky empty-dir
echo hello > dir/file
printf 'other\n' > dir/sub/other
: > empty
head -c 1048576 /dev/zero > zeros
printf 'x' > suid && chmod 4755 suid
printf 'y' > sgid && chown 0:50 sgid && chmod 2711 sgid
chmod 1777 sticky
chown 1234:5678 dir/file && chmod 640 dir/file
setfattr -n user.comment -v "hello world" dir/file
setfattr -n user.binary -v 0x000a0d0aff0a dir/file
setfattr -n trusted.secret -v 42 dir/file
setfattr -n user.on-dir -v yes dir
printf 'capable' > capfile && chown 100:100 capfile && chmod 755 capfile
# VFS_CAP_REVISION_2, effective; permitted: net_bind_service|dac_override|fowner (0x40a:
# the 0x0a byte is a newline inside the PAX record).
setfattr -n security.capability -v 0x010000020a040000000000000000000000000000 capfile
setfacl -m u:1000:rw-,g:2000:r-- dir/file
setfacl -m u:1001:r-x dir/sub
setfacl -d -m u:1000:rwx,g:2000:r-x dir/sub
mknod chr c 1 3 && chown 12:34 chr && chmod 620 chr
mknod blk b 7 200 && chmod 600 blk
mkfifo fifo && chmod 604 fifo
ln dir/file hard1
ln dir/file dir/sub/hard2
ln -s ../dir/file dir/link
ln -s /nonexistent/absolute abslink
chown -h 99:98 dir/link
# 100 MiB with 1 MiB of data at 50 MiB.
head -c 1048576 /dev/urandom > data.bin
dd if=data.bin of=sparse bs=1M seek=50 conv=notrunc status=none
truncate -s 100M sparse
rm data.bin
# a name > 100 chars, and a path > 255 chars through 30 levels.
long=$(printf 'n%.0s' $(seq 150))
echo long > "$long"
deep=$(for i in $(seq 30); do printf 'level%04d/' $i; done)
mkdir -p "$deep"
fname=$(printf 'f%.0s' $(seq 200))
echo deep > "$deep$fname"
ln "$deep$fname" hard-to-deep
ln -s "$deep$fname" symlink-long-target
# nanosecond mtimes everywhere, directories last (deepest first).
find . -mindepth 1 ! -type d -exec touch -h -d '2001-02-03 04:05:06.123456789' {} +
touch -d '2010-01-01 00:00:00.5' dir/file
find . -depth -type d -exec touch -d '2002-03-04 05:06:07.987654321' {} +
chmod 755 .
"#;

fn pack(src: &Path, archive: &Path, flags: &str) {
    sh(
        src,
        &format!("tar {flags} --numeric-owner -cf {} .", archive.display()),
    );
}

fn check_format(name: &str, flags: &str, compare_source: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    for d in [&src, &a, &b] {
        std::fs::create_dir(d).unwrap();
    }
    sh(&src, BUILD_TREE);
    let archive = tmp.path().join(format!("{name}.tar"));
    pack(&src, &archive, flags);

    let stats = unpack_file(&archive, &a, &UnpackOptions::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(stats.entries >= 50, "{name}: {stats:?}");
    let x = if flags.contains("xattrs") {
        "--xattrs --xattrs-include='*' --acls"
    } else {
        ""
    };
    sh(
        &b,
        &format!("tar {x} --numeric-owner -xpf {}", archive.display()),
    );

    let (ta, tb) = (scan(&a), scan(&b));
    // GNU format has whole seconds only.
    let ns = flags.contains("pax");
    assert_same(&ta, &tb, &format!("{name}: wharf vs GNU tar"), ns);
    if compare_source {
        assert_same(&ta, &scan(&src), &format!("{name}: wharf vs source"), true);
    }
    // holes: never more allocated than GNU tar's result; the 100 MiB file stays ~1 MiB.
    for (path, &blocks) in &ta.blocks {
        assert!(
            blocks <= tb.blocks[path],
            "{name}: {path:?} has {blocks} sectors, GNU tar's copy {}",
            tb.blocks[path]
        );
    }
    assert!(ta.blocks[Path::new("sparse")] * 512 <= (1 << 20) + (64 << 10));
    let group: std::collections::BTreeSet<_> = ["dir/file", "hard1", "dir/sub/hard2"]
        .iter()
        .map(std::path::PathBuf::from)
        .collect();
    assert!(ta.links.contains(&group), "{name}: {:?}", ta.links);
    assert_eq!(
        ta.blocks[Path::new("zeros")],
        0,
        "{name}: all-zero file is one hole"
    );
    let file = &ta.nodes[Path::new("dir/file")];
    if flags.contains("xattrs") {
        assert!(file.xattrs.contains_key(&b"system.posix_acl_access"[..]));
        assert!(ta.nodes[Path::new("dir/sub")]
            .xattrs
            .contains_key(&b"system.posix_acl_default"[..]));
        assert_eq!(
            ta.nodes[Path::new("capfile")].xattrs[&b"security.capability"[..]].len(),
            20
        );
    }
    assert_eq!((file.uid, file.gid), (1234, 5678));
    assert_eq!(ta.nodes[Path::new("suid")].mode, 0o4755);
    assert_eq!(ta.nodes[Path::new("sgid")].mode, 0o2711);
    assert_eq!(ta.nodes[Path::new("sticky")].mode, 0o1777);
}

#[test]
fn pax_with_xattrs_acls_and_sparse_1_0() {
    check_format(
        "pax",
        "--format=pax --sparse --xattrs --xattrs-include='*' --acls",
        true,
    );
}

#[test]
fn pax_sparse_0_1() {
    check_format(
        "pax01",
        "--format=pax --sparse --sparse-version=0.1 --xattrs --xattrs-include='*' --acls",
        true,
    );
}

#[test]
fn pax_sparse_0_0() {
    check_format("pax00", "--format=pax --sparse --sparse-version=0.0", false);
}

#[test]
fn gnu_with_old_sparse_headers() {
    check_format("gnu", "--format=gnu --sparse", false);
}

#[test]
fn pax_without_sparse_detection() {
    // zero runs are stored as data; wharf still leaves them as holes.
    check_format(
        "pax-dense",
        "--format=pax --xattrs --xattrs-include='*' --acls",
        false,
    );
}
