//! Blob downloads into the cache layout: `blobs/<alg>/<hex>` appears only complete and
//! verified. A download streams into `blobs/<alg>/.tmp-<hex>` (locked with `flock`, so two
//! pulls sharing the cache never write one file together), checking the size as it goes and the
//! digest at the end, then is renamed into place. A `.tmp-` file left by an interrupted pull is
//! resumed with `Range` after re-hashing the kept prefix.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{CONTENT_RANGE, RANGE};
use reqwest::{Method, StatusCode};
use rustix::fs::{flock, FlockOperation};
use url::Url;
use wharf_core::Progress;
use wharf_oci_format::{blob_path, Descriptor, Digest, DigestHasher};

use crate::client::{Client, MAX_ATTEMPTS};
use crate::error::{Error, ErrorKind, Result};

const CHUNK: usize = 256 << 10;

/// What one blob cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fetched {
    /// Already in the cache and verified.
    Reused,
    /// Bytes received over the network (a resumed blob counts only the new part).
    Downloaded(u64),
}

/// Shared by the download threads of one pull.
pub(crate) struct Job<'a> {
    pub client: &'a Client,
    pub repository: &'a str,
    pub scope: &'a str,
    pub cache: &'a Path,
    pub progress: &'a dyn Progress,
    /// Raised when another thread failed: stop early.
    pub abort: &'a AtomicBool,
    pub received: &'a AtomicU64,
}

impl Job<'_> {
    fn stop(&self) -> Result<()> {
        if self.abort.load(Ordering::Relaxed) {
            return Err(Error::cancelled());
        }
        self.client.check_cancel()
    }
}

/// `cache/blobs/<alg>/<hex>`
pub(crate) fn blob_file(cache: &Path, d: &Digest) -> PathBuf {
    cache.join(blob_path(d))
}

/// Whether `path` holds exactly the blob `desc` describes (size, then digest).
pub(crate) fn verify_file(path: &Path, desc: &Descriptor) -> Result<bool> {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io("open", path, e)),
    };
    let len = f.metadata().map_err(|e| Error::io("stat", path, e))?.len();
    if len != desc.size {
        return Ok(false);
    }
    let mut h = desc.digest.hasher();
    hash_prefix(&mut f, len, &mut h).map_err(|e| Error::io("read", path, e))?;
    Ok(h.finish() == desc.digest)
}

fn hash_prefix(mut f: impl Read + Seek, len: u64, h: &mut DigestHasher) -> io::Result<()> {
    f.seek(SeekFrom::Start(0))?;
    let mut buf = vec![0u8; CHUNK];
    let mut left = len;
    while left > 0 {
        let n = f.read(&mut buf[..CHUNK.min(left as usize)])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while hashing",
            ));
        }
        h.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(())
}

/// Puts the blob `desc` into the cache: reused when present and valid, else downloaded
/// (resuming a partial `.tmp-` file).
pub(crate) fn fetch(job: &Job<'_>, desc: &Descriptor) -> Result<Fetched> {
    let dest = blob_file(job.cache, &desc.digest);
    if verify_file(&dest, desc)? {
        job.progress.advance(desc.size);
        return Ok(Fetched::Reused);
    }
    let dir = dest.parent().expect("blob path has a directory");
    fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    let tmp = dir.join(format!(".tmp-{}", desc.digest.hex));
    // Bounded: each round either works on a locked file that is still the .tmp- path, or
    // finds that another pull finished the blob meanwhile.
    for _ in 0..8 {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&tmp)
            .map_err(|e| Error::io("create", &tmp, e))?;
        lock(job, &file, &tmp)?;
        // Another pull may have finished (and renamed our file) while we waited.
        if verify_file(&dest, desc)? {
            job.progress.advance(desc.size);
            return Ok(Fetched::Reused);
        }
        if !same_file(&file, &tmp) {
            continue;
        }
        let kept = file
            .metadata()
            .map_err(|e| Error::io("stat", &tmp, e))?
            .len();
        let mut outcome = download(job, desc, &file, &tmp).inspect_err(|_| {
            // Keep a partial blob for the next pull to resume, but not an empty file.
            if file.metadata().is_ok_and(|m| m.len() == 0) {
                let _ = fs::remove_file(&tmp);
            }
        })?;
        if outcome.is_err() && kept > 0 {
            // The kept prefix may have been the bad part: once more from scratch.
            outcome = download(job, desc, &file, &tmp)?;
        }
        let got = outcome.map_err(|digest| {
            let _ = fs::remove_file(&tmp);
            job.client.err(
                ErrorKind::InvalidData,
                format!("blob {}: content has digest {digest}", desc.digest),
            )
        })?;
        fs::rename(&tmp, &dest).map_err(|e| Error::io("rename", &tmp, e))?;
        return Ok(Fetched::Downloaded(got));
    }
    Err(Error::new(
        ErrorKind::Io,
        format!("cannot lock {}: it keeps being replaced", tmp.display()),
    ))
}

