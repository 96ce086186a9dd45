//! The image byte stream: hashes what it yields, resumes dropped transfers, and turns a wrong
//! length or checksum into a read error at EOF.
//!
//! Resume rules: after a read error, a premature end of body, or a transfer slower than 30 B/s
//! for 60 s, the stream asks again with `Range: bytes=N-` and `If-Range:` (the strong ETag, else
//! Last-Modified). A 206 must start at N and keep the complete length and ETag; a 200 is taken
//! (as a clean restart) only when no byte was consumed yet, otherwise the stream fails: the
//! server ignores ranges or the file changed. Up to [`MAX_RETRIES`] consecutive attempts without
//! progress, with a growing pause between them.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use url::Url;

use crate::transport::{Reply, Request, Transport};
use crate::PullError;

/// Consecutive failed attempts (without a byte of progress) before giving up.
pub const MAX_RETRIES: u32 = 5;
/// First pause before a retry; doubled each time, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// curl's low-speed abort as systemd sets it: below 30 B/s for 60 s.
const LOW_SPEED_TIME: Duration = Duration::from_secs(60);
const LOW_SPEED_BYTES: u64 = 30 * 60;

enum State {
    Streaming,
    Done([u8; 32]),
    Failed(PullError),
}

/// A verified download; see [`crate::Client::open`]. Read it to EOF (or call
/// [`Download::finish_sha256`]) before trusting what was read: only the final read checks the
/// length and the checksum.
pub struct Download {
    transport: Transport,
    url: Url,
    body: Option<Box<dyn Read + Send>>,
    /// Offset of the next byte in the file (includes a `resume_from` prefix).
    position: u64,
    total: Option<u64>,
    etag: Option<String>,
    last_modified: Option<String>,
    hasher: Sha256,
    /// Whether `hasher` covers the file from byte 0.
    hash_from_zero: bool,
    expected: Option<[u8; 32]>,
    against: String,
    failures: u32,
    resumes: u32,
    slow: bool,
    window_start: Instant,
    window_bytes: u64,
    state: State,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("url", &self.url.as_str())
            .field("position", &self.position)
            .field("total", &self.total)
            .field("etag", &self.etag)
            .field("resumes", &self.resumes)
            .finish_non_exhaustive()
    }
}

impl Download {
    /// Sends the first request. `prefix` is the hash of the first `start` bytes when the caller
    /// has them.
    pub(crate) fn open(
        transport: Transport,
        url: Url,
        expected: Option<[u8; 32]>,
        against: String,
        start: u64,
        prefix: Option<Sha256>,
    ) -> Result<Download, PullError> {
        let mut d = Download {
            transport,
            url,
            body: None,
            position: start,
            total: None,
            etag: None,
            last_modified: None,
            hash_from_zero: start == 0 || prefix.is_some(),
            hasher: prefix.unwrap_or_default(),
            expected,
            against,
            failures: 0,
            resumes: 0,
            slow: false,
            window_start: Instant::now(),
            window_bytes: 0,
            state: State::Streaming,
        };
        d.connect(true)?;
        Ok(d)
    }

    /// The URL being downloaded.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The ETag of the file, as the server sent it (quotes included).
    pub fn etag(&self) -> Option<&str> {
        self.etag.as_deref()
    }

    /// The `Last-Modified` header, verbatim.
    pub fn last_modified(&self) -> Option<&str> {
        self.last_modified.as_deref()
    }

    /// Complete size of the file when the server announced it.
    pub fn content_length(&self) -> Option<u64> {
        self.total
    }

    /// Offset of the next byte: bytes read so far plus the `resume_from` start.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// How many times the transfer was resumed after a drop.
    pub fn resumes(&self) -> u32 {
        self.resumes
    }

    /// SHA-256 of the bytes read so far (from byte 0 if a prefix was given or the download
    /// started at 0).
    pub fn sha256_so_far(&self) -> [u8; 32] {
        self.hasher.clone().finalize().into()
    }

