//! Reliability, part 4: imports into a nearly full filesystem. The image root is a small
//! loop-mounted ext4 or btrfs filled but for a few MiB; importing more than that must end with
//! one line that says there is no space, exit status 1, no `.#` residue (without `clean`) and
//! the store exactly as before. The filesystems are unmounted and their loop devices released
//! by drop guards, also when an assertion fails.

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use wharf_tests::fixtures::LoopMount;
use wharf_tests::reliability::{assert_same_store, report, small_image, store_fingerprint};
use wharf_tests::{ok, run, sh, temporaries};

/// Free bytes for unprivileged writers… and for root, which is what wharf runs as.
fn free_bytes(dir: &Path) -> u64 {
    let st = rustix::fs::statvfs(dir).unwrap();
    st.f_bavail * st.f_frsize
}

/// Incompressible bytes.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

/// A small filesystem as image root, plus inputs kept on the host's filesystem.
struct Full {
    root: PathBuf,
    inputs: PathBuf,
    img: PathBuf,
    // Declared before the temp dir so it is unmounted before the directory goes.
    mount: Option<LoopMount>,
    _tmp: tempfile::TempDir,
}

impl Full {
    fn new(kind: &str, size_mib: u64) -> Full {
        let tmp = tempfile::Builder::new()
            .prefix("wharf-enospc-")
            .tempdir()
            .unwrap();
        let mount = match kind {
            "ext4" => LoopMount::ext4(tmp.path(), size_mib),
            _ => LoopMount::btrfs(tmp.path(), size_mib),
        };
        let root = mount.dir.join("machines");
        fs::create_dir(&root).unwrap();
        let inputs = tmp.path().join("inputs");
        fs::create_dir(&inputs).unwrap();
        Full {
            root,
            inputs,
            img: tmp.path().join("fs.img"),
            mount: Some(mount),
            _tmp: tmp,
        }
    }

    /// Fill the filesystem but for `leave` bytes with a file outside the store.
    fn fill(&self, leave: u64) {
        let filler = self.root.parent().unwrap().join("filler");
        let f = fs::File::create(&filler).unwrap();
        let chunk = vec![0x77u8; 1 << 20];
        let mut off = 0u64;
        while free_bytes(&self.root) > leave + (1 << 20) {
            if f.write_all_at(&chunk, off).is_err() {
                break;
            }
            off += chunk.len() as u64;
            if off.is_multiple_of(16 << 20) {
                f.sync_all().unwrap();
            }
        }
        f.sync_all().unwrap();
    }

    /// Unmount now and check the loop device is gone.
    fn finish(mut self) {
        drop(self.mount.take());
        let held = sh("losetup", &["-j", self.img.to_str().unwrap()]);
        assert!(held.trim().is_empty(), "loop device still attached: {held}");
    }
}

fn case(kind: &str, size_mib: u64) -> usize {
    let f = Full::new(kind, size_mib);
    let root = &f.root;
    small_image(&root.join("keep"));
    // Inputs: 48 MiB of incompressible data as a tarball, a raw disk, and a tree to clone.
    let tree = f.inputs.join("tree");
    fs::create_dir(&tree).unwrap();
    for i in 0..6 {
        fs::write(tree.join(format!("f{i}")), noise(8 << 20, i + 1)).unwrap();
    }
    let tarball = f.inputs.join("big.tar");
    sh(
        "tar",
        &[
            "-C",
            tree.to_str().unwrap(),
            "-cf",
            tarball.to_str().unwrap(),
            ".",
        ],
    );
    let raw = f.inputs.join("big.raw");
    fs::write(&raw, noise(48 << 20, 99)).unwrap();
    // An image the clone will copy: 12 MiB, made while there is room.
    let src = root.join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("data"), noise(12 << 20, 7)).unwrap();
    f.fill(6 << 20);
    let before = store_fingerprint(root);
    let mut attempts: Vec<Vec<&str>> = vec![
        vec!["import-tar", tarball.to_str().unwrap(), "t"],
        vec!["import-raw", raw.to_str().unwrap(), "r"],
        vec!["import-fs", tree.to_str().unwrap(), "d"],
    ];
    if kind == "ext4" {
        // btrfs clones by reflink and needs no room for data.
        attempts.push(vec!["clone", "src", "c"]);
    }
    let n = attempts.len();
    for args in attempts {
        let ctx = format!("{kind}: {args:?}");
        let r = run(root, &args);
        println!("{ctx}: {}", r.stderr.trim_end());
        assert!(!r.ok, "{ctx}: succeeded on a full filesystem");
        assert!(!r.stderr.contains("panicked"), "{ctx}: {r:?}");
        assert_eq!(r.code, Some(1), "{ctx}: {r:?}");
        assert_eq!(r.stderr.trim_end().lines().count(), 1, "{ctx}: {r:?}");
        // The line says what was being done (clone and import-fs said only "write PATH").
        assert!(r.stderr.starts_with("wharf: cannot "), "{ctx}: {r:?}");
        assert!(
            r.stderr.to_lowercase().contains("no space")
                || r.stderr.to_lowercase().contains("not enough space")
                || r.stderr.contains("quota"),
            "{ctx}: the error does not say the disk is full: {:?}",
            r.stderr
        );
        assert!(
            temporaries(root).is_empty(),
            "{ctx}: {:?}",
            temporaries(root)
        );
        assert_same_store(&before, &store_fingerprint(root), &ctx);
    }
    // The store still works: clean finds nothing, a small import fits.
    ok(root, &["clean"]);
    assert!(temporaries(root).is_empty());
    f.finish();
    n
}

#[test]
fn imports_into_a_full_ext4_fail_cleanly() {
    let n = case("ext4", 96);
    report(
        "enospc-ext4",
        &[("attempts", n), ("no_space_errors", n), ("residue", 0)],
    );
}

#[test]
fn imports_into_a_full_btrfs_fail_cleanly() {
    let n = case("btrfs", 256);
    report(
        "enospc-btrfs",
        &[("attempts", n), ("no_space_errors", n), ("residue", 0)],
    );
}
