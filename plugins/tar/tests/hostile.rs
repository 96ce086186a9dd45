//! Hostile and broken archives (built with python3's tarfile): each must fail with the
//! expected error, and nothing may appear outside the root.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use common::{assert_empty, python, unpack_file};
use wharf_tar::{UnpackError, UnpackOptions, UnpackStats};

/// Writes archive `argv[1]` for case `argv[2]`; `argv[3]` is the sentinel directory (a
/// symlink target outside the root).
const MAKE: &str = r#"
import io, sys, tarfile
out, case, sentinel = sys.argv[1], sys.argv[2], sys.argv[3]

def ti(name, kind=tarfile.REGTYPE, data=None, link=""):
    t = tarfile.TarInfo(name)
    t.type = kind
    t.linkname = link
    t.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    t.mtime = 1000000000
    t.size = len(data) if data is not None else 0
    return (t, data)

fmt = tarfile.PAX_FORMAT
cases = {
    "dotdot": [ti("../escape", data=b"bad")],
    "absolute": [ti("/abs/path", data=b"bad")],
    "dotdot-inner": [ti("a/../../x", data=b"bad")],
    "symlink-then-write": [ti("l", tarfile.SYMTYPE, link=sentinel), ti("l/file", data=b"bad")],
    "symlink-tmp-outside": [ti("l", tarfile.SYMTYPE, link="/tmp/outside"), ti("l/file", data=b"bad")],
    "symlink-then-dir": [ti("l", tarfile.SYMTYPE, link=sentinel), ti("l/sub", tarfile.DIRTYPE)],
    "symlink-deep": [ti("a", tarfile.DIRTYPE), ti("a/b", tarfile.SYMTYPE, link=sentinel),
                     ti("a/b/c/d", data=b"bad")],
    "symlink-relative": [ti("l", tarfile.SYMTYPE, link="../sentinel"), ti("l/file", data=b"bad")],
    "symlink-then-hardlink": [ti("l", tarfile.SYMTYPE, link=sentinel),
                              ti("h", tarfile.LNKTYPE, link="l/file")],
    "hardlink-passwd": [ti("h", tarfile.LNKTYPE, link="../../etc/passwd")],
    "hardlink-absolute": [ti("h", tarfile.LNKTYPE, link="/etc/passwd")],
    "hardlink-dir": [ti("d", tarfile.DIRTYPE), ti("h", tarfile.LNKTYPE, link="d")],
    "root-as-file": [ti(".", tarfile.REGTYPE, data=b"bad")],
    "symlink-replaced": [ti("l", tarfile.SYMTYPE, link=sentinel + "/f"), ti("l", data=b"ok")],
    "dir-over-symlink": [ti("l", tarfile.SYMTYPE, link=sentinel), ti("l", tarfile.DIRTYPE),
                         ti("l/f", data=b"ok")],
    "unknown-type": [ti("x", b"Z", data=b"zz")],
}
if case in cases:
    with tarfile.open(out, "w", format=fmt) as tf:
        for t, data in cases[case]:
            tf.addfile(t, io.BytesIO(data) if data is not None else None)
elif case == "huge":
    t, _ = ti("big")
    t.size = 1 << 40
    with open(out, "wb") as f:
        f.write(t.tobuf(tarfile.GNU_FORMAT) + b"x" * 4096)
elif case == "pax-too-big":
    t, _ = ti("f", data=b"")
    t.pax_headers = {"comment": "x" * (2 << 20)}
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tf:
        tf.addfile(t)
elif case == "longname-too-big":
    t, _ = ti("n" * 70000, data=b"")
    with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as tf:
        tf.addfile(t)
elif case == "plain":
    with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as tf:
        for name, data in [("a", b"A" * 100000), ("b", b"B" * 10)]:
            t, d = ti(name, data=data)
            tf.addfile(t, io.BytesIO(d))
else:
    raise SystemExit("unknown case " + case)
"#;

struct Case {
    tmp: tempfile::TempDir,
}

