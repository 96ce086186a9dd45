//! The HTTP side of the client: scheme choice, redirects, retries and the error body.
//! Authentication lives in `auth.rs`.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::blocking::{RequestBuilder, Response};
use reqwest::header::{HeaderMap, AUTHORIZATION, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use url::Url;
use wharf_oci_format::parse_registry_errors;

use crate::auth::AuthState;
use crate::credentials::Credentials;
use crate::error::{Error, ErrorKind, Result};

/// TCP + TLS connect budget.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest wait for response headers or for the next piece of a body (reqwest's blocking
/// client applies it to each wait, not to a whole transfer).
pub(crate) const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Attempts per request for transient failures (network, 5xx, 408, 429).
pub const MAX_ATTEMPTS: u32 = 4;
/// Redirect hops followed per request.
const MAX_REDIRECTS: usize = 10;
/// Error bodies read for their JSON `errors` (larger ones are cut).
const MAX_ERROR_BODY: u64 = 64 << 10;

/// How to talk to a registry.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Allow plain http and unverified TLS certificates for any registry. Without it, plain
    /// http is used only for loopback registries (`localhost`, `127.*`, `::1`) and only after
    /// https failed there, as docker and skopeo do.
    pub insecure: bool,
    /// Sent as Basic credentials to the registry (Basic challenge) or its token server
    /// (Bearer challenge). The CLI fills it from [`crate::credentials_for`].
    pub credentials: Option<Credentials>,
    /// Blobs downloaded at once (at least 1).
    pub parallel: usize,
    /// Raised by the caller to stop; checked between requests and body chunks.
    pub cancel: Option<Arc<AtomicBool>>,
    /// `User-Agent:` header.
    pub user_agent: String,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            insecure: false,
            credentials: None,
            parallel: 3,
            cancel: None,
            user_agent: concat!("wharf/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

/// A client bound to one registry host.
pub struct Client {
    /// As named in references (`docker.io`, `127.0.0.1:5000`): used in messages and auth files.
    pub(crate) registry: String,
    /// Where requests go (`registry-1.docker.io` for Docker Hub).
    pub(crate) host: String,
    pub(crate) opts: ClientOptions,
    http: reqwest::blocking::Client,
    /// Follows redirects itself (token servers): reqwest drops Authorization across hosts.
    pub(crate) http_follow: reqwest::blocking::Client,
    /// `scheme://host/`, chosen by the first request (the `/v2/` ping).
    base: Mutex<Option<Url>>,
    pub(crate) auth: Mutex<AuthState>,
    loopback: bool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("registry", &self.registry)
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `registry` (the registry part of a reference). Makes no request yet.
    /// `reference` must name this client's registry.
    pub fn check_reference(&self, reference: &wharf_oci_format::Reference) -> Result<()> {
        if reference.registry != self.registry {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("reference {reference} is not on registry {}", self.registry),
            ));
        }
        Ok(())
    }

    pub fn new(registry: &str, opts: ClientOptions) -> Result<Client> {
        let probe = wharf_oci_format::Reference::parse(&format!("{registry}/x"))
            .map_err(|e| Error::new(ErrorKind::InvalidArgument, e.message()))?;
        if probe.registry != registry {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("invalid registry {registry:?}"),
            ));
        }
        let build = |policy| {
            reqwest::blocking::Client::builder()
                .user_agent(opts.user_agent.clone())
                .connect_timeout(CONNECT_TIMEOUT)
                .timeout(READ_TIMEOUT)
                .tcp_keepalive(Duration::from_secs(30))
                .redirect(policy)
                .danger_accept_invalid_certs(opts.insecure)
                .build()
                .map_err(|e| {
                    Error::new(
                        ErrorKind::Network,
                        format!("cannot set up the http client: {}", error_chain(&e)),
                    )
                })
        };
        let http = build(reqwest::redirect::Policy::none())?;
        let http_follow = build(reqwest::redirect::Policy::limited(MAX_REDIRECTS))?;
        Ok(Client {
            registry: registry.to_string(),
            host: probe.api_host().to_string(),
            loopback: probe.is_loopback(),
            opts,
            http,
            http_follow,
            base: Mutex::new(None),
            auth: Mutex::new(AuthState::default()),
        })
    }

    /// The registry as named in references.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    pub(crate) fn cancelled(&self) -> bool {
        self.opts
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
    }

    pub(crate) fn check_cancel(&self) -> Result<()> {
        if self.cancelled() {
            return Err(Error::cancelled());
        }
        Ok(())
    }

    /// Whether plain http may be used for `url`'s host (the registry's own when loopback, or
    /// anything with `insecure`).
    pub(crate) fn http_allowed(&self, host_is_loopback: bool) -> bool {
        self.opts.insecure || host_is_loopback
    }

    /// `message` prefixed with `registry HOST: `.
    pub(crate) fn err(&self, kind: ErrorKind, message: impl std::fmt::Display) -> Error {
        Error::new(kind, format!("registry {}: {message}", self.registry))
    }

    /// `scheme://host/v2/<path>` (pings the registry on first use).
    pub(crate) fn url(&self, path: &str) -> Result<Url> {
        let base = self.base()?;
        base.join(&format!("v2/{path}"))
            .map_err(|e| self.err(ErrorKind::InvalidArgument, format!("bad path {path}: {e}")))
    }

    /// The base URL, choosing the scheme with a `GET /v2/` ping the first time: https, then
    /// (loopback or insecure only) http. The ping's 401 challenge primes authentication.
    fn base(&self) -> Result<Url> {
        let mut base = self.base.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = &*base {
            return Ok(b.clone());
        }
        let mut schemes = vec!["https"];
        if self.http_allowed(self.loopback) {
            schemes.push("http");
        }
        let mut last_err = None;
        for &scheme in &schemes {
            let b = Url::parse(&format!("{scheme}://{}/", self.host))
                .map_err(|e| self.err(ErrorKind::InvalidArgument, format!("invalid host: {e}")))?;
            let ping = b.join("v2/").expect("static path");
            // No retries while another scheme is left to try (https against a plain http
            // server fails at once and for good).
            let attempts = if scheme == "https" && schemes.len() > 1 {
                1
            } else {
                MAX_ATTEMPTS
            };
            match self.send_with_retries(Method::GET, &ping, None, None, attempts, &|rb| Ok(rb)) {
                Ok(resp) => {
                    let status = resp.status();
                    if status == StatusCode::UNAUTHORIZED {
                        self.note_challenge(resp.headers());
                    } else if !status.is_success() {
                        // Plain http refused by an https server: its TLS error says more.
                        if let Some(e) = last_err {
                            return Err(e);
                        }
                        return Err(self.status_error(resp, "ping /v2/"));
                    }
                    *base = Some(b.clone());
                    return Ok(b);
                }
                // Only a transport failure (no HTTP answer) moves on to plain http.
                Err(e) if e.kind == ErrorKind::Network => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err.expect("at least one scheme"))
    }

    /// One request with authentication for `scope` (None: no auth), redirects, retries of
    /// transient failures and one re-authentication on 401. `build` adds headers and body; it
    /// runs for every attempt and hop. Non-2xx answers are returned, not turned into errors.
    pub(crate) fn request(
        &self,
        method: Method,
        url: &Url,
        scope: Option<&str>,
        build: &dyn Fn(RequestBuilder) -> Result<RequestBuilder>,
    ) -> Result<Response> {
        let origin = self.base()?;
        let mut reauthed = false;
        loop {
            let auth = match scope {
                Some(scope) => self.authorization(scope)?,
                None => None,
            };
            let resp = self.send_with_retries(
                method.clone(),
                url,
                Some(&origin),
                auth.as_deref(),
                MAX_ATTEMPTS,
                build,
            )?;
            if resp.status() == StatusCode::UNAUTHORIZED && !reauthed {
                if let Some(scope) = scope {
                    reauthed = true;
                    if self.reauthenticate(resp.headers(), scope, auth.as_deref())? {
                        continue;
                    }
                }
            }
            return Ok(resp);
        }
    }

    /// [`Client::send`] repeated while it fails transiently, with backoff (Retry-After is
    /// honoured up to 30 s).
    fn send_with_retries(
        &self,
        method: Method,
        url: &Url,
        origin: Option<&Url>,
        auth: Option<&str>,
        attempts: u32,
        build: &dyn Fn(RequestBuilder) -> Result<RequestBuilder>,
    ) -> Result<Response> {
        let mut attempt = 1;
        loop {
            self.check_cancel()?;
            let outcome = self.send(method.clone(), url, origin, auth, build);
            let wait = match &outcome {
                Ok(r) if is_transient_status(r.status()) => retry_after(r.headers()),
                Ok(_) => return outcome,
                Err(e) if e.is_transient() => None,
                Err(_) => return outcome,
            };
            if attempt >= attempts {
                return outcome;
            }
            let backoff = Duration::from_millis(250 << attempt);
            self.sleep(wait.unwrap_or(backoff).min(Duration::from_secs(30)));
            attempt += 1;
        }
    }

    /// Sleeps in small steps so a cancel is noticed.
    pub(crate) fn sleep(&self, d: Duration) {
        let end = std::time::Instant::now() + d;
        while !self.cancelled() {
            let now = std::time::Instant::now();
            if now >= end {
                break;
            }
            std::thread::sleep((end - now).min(Duration::from_millis(50)));
        }
    }

    /// One exchange, following redirects for GET and HEAD. Authorization goes only to the
    /// registry's own origin: a redirect to another host (a CDN) never receives it.
    fn send(
        &self,
        method: Method,
        url: &Url,
        origin: Option<&Url>,
        auth: Option<&str>,
        build: &dyn Fn(RequestBuilder) -> Result<RequestBuilder>,
    ) -> Result<Response> {
        let mut url = url.clone();
        for _ in 0..=MAX_REDIRECTS {
            if url.scheme() == "http" && !self.http_allowed(is_loopback_url(&url)) {
                return Err(self.err(
                    ErrorKind::Insecure,
                    format!("refusing plain http to {} (use --insecure)", host_of(&url)),
                ));
            }
            let mut rb = self.http.request(method.clone(), url.clone());
            let same_origin = origin.is_some_and(|o| same_origin(o, &url));
            if let (Some(h), true) = (auth, same_origin) {
                rb = rb.header(AUTHORIZATION, h);
            }
            let resp = build(rb)?
                .send()
                .map_err(|e| self.transport_error(&url, &e))?;
            let follow = matches!(method, Method::GET | Method::HEAD)
                && matches!(resp.status().as_u16(), 301 | 302 | 303 | 307 | 308);
            if !follow {
                return Ok(resp);
            }
            let Some(next) = resp
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| url.join(l).ok())
            else {
                return Ok(resp);
            };
            if !matches!(next.scheme(), "http" | "https") {
                return Err(self.err(
                    ErrorKind::InvalidData,
                    format!("redirect to unsupported url {next}"),
                ));
            }
            url = next;
        }
        Err(self.err(
            ErrorKind::Network,
            format!("too many redirects for {}", url.path()),
        ))
    }

    fn transport_error(&self, url: &Url, err: &reqwest::Error) -> Error {
        let reason = error_chain(err);
        let what = if is_tls(err) {
            "tls error"
        } else if err.is_timeout() {
            "timed out"
        } else if err.is_connect() {
            "cannot connect"
        } else {
            "transfer failed"
        };
        self.err(
            ErrorKind::Network,
            format!("{what} talking to {}: {reason}", host_of(url)),
        )
    }

    /// Turns a non-success answer into an error: `registry HOST: WHAT: <codes and messages>`
    /// from the JSON error body, else the status.
    pub(crate) fn status_error(&self, resp: Response, what: &str) -> Error {
        let status = resp.status();
        let mut body = Vec::new();
        let _ = resp.take(MAX_ERROR_BODY).read_to_end(&mut body);
        let errors = parse_registry_errors(&body);
        let kind = match status.as_u16() {
            401 => ErrorKind::Unauthorized,
            403 => ErrorKind::Denied,
            404 => ErrorKind::NotFound,
            429 => ErrorKind::TooManyRequests,
            _ => ErrorKind::Http,
        };
        let detail = if errors.is_empty() {
            format!(
                "{} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("").to_lowercase()
            )
        } else {
            errors
                .iter()
                .map(|e| {
                    let code = e.code.to_lowercase().replace('_', " ");
                    let msg = one_line(&e.message);
                    if msg.is_empty() || msg.eq_ignore_ascii_case(&code) {
                        code
                    } else if code.is_empty() {
                        msg
                    } else {
                        format!("{code}: {msg}")
                    }
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        self.err(kind, format!("{what}: {}", detail.trim_end()))
    }
}

/// control characters out, at most 300 chars
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect::<String>()
        .trim()
        .to_string()
}

fn is_transient_status(s: StatusCode) -> bool {
    s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS || s == StatusCode::REQUEST_TIMEOUT
}

fn retry_after(h: &HeaderMap) -> Option<Duration> {
    let secs: u64 = h.get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(secs))
}

