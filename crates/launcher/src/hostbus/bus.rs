//! A minimal blocking D-Bus client (unix sockets, EXTERNAL authentication).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use wharf_dbus::{frame_len, Kind, Message, Value};

/// Where the system bus listens unless `$DBUS_SYSTEM_BUS_ADDRESS` says otherwise.
pub const SYSTEM_BUS_SOCKET: &str = "/run/dbus/system_bus_socket";
/// The longest reply read (the specification allows 128 MiB; machined's replies are tiny).
const MAX_REPLY: usize = 4 << 20;
/// How long one call may wait for its reply.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection to a bus.
pub struct Bus {
    sock: UnixStream,
    serial: u32,
}

/// What a call can end with besides a reply.
#[derive(Debug)]
pub enum CallError {
    /// The peer answered with a D-Bus error.
    Remote { name: String, message: String },
    /// The connection failed or sent something unreadable.
    Io(anyhow::Error),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Remote { name, message } if message.is_empty() => write!(f, "{name}"),
            CallError::Remote { message, .. } => write!(f, "{message}"),
            CallError::Io(e) => write!(f, "{e:#}"),
        }
    }
}

impl std::error::Error for CallError {}

/// The socket named by a D-Bus address (`unix:path=…` or `unix:abstract=…`, the first of a
/// `;`-separated list that is one of these).
enum Address {
    Path(PathBuf),
    Abstract(Vec<u8>),
}

fn parse_address(s: &str) -> Option<Address> {
    s.split(';').find_map(|a| {
        let rest = a.strip_prefix("unix:")?;
        rest.split(',').find_map(|kv| match kv.split_once('=')? {
            ("path", p) => Some(Address::Path(PathBuf::from(unescape(p)))),
            ("abstract", n) => Some(Address::Abstract(unescape(n).into_bytes())),
            _ => None,
        })
    })
}

/// D-Bus address values escape bytes as `%XX`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(hex, 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Bus {
    /// The system bus (`$DBUS_SYSTEM_BUS_ADDRESS`, else [`SYSTEM_BUS_SOCKET`]); `Ok(None)` when
    /// nothing listens there (no bus on this host).
    pub fn system() -> Result<Option<Bus>> {
        let addr = match std::env::var("DBUS_SYSTEM_BUS_ADDRESS") {
            Ok(a) => match parse_address(&a) {
                Some(a) => a,
                None => bail!("DBUS_SYSTEM_BUS_ADDRESS={a:?}: no unix socket address"),
            },
            Err(_) => Address::Path(PathBuf::from(SYSTEM_BUS_SOCKET)),
        };
        let sock = match &addr {
            Address::Path(p) => UnixStream::connect(p),
            Address::Abstract(name) => {
                use std::os::linux::net::SocketAddrExt;
                let a = std::os::unix::net::SocketAddr::from_abstract_name(name)
                    .context("abstract bus address")?;
                UnixStream::connect_addr(&a)
            }
        };
        let sock = match sock {
            Ok(s) => s,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(e).context("connect to the system bus"),
        };
        let mut bus = Bus { sock, serial: 0 };
        bus.sock.set_read_timeout(Some(CALL_TIMEOUT))?;
        bus.sock.set_write_timeout(Some(CALL_TIMEOUT))?;
        bus.authenticate()
            .context("authenticate on the system bus")?;
        bus.call(Message::method_call(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "Hello",
            vec![],
        ))
        .map_err(|e| anyhow::anyhow!("Hello on the system bus: {e}"))?;
        Ok(Some(bus))
    }

    fn authenticate(&mut self) -> Result<()> {
        let uid = rustix::process::geteuid().as_raw().to_string();
        let hex: String = uid.bytes().map(|b| format!("{b:02x}")).collect();
        self.sock
            .write_all(format!("\0AUTH EXTERNAL {hex}\r\n").as_bytes())?;
        let line = self.read_line()?;
        if !line.starts_with("OK ") {
            bail!("the bus refused EXTERNAL authentication: {line:?}");
        }
        self.sock.write_all(b"BEGIN\r\n")?;
        Ok(())
    }

    fn read_line(&mut self) -> Result<String> {
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        while !line.ends_with(b"\r\n") {
            if line.len() > 512 {
                bail!("authentication line too long");
            }
            if self.sock.read(&mut b)? == 0 {
                bail!("the bus closed the connection");
            }
            line.push(b[0]);
        }
        line.truncate(line.len() - 2);
        Ok(String::from_utf8_lossy(&line).into_owned())
    }

    /// Send a method call and wait for its reply (messages in between, such as signals, are
    /// skipped): the reply's body, or the error the peer sent.
    pub fn call(&mut self, mut msg: Message) -> std::result::Result<Vec<Value>, CallError> {
        self.serial = self.serial.wrapping_add(1).max(1);
        msg.serial = self.serial;
        let bytes = msg
            .to_bytes()
            .map_err(|e| CallError::Io(anyhow::anyhow!("build the call: {e}")))?;
        self.sock
            .write_all(&bytes)
            .map_err(|e| CallError::Io(anyhow::Error::from(e).context("write to the bus")))?;
        loop {
            let reply = self.read_message().map_err(CallError::Io)?;
            let Some(reply) = reply else { continue };
            if reply.reply_serial != Some(msg.serial) {
                continue;
            }
            return match reply.kind {
                Kind::MethodReturn => Ok(reply.body),
                Kind::Error => Err(CallError::Remote {
                    name: reply.error_name.unwrap_or_default(),
                    message: reply
                        .body
                        .first()
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                }),
                _ => continue,
            };
        }
    }

    /// The next message; `None` for one that does not decode (skipped, as unknown types must
    /// be).
    fn read_message(&mut self) -> Result<Option<Message>> {
        let mut head = [0u8; 16];
        self.sock
            .read_exact(&mut head)
            .context("read from the bus")?;
        let len = frame_len(&head).map_err(|e| anyhow::anyhow!("bad message from the bus: {e}"))?;
        if len > MAX_REPLY {
            bail!("the bus sent a message of {len} bytes");
        }
        let mut buf = vec![0u8; len];
        buf[..16].copy_from_slice(&head);
        self.sock
            .read_exact(&mut buf[16..])
            .context("read from the bus")?;
        Ok(Message::decode(&buf).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        match parse_address("unix:path=/run/dbus/system_bus_socket,guid=abc") {
            Some(Address::Path(p)) => assert_eq!(p, PathBuf::from(SYSTEM_BUS_SOCKET)),
            _ => panic!(),
        }
        match parse_address("tcp:host=x;unix:abstract=/tmp/dbus-%41b") {
            Some(Address::Abstract(n)) => assert_eq!(n, b"/tmp/dbus-Ab"),
            _ => panic!(),
        }
        assert!(parse_address("tcp:host=x,port=1").is_none());
        assert_eq!(unescape("a%2fb%"), "a/b%");
    }
}
