//! apply_layer: OCI / Docker layer rules (whiteouts, opaque directories, replacing lower-layer
//! nodes, symlinked parents confined to the root, cross-layer hard links) on layers built with
//! the tar crate's writer (root tier: chown and mknod need root).

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use common::assert_empty;
use wharf_tar::{apply_layer, LayerStats, UnpackError, UnpackOptions};

const MTIME: u64 = 1_600_000_000;

/// A layer under construction.
struct Layer {
    b: tar::Builder<Vec<u8>>,
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(MTIME);
    h.set_size(size);
    h
}

impl Layer {
    fn new() -> Self {
        Layer {
            b: tar::Builder::new(Vec::new()),
        }
    }

    fn dir(mut self, path: &str, mode: u32) -> Self {
        let mut h = header(tar::EntryType::Directory, mode, 0);
        self.b.append_data(&mut h, path, &[][..]).unwrap();
        self
    }

    fn file(mut self, path: &str, data: &str) -> Self {
        let mut h = header(tar::EntryType::Regular, 0o644, data.len() as u64);
        self.b.append_data(&mut h, path, data.as_bytes()).unwrap();
        self
    }

    fn symlink(mut self, path: &str, target: &str) -> Self {
        let mut h = header(tar::EntryType::Symlink, 0o777, 0);
        self.b.append_link(&mut h, path, target).unwrap();
        self
    }

    fn hardlink(mut self, path: &str, target: &str) -> Self {
        let mut h = header(tar::EntryType::Link, 0o644, 0);
        self.b.append_link(&mut h, path, target).unwrap();
        self
    }

    /// A raw name (the builder refuses `..` and absolute paths): written into the header.
    fn raw(mut self, kind: tar::EntryType, name: &str, link: &str) -> Self {
        let mut h = header(kind, 0o644, 0);
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_cksum();
        self.b.append(&h, &[][..]).unwrap();
        self
    }

    /// `.wh.` files are empty regular files with mode 0 (umoci's form).
    fn whiteout(mut self, path: &str) -> Self {
        let mut h = header(tar::EntryType::Regular, 0, 0);
        self.b.append_data(&mut h, path, &[][..]).unwrap();
        self
    }

    fn apply(self, root: &Path) -> Result<LayerStats, UnpackError> {
        let data = self.b.into_inner().unwrap();
        apply_layer(&mut &data[..], root, &UnpackOptions::default())
    }
}

