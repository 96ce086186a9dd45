//! apply_layer against umoci 0.4.7: a three-layer image is built with `umoci repack`
//! (deletions, `rm -rf dir; mkdir dir`, directory ↔ file, hard links to lower-layer files,
//! symlinks, xattrs incl. `security.capability`, suid, devices, fifos, long and non-UTF-8
//! names), then its layers are applied with apply_layer and the tree must equal what
//! `umoci unpack` gives. Needs root and umoci (scripts/install-test-deps).

mod common;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{scan, sh, Node};
use wharf_compression::{decoder, Compression};
use wharf_tar::{apply_layer, LayerStats, UnpackOptions};

/// Builds the rootfs of each layer in the bundle `b`, repacking after each step.
const BUILD: &str = r#"
umoci init --layout img
umoci new --image img:t
umoci unpack --image img:t b
r=b/rootfs
repack() { umoci repack --refresh-bundle --image img:t b; }

# layer 1: a small OS-like tree
mkdir -p $r/usr/bin $r/usr/lib $r/etc/conf.d $r/etc/ro $r/opt/tree/x/y $r/opt/replace-me-dir/sub \
    $r/data $r/run $r/dev $r/home/user $r/meta
ln -s usr/bin $r/bin
ln -s usr/lib $r/lib
echo sh > $r/usr/bin/sh; echo tool > $r/usr/bin/tool; echo lib > $r/usr/lib/libx.so
echo root:x:0:0 > $r/etc/passwd; echo host > $r/etc/hostname
echo a > $r/etc/conf.d/a; echo b > $r/etc/conf.d/b
echo ro > $r/etc/ro/file; chmod 0555 $r/etc/ro
echo z > $r/opt/tree/x/y/z; echo w > $r/opt/tree/w
echo f1 > $r/opt/replace-me-dir/f1; echo f2 > $r/opt/replace-me-dir/sub/f2
echo file > $r/opt/replace-me-file
echo hl > $r/data/hl1; ln $r/data/hl1 $r/data/hl2
echo ping > $r/usr/bin/ping; chmod 4755 $r/usr/bin/ping
setfattr -n security.capability -v 0x0100000200200000000000000000000000000000 $r/usr/bin/ping
setfattr -n user.note -v hello $r/etc/passwd
setfattr -n user.dir -v lower $r/meta
mkfifo $r/run/fifo; mknod $r/dev/null c 1 3
echo mine > $r/home/user/file; chown -R 1000:1000 $r/home/user; chmod 0700 $r/home/user
long=$(printf 'n%.0s' $(seq 1 150)); mkdir -p $r/long/$long; echo long > $r/long/$long/$long
echo bytes > "$r/data/$(printf 'na\xffme')"
touch -h -d @1500000000 $r/bin
repack

# layer 2: deletions, directory <-> file, hard links to lower files, symlinks
rm $r/etc/hostname
rm -rf $r/opt/tree; mkdir $r/opt/tree; echo new > $r/opt/tree/new
rm -rf $r/opt/replace-me-dir; echo now-a-file > $r/opt/replace-me-dir
rm $r/opt/replace-me-file; mkdir $r/opt/replace-me-file; echo inner > $r/opt/replace-me-file/inner
ln $r/usr/bin/tool $r/usr/bin/tool-link
ln $r/data/hl1 $r/data/hl3
echo foo > $r/bin/foo
ln -s ../usr/bin/tool $r/etc/alt
rm $r/lib; mkdir $r/lib; echo real > $r/lib/real
echo root:x:0:0:changed > $r/etc/passwd
chmod 0750 $r/etc/conf.d
repack

# layer 3: more deletions, new deep dirs, xattr changes on a kept directory
rm -rf $r/etc/conf.d
rm $r/usr/bin/tool
echo newer > $r/opt/tree/new
mkdir -p $r/new/deep/dir; echo deep > $r/new/deep/dir/f; chmod 0 $r/new/deep
rm $r/data/hl2
setfattr -x user.dir $r/meta; setfattr -n user.other -v upper $r/meta
rm -rf "$r/long"
repack