impl Case {
    /// A temp dir with `root/`, `sentinel/` and `archive.tar` built for `name`.
    fn new(name: &str) -> Case {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("root")).unwrap();
        std::fs::create_dir(tmp.path().join("sentinel")).unwrap();
        let archive = tmp.path().join("archive.tar");
        let sentinel = tmp.path().join("sentinel");
        python(
            MAKE,
            &[archive.to_str().unwrap(), name, sentinel.to_str().unwrap()],
        );
        Case { tmp }
    }

    fn path(&self, p: &str) -> std::path::PathBuf {
        self.tmp.path().join(p)
    }

    fn unpack(&self, opts: &UnpackOptions<'_>) -> Result<UnpackStats, UnpackError> {
        unpack_file(&self.path("archive.tar"), &self.path("root"), opts)
    }

    /// Nothing outside the root: the sentinel is empty and the temp dir holds only what we
    /// put there.
    fn assert_contained(&self) {
        assert_empty(&self.path("sentinel"));
        let names: BTreeSet<String> = std::fs::read_dir(self.tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        let want: BTreeSet<String> = ["root", "sentinel", "archive.tar"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(names, want);
        assert!(!Path::new("/tmp/outside/file").exists());
    }
}

/// Unpacks case `name`, expects an error whose message contains `needle`, and checks that
/// nothing escaped.
fn refused(name: &str, needle: &str) -> UnpackError {
    let case = Case::new(name);
    let err = case
        .unpack(&UnpackOptions::default())
        .expect_err(&format!("{name} must fail"));
    let msg = err.to_string();
    assert!(msg.contains(needle), "{name}: {msg:?} lacks {needle:?}");
    assert!(!msg.contains('\n'), "{name}: multi-line message {msg:?}");
    case.assert_contained();
    err
}

fn assert_unsafe(name: &str, entry: &str, reason: &str) {
    match refused(name, reason) {
        UnpackError::Unsafe {
            entry: e,
            reason: r,
        } => {
            assert_eq!((e.as_str(), r), (entry, reason), "{name}");
        }
        other => panic!("{name}: expected Unsafe, got {other:?}"),
    }
}

#[test]
fn dotdot_is_refused() {
    assert_unsafe("dotdot", "../escape", "path leaves the image");
    let case = Case::new("dotdot");
    let msg = case
        .unpack(&UnpackOptions::default())
        .unwrap_err()
        .to_string();
    assert_eq!(
        msg,
        "refusing tar entry \"../escape\": path leaves the image"
    );
}

#[test]
fn absolute_is_refused() {
    assert_unsafe("absolute", "/abs/path", "absolute path");
}

#[test]
fn inner_dotdot_is_refused() {
    assert_unsafe("dotdot-inner", "a/../../x", "path leaves the image");
}

#[test]
fn symlink_then_write_is_refused() {
    assert_unsafe("symlink-then-write", "l/file", "path crosses a symlink");
    assert_unsafe("symlink-tmp-outside", "l/file", "path crosses a symlink");
    assert_unsafe("symlink-then-dir", "l/sub/", "path crosses a symlink");
    assert_unsafe("symlink-deep", "a/b/c/d", "path crosses a symlink");
    assert_unsafe("symlink-relative", "l/file", "path crosses a symlink");
}

#[test]
fn hardlinks_must_stay_inside() {
    assert_unsafe(
        "symlink-then-hardlink",
        "h",
        "hard link target crosses a symlink",
    );
    assert_unsafe("hardlink-passwd", "h", "hard link target leaves the image");
    assert_unsafe(
        "hardlink-absolute",
        "h",
        "hard link target is an absolute path",
    );
    assert_unsafe("hardlink-dir", "h", "hard link to a directory");
}

#[test]
fn root_cannot_become_a_file() {
    assert_unsafe("root-as-file", ".", "entry replaces the image root");
}

#[test]
fn entries_replace_symlinks_without_following_them() {
    for name in ["symlink-replaced", "dir-over-symlink"] {
        let case = Case::new(name);
        case.unpack(&UnpackOptions::default()).unwrap();
        case.assert_contained();
        let md = std::fs::symlink_metadata(case.path("root/l")).unwrap();
        assert!(!md.file_type().is_symlink(), "{name}");
    }
}

#[test]
fn huge_size_hits_the_limit_before_any_write() {
    let case = Case::new("huge");
    let opts = UnpackOptions {
        size_max: Some(1 << 30),
        ..Default::default()
    };
    let err = case.unpack(&opts).unwrap_err();
    assert!(
        matches!(err, UnpackError::TooLarge(l) if l == 1 << 30),
        "{err}"
    );
    assert_empty(&case.path("root"));
    case.assert_contained();
    // without a limit it is a truncated archive.
    let err = case.unpack(&UnpackOptions::default()).unwrap_err();
    assert!(matches!(err, UnpackError::Corrupt(_)), "{err}");
}

#[test]
fn oversized_metadata_is_corrupt() {
    assert!(matches!(
        refused("pax-too-big", "PAX header of"),
        UnpackError::Corrupt(_)
    ));
    assert!(matches!(
        refused("longname-too-big", "GNU long name of"),
        UnpackError::Corrupt(_)
    ));
}

#[test]
fn unknown_entry_type_is_corrupt() {
    assert!(matches!(
        refused("unknown-type", "unsupported entry type 'Z'"),
        UnpackError::Corrupt(_)
    ));
}

#[test]
fn truncated_archives_are_corrupt() {
    let case = Case::new("plain");
    let archive = case.path("archive.tar");
    let full = std::fs::read(&archive).unwrap();
    // inside data, inside a header, and right after the last entry (no end blocks).
    for cut in [50_000, 100_352 + 100, 100_352 + 512 + 512] {
        std::fs::write(&archive, &full[..cut]).unwrap();
        let root = case.path("root");
        std::fs::remove_dir_all(&root).unwrap();
        std::fs::create_dir(&root).unwrap();
        let err = case.unpack(&UnpackOptions::default()).unwrap_err();
        assert!(matches!(err, UnpackError::Corrupt(_)), "cut {cut}: {err}");
    }
    case.assert_contained();
}

#[test]
fn garbage_is_corrupt() {
    let case = Case::new("plain");
    let mut x: u32 = 12345;
    let garbage: Vec<u8> = (0..10_000)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as u8
        })
        .collect();
    std::fs::write(case.path("archive.tar"), &garbage).unwrap();
    let err = case.unpack(&UnpackOptions::default()).unwrap_err();
    assert!(err.to_string().contains("bad header checksum"), "{err}");
    std::fs::write(case.path("archive.tar"), b"").unwrap();
    let err = case.unpack(&UnpackOptions::default()).unwrap_err();
    assert!(matches!(err, UnpackError::Corrupt(_)), "{err}");
    assert_empty(&case.path("root"));
    case.assert_contained();
}