fn read(root: &Path, p: &str) -> String {
    fs::read_to_string(root.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn exists(root: &Path, p: &str) -> bool {
    fs::symlink_metadata(root.join(p)).is_ok()
}

fn names(root: &Path, p: &str) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(root.join(p))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

/// A root holding a lower layer: `d/{a,b,sub/c}`, `f`, `keep`.
fn lower() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    Layer::new()
        .dir("./", 0o755)
        .dir("d", 0o755)
        .file("d/a", "lower a")
        .file("d/b", "lower b")
        .dir("d/sub", 0o755)
        .file("d/sub/c", "lower c")
        .file("f", "lower f")
        .file("keep", "keep")
        .apply(tmp.path())
        .unwrap();
    tmp
}

#[test]
fn opaque_marker_after_own_children_keeps_them() {
    let tmp = lower();
    let r = tmp.path();
    let st = Layer::new()
        .file("d/new", "upper new")
        .file("d/a", "upper a")
        .whiteout("d/.wh..wh..opq")
        .apply(r)
        .unwrap();
    assert_eq!(names(r, "d"), ["a", "new"]);
    assert_eq!(read(r, "d/a"), "upper a");
    assert_eq!(read(r, "keep"), "keep");
    assert_eq!(st.opaque_dirs, 1);
    assert_eq!(st.whiteouts, 0);
    assert_eq!(st.entries, 2);
}

#[test]
fn opaque_marker_first() {
    let tmp = lower();
    let r = tmp.path();
    Layer::new()
        .dir("d", 0o750)
        .whiteout("d/.wh..wh..opq")
        .dir("d/sub", 0o755)
        .file("d/sub/z", "z")
        .apply(r)
        .unwrap();
    assert_eq!(names(r, "d"), ["sub"]);
    assert_eq!(names(r, "d/sub"), ["z"]);
    assert_eq!(fs::metadata(r.join("d")).unwrap().mode() & 0o7777, 0o750);
}

#[test]
fn opaque_marker_after_own_dir_removes_lower_children_below_it() {
    // the layer keeps the lower d/sub (directory over directory) and lists d/sub/new; the
    // later opaque marker of d must still hide d/sub/c, as if it had come first.
    let tmp = lower();
    let r = tmp.path();
    Layer::new()
        .dir("d/sub", 0o755)
        .file("d/sub/new", "n")
        .whiteout("d/.wh..wh..opq")
        .apply(r)
        .unwrap();
    assert_eq!(names(r, "d"), ["sub"]);
    assert_eq!(names(r, "d/sub"), ["new"]);
}

#[test]
fn whiteouts_of_lower_file_and_dir() {
    let tmp = lower();
    let r = tmp.path();
    let st = Layer::new()
        .whiteout("d/.wh.a")
        .whiteout(".wh.f")
        .whiteout("d/.wh.sub")
        .whiteout("d/.wh.missing")
        .whiteout("missing/dir/.wh.x")
        .whiteout("f/.wh.under-a-file")
        .apply(r)
        .unwrap();
    assert_eq!(names(r, "d"), ["b"]);
    assert!(!exists(r, "f"));
    assert_eq!(read(r, "keep"), "keep");
    assert!(!exists(r, "missing"), "a whiteout creates nothing");
    assert_eq!(st.whiteouts, 6);
    assert_eq!(st.entries, 0);
}

#[test]
fn whiteout_then_recreate_and_whiteout_after_write() {
    let tmp = lower();
    let r = tmp.path();
    Layer::new()
        .whiteout("d/.wh.sub")
        .dir("d/sub", 0o700)
        .file("d/sub/fresh", "fresh")
        // written by this layer: a later whiteout must not remove it.
        .file("d/a", "upper a")
        .whiteout("d/.wh.a")
        .apply(r)
        .unwrap();
    assert_eq!(names(r, "d/sub"), ["fresh"]);
    assert_eq!(read(r, "d/a"), "upper a");
    assert!(!exists(r, "d/.wh.a"), "whiteout files are never created");
}

#[test]
fn whiteout_of_own_dir_hides_only_lower_children() {
    let tmp = lower();
    let r = tmp.path();
    Layer::new()
        .file("d/sub/mine", "mine")
        .whiteout("d/.wh.sub")
        .apply(r)
        .unwrap();
    assert_eq!(names(r, "d/sub"), ["mine"]);
}

#[test]
fn invalid_whiteouts_are_refused() {
    for name in ["d/.wh.", ".wh..", "d/.wh..."] {
        let tmp = lower();
        let err = Layer::new().whiteout(name).apply(tmp.path()).unwrap_err();
        assert!(matches!(err, UnpackError::Unsafe { .. }), "{name}: {err}");
        assert!(tmp.path().join("d/sub/c").exists());
    }
}

#[test]
fn type_changes_across_layers() {
    let tmp = lower();
    let r = tmp.path();
    Layer::new()
        // a non-empty directory becomes a file, a file a directory, a file a symlink.
        .file("d", "now a file")
        .dir("f", 0o755)
        .file("f/inner", "inner")
        .symlink("keep", "f/inner")
        .apply(r)
        .unwrap();
    assert_eq!(read(r, "d"), "now a file");
    assert_eq!(read(r, "f/inner"), "inner");
    assert_eq!(fs::read_link(r.join("keep")).unwrap(), Path::new("f/inner"));
    Layer::new()
        .symlink("f", "d")
        .dir("keep", 0o755)
        .apply(r)
        .unwrap();
    assert_eq!(fs::read_link(r.join("f")).unwrap(), Path::new("d"));
    assert!(fs::symlink_metadata(r.join("keep")).unwrap().is_dir());
}

#[test]
fn symlinked_parents_stay_in_the_root() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let outside = tmp.path().join("outside");
    fs::create_dir(&root).unwrap();
    fs::create_dir(&outside).unwrap();
    let abs = outside.to_str().unwrap();
    Layer::new()
        .symlink("escape", abs)
        .symlink("rel", "../../../../../..")
        .symlink("chain", "rel/escape")
        .apply(&root)
        .unwrap();
    Layer::new()
        .file("escape/pwned", "x")
        .file("rel/pwned2", "y")
        .file("chain/pwned3", "z")
        .hardlink("hl", "escape/pwned")
        .apply(&root)
        .unwrap();
    assert_empty(&outside);
    let inside = root.join(abs.trim_start_matches('/'));
    assert_eq!(fs::read_to_string(inside.join("pwned")).unwrap(), "x");
    assert_eq!(fs::read_to_string(inside.join("pwned3")).unwrap(), "z");
    assert_eq!(read(&root, "pwned2"), "y");
    assert_eq!(fs::metadata(root.join("hl")).unwrap().nlink(), 2);
    // the final component is never followed: the symlink itself is replaced.
    Layer::new().file("escape", "file").apply(&root).unwrap();
    assert_eq!(read(&root, "escape"), "file");
    assert_empty(&outside);
}

