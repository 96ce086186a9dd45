//! One GET over http(s) (reqwest, blocking) or file://, reduced to what the pull logic needs:
//! the status class, the validators, the byte range and a body reader.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::time::Duration;

use reqwest::header::{HeaderMap, CONTENT_RANGE, ETAG, IF_RANGE, LAST_MODIFIED, RANGE};
use reqwest::StatusCode;
use url::Url;

use crate::PullError;

/// TCP + TLS connect budget.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest wait for response headers or for the next piece of a body. reqwest's blocking
/// client applies its `timeout` to each wait, not to the whole transfer, so big images are fine.
pub(crate) const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// What to ask for.
#[derive(Debug, Default, Clone)]
pub(crate) struct Request {
    /// `Range: bytes=N-` when > 0.
    pub range_from: u64,
    /// `If-Range:` validator (strong ETag or Last-Modified), only with a range.
    pub if_range: Option<String>,
    /// Deadline for the whole exchange, body included (small files only).
    pub total_timeout: Option<Duration>,
}

/// A body being received.
pub(crate) struct Response {
    /// `Some((first byte, complete length))` for a 206 answer; `None` for the whole file.
    pub partial: Option<(u64, Option<u64>)>,
    /// Length of this body, when announced.
    pub length: Option<u64>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub body: Box<dyn Read + Send>,
}

impl Response {
    /// Complete length of the resource, when known.
    pub fn total(&self) -> Option<u64> {
        match self.partial {
            Some((_, total)) => total,
            None => self.length,
        }
    }
}

/// Outcome of a GET that reached the server.
pub(crate) enum Reply {
    Body(Response),
    NotFound,
    /// 416, with the complete length from `Content-Range: bytes */N` when given.
    RangeNotSatisfiable {
        total: Option<u64>,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Transport {
    http: reqwest::blocking::Client,
}

impl Transport {
    pub fn new(user_agent: &str) -> Result<Self, PullError> {
        let http = reqwest::blocking::Client::builder()
            .user_agent(user_agent)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(READ_TIMEOUT)
            .tcp_keepalive(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::limited(10))
            .build()
            .map_err(|e| PullError::Client(error_chain(&e)))?;
        Ok(Transport { http })
    }

    pub fn get(&self, url: &Url, req: &Request) -> Result<Reply, PullError> {
        match url.scheme() {
            "http" | "https" => self.get_http(url, req),
            "file" => get_file(url, req),
            other => Err(PullError::InvalidUrl(format!(
                "{url} (unsupported scheme {other})"
            ))),
        }
    }

    fn get_http(&self, url: &Url, req: &Request) -> Result<Reply, PullError> {
        let mut rb = self.http.get(url.clone());
        if req.range_from > 0 {
            rb = rb.header(RANGE, format!("bytes={}-", req.range_from));
            if let Some(v) = &req.if_range {
                rb = rb.header(IF_RANGE, v.as_str());
            }
        }
        if let Some(t) = req.total_timeout {
            rb = rb.timeout(t);
        }
        let resp = rb.send().map_err(|e| classify(url, &e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let length = resp.content_length();
        match status {
            StatusCode::NOT_FOUND => Ok(Reply::NotFound),
            StatusCode::RANGE_NOT_SATISFIABLE => Ok(Reply::RangeNotSatisfiable {
                total: header(&headers, CONTENT_RANGE.as_str())
                    .and_then(|v| v.strip_prefix("bytes */")?.trim().parse().ok()),
            }),
            StatusCode::OK | StatusCode::PARTIAL_CONTENT => {
                let partial = if status == StatusCode::PARTIAL_CONTENT {
                    let range = header(&headers, CONTENT_RANGE.as_str())
                        .and_then(|v| parse_content_range(&v))
                        .ok_or_else(|| PullError::Transfer {
                            url: url.to_string(),
                            reason: "206 answer without a valid Content-Range".into(),
                        })?;
                    Some(range)
                } else {
                    None
                };
                Ok(Reply::Body(Response {
                    partial,
                    length,
                    etag: header(&headers, ETAG.as_str()),
                    last_modified: header(&headers, LAST_MODIFIED.as_str()),
                    body: Box::new(resp),
                }))
            }
            other => Err(PullError::Http {
                url: url.to_string(),
                status: other.as_u16(),
            }),
        }
    }
}

fn get_file(url: &Url, req: &Request) -> Result<Reply, PullError> {
    let path = url
        .to_file_path()
        .map_err(|_| PullError::InvalidUrl(format!("{url} (not a local file path)")))?;
    let io_err = |e: io::Error| PullError::Io {
        context: format!("cannot read {}", path.display()),
        source: e,
    };
    let mut file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Reply::NotFound),
        Err(e) => return Err(io_err(e)),
    };
    let meta = file.metadata().map_err(io_err)?;
    if !meta.is_file() {
        return Err(io_err(io::Error::other("not a regular file")));
    }
    let len = meta.len();
    let from = req.range_from;
    if from > len {
        return Ok(Reply::RangeNotSatisfiable { total: Some(len) });
    }
    if from > 0 {
        file.seek(SeekFrom::Start(from)).map_err(io_err)?;
    }
    Ok(Reply::Body(Response {
        partial: (from > 0).then_some((from, Some(len))),
        length: Some(len - from),
        etag: None,
        last_modified: None,
        // Bounded to the size seen now, so a growing file cannot overrun the length check.
        body: Box::new(file.take(len - from)),
    }))
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)?
        .to_str()
        .ok()
        .map(|s| s.trim().to_string())
}

/// `bytes START-END/TOTAL` (TOTAL may be `*`) → `(START, TOTAL)`.
fn parse_content_range(v: &str) -> Option<(u64, Option<u64>)> {
    let rest = v.strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let start: u64 = start.trim().parse().ok()?;
    let end: u64 = end.trim().parse().ok()?;
    if end < start {
        return None;
    }
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    Some((start, total))
}

/// Sorts a reqwest error into the error variants, with the useful part of its cause chain.
pub(crate) fn classify(url: &Url, err: &reqwest::Error) -> PullError {
    let url_s = url.to_string();
    let reason = error_chain(err);
    if is_tls(err) {
        PullError::Tls { url: url_s, reason }
    } else if err.is_connect() {
        PullError::Connect { url: url_s, reason }
    } else if err.is_timeout() {
        PullError::Transfer {
            url: url_s,
            reason: format!("timed out ({reason})"),
        }
    } else if err.is_redirect() {
        PullError::Transfer {
            url: url_s,
            reason: "too many redirects".into(),
        }
    } else if err.is_builder() {
        PullError::InvalidUrl(format!("{url} ({reason})"))
    } else {
        PullError::Transfer { url: url_s, reason }
    }
}

/// The causes below the top error (which only repeats the URL), joined by ": ".
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    wharf_core::util::error_causes(err)
}

fn is_tls(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if e.is::<rustls::Error>() {
            return true;
        }
        // io::Error::source() skips its payload (and connectors nest io::Errors), so step into
        // the payload explicitly.
        cur = match e.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges() {
        assert_eq!(
            parse_content_range("bytes 100-199/200"),
            Some((100, Some(200)))
        );
        assert_eq!(parse_content_range("bytes 5-9/*"), Some((5, None)));
        assert_eq!(parse_content_range("bytes 9-5/10"), None);
        assert_eq!(parse_content_range("items 1-2/3"), None);
    }
}
