//! A tiny HTTP/1.1 file server on 127.0.0.1 for the tests: files with ETags, 404s, `Range` with
//! `If-Range`, connections dropped after N body bytes, servers that ignore `Range`. One request
//! per connection (`Connection: close`). Every request is logged. Dropping the server stops its
//! accept loop and joins every thread.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// One logged request.
#[derive(Debug, Clone)]
pub struct Logged {
    pub path: String,
    /// Lowercased header names.
    pub headers: HashMap<String, String>,
}

impl Logged {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

#[derive(Default)]
struct Served {
    data: Vec<u8>,
    etag: Option<String>,
    /// Body bytes sent before the connection is cut, and on how many more requests.
    drop_after: usize,
    drops_left: usize,
    ignore_range: bool,
}

#[derive(Default)]
struct State {
    files: HashMap<String, Served>,
    log: Vec<Logged>,
}

pub struct Server {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || accept_loop(listener, state, stop))
        };
        Server {
            addr,
            state,
            stop,
            acceptor: Some(acceptor),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Serves `data` at `path` with a strong ETag derived from path and length.
    pub fn put(&self, path: &str, data: impl Into<Vec<u8>>) {
        let data = data.into();
        let etag = format!("\"{}-{}\"", path.trim_start_matches('/'), data.len());
        self.put_with_etag(path, data, Some(&etag));
    }

    pub fn put_with_etag(&self, path: &str, data: impl Into<Vec<u8>>, etag: Option<&str>) {
        self.state.lock().unwrap().files.insert(
            path.to_string(),
            Served {
                data: data.into(),
                etag: etag.map(str::to_string),
                ..Served::default()
            },
        );
    }

    /// The next `times` responses for `path` stop after `bytes` body bytes and close.
    pub fn drop_after(&self, path: &str, bytes: usize, times: usize) {
        let mut st = self.state.lock().unwrap();
        let f = st.files.get_mut(path).expect("file served");
        f.drop_after = bytes;
        f.drops_left = times;
    }

    /// `path` answers every request with the whole file (200), ignoring `Range`.
    pub fn ignore_range(&self, path: &str) {
        self.state
            .lock()
            .unwrap()
            .files
            .get_mut(path)
            .expect("file served")
            .ignore_range = true;
    }

    pub fn requests(&self) -> Vec<Logged> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn requested(&self, path: &str) -> Vec<Logged> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: TcpListener, state: Arc<Mutex<State>>, stop: Arc<AtomicBool>) {
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let state = state.clone();
                workers.push(std::thread::spawn(move || {
                    let _ = handle(stream, &state);
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

fn handle(stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
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
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    let logged = Logged {
        path: path.clone(),
        headers,
    };
    let (head, body, cut) = respond(state, &logged);
    let mut out = stream;
    out.write_all(head.as_bytes())?;
    match cut {
        Some(n) => {
            out.write_all(&body[..n.min(body.len())])?;
            out.flush()?;
            out.shutdown(Shutdown::Both)?;
        }
        None => {
            out.write_all(&body)?;
            out.flush()?;
        }
    }
    Ok(())
}

/// Response head, body, and where to cut the body short.
fn respond(state: &Mutex<State>, req: &Logged) -> (String, Vec<u8>, Option<usize>) {
    let mut st = state.lock().unwrap();
    st.log.push(req.clone());
    let Some(file) = st.files.get_mut(&req.path) else {
        let body = b"not found\n".to_vec();
        let head = format!(
            "HTTP/1.1 404 Not Found\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        return (head, body, None);
    };
    let len = file.data.len();
    let mut extra =
        String::from("Accept-Ranges: bytes\r\nLast-Modified: Mon, 01 Jan 2024 00:00:00 GMT\r\n");
    if let Some(etag) = &file.etag {
        extra.push_str(&format!("ETag: {etag}\r\n"));
    }
    let if_range_ok = match req.header("if-range") {
        None => true,
        Some(v) => file.etag.as_deref() == Some(v) || v.ends_with("GMT"),
    };
    let range_from = req
        .header("range")
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|_| !file.ignore_range && if_range_ok);
    let (status, body) = match range_from {
        Some(from) if from >= len => {
            let head = format!(
                "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{len}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            return (head, Vec::new(), None);
        }
        Some(from) => {
            extra.push_str(&format!(
                "Content-Range: bytes {from}-{}/{len}\r\n",
                len - 1
            ));
            ("206 Partial Content", file.data[from..].to_vec())
        }
        None => ("200 OK", file.data.clone()),
    };
    let cut = if file.drops_left > 0 {
        file.drops_left -= 1;
        Some(file.drop_after)
    } else {
        None
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        body.len()
    );
    (head, body, cut)
}