#[test]
fn dotdot_names_are_refused_absolute_names_are_relative() {
    for (kind, name, link) in [
        (tar::EntryType::Regular, "../evil", ""),
        (tar::EntryType::Regular, "a/../../evil", ""),
        (tar::EntryType::Link, "ok", "../evil"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        fs::create_dir(&root).unwrap();
        let err = Layer::new()
            .file("evil", "e")
            .raw(kind, name, link)
            .apply(&root)
            .unwrap_err();
        assert!(matches!(err, UnpackError::Unsafe { .. }), "{name}: {err}");
        assert_eq!(names(tmp.path(), ""), ["root"]);
    }
    let tmp = tempfile::tempdir().unwrap();
    Layer::new()
        .raw(tar::EntryType::Regular, "/abs/file", "")
        .raw(tar::EntryType::Link, "/abs/link", "/abs/file")
        .apply(tmp.path())
        .unwrap();
    assert_eq!(
        fs::metadata(tmp.path().join("abs/link")).unwrap().nlink(),
        2
    );
}

#[test]
fn root_entries() {
    let tmp = lower();
    Layer::new().dir(".", 0o711).apply(tmp.path()).unwrap();
    assert_eq!(fs::metadata(tmp.path()).unwrap().mode() & 0o7777, 0o711);
    for kind in [tar::EntryType::Symlink, tar::EntryType::Regular] {
        for name in [".", "./", "/.", "/"] {
            if kind == tar::EntryType::Regular && name.ends_with('/') {
                continue; // a V7 directory
            }
            let err = Layer::new()
                .raw(kind, name, "/etc")
                .apply(tmp.path())
                .unwrap_err();
            assert!(matches!(err, UnpackError::Unsafe { .. }), "{name}: {err}");
        }
    }
    assert!(fs::symlink_metadata(tmp.path()).unwrap().is_dir());
}

#[test]
fn hard_links_across_layers_and_before_their_target() {
    let tmp = lower();
    let r = tmp.path();
    Layer::new()
        .hardlink("d/link-to-lower", "d/b")
        .hardlink("early", "late/target")
        .hardlink("chain1", "chain2")
        .hardlink("chain2", "late/target")
        // the later of two entries of one name wins, also over a waiting link.
        .file("over-link", "before")
        .hardlink("over-link", "late/target")
        .hardlink("link-over", "late/target")
        .file("link-over", "after")
        .file("late/target", "late")
        .apply(r)
        .unwrap();
    assert_eq!(read(r, "link-over"), "after");
    assert_eq!(read(r, "over-link"), "late");
    let b = fs::metadata(r.join("d/b")).unwrap();
    let l = fs::metadata(r.join("d/link-to-lower")).unwrap();
    assert_eq!((b.ino(), b.nlink()), (l.ino(), 2));
    let t = fs::metadata(r.join("late/target")).unwrap();
    assert_eq!(t.nlink(), 5);
    for p in ["early", "chain1", "chain2", "over-link"] {
        assert_eq!(fs::metadata(r.join(p)).unwrap().ino(), t.ino(), "{p}");
    }
    let err = Layer::new()
        .hardlink("dangling", "no/such")
        .apply(r)
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("dangling") && msg.contains("no/such"), "{msg}");
}

