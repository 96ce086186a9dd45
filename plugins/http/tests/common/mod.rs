//! Shared test helpers: a local HTTP server, gpg-made keys and signatures, small utilities.
#![allow(dead_code)] // each test binary uses a different subset

// The HTTP server and gpg helpers are shared with the CLI integration tests.
#[allow(unused_imports)]
pub use wharf_tests::gpg;
#[allow(unused_imports)]
pub use wharf_tests::http_server as server;

use std::path::PathBuf;

use sha2::{Digest, Sha256};
use wharf_http::{Client, PullOptions, Verify};

/// Deterministic non-repeating test data.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// A `SHA256SUMS` line in sha256sum's binary form.
pub fn sums_line(data: &[u8], name: &str) -> String {
    format!("{} *{name}\n", wharf_http::hex_digest(&sha256(data)))
}

pub fn client(verify: Verify, keyring: Option<PathBuf>) -> Client {
    Client::new(PullOptions {
        verify,
        keyring,
        user_agent: "wharf-test/1".into(),
    })
    .expect("client")
}
