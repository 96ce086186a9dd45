//! PAX extended headers: records, and the per-entry overrides they (and GNU long names) carry.
//!
//! Records are split by their length prefix, not by newlines: xattr values (capabilities,
//! binary ACLs) are raw bytes and may contain `\n`.

use super::limits::{MAX_NAME, MAX_XATTR_VALUE};

/// A timestamp: seconds since the epoch (may be negative) and nanoseconds in `0..1e9`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Time {
    pub sec: i64,
    pub nsec: u32,
}

/// One extended attribute to set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Xattr {
    pub name: Vec<u8>,
    pub value: Vec<u8>,
}

/// Overrides for the next entry, from its PAX header and GNU long name/link entries.
#[derive(Debug, Default)]
pub(crate) struct Ext {
    pub path: Option<Vec<u8>>,
    pub link: Option<Vec<u8>>,
    pub size: Option<u64>,
    pub uid: Option<u64>,
    pub gid: Option<u64>,
    pub mtime: Option<Time>,
    pub atime: Option<Time>,
    pub devmajor: Option<u32>,
    pub devminor: Option<u32>,
    pub xattrs: Vec<Xattr>,
    pub acl_access: Option<Vec<u8>>,
    pub acl_default: Option<Vec<u8>>,
    pub sparse: SparseExt,
}

/// The `GNU.sparse.*` records (formats 0.0, 0.1 and 1.0).
#[derive(Debug, Default)]
pub(crate) struct SparseExt {
    pub major: Option<u64>,
    pub minor: Option<u64>,
    /// `GNU.sparse.name`: the real file name (the header's is a placeholder).
    pub name: Option<Vec<u8>>,
    /// `GNU.sparse.realsize` (1.0) or `GNU.sparse.size` (0.x).
    pub real_size: Option<u64>,
    /// Flat offset/length numbers of `GNU.sparse.map` (0.1) or of repeated
    /// `GNU.sparse.offset`/`GNU.sparse.numbytes` records (0.0).
    pub map: Vec<u64>,
    pub any: bool,
}

impl Ext {
    pub(crate) fn clear(&mut self) {
        self.path = None;
        self.link = None;
        self.size = None;
        self.uid = None;
        self.gid = None;
        self.mtime = None;
        self.atime = None;
        self.devmajor = None;
        self.devminor = None;
        self.xattrs.clear();
        self.acl_access = None;
        self.acl_default = None;
        self.sparse = SparseExt::default();
    }

    /// Applies the records of one PAX header. Unknown keys are ignored.
    pub(crate) fn apply(&mut self, data: &[u8]) -> Result<(), String> {
        for rec in Records(data) {
            let (key, value) = rec?;
            self.apply_one(key, value)?;
        }
        Ok(())
    }