#[test]
fn implicit_parents() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    Layer::new()
        .file("implicit/deep/file", "x")
        .apply(r)
        .unwrap();
    for p in ["implicit", "implicit/deep"] {
        let m = fs::metadata(r.join(p)).unwrap();
        assert!(m.is_dir());
        assert_eq!(m.mode() & 0o7777, 0o755, "{p}");
        assert_eq!((m.uid(), m.gid()), (0, 0), "{p}");
    }
}

#[test]
fn mode_000_and_read_only_dirs() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    Layer::new()
        .dir("locked", 0o000)
        .file("locked/a", "a")
        .dir("ro", 0o555)
        .dir("ro/sub", 0o000)
        .file("ro/sub/b", "b")
        .apply(r)
        .unwrap();
    assert_eq!(fs::metadata(r.join("locked")).unwrap().mode() & 0o7777, 0);
    assert_eq!(fs::metadata(r.join("ro")).unwrap().mode() & 0o7777, 0o555);
    Layer::new()
        .file("locked/c", "c")
        .file("ro/sub/d", "d")
        .whiteout("ro/sub/.wh.b")
        .apply(r)
        .unwrap();
    assert_eq!(names(r, "locked"), ["a", "c"]);
    assert_eq!(names(r, "ro/sub"), ["d"]);
    assert_eq!(fs::metadata(r.join("ro/sub")).unwrap().mode() & 0o7777, 0);
}

#[test]
fn usrmerge_symlinks_are_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    Layer::new()
        .dir("usr", 0o755)
        .dir("usr/bin", 0o755)
        .file("usr/bin/sh", "sh")
        .symlink("bin", "usr/bin")
        .apply(r)
        .unwrap();
    Layer::new()
        .file("bin/foo", "foo")
        .dir("bin/sub", 0o700)
        .file("bin/sub/x", "x")
        .whiteout("bin/.wh.sh")
        .apply(r)
        .unwrap();
    assert_eq!(fs::read_link(r.join("bin")).unwrap(), Path::new("usr/bin"));
    assert_eq!(read(r, "usr/bin/foo"), "foo");
    assert_eq!(read(r, "usr/bin/sub/x"), "x");
    assert_eq!(
        fs::metadata(r.join("usr/bin/sub")).unwrap().mode() & 0o7777,
        0o700
    );
    assert!(!exists(r, "usr/bin/sh"));
    // same-layer tracking goes by the resolved path: bin/foo is usr/bin/foo.
    Layer::new()
        .file("bin/again", "again")
        .whiteout("usr/bin/.wh.again")
        .apply(r)
        .unwrap();
    assert_eq!(read(r, "usr/bin/again"), "again");
}

#[test]
fn directory_over_directory_takes_the_new_metadata() {
    let tmp = lower();
    let r = tmp.path();
    xattr_set(&r.join("d"), "user.lower", b"1");
    let mut h = header(tar::EntryType::Directory, 0o700, 0);
    h.set_uid(1234);
    h.set_gid(5678);
    let mut b = tar::Builder::new(Vec::new());
    b.append_pax_extensions([("SCHILY.xattr.user.upper", &b"2"[..])])
        .unwrap();
    b.append_data(&mut h, "d", &[][..]).unwrap();
    let data = b.into_inner().unwrap();
    apply_layer(&mut &data[..], r, &UnpackOptions::default()).unwrap();
    let m = fs::metadata(r.join("d")).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o700);
    assert_eq!((m.uid(), m.gid()), (1234, 5678));
    assert_eq!(m.mtime(), MTIME as i64);
    assert_eq!(
        xattr_get(&r.join("d"), "user.upper").as_deref(),
        Some(&b"2"[..])
    );
    assert_eq!(xattr_get(&r.join("d"), "user.lower"), None);
    assert_eq!(names(r, "d"), ["a", "b", "sub"], "children are kept");
}

