//! The pull client: checksum list and signature before the download, the download itself, and
//! the sidecars next to the image (import.md §8.1, §8.3).

use std::io::{self, Read};
use std::time::Duration;

use sha2::{Digest, Sha256};
use url::Url;

use crate::download::Download;
use crate::names::{decoded_last_component, raw_last_component, with_last_component, with_suffix};
use crate::openpgp::Keyring;
use crate::sums::{Sums, SumsStyle};
use crate::transport::{Reply, Request, Transport};
use crate::{PullError, PullOptions, Verify, SMALL_FILE_MAX};

/// Deadline for a whole small fetch (checksum list, signature, sidecar).
const SMALL_TIMEOUT: Duration = Duration::from_secs(30);

const CLEARSIGN_BEGIN: &[u8] = b"-----BEGIN PGP SIGNED MESSAGE-----";

/// Pulls over http, https and file URLs. Cheap to share across threads (`Send + Sync`).
#[derive(Debug)]
pub struct Client {
    opts: PullOptions,
    transport: Transport,
    keyring: Option<Keyring>,
}

/// Everything known before the image download starts: the checksum list (fetched and, with
/// [`Verify::Signature`], signature-checked) and the expected SHA-256 of `url`'s file.
#[derive(Debug, Clone)]
pub struct Plan {
    pub url: Url,
    pub expected_sha256: Option<[u8; 32]>,
    pub sums: Option<Sums>,
}

impl Plan {
    /// Where the expected checksum came from, for messages: `SHA256SUMS`, `foo.raw.sha256`,
    /// `--verify`, or `nothing` when unverified.
    pub fn checksum_source(&self) -> String {
        match (&self.sums, self.expected_sha256) {
            (Some(sums), _) => sums.file_name(),
            (None, Some(_)) => "--verify".into(),
            (None, None) => "nothing".into(),
        }
    }
}

impl Client {
    /// A client; with [`Verify::Signature`] the keyring is loaded now, so a missing or broken
    /// keyring fails before any download ([`PullError::NoKeyring`], [`PullError::Keyring`]).
    pub fn new(opts: PullOptions) -> Result<Self, PullError> {
        let keyring = match (opts.verify, &opts.keyring) {
            (Verify::Signature, Some(path)) => Some(Keyring::load(path)?),
            (Verify::Signature, None) => Some(Keyring::find_default()?),
            _ => None,
        };
        let transport = Transport::new(&opts.user_agent)?;
        Ok(Client {
            opts,
            transport,
            keyring,
        })
    }

    /// The options this client was made with.
    pub fn options(&self) -> &PullOptions {
        &self.opts
    }

    /// The keyring in use (with [`Verify::Signature`]).
    pub fn keyring(&self) -> Option<&Keyring> {
        self.keyring.as_ref()
    }

    /// Resolves what `url` must hash to. [`Verify::Checksum`] and [`Verify::Signature`] fetch
    /// `<url>.sha256`, on 404 `<dir>/SHA256SUMS`; [`Verify::Signature`] then needs
    /// `<url>.sha256.asc`/`.gpg` (or an inline-signed `.sha256`), respectively
    /// `SHA256SUMS.gpg`/`.asc`, made by a key of the keyring. The file must be listed.
    pub fn plan(&self, url: &str) -> Result<Plan, PullError> {
        let url = parse_url(url)?;
        match self.opts.verify {
            Verify::No => Ok(Plan {
                url,
                expected_sha256: None,
                sums: None,
            }),
            Verify::Sha256(h) => Ok(Plan {
                url,
                expected_sha256: Some(h),
                sums: None,
            }),
            Verify::Checksum | Verify::Signature => {
                let sums = self.checksum_list(&url)?;
                let expected = lookup(&sums, &url).ok_or_else(|| PullError::ChecksumMissing {
                    file: display_name(&url),
                    sums_url: sums.url.to_string(),
                })?;
                Ok(Plan {
                    url,
                    expected_sha256: Some(expected),
                    sums: Some(sums),
                })
            }
        }
    }

