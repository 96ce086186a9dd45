//! The D-Bus wire format (the specification's "Message Protocol"): building method calls and
//! reading whatever a bus sends back. Pure: bytes in, bytes out. Decoding is strict and bounded
//! (lengths checked against the buffer, nesting limited, strings checked), so bytes from a bus
//! never panic.

mod value;
mod wire;

pub use value::{check_object_path, check_signature, split_types, Value, MAX_DEPTH};

use wire::{Reader, Writer};

/// The longest message the specification allows (128 MiB).
pub const MAX_MESSAGE: usize = 1 << 27;

/// Why bytes are not a D-Bus message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("message truncated")]
    Truncated,
    #[error("message longer than 128 MiB")]
    TooLong,
    #[error("values nested too deeply")]
    TooDeep,
    #[error("malformed message: {0}")]
    Invalid(&'static str),
}

/// The message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    MethodCall = 1,
    MethodReturn = 2,
    Error = 3,
    Signal = 4,
}

/// Header flag: the caller expects no reply.
pub const NO_REPLY_EXPECTED: u8 = 0x1;
/// Header flag: do not start a service for the destination.
pub const NO_AUTO_START: u8 = 0x2;

/// A message: header fields and body values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub kind: Kind,
    pub flags: u8,
    pub serial: u32,
    pub path: Option<String>,
    pub interface: Option<String>,
    pub member: Option<String>,
    pub error_name: Option<String>,
    pub reply_serial: Option<u32>,
    pub destination: Option<String>,
    pub sender: Option<String>,
    pub unix_fds: Option<u32>,
    pub body: Vec<Value>,
}

impl Message {
    /// A method call of `interface.member` on `path` of `destination`.
    pub fn method_call(
        destination: &str,
        path: &str,
        interface: &str,
        member: &str,
        body: Vec<Value>,
    ) -> Message {
        Message {
            kind: Kind::MethodCall,
            flags: 0,
            serial: 1,
            path: Some(path.into()),
            interface: Some(interface.into()),
            member: Some(member.into()),
            error_name: None,
            reply_serial: None,
            destination: Some(destination.into()),
            sender: None,
            unix_fds: None,
            body,
        }
    }

    /// The body's signature.
    pub fn signature(&self) -> String {
        self.body.iter().map(Value::signature).collect()
    }

    /// Check the header and body: what [`Message::encode`] needs.
    pub fn validate(&self) -> Result<(), Error> {
        if self.serial == 0 {
            return Err(Error::Invalid("serial 0"));
        }
        if let Some(p) = &self.path {
            check_object_path(p)?;
        }
        for s in [
            &self.interface,
            &self.member,
            &self.error_name,
            &self.destination,
            &self.sender,
        ]
        .into_iter()
        .flatten()
        {
            if s.is_empty() || s.len() > 255 || s.contains('\0') {
                return Err(Error::Invalid("bad name in header"));
            }
        }
        let needs = match self.kind {
            Kind::MethodCall => self.path.is_some() && self.member.is_some(),
            Kind::MethodReturn => self.reply_serial.is_some(),
            Kind::Error => self.error_name.is_some() && self.reply_serial.is_some(),
            Kind::Signal => {
                self.path.is_some() && self.interface.is_some() && self.member.is_some()
            }
        };
        if !needs {
            return Err(Error::Invalid(
                "a header field required by the type is missing",
            ));
        }
        check_signature(&self.signature())?;
        self.body.iter().try_for_each(Value::validate)
    }

    /// The message in wire format (little-endian). Panics on a message that fails
    /// [`Message::validate`]; use [`Message::to_bytes`] for unchecked input.
    pub fn encode(&self) -> Vec<u8> {
        self.to_bytes().expect("valid D-Bus message")
    }