umoci unpack --image img:t ref
"#;

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn blob(layout: &Path, digest: &str) -> PathBuf {
    let (alg, hex) = digest.split_once(':').unwrap();
    layout.join("blobs").join(alg).join(hex)
}

/// The layer blobs of the only manifest in the layout, bottom first, with their media types.
fn layers(layout: &Path) -> Vec<(PathBuf, String)> {
    let index = json(&layout.join("index.json"));
    let manifest = &index["manifests"][0]["digest"];
    let manifest = json(&blob(layout, manifest.as_str().unwrap()));
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                blob(layout, l["digest"].as_str().unwrap()),
                l["mediaType"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn apply_blob(path: &Path, media: &str, root: &Path) -> LayerStats {
    let c = if media.ends_with("+gzip") {
        Compression::Gzip
    } else {
        Compression::None
    };
    let f = BufReader::new(File::open(path).unwrap());
    let mut r = decoder(c, Box::new(f)).unwrap();
    apply_layer(&mut r, root, &UnpackOptions::default())
        .unwrap_or_else(|e| panic!("apply {}: {e}", path.display()))
}

#[test]
fn same_tree_as_umoci_unpack() {
    let found = Command::new("umoci").arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "umoci is required (scripts/install-test-deps installs it)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    sh(dir, BUILD);
    let layout = dir.join("img");
    let blobs = layers(&layout);
    assert_eq!(blobs.len(), 3, "umoci made one layer per repack");

    let ours = dir.join("ours");
    std::fs::create_dir(&ours).unwrap();
    let mut stats = Vec::new();
    for (path, media) in &blobs {
        stats.push(apply_blob(path, media, &ours));
    }
    // umoci emits explicit whiteouts only (no opaque markers).
    assert!(stats[1].whiteouts >= 5, "{:?}", stats[1]);
    assert!(stats[2].whiteouts >= 4, "{:?}", stats[2]);

    let a = scan(&dir.join("ref/rootfs"));
    let b = scan(&ours);
    compare(&a.nodes, &b.nodes);
    assert_eq!(a.links, b.links, "hardlink groups differ");
    // a few facts the comparison relies on, so it cannot pass on two empty trees.
    let n = |p: &str| &b.nodes[Path::new(p)];
    assert_eq!(n("bin").link.as_deref(), Some(Path::new("usr/bin")));
    assert_eq!(n("opt/replace-me-dir").kind, "file");
    assert_eq!(n("opt/replace-me-file").kind, "dir");
    assert_eq!(n("usr/bin/ping").mode, 0o4755);
    assert!(n("usr/bin/ping")
        .xattrs
        .contains_key(&b"security.capability"[..]));
    assert_eq!(n("new/deep").mode, 0);
    assert!(!b.nodes.contains_key(Path::new("etc/conf.d")));
    assert!(!b.nodes.contains_key(Path::new("etc/hostname")));
    assert!(b.links.iter().any(|g| g.len() == 2
        && g.contains(Path::new("data/hl1"))
        && g.contains(Path::new("data/hl3"))));
}

/// Node by node, times included: umoci restores the times of a directory whose entries a
/// layer changes without listing it, and so does apply_layer (no implicit directories here,
/// whose times would be "now" in both).
fn compare(a: &BTreeMap<PathBuf, Node>, b: &BTreeMap<PathBuf, Node>) {
    let pa: Vec<_> = a.keys().collect();
    let pb: Vec<_> = b.keys().collect();
    assert_eq!(pa, pb, "different paths (left: umoci, right: apply_layer)");
    for (path, na) in a {
        let nb = &b[path];
        assert_eq!(na, nb, "{path:?} differs (left: umoci, right: apply_layer)");
    }
}
