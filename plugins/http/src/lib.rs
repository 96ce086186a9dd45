//! wharf-http: the transport and verification half of `pull-tar` / `pull-raw`.
//!
//! This crate knows nothing about tar, raw or compression. It turns an image URL into a
//! verified byte stream:
//!
//! 1. [`Client::plan`] fetches the checksum list (`<image>.sha256`, else `SHA256SUMS` in the same
//!    directory), checks its OpenPGP signature against the keyring when asked to, and looks up
//!    the image's expected SHA-256 — all before the image download starts.
//! 2. [`Client::open`] returns a [`Download`]: a `Read` stream of the bytes as served that hashes
//!    what it yields, resumes dropped connections with `Range` + `If-Range`, and at EOF returns an
//!    [`std::io::ErrorKind::InvalidData`] error instead of the final `Ok(0)` when the length or
//!    the checksum is wrong, so a consumer pipeline fails before it commits anything.
//! 3. [`Client::fetch_sidecar`] fetches the small files next to the image (`.nspawn`,
//!    `.roothash`, `.roothash.p7s`, `.verity`) and checks them against the same checksum list.
//!
//! Naming helpers follow systemd: [`default_name`], [`sidecar_url`] and the pristine download
//! cache names [`cache_name`] (`.tar-<escaped URL>[.<escaped ETag>]`).
//!
//! Transports: `http://` and `https://` through `reqwest` (rustls; proxies from `HTTP_PROXY`,
//! `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY`), and `file://` for local mirrors. Timeouts: 15 s
//! to connect, 60 s for headers and between body pieces, below 30 B/s for 60 s counts as a
//! stall; no total deadline for the image, 30 s in all for checksum lists, signatures and
//! sidecars (1 MiB each by default, [`SMALL_FILE_MAX`]).
//!
//! Using it from an importer:
//!
//! ```no_run
//! # fn unpack(_: &mut dyn std::io::Read) -> std::io::Result<()> { Ok(()) }
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use wharf_http::{Client, PullOptions, Verify};
//! let client = Client::new(PullOptions { verify: Verify::Checksum, ..PullOptions::default() })?;
//! let plan = client.plan("https://example.com/images/foo.tar.xz")?;
//! let mut download = client.open(&plan, 0)?;
//! unpack(&mut download)?;                 // decoder + tar reader over `&mut download`
//! let sha256 = download.finish_sha256()?; // drains what the unpacker left, then verifies
//! let nspawn_url = wharf_http::sidecar_url(plan.url.as_str(), ".nspawn");
//! let nspawn = client.fetch_sidecar(&plan, &nspawn_url, wharf_http::SMALL_FILE_MAX)?;
//! // …only now commit the staged image (and install `nspawn` if Some).
//! # let _ = (sha256, nspawn); Ok(()) }
//! ```

mod cache;
mod client;
mod download;
mod error;
mod names;
mod openpgp;
mod sums;
mod transport;

use std::path::PathBuf;
use std::str::FromStr;

pub use cache::{cache_entry_etag, cache_name, cache_name_in, escape_filename, unescape_filename};
pub use client::{Client, Plan};
pub use download::{Download, MAX_RETRIES};
pub use error::{pull_error, PullError};
pub use names::{default_name, sidecar_url, strip_image_suffix};
pub use openpgp::{Keyring, DEFAULT_KEYRINGS};
pub use sums::{hex_digest, Sums, SumsStyle};
pub use url::Url;

/// Largest checksum list, signature or sidecar fetched into memory unless told otherwise
/// (systemd's limit for these jobs).
pub const SMALL_FILE_MAX: usize = 1024 * 1024;

/// What to verify, like systemd's `--verify=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verify {
    /// No checksum list, no signature: the bytes are taken as served.
    No,
    /// The image and its sidecars must be listed with the right SHA-256 in `<image>.sha256` or
    /// `SHA256SUMS`.
    Checksum,
    /// Like [`Verify::Checksum`], and the checksum list must carry a valid OpenPGP signature by
    /// a key in the keyring.
    #[default]
    Signature,
    /// `--verify=<64 hex>`: the image must have exactly this SHA-256; no checksum list is
    /// fetched and sidecars are not downloaded (as systemd does).
    Sha256([u8; 32]),
}

impl FromStr for Verify {
    type Err = String;

    /// Parses `no`, `checksum`, `signature` or a literal SHA-256 of 64 hex digits.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "no" => Ok(Verify::No),
            "checksum" => Ok(Verify::Checksum),
            "signature" => Ok(Verify::Signature),
            _ => sums::parse_hex_sha256(s).map(Verify::Sha256).ok_or_else(|| {
                format!("invalid verification mode {s:?}: expected no, checksum, signature or a SHA-256 in hex")
            }),
        }
    }
}

/// How a [`Client`] pulls.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// What to verify.
    pub verify: Verify,
    /// Keyring for [`Verify::Signature`]; `None` means the first existing of
    /// [`DEFAULT_KEYRINGS`]. Binary or ASCII-armored OpenPGP public keys (several allowed), or
    /// a GnuPG keybox file.
    pub keyring: Option<PathBuf>,
    /// `User-Agent` header, e.g. `wharf/0.1.0`.
    pub user_agent: String,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            verify: Verify::Signature,
            keyring: None,
            user_agent: concat!("wharf/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}

    #[test]
    fn thread_safety() {
        send_sync::<crate::Client>();
        send_sync::<crate::Plan>();
        send_sync::<crate::PullError>();
        send::<crate::Download>();
    }
}
