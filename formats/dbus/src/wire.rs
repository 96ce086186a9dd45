//! Marshalling (always little-endian) and unmarshalling (either byte order) of values.
//! Offsets are from the start of the message: alignment is relative to it.

use crate::value::{alignment, check_object_path, check_signature, split_types, Value, MAX_DEPTH};
use crate::Error;

/// The longest array the specification allows (64 MiB).
const MAX_ARRAY: usize = 1 << 26;

pub(crate) struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer { buf: Vec::new() }
    }

    pub fn align(&mut self, n: usize) {
        while !self.buf.len().is_multiple_of(n) {
            self.buf.push(0);
        }
    }

    fn u32(&mut self, v: u32) {
        self.align(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    fn string(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    fn signature(&mut self, s: &str) {
        self.buf.push(s.len() as u8);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    /// Write one value (already validated).
    pub fn value(&mut self, v: &Value) {
        match v {
            Value::Byte(b) => self.buf.push(*b),
            Value::Bool(b) => self.u32(u32::from(*b)),
            Value::I16(x) => {
                self.align(2);
                self.buf.extend_from_slice(&x.to_le_bytes());
            }
            Value::U16(x) => {
                self.align(2);
                self.buf.extend_from_slice(&x.to_le_bytes());
            }
            Value::I32(x) => {
                self.align(4);
                self.buf.extend_from_slice(&x.to_le_bytes());
            }
            Value::U32(x) | Value::UnixFd(x) => self.u32(*x),
            Value::I64(x) => {
                self.align(8);
                self.buf.extend_from_slice(&x.to_le_bytes());
            }
            Value::U64(x) | Value::Double(x) => {
                self.align(8);
                self.buf.extend_from_slice(&x.to_le_bytes());
            }
            Value::Str(s) | Value::ObjectPath(s) => self.string(s),
            Value::Signature(s) => self.signature(s),
            Value::Array(elem, items) => {
                self.u32(0);
                let len_at = self.buf.len() - 4;
                self.align(alignment(elem.as_bytes()[0]));
                let start = self.buf.len();
                for item in items {
                    self.value(item);
                }
                let len = (self.buf.len() - start) as u32;
                self.buf[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
            }
            Value::Struct(fields) => {
                self.align(8);
                for f in fields {
                    self.value(f);
                }
            }
            Value::DictEntry(k, v) => {
                self.align(8);
                self.value(k);
                self.value(v);
            }
            Value::Variant(inner) => {
                self.signature(&inner.signature());
                self.value(inner);
            }
        }
    }
}

pub(crate) struct Reader<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
    pub big_endian: bool,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self.pos.checked_add(n).ok_or(Error::Truncated)?;
        let s = self.buf.get(self.pos..end).ok_or(Error::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    /// Skip padding to `n`; padding must be zero.
    pub fn align(&mut self, n: usize) -> Result<(), Error> {
        let pad = (n - self.pos % n) % n;
        if self.take(pad)?.iter().any(|&b| b != 0) {
            return Err(Error::Invalid("non-zero padding"));
        }
        Ok(())
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        self.align(N)?;
        let mut a: [u8; N] = self.take(N)?.try_into().map_err(|_| Error::Truncated)?;
        if self.big_endian {
            a.reverse();
        }
        Ok(a)
    }

    pub fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.fixed::<4>()?))
    }

    fn text(&mut self, len: usize) -> Result<String, Error> {
        let bytes = self.take(len)?;
        if self.take(1)? != [0] {
            return Err(Error::Invalid("string not NUL-terminated"));
        }
        if bytes.contains(&0) {
            return Err(Error::Invalid("string contains NUL"));
        }
        String::from_utf8(bytes.to_vec()).map_err(|_| Error::Invalid("string is not UTF-8"))
    }

    fn string(&mut self) -> Result<String, Error> {
        let len = self.u32()? as usize;
        self.text(len)
    }

    pub fn signature(&mut self) -> Result<String, Error> {
        let len = usize::from(self.take(1)?[0]);
        let s = self.text(len)?;
        check_signature(&s)?;
        Ok(s)
    }

    /// Read one value of the complete type `sig`.
    pub fn value(&mut self, sig: &str, depth: usize) -> Result<Value, Error> {
        if depth > MAX_DEPTH {
            return Err(Error::TooDeep);
        }
        let b = sig.as_bytes();
        Ok(
            match b.first().copied().ok_or(Error::Invalid("empty type"))? {
                b'y' => Value::Byte(self.take(1)?[0]),
                b'b' => match self.u32()? {
                    0 => Value::Bool(false),
                    1 => Value::Bool(true),
                    _ => return Err(Error::Invalid("boolean other than 0 or 1")),
                },
                b'n' => Value::I16(i16::from_le_bytes(self.fixed::<2>()?)),
                b'q' => Value::U16(u16::from_le_bytes(self.fixed::<2>()?)),
                b'i' => Value::I32(i32::from_le_bytes(self.fixed::<4>()?)),
                b'u' => Value::U32(self.u32()?),
                b'h' => Value::UnixFd(self.u32()?),
                b'x' => Value::I64(i64::from_le_bytes(self.fixed::<8>()?)),
                b't' => Value::U64(u64::from_le_bytes(self.fixed::<8>()?)),
                b'd' => Value::Double(u64::from_le_bytes(self.fixed::<8>()?)),
                b's' => Value::Str(self.string()?),
                b'o' => {
                    let p = self.string()?;
                    check_object_path(&p)?;
                    Value::ObjectPath(p)
                }
                b'g' => Value::Signature(self.signature()?),
                b'v' => {
                    let s = self.signature()?;
                    if split_types(&s)?.len() != 1 {
                        return Err(Error::Invalid("variant signature is not one type"));
                    }
                    Value::Variant(Box::new(self.value(&s, depth + 1)?))
                }
                b'a' => {
                    let len = self.u32()? as usize;
                    if len > MAX_ARRAY {
                        return Err(Error::Invalid("array longer than 64 MiB"));
                    }
                    let elem = &sig[1..];
                    self.align(alignment(elem.as_bytes()[0]))?;
                    let end = self.pos.checked_add(len).ok_or(Error::Truncated)?;
                    if end > self.buf.len() {
                        return Err(Error::Truncated);
                    }
                    let mut items = Vec::new();
                    while self.pos < end {
                        items.push(self.value(elem, depth + 1)?);
                    }
                    if self.pos != end {
                        return Err(Error::Invalid("array length does not match its elements"));
                    }
                    Value::Array(elem.to_string(), items)
                }
                b'(' => {
                    self.align(8)?;
                    let inner = &sig[1..sig.len() - 1];
                    let mut fields = Vec::new();
                    for t in split_types(inner)? {
                        fields.push(self.value(t, depth + 1)?);
                    }
                    Value::Struct(fields)
                }
                b'{' => {
                    self.align(8)?;
                    let inner = &sig[1..sig.len() - 1];
                    let types = split_types(inner)?;
                    let [k, v] = types[..] else {
                        return Err(Error::Invalid("dict entry needs exactly two types"));
                    };
                    let key = self.value(k, depth + 1)?;
                    let val = self.value(v, depth + 1)?;
                    Value::DictEntry(Box::new(key), Box::new(val))
                }
                _ => return Err(Error::Invalid("unknown type code")),
            },
        )
    }
}