#[test]
fn trailing_garbage_and_concatenated_archives() {
    let case = Case::new("plain");
    let archive = case.path("archive.tar");
    let full = std::fs::read(&archive).unwrap();
    let mut data = full.clone();
    data.extend_from_slice(&b"trailing garbage after the archive".repeat(100));
    std::fs::write(&archive, &data).unwrap();
    let stats = case.unpack(&UnpackOptions::default()).unwrap();
    assert_eq!(
        stats,
        UnpackStats {
            entries: 2,
            bytes: 100_010
        }
    );

    // `cat a.tar b.tar` (GNU tar --ignore-zeros): the second archive's entries count too.
    let root = case.path("root");
    std::fs::remove_dir_all(&root).unwrap();
    std::fs::create_dir(&root).unwrap();
    let mut two = full.clone();
    two.extend_from_slice(&full);
    std::fs::write(&archive, &two).unwrap();
    let stats = case.unpack(&UnpackOptions::default()).unwrap();
    assert_eq!(stats.entries, 4);
    assert_eq!(std::fs::read(root.join("b")).unwrap(), b"BBBBBBBBBB");
}

#[test]
fn progress_and_cancel() {
    let case = Case::new("plain");
    let len = std::fs::metadata(case.path("archive.tar")).unwrap().len();
    let total = AtomicU64::new(0);
    let progress = |n: u64| {
        total.fetch_add(n, Ordering::Relaxed);
    };
    let opts = UnpackOptions {
        progress: Some(&progress),
        ..Default::default()
    };
    case.unpack(&opts).unwrap();
    assert_eq!(total.load(Ordering::Relaxed), len);

    let cancel = AtomicBool::new(true);
    let opts = UnpackOptions {
        cancel: Some(&cancel),
        ..Default::default()
    };
    assert!(matches!(case.unpack(&opts), Err(UnpackError::Cancelled)));
}