    /// The SHA-256 of the whole file once EOF was reached and checked.
    pub fn sha256(&self) -> Option<[u8; 32]> {
        match self.state {
            State::Done(d) => Some(d),
            _ => None,
        }
    }

    /// Reads whatever is left (hashing it), checks length and checksum and returns the SHA-256.
    /// Call it when the consumer stopped before EOF (a tar reader stops at the end-of-archive
    /// blocks, decompressors at the end of their stream); pass `&mut download` to the consumer
    /// to keep it callable.
    pub fn drain_and_verify(&mut self) -> Result<[u8; 32], PullError> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match self.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return Err(into_pull_error(&self.url, e)),
            }
        }
        self.sha256().ok_or_else(|| PullError::Transfer {
            url: self.url.to_string(),
            reason: "download did not complete".into(),
        })
    }

    /// [`Download::drain_and_verify`], consuming the download.
    pub fn finish_sha256(mut self) -> Result<[u8; 32], PullError> {
        self.drain_and_verify()
    }

    /// `If-Range` value: a strong ETag, else Last-Modified.
    fn validator(&self) -> Option<String> {
        match &self.etag {
            Some(e) if !e.starts_with("W/") => Some(e.clone()),
            _ => self.last_modified.clone(),
        }
    }

    /// (Re)connects at `self.position`.
    fn connect(&mut self, initial: bool) -> Result<(), PullError> {
        let from = self.position;
        let url = self.url.to_string();
        let resume_err = |reason: String| PullError::Resume {
            url: url.clone(),
            reason,
        };
        let validator = self.validator();
        // Without any validator a resume could splice two versions of the file; only the
        // checksum would notice.
        let unvalidated = validator.is_none() && self.total.is_none() && self.expected.is_none();
        if from > 0 && !initial && unvalidated {
            return Err(resume_err(
                "the server sent neither ETag, Last-Modified nor Content-Length".into(),
            ));
        }
        let req = Request {
            range_from: from,
            if_range: if initial { None } else { validator },
            total_timeout: None,
        };
        let resp = match self.transport.get(&self.url, &req)? {
            Reply::NotFound => return Err(PullError::NotFound { url }),
            Reply::RangeNotSatisfiable { total } => {
                // Everything was already there: the drop happened right at the end.
                if from > 0 && total == Some(from) && self.total.is_none_or(|t| t == from) {
                    self.total = Some(from);
                    self.body = Some(Box::new(io::empty()));
                    return Ok(());
                }
                return Err(resume_err(format!(
                    "the server refused the range from byte {from} (416)"
                )));
            }
            Reply::Body(resp) => resp,
        };
        match resp.partial {
            None if from > 0 => {
                return Err(resume_err(format!(
                    "the server answered 200 instead of 206 to a range request from byte {from}: it ignores ranges or the file changed"
                )));
            }
            None => {}
            Some((start, _)) if start != from => {
                return Err(resume_err(format!(
                    "the server resumed at byte {start} instead of {from}"
                )));
            }
            Some((_, total)) => {
                if let (Some(old), Some(new)) = (self.total, total) {
                    if old != new {
                        return Err(resume_err(format!(
                            "the file changed size from {old} to {new} bytes"
                        )));
                    }
                }
                if let (Some(old), Some(new)) = (&self.etag, &resp.etag) {
                    if old != new {
                        return Err(resume_err(format!(
                            "the file changed (ETag {old} became {new})"
                        )));
                    }
                }
            }
        }
        if self.total.is_none() || from == 0 {
            self.total = resp.total();
        }
        if self.etag.is_none() || from == 0 {
            self.etag = resp.etag.clone();
        }
        if self.last_modified.is_none() || from == 0 {
            self.last_modified = resp.last_modified.clone();
        }
        if !initial && from > 0 {
            self.resumes += 1;
        }
        self.body = Some(resp.body);
        self.window_start = Instant::now();
        self.window_bytes = 0;
        Ok(())
    }

    /// Records a failed attempt; errors out when the retry budget is spent, else pauses.
    fn attempt_failed(&mut self, reason: String) -> io::Result<()> {
        self.body = None;
        self.failures += 1;
        if self.failures > MAX_RETRIES {
            return Err(self.fail(PullError::Transfer {
                url: self.url.to_string(),
                reason: format!(
                    "{reason} (gave up after {MAX_RETRIES} attempts to resume at byte {})",
                    self.position
                ),
            }));
        }
        let backoff = FIRST_BACKOFF
            .saturating_mul(1 << (self.failures - 1).min(8))
            .min(MAX_BACKOFF);
        std::thread::sleep(backoff);
        Ok(())
    }

    fn fail(&mut self, err: PullError) -> io::Error {
        self.state = State::Failed(err.clone());
        self.body = None;
        err.into_io()
    }

    /// EOF of the whole file: check length and checksum.
    fn finish(&mut self) -> io::Result<usize> {
        if let Some(total) = self.total {
            if self.position != total {
                return Err(self.fail(PullError::Truncated {
                    url: self.url.to_string(),
                    got: self.position,
                    expected: total,
                }));
            }
        }
        let digest: [u8; 32] = self.hasher.clone().finalize().into();
        if let Some(expected) = self.expected {
            if !self.hash_from_zero || digest != expected {
                return Err(self.fail(PullError::ChecksumMismatch {
                    url: self.url.to_string(),
                    against: self.against.clone(),
                }));
            }
        }
        self.body = None;
        self.state = State::Done(digest);
        Ok(0)
    }

    fn account_speed(&mut self, n: usize) {
        self.window_bytes += n as u64;
        if self.window_start.elapsed() >= LOW_SPEED_TIME {
            if self.window_bytes < LOW_SPEED_BYTES {
                self.slow = true;
            }
            self.window_start = Instant::now();
            self.window_bytes = 0;
        }
    }
}