/// the `WWW-Authenticate` header values of an answer
pub(crate) fn www_authenticate(h: &HeaderMap) -> Vec<String> {
    h.get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_string)
        .collect()
}

pub(crate) fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

pub(crate) fn is_loopback_url(u: &Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        None => false,
    }
}

pub(crate) fn host_of(u: &Url) -> String {
    match (u.host_str(), u.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => u.to_string(),
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
        cur = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
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
    fn origins_and_loopback() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(same_origin(
            &u("https://r.io/v2/x"),
            &u("https://r.io:443/y")
        ));
        assert!(!same_origin(&u("https://r.io/"), &u("https://cdn.r.io/")));
        assert!(!same_origin(&u("http://r.io/"), &u("https://r.io/")));
        assert!(!same_origin(
            &u("http://127.0.0.1:5000/"),
            &u("http://127.0.0.1:5001/")
        ));
        assert!(is_loopback_url(&u("http://127.0.0.2:1/")));
        assert!(is_loopback_url(&u("http://[::1]:1/")));
        assert!(is_loopback_url(&u("http://LOCALHOST/")));
        assert!(!is_loopback_url(&u("http://10.0.0.1/")));
        assert_eq!(host_of(&u("http://[::1]:5000/x")), "[::1]:5000");
    }

    #[test]
    fn new_checks_the_registry() {
        let c = Client::new("docker.io", ClientOptions::default()).unwrap();
        assert_eq!(c.host, "registry-1.docker.io");
        assert!(!c.loopback);
        let c = Client::new("localhost:5000", ClientOptions::default()).unwrap();
        assert!(c.loopback);
        assert!(Client::new("no-dots", ClientOptions::default()).is_err());
        assert!(Client::new("a b", ClientOptions::default()).is_err());
    }

    #[test]
    fn one_line_errors() {
        assert_eq!(one_line("a\nb\tc  "), "a b c");
        assert_eq!(one_line(&"x".repeat(1000)).len(), 300);
    }
}
