//! Registries for the tests: Debian's real `docker-registry` (distribution 2.8) on 127.0.0.1 with
//! a throw-away config and storage, optionally behind a token server of ours (RS256 JWTs with an
//! `x5c` header, signed by `openssl`), and a scripted HTTP server for answers no real registry
//! gives (tampered digests, wrong media types, cross-host redirects).
//!
//! Every server is stopped when dropped (also when a test panics): the registry process is
//! killed and waited for, scripted servers stop their accept loop and join their threads.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;

/// One request a scripted server received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    /// Lowercased header names.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The value of query parameter `name` (first occurrence), percent-decoded.
    pub fn query(&self, name: &str) -> Vec<String> {
        let Some((_, q)) = self.path.split_once('?') else {
            return Vec::new();
        };
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| percent_decode(v))
            .collect()
    }

    /// The path without the query.
    pub fn route(&self) -> &str {
        self.path.split('?').next().unwrap_or("")
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a scripted server answers.
#[derive(Debug, Clone, Default)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16) -> Response {
        Response {
            status,
            ..Response::default()
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = body.into();
        self
    }

    /// `{"errors":[{"code":CODE,"message":MESSAGE}]}` with status `status`.
    pub fn error(status: u16, code: &str, message: &str) -> Response {
        let body = serde_json::json!({"errors":[{"code":code,"message":message}]}).to_string();
        Response::new(status)
            .header("Content-Type", "application/json")
            .body(body)
    }
}

type Handler = dyn Fn(&Request) -> Response + Send + Sync;

/// An HTTP/1.1 server on 127.0.0.1 answering through a closure, one request per connection.
pub struct ScriptedServer {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl ScriptedServer {
    pub fn start(handler: impl Fn(&Request) -> Response + Send + Sync + 'static) -> ScriptedServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("local addr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let acceptor = {
            let (log, stop) = (log.clone(), stop.clone());
            std::thread::spawn(move || accept_loop(listener, handler, log, stop))
        };
        ScriptedServer {
            addr,
            log,
            stop,
            acceptor: Some(acceptor),
        }
    }

    /// `127.0.0.1:PORT`
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(
    listener: TcpListener,
    handler: Arc<Handler>,
    log: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
) {
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let (handler, log) = (handler.clone(), log.clone());
                workers.push(std::thread::spawn(move || {
                    let _ = serve(stream, &*handler, &log);
                }));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => break,
        }
        workers.retain(|w| !w.is_finished());
    }
    for w in workers {
        let _ = w.join();
    }
}

fn serve(stream: TcpStream, handler: &Handler, log: &Mutex<Vec<Request>>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut headers = HashMap::new();
    for _ in 0..100 {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: u64 = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = Vec::new();
    reader
        .by_ref()
        .take(len.min(64 << 20))
        .read_to_end(&mut body)?;
    let mut parts = request_line.split_whitespace();
    let req = Request {
        method: parts.next().unwrap_or("").to_string(),
        path: parts.next().unwrap_or("/").to_string(),
        headers,
        body,
    };
    log.lock().unwrap().push(req.clone());
    let resp = handler(&req);
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nConnection: close\r\n",
        resp.status,
        reason(resp.status)
    );
    let mut has_length = false;
    for (k, v) in &resp.headers {
        has_length |= k.eq_ignore_ascii_case("content-length");
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !has_length {
        head.push_str(&format!("Content-Length: {}\r\n", resp.body.len()));
    }
    head.push_str("\r\n");
    let mut out = stream;
    out.write_all(head.as_bytes())?;
    if req.method != "HEAD" {
        out.write_all(&resp.body)?;
    }
    out.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        206 => "Partial Content",
        307 => "Temporary Redirect",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        _ => "Status",
    }
}

/// Debian's `docker-registry`, serving on 127.0.0.1 from a temporary directory.
pub struct Registry {
    pub addr: SocketAddr,
    child: Child,
    dir: tempfile::TempDir,
}

impl Registry {
    /// An open registry (no authentication).
    pub fn start() -> Registry {
        Registry::start_with("")
    }

    /// A registry that wants Bearer tokens from `tokens` (realm, service, issuer and the
    /// certificate that signs them).
    pub fn start_with_token_auth(tokens: &TokenServer) -> Registry {
        let auth = format!(
            "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
            tokens.realm(),
            TOKEN_SERVICE,
            TOKEN_ISSUER,
            tokens.cert.display()
        );
        Registry::start_with(&auth)
    }