impl Read for Download {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match &self.state {
                State::Streaming => {}
                State::Done(_) => return Ok(0),
                State::Failed(err) => return Err(err.clone().into_io()),
            }
            if std::mem::take(&mut self.slow) {
                self.attempt_failed("transfer slower than 30 bytes/s for 60 s".into())?;
            }
            let Some(body) = self.body.as_mut() else {
                match self.connect(false) {
                    Ok(()) => continue,
                    Err(e) if e.is_transient() => {
                        self.attempt_failed(e.to_string())?;
                        continue;
                    }
                    Err(e) => return Err(self.fail(e)),
                }
            };
            match body.read(buf) {
                Ok(0) => {
                    if let Some(total) = self.total.filter(|&t| self.position < t) {
                        let reason =
                            format!("connection closed after {} of {total} bytes", self.position);
                        self.attempt_failed(reason)?;
                        continue;
                    }
                    return self.finish();
                }
                Ok(n) => {
                    self.hasher.update(&buf[..n]);
                    self.position += n as u64;
                    self.failures = 0;
                    self.account_speed(n);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let reason = format!(
                        "connection lost after {} bytes: {}",
                        self.position,
                        io_reason(&e)
                    );
                    self.attempt_failed(reason)?;
                }
            }
        }
    }
}

/// An io::Error from `read` as a PullError (the original when it carries one).
fn into_pull_error(url: &Url, err: io::Error) -> PullError {
    let reason = io_reason(&err);
    match err.into_inner().map(|inner| inner.downcast::<PullError>()) {
        Some(Ok(pull)) => *pull,
        _ => PullError::Transfer {
            url: url.to_string(),
            reason,
        },
    }
}

/// An io::Error with its payload's causes (reqwest hides the useful part there).
fn io_reason(err: &io::Error) -> String {
    match err.get_ref() {
        Some(inner) => {
            let chain = crate::transport::error_chain(inner);
            let top = inner.to_string();
            if chain == top {
                top
            } else {
                format!("{top}: {chain}")
            }
        }
        None => err.to_string(),
    }
}
