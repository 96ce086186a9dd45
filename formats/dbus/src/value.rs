//! D-Bus values and type signatures.

use crate::Error;

/// Most nested containers (arrays, structs, dict entries, variants) a value may have, as the
/// specification's limit of 32 arrays plus 32 structs.
pub const MAX_DEPTH: usize = 64;

/// One D-Bus value. Every value knows its own signature ([`Value::signature`]); an array keeps
/// its element signature so that an empty array has one too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Byte(u8),
    Bool(bool),
    I16(i16),
    U16(u16),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    /// A double, kept as its IEEE 754 bits (so values compare exactly).
    Double(u64),
    Str(String),
    ObjectPath(String),
    Signature(String),
    /// An index into the message's file descriptors.
    UnixFd(u32),
    /// Element signature and elements (each of that signature).
    Array(String, Vec<Value>),
    Struct(Vec<Value>),
    DictEntry(Box<Value>, Box<Value>),
    Variant(Box<Value>),
}

impl Value {
    /// This value's type signature.
    pub fn signature(&self) -> String {
        match self {
            Value::Byte(_) => "y".into(),
            Value::Bool(_) => "b".into(),
            Value::I16(_) => "n".into(),
            Value::U16(_) => "q".into(),
            Value::I32(_) => "i".into(),
            Value::U32(_) => "u".into(),
            Value::I64(_) => "x".into(),
            Value::U64(_) => "t".into(),
            Value::Double(_) => "d".into(),
            Value::Str(_) => "s".into(),
            Value::ObjectPath(_) => "o".into(),
            Value::Signature(_) => "g".into(),
            Value::UnixFd(_) => "h".into(),
            Value::Array(elem, _) => format!("a{elem}"),
            Value::Struct(fields) => {
                let inner: String = fields.iter().map(Value::signature).collect();
                format!("({inner})")
            }
            Value::DictEntry(k, v) => format!("{{{}{}}}", k.signature(), v.signature()),
            Value::Variant(_) => "v".into(),
        }
    }

    /// A string, object path or signature as `&str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::ObjectPath(s) | Value::Signature(s) => Some(s),
            _ => None,
        }
    }

    /// A `u32`.
    pub fn as_u32(&self) -> Option<u32> {
        match self {
            Value::U32(v) => Some(*v),
            _ => None,
        }
    }

    /// A string array (`as`) from string slices.
    pub fn str_array<S: AsRef<str>>(items: &[S]) -> Value {
        Value::Array(
            "s".into(),
            items
                .iter()
                .map(|s| Value::Str(s.as_ref().to_string()))
                .collect(),
        )
    }

    /// Check that the value is well formed: strings without NUL, valid object paths and
    /// signatures, array elements of the array's element signature, dict entries with a basic
    /// key, no deeper than [`MAX_DEPTH`].
    pub fn validate(&self) -> Result<(), Error> {
        self.validate_at(0)
    }

    fn validate_at(&self, depth: usize) -> Result<(), Error> {
        if depth > MAX_DEPTH {
            return Err(Error::TooDeep);
        }
        match self {
            Value::Str(s) if s.contains('\0') => Err(Error::Invalid("string contains NUL")),
            Value::ObjectPath(p) => check_object_path(p),
            Value::Signature(s) => check_signature(s),
            Value::Array(elem, items) => {
                let sig = self.signature();
                if split_types(&sig)?.len() != 1 {
                    return Err(Error::Invalid("array element signature is not one type"));
                }
                for v in items {
                    if v.signature() != *elem {
                        return Err(Error::Invalid("array element of another type"));
                    }
                    v.validate_at(depth + 1)?;
                }
                Ok(())
            }
            Value::Struct(fields) => {
                if fields.is_empty() {
                    return Err(Error::Invalid("empty struct"));
                }
                fields.iter().try_for_each(|f| f.validate_at(depth + 1))
            }
            Value::DictEntry(k, v) => {
                if !is_basic(&k.signature()) {
                    return Err(Error::Invalid("dict entry key is not a basic type"));
                }
                k.validate_at(depth + 1)?;
                v.validate_at(depth + 1)
            }
            Value::Variant(v) => v.validate_at(depth + 1),
            _ => Ok(()),
        }
    }
}