    fn apply_one(&mut self, key: &[u8], value: &[u8]) -> Result<(), String> {
        let bad = || format!("bad PAX record {:?}", String::from_utf8_lossy(key));
        match key {
            b"path" => self.path = Some(bounded_name(value).ok_or_else(bad)?),
            b"linkpath" => self.link = Some(bounded_name(value).ok_or_else(bad)?),
            b"size" => self.size = Some(number(value).ok_or_else(bad)?),
            b"uid" => self.uid = Some(number(value).ok_or_else(bad)?),
            b"gid" => self.gid = Some(number(value).ok_or_else(bad)?),
            b"mtime" => self.mtime = Some(time(value).ok_or_else(bad)?),
            b"atime" => self.atime = Some(time(value).ok_or_else(bad)?),
            b"SCHILY.devmajor" => self.devmajor = Some(small(value).ok_or_else(bad)?),
            b"SCHILY.devminor" => self.devminor = Some(small(value).ok_or_else(bad)?),
            b"SCHILY.acl.access" => self.acl_access = Some(value.to_vec()),
            b"SCHILY.acl.default" => self.acl_default = Some(value.to_vec()),
            b"GNU.sparse.major" => self.sparse_num(value, |s| &mut s.major)?,
            b"GNU.sparse.minor" => self.sparse_num(value, |s| &mut s.minor)?,
            b"GNU.sparse.realsize" | b"GNU.sparse.size" => {
                self.sparse_num(value, |s| &mut s.real_size)?
            }
            b"GNU.sparse.name" => {
                self.sparse.any = true;
                self.sparse.name = Some(bounded_name(value).ok_or_else(bad)?);
            }
            b"GNU.sparse.map" => {
                self.sparse.any = true;
                self.sparse.map.clear();
                if !value.is_empty() {
                    for n in value.split(|&b| b == b',') {
                        self.sparse.map.push(number(n).ok_or_else(bad)?);
                    }
                }
            }
            b"GNU.sparse.offset" | b"GNU.sparse.numbytes" => {
                self.sparse.any = true;
                self.sparse.map.push(number(value).ok_or_else(bad)?);
            }
            _ => {
                if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                    self.add_xattr(unescape_schily(name), value.to_vec())?;
                } else if let Some(name) = key.strip_prefix(b"LIBARCHIVE.xattr.") {
                    let name = percent_decode(name).ok_or_else(bad)?;
                    // libarchive writes both forms; the SCHILY one (raw bytes) wins.
                    if !self.xattrs.iter().any(|x| x.name == name) {
                        self.add_xattr(name, base64_decode(value).ok_or_else(bad)?)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn sparse_num(
        &mut self,
        value: &[u8],
        field: impl FnOnce(&mut SparseExt) -> &mut Option<u64>,
    ) -> Result<(), String> {
        self.sparse.any = true;
        *field(&mut self.sparse) = Some(number(value).ok_or("bad GNU.sparse record")?);
        Ok(())
    }

    fn add_xattr(&mut self, name: Vec<u8>, value: Vec<u8>) -> Result<(), String> {
        if name.is_empty() || name.len() > 255 || name.contains(&0) {
            return Err(format!(
                "bad xattr name {:?}",
                String::from_utf8_lossy(&name)
            ));
        }
        if value.len() > MAX_XATTR_VALUE {
            return Err(format!(
                "xattr {:?} value of {} bytes exceeds the limit of {MAX_XATTR_VALUE}",
                String::from_utf8_lossy(&name),
                value.len()
            ));
        }
        match self.xattrs.iter_mut().find(|x| x.name == name) {
            Some(x) => x.value = value,
            None => self.xattrs.push(Xattr { name, value }),
        }
        Ok(())
    }
}

/// Iterator over `(key, value)` of PAX records `"<len> <key>=<value>\n"`.
struct Records<'a>(&'a [u8]);

impl<'a> Iterator for Records<'a> {
    type Item = Result<(&'a [u8], &'a [u8]), String>;

    fn next(&mut self) -> Option<Self::Item> {
        let data = self.0;
        // some writers pad the header data with NULs.
        if data.iter().all(|&b| b == 0) {
            return None;
        }
        let r = record(data);
        self.0 = match &r {
            Ok((_, _, len)) => &data[*len..],
            Err(_) => &[],
        };
        Some(r.map(|(k, v, _)| (k, v)))
    }
}

fn record(data: &[u8]) -> Result<(&[u8], &[u8], usize), String> {
    let bad = || "malformed PAX record".to_string();
    let space = data
        .iter()
        .take(21)
        .position(|&b| b == b' ')
        .ok_or_else(bad)?;
    let len = usize::try_from(number(&data[..space]).ok_or_else(bad)?).map_err(|_| bad())?;
    if len <= space + 1 || len > data.len() || data[len - 1] != b'\n' {
        return Err(bad());
    }
    let body = &data[space + 1..len - 1];
    let eq = body.iter().position(|&b| b == b'=').ok_or_else(bad)?;
    Ok((&body[..eq], &body[eq + 1..], len))
}

/// A decimal `u64`.
pub(crate) fn number(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    s.iter().try_fold(0u64, |acc, &b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

fn small(s: &[u8]) -> Option<u32> {
    number(s).and_then(|n| u32::try_from(n).ok())
}

fn bounded_name(v: &[u8]) -> Option<Vec<u8>> {
    (v.len() <= MAX_NAME && !v.contains(&0)).then(|| v.to_vec())
}

/// A PAX time: `[-]seconds[.fraction]`, rounded down to nanoseconds.
pub(crate) fn time(s: &[u8]) -> Option<Time> {
    let (neg, s) = match s.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = match s.iter().position(|&b| b == b'.') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, &[][..]),
    };
    let sec = i64::try_from(number(int)?).ok()?;
    if !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut nsec = 0u32;
    for i in 0..9 {
        nsec = nsec * 10 + frac.get(i).map_or(0, |&b| u32::from(b - b'0'));
    }
    if !neg {
        return Some(Time { sec, nsec });
    }
    // -1.25 is 1.25 s before the epoch: sec -2, nsec 0.75e9.
    let (sec, nsec) = if nsec == 0 {
        (-sec, 0)
    } else {
        (-sec - 1, 1_000_000_000 - nsec)
    };
    Some(Time { sec, nsec })
}

/// GNU tar escapes `=` and `%` in SCHILY.xattr keys as `%3D` and `%25`.
fn unescape_schily(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len());
    let mut i = 0;
    while i < name.len() {
        match &name[i..] {
            [b'%', b'3', b'D' | b'd', ..] => {
                out.push(b'=');
                i += 3;
            }
            [b'%', b'2', b'5', ..] => {
                out.push(b'%');
                i += 3;
            }
            [b, ..] => {
                out.push(*b);
                i += 1;
            }
            [] => break,
        }
    }
    out
}

fn percent_decode(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            let v = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
            out.push(v);
            i += 3;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Standard base64 (padding optional), as libarchive writes xattr values.
fn base64_decode(s: &[u8]) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    let s = match s.iter().position(|&b| b == b'=') {
        Some(i) if s[i..].iter().all(|&b| b == b'=') => &s[..i],
        Some(_) => return None,
        None => s,
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in s {
        acc = (acc << 6) | val(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(key: &str, value: &[u8]) -> Vec<u8> {
        let body_len = key.len() + value.len() + 3; // ' ', '=', '\n'
        let mut len = body_len + 1;
        while len.to_string().len() + body_len != len {
            len += 1;
        }
        let mut r = format!("{len} {key}=").into_bytes();
        r.extend_from_slice(value);
        r.push(b'\n');
        r
    }

    #[test]
    fn records_with_binary_values() {
        let cap = [1u8, 0, 0, 2, b'\n', 0, 0, 0, 10, 10];
        let mut data = rec("path", b"a/b");
        data.extend(rec("SCHILY.xattr.security.capability", &cap));
        data.extend(rec("SCHILY.xattr.user.a%3Db%25", b"v=1"));
        data.extend(rec("mtime", b"1700000000.123456789"));
        data.extend(rec("LIBARCHIVE.xattr.user.x%20y", b"aGVsbG8="));
        data.extend(rec("size", b"12345678901"));
        data.extend([0; 7]);
        let mut ext = Ext::default();
        ext.apply(&data).unwrap();
        assert_eq!(ext.path.as_deref(), Some(&b"a/b"[..]));
        assert_eq!(ext.size, Some(12_345_678_901));
        assert_eq!(
            ext.mtime,
            Some(Time {
                sec: 1_700_000_000,
                nsec: 123_456_789
            })
        );
        assert_eq!(ext.xattrs[0].name, b"security.capability");
        assert_eq!(ext.xattrs[0].value, cap);
        assert_eq!(ext.xattrs[1].name, b"user.a=b%");
        assert_eq!(ext.xattrs[2].name, b"user.x y");
        assert_eq!(ext.xattrs[2].value, b"hello");
    }

    #[test]
    fn malformed_records() {
        let mut ext = Ext::default();
        for bad in [
            &b"5 a=b\n"[..],
            b"99 path=x\n",
            b"x path=y\n",
            b"10 pathxyz\n",
            b"11 size=-1\n",
            b"100000000000000000000000000 a=b\n",
        ] {
            assert!(
                ext.apply(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn times() {
        assert_eq!(time(b"5"), Some(Time { sec: 5, nsec: 0 }));
        assert_eq!(
            time(b"5.5"),
            Some(Time {
                sec: 5,
                nsec: 500_000_000
            })
        );
        assert_eq!(
            time(b"-1.25"),
            Some(Time {
                sec: -2,
                nsec: 750_000_000
            })
        );
        assert_eq!(time(b"-3"), Some(Time { sec: -3, nsec: 0 }));
        assert_eq!(
            time(b"1.1234567891"),
            Some(Time {
                sec: 1,
                nsec: 123_456_789
            })
        );
        assert_eq!(time(b"1.x"), None);
        assert_eq!(time(b""), None);
    }

    #[test]
    fn base64() {
        assert_eq!(base64_decode(b"").unwrap(), b"");
        assert_eq!(base64_decode(b"YQ==").unwrap(), b"a");
        assert_eq!(base64_decode(b"YWI").unwrap(), b"ab");
        assert_eq!(base64_decode(b"AAECAwQ=").unwrap(), [0, 1, 2, 3, 4]);
        assert!(base64_decode(b"Y=Q").is_none());
    }
}
