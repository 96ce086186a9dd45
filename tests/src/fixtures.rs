//! Temporary stores: a directory on the host's filesystem (ext4 here) or a freshly made btrfs
//! filesystem on a loop device. Everything is removed on drop, also when the test panics.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// Which filesystem a test store lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fs {
    /// The host's filesystem under the system temp dir (ext4 on the project's machines).
    Host,
    /// A new btrfs filesystem, loop-mounted for this test.
    Btrfs,
}

/// A temporary image store (`root`) plus scratch space (`scratch`) on the same filesystem.
pub struct TestStore {
    pub root: PathBuf,
    pub scratch: PathBuf,
    _mount: Option<LoopMount>,
    _tmp: TempDir,
}

impl TestStore {
    /// A store on `fs`; btrfs stores get a `size_mib` MiB filesystem.
    pub fn new(fs: Fs, size_mib: u64) -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("wharf-test-")
            .tempdir()
            .expect("tempdir");
        let (base, mount) = match fs {
            Fs::Host => (tmp.path().to_path_buf(), None),
            Fs::Btrfs => {
                let m = LoopMount::btrfs(tmp.path(), size_mib);
                (m.dir.clone(), Some(m))
            }
        };
        let root = base.join("machines");
        let scratch = base.join("scratch");
        fs::create_dir(&root).unwrap();
        fs::create_dir(&scratch).unwrap();
        TestStore {
            root,
            scratch,
            _mount: mount,
            _tmp: tmp,
        }
    }
}

/// A loop-mounted filesystem image; unmounted (and its loop device released) on drop.
pub struct LoopMount {
    pub dir: PathBuf,
}

impl LoopMount {
    /// Make a `size_mib` MiB btrfs filesystem in `tmp` and mount it at `tmp/mnt`.
    pub fn btrfs(tmp: &Path, size_mib: u64) -> Self {
        Self::make(tmp, size_mib, "mkfs.btrfs", &["-q", "-f"])
    }

    /// Make a `size_mib` MiB ext4 filesystem in `tmp` and mount it at `tmp/mnt`.
    pub fn ext4(tmp: &Path, size_mib: u64) -> Self {
        Self::make(tmp, size_mib, "mkfs.ext4", &["-q", "-F"])
    }

    fn make(tmp: &Path, size_mib: u64, mkfs: &str, opts: &[&str]) -> Self {
        let img = tmp.join("fs.img");
        let f = fs::File::create(&img).unwrap();
        f.set_len(size_mib << 20).unwrap();
        drop(f);
        let mut args = opts.to_vec();
        args.push(img.to_str().unwrap());
        crate::sh(mkfs, &args);
        let dir = tmp.join("mnt");
        fs::create_dir(&dir).unwrap();
        // "loop" attaches with autoclear: unmounting releases the loop device too.
        crate::sh(
            "mount",
            &["-o", "loop", img.to_str().unwrap(), dir.to_str().unwrap()],
        );
        LoopMount { dir }
    }
}

impl Drop for LoopMount {
    fn drop(&mut self) {
        let d = self.dir.to_str().unwrap().to_string();
        for _ in 0..20 {
            let ok = Command::new("umount")
                .arg(&d)
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = Command::new("umount").args(["-l", &d]).status();
    }
}

/// Run `body` once per filesystem, each with a fresh store.
#[macro_export]
macro_rules! on_each_fs {
    ($name:ident, $size:expr, $body:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn host() {
                let s = $crate::fixtures::TestStore::new($crate::fixtures::Fs::Host, $size);
                ($body)(&s, $crate::fixtures::Fs::Host);
            }
            #[test]
            fn btrfs() {
                let s = $crate::fixtures::TestStore::new($crate::fixtures::Fs::Btrfs, $size);
                ($body)(&s, $crate::fixtures::Fs::Btrfs);
            }
        }
    };
}
