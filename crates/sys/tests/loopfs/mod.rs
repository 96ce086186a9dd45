//! a scratch btrfs on a loop device, for the privileged tests.
//!
//! These tests need root, `mkfs.btrfs` (btrfs-progs), `losetup` and `mount`; when any is missing
//! they fail with a message saying so instead of silently passing.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;
use std::process::Command;

/// size of the sparse backing file.
pub const IMAGE_SIZE: u64 = 300 * 1024 * 1024;

/// a mounted scratch btrfs; dropping it unmounts (lazily if busy) and detaches the loop device,
/// even when a test assertion failed halfway through.
pub struct LoopBtrfs {
    /// the mount point.
    pub mnt: PathBuf,
    /// the loop device, e.g. `/dev/loop3`.
    pub dev: Option<String>,
    mounted: bool,
    root: Option<File>,
    losetup: PathBuf,
    umount: PathBuf,
    dir: tempfile::TempDir,
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e} (is the tool installed?)"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// the full path of `name`, from `PATH` or the usual sbin/bin dirs (root's tools are often not
/// on a user's `PATH`); panics with a clear message when it is not installed.
fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is missing: the privileged btrfs tests need it \
                 (apt-get install btrfs-progs util-linux mount)"
            )
        })
}

impl LoopBtrfs {
    /// makes, attaches and mounts a fresh 300 MiB btrfs; panics with a clear message on any
    /// missing prerequisite.
    pub fn new() -> LoopBtrfs {
        assert!(
            rustix::process::geteuid().is_root(),
            "the btrfs loop-device tests must run as root"
        );
        let (mkfs, mount) = (tool("mkfs.btrfs"), tool("mount"));
        let dir = tempfile::tempdir().expect("tempdir");
        let mut fs = LoopBtrfs {
            mnt: dir.path().join("mnt"),
            dev: None,
            mounted: false,
            root: None,
            losetup: tool("losetup"),
            umount: tool("umount"),
            dir,
        };
        let image = fs.dir.path().join("btrfs.img");
        File::create(&image)
            .and_then(|f| f.set_len(IMAGE_SIZE))
            .expect("create sparse image");
        std::fs::create_dir(&fs.mnt).expect("mkdir mnt");
        run(Command::new(mkfs).arg("-q").arg(&image)).unwrap();
        let dev = run(Command::new(&fs.losetup)
            .args(["--find", "--show"])
            .arg(&image))
        .unwrap();
        assert!(dev.starts_with("/dev/"), "losetup printed {dev:?}");
        fs.dev = Some(dev.clone());
        run(Command::new(mount)
            .args(["-t", "btrfs"])
            .arg(&dev)
            .arg(&fs.mnt))
        .unwrap();
        fs.mounted = true;
        fs.root = Some(File::open(&fs.mnt).expect("open mount point"));
        fs
    }

    /// the root directory of the mounted filesystem (the top-level subvolume, id 5).
    pub fn root(&self) -> BorrowedFd<'_> {
        self.root.as_ref().expect("mounted").as_fd()
    }
}

impl Drop for LoopBtrfs {
    fn drop(&mut self) {
        self.root = None;
        if self.mounted {
            if let Err(e) = run(Command::new(&self.umount).arg(&self.mnt)) {
                eprintln!("{e}; unmounting lazily");
                if let Err(e) = run(Command::new(&self.umount).arg("--lazy").arg(&self.mnt)) {
                    eprintln!("{e}");
                }
            }
        }
        if let Some(dev) = &self.dev {
            if let Err(e) = run(Command::new(&self.losetup).arg("-d").arg(dev)) {
                eprintln!("{e}");
            }
        }
    }
}
