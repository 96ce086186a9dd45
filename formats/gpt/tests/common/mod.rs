//! Shared helpers for the integration tests: running tools, building images with `sfdisk`,
//! reading `sfdisk --json`, loop devices that detach themselves, and GPT byte patching.
//!
//! These tests need `sfdisk` (Debian package fdisk); the ones touching loop devices need root
//! and `losetup`. A missing tool fails the test with a message naming it, never a silent pass.
#![allow(dead_code)] // each test binary uses its own subset of the helpers

pub mod patch;

/// partition type UUIDs used by the test layouts.
pub mod types {
    pub const ESP: &str = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b";
    pub const ROOT_X86_64: &str = "4f68bce3-e8cd-4db1-96e7-fbcaf984b709";
    pub const USR_X86_64: &str = "8484680c-9521-48c6-9c11-b0720656f69e";
    pub const ROOT_ARM64: &str = "b921b045-1df0-41c3-af44-4c6f280d3fae";
    pub const ROOT_X86: &str = "44479540-f297-41b2-9af7-d131d5f0458a";
    pub const HOME: &str = "933ac7e1-2eb4-4f13-b844-0e14e2aef915";
    pub const SRV: &str = "3b8f8425-20e0-4f3b-907f-1a25a76f98e8";
    pub const SWAP: &str = "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f";
    pub const GENERIC: &str = "0fc63daf-8483-4772-8e79-3d69d8477de4";
}

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use wharf_gpt::{Error, Guid, Table};