    /// Opens the image download (see [`Download`]). `resume_from > 0` starts with
    /// `Range: bytes=N-` for a caller that already has the first N bytes; when the plan expects
    /// a checksum use [`Client::open_after`] instead, which hashes those bytes too.
    pub fn open(&self, plan: &Plan, resume_from: u64) -> Result<Download, PullError> {
        if resume_from > 0 && plan.expected_sha256.is_some() {
            return Err(PullError::Resume {
                url: plan.url.to_string(),
                reason: format!(
                    "its checksum cannot be verified without the first {resume_from} bytes (use open_after)"
                ),
            });
        }
        Download::open(
            self.transport.clone(),
            plan.url.clone(),
            plan.expected_sha256,
            plan.checksum_source(),
            resume_from,
            None,
        )
    }

    /// Continues a download whose first bytes the caller has: `prefix` is read to its end and
    /// hashed, then the rest is requested with `Range`, so the checksum covers the whole file.
    pub fn open_after(&self, plan: &Plan, prefix: &mut dyn Read) -> Result<Download, PullError> {
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut len = 0u64;
        loop {
            match prefix.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    hasher.update(&buf[..n]);
                    len += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(PullError::Io {
                        context: format!("cannot read the partial download of {}", plan.url),
                        source: e,
                    })
                }
            }
        }
        Download::open(
            self.transport.clone(),
            plan.url.clone(),
            plan.expected_sha256,
            plan.checksum_source(),
            len,
            Some(hasher),
        )
    }

    /// Fetches a small file next to the image (`.nspawn`, `.roothash`, `.roothash.p7s`,
    /// `.verity`), at most `max` bytes. `Ok(None)` when it does not exist (404 / no such file),
    /// and always with [`Verify::Sha256`] (systemd skips sidecars then). Unless verification is
    /// off it must be listed in the plan's checksum list with the right SHA-256.
    pub fn fetch_sidecar(
        &self,
        plan: &Plan,
        url: &str,
        max: usize,
    ) -> Result<Option<Vec<u8>>, PullError> {
        if matches!(self.opts.verify, Verify::Sha256(_)) {
            return Ok(None);
        }
        let url = parse_url(url)?;
        let Some(bytes) = self.fetch_small_url(&url, max)? else {
            return Ok(None);
        };
        if self.opts.verify == Verify::No {
            return Ok(Some(bytes));
        }
        let not_listed = |sums_url: String| PullError::SidecarNotListed {
            file: display_name(&url),
            sums_url,
        };
        let sums = plan
            .sums
            .as_ref()
            .ok_or_else(|| not_listed(format!("the plan of {} (no checksum list)", plan.url)))?;
        let expected = lookup(sums, &url).ok_or_else(|| not_listed(sums.url.to_string()))?;
        let actual: [u8; 32] = Sha256::digest(&bytes).into();
        if actual != expected {
            return Err(PullError::ChecksumMismatch {
                url: url.to_string(),
                against: sums.file_name(),
            });
        }
        Ok(Some(bytes))
    }

    /// GETs a small file into memory without any verification: `Ok(None)` on 404, an error if
    /// it exceeds `max` bytes or takes longer than 30 s in all.
    pub fn fetch_small(&self, url: &str, max: usize) -> Result<Option<Vec<u8>>, PullError> {
        self.fetch_small_url(&parse_url(url)?, max)
    }

    fn fetch_small_url(&self, url: &Url, max: usize) -> Result<Option<Vec<u8>>, PullError> {
        let req = Request {
            total_timeout: Some(SMALL_TIMEOUT),
            ..Request::default()
        };
        let resp = match self.transport.get(url, &req)? {
            Reply::NotFound => return Ok(None),
            Reply::RangeNotSatisfiable { .. } => {
                return Err(PullError::Http {
                    url: url.to_string(),
                    status: 416,
                })
            }
            Reply::Body(resp) => resp,
        };
        let too_large = || PullError::TooLarge {
            url: url.to_string(),
            max,
        };
        if resp.length.is_some_and(|l| l > max as u64) {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        resp.body
            .take(max as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| PullError::Transfer {
                url: url.to_string(),
                reason: e.to_string(),
            })?;
        if bytes.len() > max {
            return Err(too_large());
        }
        Ok(Some(bytes))
    }

    /// Fetches and (with a keyring) authenticates the checksum list for `url`.
    fn checksum_list(&self, url: &Url) -> Result<Sums, PullError> {
        let per_file = with_suffix(url, ".sha256");
        let (sums_url, style, bytes) = match self.fetch_small_url(&per_file, SMALL_FILE_MAX)? {
            Some(bytes) => (per_file, SumsStyle::PerFile, bytes),
            None => {
                let per_dir = with_last_component(url, "SHA256SUMS");
                match self.fetch_small_url(&per_dir, SMALL_FILE_MAX)? {
                    Some(bytes) => (per_dir, SumsStyle::PerDirectory, bytes),
                    None => {
                        return Err(PullError::SumsNotFound {
                            url: url.to_string(),
                            per_file: per_file.to_string(),
                            per_directory: per_dir.to_string(),
                        })
                    }
                }
            }
        };
        let Some(keyring) = &self.keyring else {
            return Ok(Sums::parse(sums_url, style, &bytes));
        };
        let list_name = display_name(&sums_url);
        let candidates: Vec<Url> = match style {
            SumsStyle::PerFile => vec![
                with_suffix(&sums_url, ".asc"),
                with_suffix(&sums_url, ".gpg"),
            ],
            SumsStyle::PerDirectory => vec![
                with_last_component(&sums_url, "SHA256SUMS.gpg"),
                with_last_component(&sums_url, "SHA256SUMS.asc"),
            ],
        };
        for sig_url in &candidates {
            if let Some(sig) = self.fetch_small_url(sig_url, SMALL_FILE_MAX)? {
                keyring.verify_detached(&bytes, &sig).map_err(|reason| {
                    PullError::SignatureInvalid {
                        file: list_name.clone(),
                        url: sig_url.to_string(),
                        reason,
                    }
                })?;
                let mut sums = Sums::parse(sums_url, style, &bytes);
                sums.signed = true;
                return Ok(sums);
            }
        }
        // openSUSE style: the .sha256 file is itself a cleartext-signed message.
        if style == SumsStyle::PerFile && contains(&bytes, CLEARSIGN_BEGIN) {
            let text =
                keyring
                    .verify_cleartext(&bytes)
                    .map_err(|reason| PullError::SignatureInvalid {
                        file: list_name.clone(),
                        url: sums_url.to_string(),
                        reason,
                    })?;
            let mut sums = Sums::parse(sums_url, style, text.as_bytes());
            sums.signed = true;
            return Ok(sums);
        }
        Err(PullError::SignatureMissing {
            sums_url: sums_url.to_string(),
            tried: candidates
                .iter()
                .map(Url::as_str)
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

/// An absolute http, https or file URL (http and https with a host).
fn parse_url(s: &str) -> Result<Url, PullError> {
    let url = Url::parse(s).map_err(|e| PullError::InvalidUrl(format!("{s} ({e})")))?;
    match url.scheme() {
        "http" | "https" if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(url),
        "http" | "https" => Err(PullError::InvalidUrl(format!("{s} (no host)"))),
        "file" => Ok(url),
        other => Err(PullError::InvalidUrl(format!(
            "{s} (unsupported scheme {other}; use http, https or file)"
        ))),
    }
}

/// The file's expected hash: by decoded name, else by the name as written in the URL.
fn lookup(sums: &Sums, url: &Url) -> Option<[u8; 32]> {
    decoded_last_component(url)
        .and_then(|name| sums.get(&name))
        .or_else(|| sums.get(raw_last_component(url)))
}

fn display_name(url: &Url) -> String {
    decoded_last_component(url).unwrap_or_else(|| url.to_string())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_checks() {
        assert!(parse_url("https://h/x.raw").is_ok());
        assert!(parse_url("file:///srv/x.raw").is_ok());
        let e = parse_url("ftp://h/x").unwrap_err().to_string();
        assert!(
            e.starts_with("invalid url: ftp://h/x (unsupported scheme ftp"),
            "{e}"
        );
        assert!(parse_url("x.raw").is_err());
    }
}
