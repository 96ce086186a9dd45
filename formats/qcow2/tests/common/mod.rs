//! Shared helpers: a temporary directory, qemu-img (required), test data and comparisons.
#![allow(dead_code)]

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use wharf_qcow2::{Options, Reader};

/// A directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "wharf-qcow2-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs qemu-img and returns stdout; panics (loudly) when it is missing or fails.
pub fn qemu_img(args: &[&str]) -> String {
    let out = Command::new("qemu-img")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("qemu-img is required for these tests (apt-get install qemu-utils): {e}")
        });
    assert!(
        out.status.success(),
        "qemu-img {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs qemu-img, returning (success, stdout + stderr).
pub fn qemu_img_status(args: &[&str]) -> (bool, String) {
    let out = Command::new("qemu-img")
        .args(args)
        .output()
        .expect("qemu-img is required for these tests (apt-get install qemu-utils)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

pub fn qemu_io(img: &str, cmd: &str) {
    let out = Command::new("qemu-io")
        .args(["-c", cmd, img])
        .output()
        .expect("qemu-io is required for these tests (apt-get install qemu-utils)");
    assert!(out.status.success(), "qemu-io {cmd}: {out:?}");
}

/// Deterministic bytes: xorshift noise (incompressible) or repeated text (compressible).
pub fn pattern(len: usize, seed: u32, noise: bool) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            if noise {
                x as u8
            } else {
                b"wharf machine image, qcow2 test data. "[i % 38] ^ ((i / 4096) as u8 & 1)
            }
        })
        .collect()
}

pub fn write_at(path: &Path, off: u64, data: &[u8]) {
    let mut f = OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(off)).unwrap();
    f.write_all(data).unwrap();
}

/// Virtual size of [`make_raw`]: 1 GiB and three sectors (not cluster-aligned).
pub const RAW_SIZE: u64 = (1 << 30) + 3 * 512;

/// A sparse raw disk: text and noise in several places (across the 512 MiB L2 boundary of
/// 64 KiB clusters), explicitly written zeros, a lone sector, data up to the very end.
pub fn make_raw(path: &Path) {
    File::create(path).unwrap().set_len(RAW_SIZE).unwrap();
    write_at(path, 0, &pattern(200 * 1024, 1, false));
    write_at(path, (1 << 20) + 3 * 4096, &pattern(300 * 1024, 2, true));
    write_at(path, 5 << 20, &vec![0u8; 256 * 1024]);
    write_at(path, (7 << 20) + 512, &[0xff; 512]);
    write_at(path, (600 << 20) + 12345, &pattern(150 * 1024, 3, false));
    write_at(
        path,
        (600 << 20) + 400 * 1024,
        &pattern(100 * 1024, 4, true),
    );
    write_at(path, RAW_SIZE - 6000, &pattern(6000, 5, false));
}

/// Converts with our reader into a new sparse file of the virtual size.
pub fn our_raw(img: &Path, out: &Path, opts: &Options) -> u64 {
    let mut r = Reader::open(File::open(img).unwrap(), opts).unwrap();
    let mut f = File::create(out).unwrap();
    let mut done = 0;
    r.copy_to_raw(&mut f, &mut |d| {
        assert!(d > 0, "empty progress step");
        done += d;
    })
    .unwrap();
    assert_eq!(
        done,
        r.virtual_size(),
        "progress steps add up to the virtual size"
    );
    f.set_len(r.virtual_size()).unwrap();
    r.virtual_size()
}

/// Byte-for-byte comparison of two files.
pub fn assert_same_file(a: &Path, b: &Path) {
    let (mut fa, mut fb) = (File::open(a).unwrap(), File::open(b).unwrap());
    assert_eq!(
        fa.metadata().unwrap().len(),
        fb.metadata().unwrap().len(),
        "{a:?} and {b:?} differ in size"
    );
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    let mut off = 0u64;
    loop {
        let n = read_full(&mut fa, &mut ba);
        let m = read_full(&mut fb, &mut bb);
        assert_eq!(n, m);
        if n == 0 {
            return;
        }
        if ba[..n] != bb[..n] {
            let i = (0..n).find(|&i| ba[i] != bb[i]).unwrap();
            panic!("{a:?} and {b:?} differ at byte {}", off + i as u64);
        }
        off += n as u64;
    }
}

fn read_full(f: &mut File, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]).unwrap() {
            0 => break,
            k => n += k,
        }
    }
    n
}

/// 512-byte blocks allocated to a file.
pub fn blocks(p: &Path) -> u64 {
    std::fs::metadata(p).unwrap().blocks()
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