/// runs `cmd`, returning its stdout or an error message with its stderr.
pub fn run(cmd: &mut Command) -> Result<String, String> {
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

/// runs `cmd` with `input` on its stdin.
pub fn run_with_input(cmd: &mut Command, input: &str) -> Result<String, String> {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {cmd:?}: {e} (is the tool installed?)"))?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.as_bytes())
        .map_err(|e| format!("writing to {cmd:?}: {e}"))?;
    let out = child
        .wait_with_output()
        .map_err(|e| format!("waiting for {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// the full path of `name` from `PATH` or the sbin/bin dirs, if installed.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// the full path of `name`; panics naming the Debian package when it is missing.
pub fn tool(name: &str, package: &str) -> PathBuf {
    find_tool(name).unwrap_or_else(|| {
        panic!("`{name}` is missing: the wharf-gpt tests need it (apt-get install {package})")
    })
}

/// panics unless running as root (loop devices).
pub fn require_root(why: &str) {
    let uid = run(Command::new("id").arg("-u")).expect("id -u");
    assert_eq!(uid, "0", "{why} must run as root");
}

/// a sparse image file in its own temporary directory.
pub struct Image {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl Image {
    /// a sparse file of `size` bytes.
    pub fn sparse(size: u64) -> Image {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("disk.img");
        std::fs::File::create(&path)
            .and_then(|f| f.set_len(size))
            .expect("create sparse image");
        Image { dir, path }
    }

    /// a sparse file of `size` bytes partitioned by the `sfdisk` `script` (512-byte sectors).
    pub fn sfdisk(size: u64, script: &str) -> Image {
        let img = Image::sparse(size);
        sfdisk_write(&img.path, script);
        img
    }

    pub fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.path).expect("read image")
    }

    pub fn read_table(&self) -> Result<Table, Error> {
        let f = std::fs::File::open(&self.path).expect("open image");
        wharf_gpt::read_table(std::io::BufReader::new(f))
    }
}

/// applies an `sfdisk` script to a file or block device.
pub fn sfdisk_write(target: &Path, script: &str) {
    let sfdisk = tool("sfdisk", "fdisk");
    run_with_input(
        Command::new(sfdisk)
            .args(["--quiet", "--no-reread", "--no-tell-kernel"])
            .arg(target),
        script,
    )
    .unwrap();
}

/// `sfdisk --json` of a file or device, as the `partitiontable` object.
pub fn sfdisk_json(target: &Path) -> serde_json::Value {
    let out = run(Command::new(tool("sfdisk", "fdisk"))
        .arg("--json")
        .arg(target))
    .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&out).expect("sfdisk json");
    v["partitiontable"].take()
}

/// parses sfdisk's `attrs` text ("RequiredPartition NoBlockIOProtocol GUID:59,63 ...").
pub fn sfdisk_attrs(text: &str) -> u64 {
    let mut bits = 0u64;
    for word in text.split_whitespace() {
        match word {
            "RequiredPartition" => bits |= 1,
            "NoBlockIOProtocol" => bits |= 1 << 1,
            "LegacyBIOSBootable" => bits |= 1 << 2,
            w => {
                let list = w.strip_prefix("GUID:").expect("known attribute word");
                for n in list.split(',') {
                    bits |= 1 << n.parse::<u32>().expect("attribute bit number");
                }
            }
        }
    }
    bits
}

/// checks every field of `table` against `sfdisk --json` of the same disk.
pub fn assert_matches_sfdisk(table: &Table, json: &serde_json::Value) {
    let num = |v: &serde_json::Value| v.as_u64().expect("number");
    let guid = |v: &serde_json::Value| -> Guid { v.as_str().expect("guid").parse().unwrap() };
    assert_eq!(json["label"], "gpt");
    assert_eq!(table.sector_size, num(&json["sectorsize"]));
    assert_eq!(table.disk_guid, guid(&json["id"]));
    assert_eq!(table.first_usable, num(&json["firstlba"]));
    assert_eq!(table.last_usable, num(&json["lastlba"]));
    let parts = json["partitions"].as_array().expect("partitions");
    assert_eq!(table.partitions.len(), parts.len());
    for (p, j) in table.partitions.iter().zip(parts) {
        let node = j["node"].as_str().unwrap();
        let number: u32 = node[node.trim_end_matches(char::is_numeric).len()..]
            .parse()
            .unwrap();
        assert_eq!(p.index, number, "{node}");
        assert_eq!(p.first_lba, num(&j["start"]), "{node}");
        assert_eq!(p.last_lba - p.first_lba + 1, num(&j["size"]), "{node}");
        assert_eq!(
            p.size_bytes(table.sector_size),
            num(&j["size"]) * table.sector_size
        );
        assert_eq!(p.type_guid, guid(&j["type"]), "{node}");
        assert_eq!(p.uuid, guid(&j["uuid"]), "{node}");
        assert_eq!(p.name, j["name"].as_str().unwrap_or(""), "{node}");
        assert_eq!(
            p.attributes,
            sfdisk_attrs(j["attrs"].as_str().unwrap_or(""))
        );
    }
}

/// parses an in-memory image.
pub fn parse(bytes: &[u8]) -> Result<Table, Error> {
    wharf_gpt::read_table(Cursor::new(bytes))
}

/// a loop device that is detached when dropped, even if the test panicked.
pub struct LoopDev {
    pub dev: String,
    losetup: PathBuf,
}

impl LoopDev {
    /// attaches `file` (extra `losetup` arguments such as `--partscan` or `--sector-size`).
    pub fn attach(file: &Path, args: &[&str]) -> LoopDev {
        require_root("the loop-device tests");
        let losetup = tool("losetup", "mount");
        let dev = run(Command::new(&losetup)
            .args(["--find", "--show"])
            .args(args)
            .arg(file))
        .unwrap();
        assert!(dev.starts_with("/dev/loop"), "losetup printed {dev:?}");
        LoopDev { dev, losetup }
    }

    /// the node of partition `n`, waiting for it (or asking the kernel via `partx -u`) when
    /// the partition scan has not created it yet.
    pub fn partition(&self, n: u32) -> PathBuf {
        let node = PathBuf::from(format!("{}p{n}", self.dev));
        for attempt in 0..50 {
            if node.exists() {
                return node;
            }
            if attempt == 0 {
                if let Some(partx) = find_tool("partx") {
                    let _ = run(Command::new(partx).arg("-u").arg(&self.dev));
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("{} never appeared", node.display());
    }
}

impl Drop for LoopDev {
    fn drop(&mut self) {
        if let Err(e) = run(Command::new(&self.losetup).arg("-d").arg(&self.dev)) {
            eprintln!("{e}");
        }
    }
}