    fn start_with(extra_config: &str) -> Registry {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n{extra_config}",
                dir.path().join("storage").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("docker-registry is required (scripts/install-test-deps): {e}")
            });
        let mut reg = Registry { addr, child, dir };
        reg.wait_ready();
        reg
    }

    fn wait_ready(&mut self) {
        let start = Instant::now();
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("docker-registry exited ({st}): {}", self.log());
            }
            if TcpStream::connect(self.addr).is_ok() {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "docker-registry did not listen on {} within 30 s: {}",
                self.addr,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `127.0.0.1:PORT`
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// `127.0.0.1:PORT/NAME`
    pub fn image(&self, name: &str) -> String {
        format!("{}/{name}", self.addr)
    }

    /// Everything the registry logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// The access log as `(method, path, status)`.
    pub fn requests(&self) -> Vec<(String, String, u16)> {
        self.log()
            .lines()
            .filter_map(|l| {
                // 127.0.0.1 - - [date] "GET /v2/x/blobs/sha256:… HTTP/1.1" 200 123 "" "agent"
                let (_, rest) = l.split_once('"')?;
                let (req, rest) = rest.split_once('"')?;
                let mut r = req.split_whitespace();
                let (m, p) = (r.next()?, r.next()?);
                let status = rest.split_whitespace().next()?.parse().ok()?;
                Some((m.to_string(), p.to_string(), status))
            })
            .collect()
    }

    /// The storage directory (to tamper with it).
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

pub const TOKEN_SERVICE: &str = "wharf-test-registry";
pub const TOKEN_ISSUER: &str = "wharf-test-issuer";

/// Settings of a [`TokenServer`], changeable while it runs.
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    /// Required Basic credentials; `None`: anonymous tokens.
    pub credentials: Option<(String, String)>,
    /// `exp` of the JWT, seconds from now (may be negative: already expired).
    pub lifetime: i64,
    /// `expires_in` reported to the client (`None`: omitted).
    pub expires_in: Option<i64>,
    /// Answer with `access_token` instead of `token`.
    pub access_token_field: bool,
    /// The first `expired_first` tokens are issued already expired.
    pub expired_first: usize,
}

impl Default for TokenPolicy {
    fn default() -> TokenPolicy {
        TokenPolicy {
            credentials: None,
            lifetime: 300,
            expires_in: Some(300),
            access_token_field: false,
            expired_first: 0,
        }
    }
}

/// A Docker token server: `GET /token?service=…&scope=…` → RS256 JWT with an `x5c` header,
/// granting every requested action.
pub struct TokenServer {
    server: ScriptedServer,
    pub policy: Arc<Mutex<TokenPolicy>>,
    /// Tokens issued so far.
    pub issued: Arc<AtomicU64>,
    cert: PathBuf,
    _dir: tempfile::TempDir,
}

impl TokenServer {
    pub fn start(policy: TokenPolicy) -> TokenServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = dir.path().join("key.pem");
        let cert = dir.path().join("cert.pem");
        crate::sh(
            "openssl",
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=wharf-test-token",
                "-keyout",
                path_str(&key),
                "-out",
                path_str(&cert),
            ],
        );
        let der = Command::new("openssl")
            .args(["x509", "-in", path_str(&cert), "-outform", "DER"])
            .output()
            .expect("openssl x509");
        assert!(der.status.success());
        let x5c = base64::engine::general_purpose::STANDARD.encode(&der.stdout);
        let policy = Arc::new(Mutex::new(policy));
        let issued = Arc::new(AtomicU64::new(0));
        let server = {
            let (policy, issued) = (policy.clone(), issued.clone());
            ScriptedServer::start(move |req| {
                token_answer(req, &policy.lock().unwrap(), &issued, &key, &x5c)
            })
        };
        TokenServer {
            server,
            policy,
            issued,
            cert,
            _dir: dir,
        }
    }

    pub fn realm(&self) -> String {
        self.server.url("/token")
    }

    pub fn requests(&self) -> Vec<Request> {
        self.server.requests()
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

fn token_answer(
    req: &Request,
    policy: &TokenPolicy,
    issued: &AtomicU64,
    key: &Path,
    x5c: &str,
) -> Response {
    if req.route() != "/token" {
        return Response::new(404);
    }
    if let Some((user, pass)) = &policy.credentials {
        let want = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        );
        if req.header("authorization") != Some(want.as_str()) {
            return Response::error(401, "UNAUTHORIZED", "bad credentials");
        }
    }
    let n = issued.fetch_add(1, Ordering::SeqCst) as usize;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let lifetime = if n < policy.expired_first {
        -600
    } else {
        policy.lifetime
    };
    let access: Vec<serde_json::Value> = req
        .query("scope")
        .iter()
        .flat_map(|s| s.split(' ').map(str::to_string).collect::<Vec<_>>())
        .filter_map(|s| {
            let mut p = s.splitn(3, ':');
            let (kind, name, actions) = (p.next()?, p.next()?, p.next()?);
            Some(serde_json::json!({
                "type": kind, "name": name,
                "actions": actions.split(',').collect::<Vec<_>>(),
            }))
        })
        .collect();
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let header = serde_json::json!({"typ":"JWT","alg":"RS256","x5c":[x5c]}).to_string();
    let claims = serde_json::json!({
        "iss": TOKEN_ISSUER,
        "sub": policy.credentials.as_ref().map(|c| c.0.clone()).unwrap_or_default(),
        "aud": req.query("service").first().cloned().unwrap_or_default(),
        "exp": now + lifetime,
        "nbf": now - 1200,
        "iat": now - 1200,
        "jti": format!("wharf-{n}-{now}"),
        "access": access,
    })
    .to_string();
    let signing_input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign", path_str(key)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl dgst");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(signing_input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().expect("openssl dgst");
    assert!(out.status.success(), "openssl dgst failed");
    let jwt = format!("{signing_input}.{}", b64(&out.stdout));
    let field = if policy.access_token_field {
        "access_token"
    } else {
        "token"
    };
    let mut body = serde_json::json!({ field: jwt });
    if let Some(e) = policy.expires_in {
        body["expires_in"] = e.into();
    }
    Response::new(200)
        .header("Content-Type", "application/json")
        .body(body.to_string())
}
