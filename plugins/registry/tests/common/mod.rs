//! Shared by the registry client tests.
#![allow(dead_code)]

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use wharf_core::{NoProgress, Progress};
use wharf_oci_format::{Platform, Reference};
use wharf_registry::{pull, Client, ClientOptions, Credentials, Pulled};

pub fn amd64() -> Platform {
    Platform::parse("linux/amd64").unwrap()
}

pub fn client(registry: &str) -> Client {
    Client::new(registry, ClientOptions::default()).unwrap()
}

pub fn client_with(registry: &str, creds: Option<Credentials>) -> Client {
    let opts = ClientOptions {
        credentials: creds,
        ..ClientOptions::default()
    };
    Client::new(registry, opts).unwrap()
}

/// Pulls `reference` for linux/amd64 into `cache` with a fresh client.
pub fn pull_ref(reference: &str, cache: &Path) -> wharf_registry::Result<Pulled> {
    let r = Reference::parse(reference).unwrap();
    pull(&client(&r.registry), &r, &amd64(), cache, &NoProgress)
}

/// Checks that every file under `cache/blobs/sha256` has the digest of its name and that no
/// temporary file is left.
pub fn assert_cache_valid(cache: &Path) {
    for e in std::fs::read_dir(cache.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        assert!(!name.starts_with('.'), "leftover {name}");
        let bytes = std::fs::read(e.path()).unwrap();
        let d = wharf_oci_format::Digest::sha256(&bytes);
        assert_eq!(d.hex, name, "blob {name} is corrupt");
    }
}

/// A Progress that counts bytes and can sleep when a phase begins (to let tokens expire).
#[derive(Default)]
pub struct Counting {
    pub bytes: AtomicU64,
    pub total: AtomicU64,
    pub sleep_on_begin: Option<Duration>,
}

impl Progress for Counting {
    fn begin(&self, _what: &str, total: Option<u64>) {
        self.total.store(total.unwrap_or(0), Ordering::SeqCst);
        if let Some(d) = self.sleep_on_begin {
            std::thread::sleep(d);
        }
    }
    fn advance(&self, bytes: u64) {
        self.bytes.fetch_add(bytes, Ordering::SeqCst);
    }
}

pub fn progress() -> NoProgress {
    NoProgress
}

/// `n` incompressible bytes (xorshift64*), the same for the same `n`.
pub fn noise(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ n as u64;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(n);
    out
}
