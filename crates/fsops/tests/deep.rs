//! Deep trees: no stack overflow, bounded number of open fds (own test binary so that no other
//! test opens fds concurrently).

mod common;

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use wharf_fsops::{copy_tree, remove_tree, tree_usage, CopyOptions};

const DEPTH: usize = 1500;

#[test]
fn deep_tree_copy_usage_remove() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let dst = tmp.path().join("dst");
    fs::create_dir(&dst).unwrap();
    // src/d/d/…/d with a file at every 100th level and one hardlink pair spanning the tree.
    let mut path = src.clone();
    let mut files = 0;
    for level in 0..DEPTH {
        path.push("d");
        fs::create_dir_all(&path).unwrap();
        if level % 100 == 0 {
            write(&path.join("f"), format!("level {level}").as_bytes());
            files += 1;
        }
    }
    write(&path.join("bottom"), b"bottom");
    fs::hard_link(path.join("bottom"), src.join("top-link")).unwrap();

    // Future atimes: relatime leaves them alone when the copy reads the directories.
    for rel in snapshot(&src).entries.keys() {
        set_times(&src.join(rel), (now() + 3600, 5), (1_600_000_000, 7));
    }
    let before = snapshot(&src);

    let max_fds = AtomicUsize::new(0);
    let progress = |_: u64| {
        max_fds.fetch_max(open_fds(), Ordering::Relaxed);
    };
    let opts = CopyOptions {
        progress: Some(&progress),
        ..CopyOptions::default()
    };
    let baseline = open_fds();
    let stats = copy_tree(&src, &dst, &opts).unwrap();
    assert_eq!(stats.dirs, DEPTH as u64);
    assert_eq!(stats.files, files + 1);
    assert_eq!(stats.hardlinks, 1);
    let max = max_fds.load(Ordering::Relaxed);
    assert!(
        max <= baseline + 2 * 64 + 16,
        "{max} fds open during the copy (baseline {baseline})"
    );

    let mut copied: PathBuf = dst.clone();
    for _ in 0..DEPTH {
        copied.push("d");
    }
    assert_eq!(fs::read(copied.join("bottom")).unwrap(), b"bottom");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        fs::metadata(copied.join("bottom")).unwrap().ino(),
        fs::metadata(dst.join("top-link")).unwrap().ino()
    );
    assert_same_meta(&before, &snapshot(&dst));

    let u = tree_usage(&dst).unwrap();
    assert_eq!(u.entries, 1 + DEPTH as u64 + files + 2);
    remove_tree(&dst).unwrap();
    remove_tree(&src).unwrap();
    assert!(!dst.exists() && !src.exists());
    assert_eq!(open_fds(), baseline);
}