fn is_basic(sig: &str) -> bool {
    sig.len() == 1 && "ybnqiuxtdsogh".contains(sig)
}

/// Check an object path: `/`, or `/`-separated non-empty elements of `[A-Za-z0-9_]`.
pub fn check_object_path(p: &str) -> Result<(), Error> {
    let ok = p == "/"
        || (p.starts_with('/')
            && !p.ends_with('/')
            && p[1..].split('/').all(|e| {
                !e.is_empty() && e.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            }));
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid("malformed object path"))
    }
}

/// Check a signature: at most 255 bytes of complete types.
pub fn check_signature(s: &str) -> Result<(), Error> {
    if s.len() > 255 {
        return Err(Error::Invalid("signature longer than 255 bytes"));
    }
    split_types(s).map(|_| ())
}

/// Split a signature into its complete types.
pub fn split_types(s: &str) -> Result<Vec<&str>, Error> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let end = one_type(b, i, 0, 0)?;
        out.push(&s[i..end]);
        i = end;
    }
    Ok(out)
}

/// The end of the complete type starting at `i`.
fn one_type(b: &[u8], i: usize, arrays: usize, structs: usize) -> Result<usize, Error> {
    let Some(&c) = b.get(i) else {
        return Err(Error::Invalid("signature ends inside a type"));
    };
    match c {
        b'y' | b'b' | b'n' | b'q' | b'i' | b'u' | b'x' | b't' | b'd' | b's' | b'o' | b'g'
        | b'h' | b'v' => Ok(i + 1),
        b'a' => {
            if arrays >= 32 {
                return Err(Error::TooDeep);
            }
            if b.get(i + 1) == Some(&b'{') {
                let key = b.get(i + 2).copied().unwrap_or(0);
                if !b"ybnqiuxtdsogh".contains(&key) {
                    return Err(Error::Invalid("dict entry key is not a basic type"));
                }
                let end = one_type(b, i + 3, arrays + 1, structs + 1)?;
                if b.get(end) != Some(&b'}') {
                    return Err(Error::Invalid("dict entry needs exactly two types"));
                }
                Ok(end + 1)
            } else {
                one_type(b, i + 1, arrays + 1, structs)
            }
        }
        b'(' => {
            if structs >= 32 {
                return Err(Error::TooDeep);
            }
            let mut j = i + 1;
            if b.get(j) == Some(&b')') {
                return Err(Error::Invalid("empty struct"));
            }
            while b.get(j) != Some(&b')') {
                j = one_type(b, j, arrays, structs + 1)?;
            }
            Ok(j + 1)
        }
        _ => Err(Error::Invalid("unknown type code in signature")),
    }
}

/// The alignment of a type by its first signature byte.
pub(crate) fn alignment(code: u8) -> usize {
    match code {
        b'y' | b'g' | b'v' => 1,
        b'n' | b'q' => 2,
        b'b' | b'i' | b'u' | b's' | b'o' | b'a' | b'h' => 4,
        _ => 8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        assert_eq!(split_types("sayssusai").unwrap().len(), 7);
        assert_eq!(
            split_types("ssa(sv)a(sa(sv))").unwrap(),
            ["s", "s", "a(sv)", "a(sa(sv))"]
        );
        assert_eq!(split_types("a{sv}").unwrap(), ["a{sv}"]);
        for bad in ["a", "(", "()", "a{vs}", "a{s}", "a{sss}", "z", "(s", "{sv}"] {
            assert!(check_signature(bad).is_err(), "{bad}");
        }
        let deep = "a".repeat(33) + "y";
        assert!(check_signature(&deep).is_err());
    }

    #[test]
    fn object_paths() {
        for ok in ["/", "/org/freedesktop/machine1", "/a_b/c1"] {
            assert!(check_object_path(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a", "/a/", "//a", "/a-b", "/a/./b"] {
            assert!(check_object_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn value_signatures() {
        let v = Value::Struct(vec![
            Value::Str("PIDs".into()),
            Value::Variant(Box::new(Value::Array("u".into(), vec![Value::U32(1)]))),
        ]);
        assert_eq!(v.signature(), "(sv)");
        assert!(v.validate().is_ok());
        assert!(Value::Array("u".into(), vec![Value::Str("x".into())])
            .validate()
            .is_err());
    }
}