    /// The message in wire format, after [`Message::validate`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        self.validate()?;
        let mut fields = Vec::new();
        let mut field = |code: u8, v: Value| {
            fields.push(Value::Struct(vec![
                Value::Byte(code),
                Value::Variant(Box::new(v)),
            ]))
        };
        if let Some(p) = &self.path {
            field(1, Value::ObjectPath(p.clone()));
        }
        if let Some(s) = &self.interface {
            field(2, Value::Str(s.clone()));
        }
        if let Some(s) = &self.member {
            field(3, Value::Str(s.clone()));
        }
        if let Some(s) = &self.error_name {
            field(4, Value::Str(s.clone()));
        }
        if let Some(n) = self.reply_serial {
            field(5, Value::U32(n));
        }
        if let Some(s) = &self.destination {
            field(6, Value::Str(s.clone()));
        }
        if let Some(s) = &self.sender {
            field(7, Value::Str(s.clone()));
        }
        let sig = self.signature();
        if !sig.is_empty() {
            field(8, Value::Signature(sig));
        }
        if let Some(n) = self.unix_fds {
            field(9, Value::U32(n));
        }
        let mut w = Writer::new();
        w.buf
            .extend_from_slice(&[b'l', self.kind as u8, self.flags, 1]);
        w.buf.extend_from_slice(&[0; 4]); // body length, below
        w.buf.extend_from_slice(&self.serial.to_le_bytes());
        w.value(&Value::Array("(yv)".into(), fields));
        w.align(8);
        let body_start = w.buf.len();
        for v in &self.body {
            w.value(v);
        }
        let body_len = w.buf.len() - body_start;
        if w.buf.len() > MAX_MESSAGE {
            return Err(Error::TooLong);
        }
        w.buf[4..8].copy_from_slice(&(body_len as u32).to_le_bytes());
        Ok(w.buf)
    }

    /// Read one whole message (exactly [`frame_len`] bytes).
    pub fn decode(buf: &[u8]) -> Result<Message, Error> {
        let total = frame_len(buf)?;
        if buf.len() < total {
            return Err(Error::Truncated);
        }
        if buf.len() > total {
            return Err(Error::Invalid("bytes after the message"));
        }
        let big_endian = buf[0] == b'B';
        let kind = match buf[1] {
            1 => Kind::MethodCall,
            2 => Kind::MethodReturn,
            3 => Kind::Error,
            4 => Kind::Signal,
            _ => return Err(Error::Invalid("unknown message type")),
        };
        if buf[3] != 1 {
            return Err(Error::Invalid("protocol version is not 1"));
        }
        let mut r = Reader {
            buf,
            pos: 4,
            big_endian,
        };
        let body_len = r.u32()? as usize;
        let serial = r.u32()?;
        let Value::Array(_, fields) = r.value("a(yv)", 0)? else {
            return Err(Error::Invalid("header fields"));
        };
        let mut m = Message {
            kind,
            flags: buf[2],
            serial,
            path: None,
            interface: None,
            member: None,
            error_name: None,
            reply_serial: None,
            destination: None,
            sender: None,
            unix_fds: None,
            body: Vec::new(),
        };
        let mut signature = String::new();
        for f in fields {
            let Value::Struct(kv) = f else {
                return Err(Error::Invalid("header field"));
            };
            let (Some(Value::Byte(code)), Some(Value::Variant(v))) = (kv.first(), kv.get(1)) else {
                return Err(Error::Invalid("header field"));
            };
            let v = v.as_ref().clone();
            let bad = || Error::Invalid("header field of the wrong type");
            match (code, v) {
                (1, Value::ObjectPath(p)) => m.path = Some(p),
                (2, Value::Str(s)) => m.interface = Some(s),
                (3, Value::Str(s)) => m.member = Some(s),
                (4, Value::Str(s)) => m.error_name = Some(s),
                (5, Value::U32(n)) => m.reply_serial = Some(n),
                (6, Value::Str(s)) => m.destination = Some(s),
                (7, Value::Str(s)) => m.sender = Some(s),
                (8, Value::Signature(s)) => signature = s,
                (9, Value::U32(n)) => m.unix_fds = Some(n),
                (1..=9, _) => return Err(bad()),
                // Unknown fields are ignored, as the specification says.
                _ => {}
            }
        }
        r.align(8)?;
        let body_end = r.pos + body_len;
        for t in split_types(&signature)? {
            m.body.push(r.value(t, 0)?);
        }
        if r.pos != body_end {
            return Err(Error::Invalid("body length does not match its signature"));
        }
        m.validate()?;
        Ok(m)
    }
}

/// The length of the whole message whose first 16 bytes are in `head` (fixed header plus the
/// header fields array length): how many bytes to read before [`Message::decode`].
pub fn frame_len(head: &[u8]) -> Result<usize, Error> {
    let h: &[u8; 16] = head
        .get(..16)
        .and_then(|h| h.try_into().ok())
        .ok_or(Error::Truncated)?;
    let read = |at: usize| {
        let b: [u8; 4] = h[at..at + 4].try_into().unwrap_or_default();
        match h[0] {
            b'l' => Ok(u32::from_le_bytes(b) as usize),
            b'B' => Ok(u32::from_be_bytes(b) as usize),
            _ => Err(Error::Invalid("unknown byte order")),
        }
    };
    let body = read(4)?;
    let fields = read(12)?;
    if body > MAX_MESSAGE || fields > MAX_MESSAGE {
        return Err(Error::TooLong);
    }
    let total = (16 + fields).div_ceil(8) * 8 + body;
    if total > MAX_MESSAGE {
        return Err(Error::TooLong);
    }
    Ok(total)
}

#[cfg(test)]
mod tests;