#[test]
fn unlisted_parents_keep_their_times() {
    let tmp = lower();
    let r = tmp.path();
    let set = |p: &str, t: i64| {
        let f = fs::File::open(r.join(p)).unwrap();
        f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(t as u64))
            .unwrap();
    };
    set("d", 1_000_000);
    set("d/sub", 2_000_000);
    set("", 3_000_000);
    Layer::new()
        .file("d/new", "n")
        .whiteout("d/sub/.wh.c")
        .whiteout(".wh.f")
        .apply(r)
        .unwrap();
    let mtime = |p: &str| fs::metadata(r.join(p)).unwrap().mtime();
    assert_eq!(mtime("d"), 1_000_000);
    assert_eq!(mtime("d/sub"), 2_000_000);
    assert_eq!(mtime(""), 3_000_000);
}

fn xattr_set(p: &Path, name: &str, value: &[u8]) {
    rustix::fs::lsetxattr(p, name, value, rustix::fs::XattrFlags::empty()).unwrap();
}

fn xattr_get(p: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    match rustix::fs::lgetxattr(p, name, &mut buf) {
        Ok(n) => Some(buf[..n].to_vec()),
        Err(rustix::io::Errno::NODATA) => None,
        Err(e) => panic!("getxattr {}: {e}", p.display()),
    }
}

#[test]
fn inherited_default_acls_are_dropped() {
    let tmp = lower();
    let r = tmp.path();
    common::sh(r, "setfacl -d -m u:1234:rwx d");
    Layer::new()
        .file("d/new", "n")
        .dir("d/newdir", 0o755)
        .apply(r)
        .unwrap();
    for p in ["d/new", "d/newdir"] {
        assert_eq!(
            xattr_get(&r.join(p), "system.posix_acl_access"),
            None,
            "{p}"
        );
        assert_eq!(
            xattr_get(&r.join(p), "system.posix_acl_default"),
            None,
            "{p}"
        );
    }
    assert_eq!(
        fs::metadata(r.join("d/newdir")).unwrap().mode() & 0o7777,
        0o755
    );
    assert!(xattr_get(&r.join("d"), "system.posix_acl_default").is_some());
}

#[test]
fn modes_owners_and_permissions_survive() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    let mut h = header(tar::EntryType::Regular, 0o4755, 2);
    h.set_uid(42);
    h.set_gid(43);
    let mut b = tar::Builder::new(Vec::new());
    b.append_data(&mut h, "usr/bin/suid", &b"#!"[..]).unwrap();
    let data = b.into_inner().unwrap();
    apply_layer(&mut &data[..], r, &UnpackOptions::default()).unwrap();
    let m = fs::metadata(r.join("usr/bin/suid")).unwrap();
    assert_eq!(m.permissions().mode() & 0o7777, 0o4755);
    assert_eq!((m.uid(), m.gid()), (42, 43));
}

#[test]
fn symlink_loops_in_parents_are_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    Layer::new()
        .symlink("loop1", "loop2")
        .symlink("loop2", "/loop1")
        .apply(r)
        .unwrap();
    let err = Layer::new().file("loop1/x", "x").apply(r).unwrap_err();
    assert!(
        err.to_string().contains("loop1/x"),
        "the error names the entry: {err}"
    );
    // so is a whiteout beneath it (umoci: SecureJoin fails the same way).
    let err = Layer::new().whiteout("loop1/.wh.x").apply(r).unwrap_err();
    assert!(err.to_string().contains("loop1/.wh.x"), "{err}");
}
