//! A real Debian root filesystem (mmdebstrap, built once and cached by scripts/debian-rootfs)
//! as a tarball in every compression the importers must read.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

static LOCK: Mutex<()> = Mutex::new(());

/// The uncompressed Debian tarball, built on first use.
pub fn tarball() -> PathBuf {
    build(None)
}

/// The Debian tarball with systemd-container too (systemd-machined, machinectl): a machine
/// that is itself a systemd host for wharf@.service (`scripts/debian-rootfs machined`).
pub fn tarball_with_machined() -> PathBuf {
    build(Some("machined"))
}

fn build(flavour: Option<&str>) -> PathBuf {
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/debian-rootfs");
    let out = Command::new(&script)
        .args(flavour)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "scripts/debian-rootfs failed (mmdebstrap needs Debian's mirror): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// The Debian tarball compressed with `tool` ("gzip", "xz", "bzip2", "zstd"; "none" = plain),
/// cached beside the plain one.
pub fn compressed(tool: &str) -> PathBuf {
    let plain = tarball();
    if tool == "none" {
        return plain;
    }
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let suffix = match tool {
        "gzip" => "gz",
        "xz" => "xz",
        "bzip2" => "bz2",
        "zstd" => "zst",
        other => panic!("unknown compressor {other}"),
    };
    let out = plain.with_extension(format!("tar.{suffix}"));
    if out.exists() {
        return out;
    }
    let tmp = plain.with_extension(format!("tar.{suffix}.part"));
    let args: &[&str] = match tool {
        "xz" | "zstd" => &["-T0", "-c"],
        _ => &["-c"],
    };
    let f = std::fs::File::create(&tmp).unwrap();
    let st = Command::new(tool)
        .args(args)
        .arg(&plain)
        .stdout(f)
        .status()
        .unwrap_or_else(|e| panic!("{tool} is required: {e}"));
    assert!(st.success(), "{tool} failed");
    std::fs::rename(&tmp, &out).unwrap();
    out
}