/// Exclusive `flock` on `file`, waiting for another pull (checking for cancel meanwhile).
fn lock(job: &Job<'_>, file: &File, path: &Path) -> Result<()> {
    loop {
        match flock(file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(()),
            Err(rustix::io::Errno::WOULDBLOCK) => {
                job.stop()?;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(Error::io("lock", path, e.into())),
        }
    }
}

fn same_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Fills the locked `.tmp-` file `file` with the blob, resuming what it holds; verifies size and
/// digest. Returns the bytes received, or (inner `Err`) the digest found instead of the
/// expected one, after emptying the file.
fn download(
    job: &Job<'_>,
    desc: &Descriptor,
    mut file: &File,
    tmp: &Path,
) -> Result<Result<u64, Digest>> {
    let client = job.client;
    let io_err = |op, e| Error::io(op, tmp, e);
    let mut have = file.metadata().map_err(|e| io_err("stat", e))?.len();
    let mut hasher = desc.digest.hasher();
    if have > desc.size {
        have = 0;
    }
    if have > 0 {
        hash_prefix(&mut file, have, &mut hasher).map_err(|e| io_err("read", e))?;
    }
    file.set_len(have).map_err(|e| io_err("truncate", e))?;
    file.seek(SeekFrom::Start(have))
        .map_err(|e| io_err("seek", e))?;
    job.progress.advance(have);

    let what = format!("blob {}", desc.digest);
    let mut received = 0u64;
    let mut failures = 0u32;
    let mut buf = vec![0u8; CHUNK];
    let mut sources = vec![client.url(&format!("{}/blobs/{}", job.repository, desc.digest))?];
    // Nondistributable layers may live elsewhere: their urls are tried after the registry.
    sources.extend(
        desc.urls
            .iter()
            .filter_map(|u| Url::parse(u).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https")),
    );
    let mut source = 0;
    while have < desc.size {
        job.stop()?;
        let from = have;
        let build = |rb: reqwest::blocking::RequestBuilder| {
            Ok(if from > 0 {
                rb.header(RANGE, format!("bytes={from}-"))
            } else {
                rb
            })
        };
        let url = &sources[source];
        let scope = (source == 0).then_some(job.scope);
        // (request() already retried transient failures.)
        let resp = client
            .request(Method::GET, url, scope, &build)
            .map_err(|e| e.context(&what))?;
        let status = resp.status();
        match status {
            StatusCode::OK => {
                if have > 0 {
                    // The server ignored Range: start over.
                    have = 0;
                    hasher = desc.digest.hasher();
                    file.set_len(0).map_err(|e| io_err("truncate", e))?;
                    file.seek(SeekFrom::Start(0))
                        .map_err(|e| io_err("seek", e))?;
                }
            }
            StatusCode::PARTIAL_CONTENT => {
                let start = resp
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(content_range_start);
                if start != Some(have) {
                    return Err(client.err(
                        ErrorKind::InvalidData,
                        format!("{what}: 206 answer does not start at byte {have}"),
                    ));
                }
            }
            StatusCode::RANGE_NOT_SATISFIABLE if have > 0 => {
                // The kept prefix does not fit what the registry has: start over.
                have = 0;
                hasher = desc.digest.hasher();
                file.set_len(0).map_err(|e| io_err("truncate", e))?;
                file.seek(SeekFrom::Start(0))
                    .map_err(|e| io_err("seek", e))?;
                continue;
            }
            StatusCode::NOT_FOUND if source + 1 < sources.len() => {
                source += 1;
                continue;
            }
            _ => return Err(client.status_error(resp, &what)),
        }
        if let Some(len) = resp.content_length() {
            if have + len > desc.size {
                return Err(client.err(
                    ErrorKind::InvalidData,
                    format!(
                        "{what}: registry announces {} bytes, descriptor says {}",
                        have + len,
                        desc.size
                    ),
                ));
            }
        }
        let mut body = resp;
        let broke = loop {
            job.stop()?;
            let n = match body.read(&mut buf) {
                Ok(0) => break None,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break Some(e),
            };
            if have + n as u64 > desc.size {
                return Err(client.err(
                    ErrorKind::InvalidData,
                    format!(
                        "{what}: registry sent more than the {} bytes of its descriptor",
                        desc.size
                    ),
                ));
            }
            file.write_all(&buf[..n]).map_err(|e| io_err("write", e))?;
            hasher.update(&buf[..n]);
            have += n as u64;
            received += n as u64;
            job.received.fetch_add(n as u64, Ordering::Relaxed);
            job.progress.advance(n as u64);
        };
        if have == desc.size {
            break;
        }
        // Short body or broken connection: resume from what we have.
        failures += 1;
        if failures >= MAX_ATTEMPTS {
            let why = match broke {
                Some(e) => format!("transfer failed: {e}"),
                None => format!("truncated at {have} of {} bytes", desc.size),
            };
            return Err(client.err(ErrorKind::Network, format!("{what}: {why}")));
        }
        client.sleep(Duration::from_millis(250 << failures));
    }
    let got = hasher.finish();
    if got != desc.digest {
        // Nothing of this file can be trusted for a later resume.
        file.set_len(0).map_err(|e| io_err("truncate", e))?;
        return Ok(Err(got));
    }
    Ok(Ok(received))
}

/// `bytes START-END/TOTAL` → START
fn content_range_start(v: &str) -> Option<u64> {
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (range, _) = rest.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let start: u64 = start.trim().parse().ok()?;
    let end: u64 = end.trim().parse().ok()?;
    (end >= start).then_some(start)
}

/// Writes `bytes` (already verified against `desc`) as a blob, atomically.
pub(crate) fn store_bytes(cache: &Path, desc: &Descriptor, bytes: &[u8]) -> Result<()> {
    let dest = blob_file(cache, &desc.digest);
    if verify_file(&dest, desc)? {
        return Ok(());
    }
    let dir = dest.parent().expect("blob path has a directory");
    fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let tmp = dir.join(format!(
        ".tmp-{}.{}.{}",
        desc.digest.hex,
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    fs::write(&tmp, bytes).map_err(|e| Error::io("write", &tmp, e))?;
    fs::rename(&tmp, &dest).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io("rename", &tmp, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range() {
        assert_eq!(content_range_start("bytes 100-199/200"), Some(100));
        assert_eq!(content_range_start("bytes 5-9/*"), Some(5));
        assert_eq!(content_range_start("bytes 9-5/10"), None);
        assert_eq!(content_range_start("items 1-2/3"), None);
    }
}
