//! Writing tar headers: ustar fields, and a PAX extended header for everything ustar cannot
//! hold (long names, big or fine-grained values, xattrs).

use std::io::{self, Write};

/// One tar member's metadata, as the packer found it on disk.
pub(crate) struct Member<'a> {
    pub path: &'a [u8],
    pub kind: u8,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
    pub mtime_sec: i64,
    pub mtime_nsec: u32,
    pub link: &'a [u8],
    pub dev_major: u32,
    pub dev_minor: u32,
    pub xattrs: &'a [(Vec<u8>, Vec<u8>)],
}

pub(crate) const REGULAR: u8 = b'0';
pub(crate) const HARDLINK: u8 = b'1';
pub(crate) const SYMLINK: u8 = b'2';
pub(crate) const CHAR: u8 = b'3';
pub(crate) const BLOCK: u8 = b'4';
pub(crate) const DIRECTORY: u8 = b'5';
pub(crate) const FIFO: u8 = b'6';
const PAX_LOCAL: u8 = b'x';

/// Largest value an octal field of `len` bytes holds (len - 1 digits + NUL).
fn octal_max(len: usize) -> u64 {
    (1u64 << (3 * (len - 1))) - 1
}

/// Write the PAX header (when needed) and the ustar header of `m`.
pub(crate) fn write_member(out: &mut dyn Write, m: &Member<'_>) -> io::Result<()> {
    let mut pax = Vec::new();
    let ascii = |b: &[u8]| b.iter().all(|c| c.is_ascii() && *c != 0);
    if m.path.len() > 100 || !ascii(m.path) {
        record(&mut pax, b"path", m.path);
    }
    if m.link.len() > 100 || !ascii(m.link) {
        record(&mut pax, b"linkpath", m.link);
    }
    if m.size > octal_max(12) {
        record(&mut pax, b"size", m.size.to_string().as_bytes());
    }
    if m.uid > octal_max(8) {
        record(&mut pax, b"uid", m.uid.to_string().as_bytes());
    }
    if m.gid > octal_max(8) {
        record(&mut pax, b"gid", m.gid.to_string().as_bytes());
    }
    if m.mtime_nsec != 0 || m.mtime_sec < 0 || m.mtime_sec as u64 > octal_max(12) {
        let v = if m.mtime_nsec != 0 {
            format!("{}.{:09}", m.mtime_sec, m.mtime_nsec)
        } else {
            m.mtime_sec.to_string()
        };
        record(&mut pax, b"mtime", v.as_bytes());
    }
    for (name, value) in m.xattrs {
        let mut key = b"SCHILY.xattr.".to_vec();
        key.extend_from_slice(name);
        record(&mut pax, &key, value);
    }
    if !pax.is_empty() {
        let name = pax_name(m.path);
        let h = ustar(
            &name,
            PAX_LOCAL,
            0o644,
            0,
            0,
            pax.len() as u64,
            0,
            b"",
            0,
            0,
        );
        out.write_all(&h)?;
        out.write_all(&pax)?;
        pad(out, pax.len() as u64)?;
    }
    let mtime = m.mtime_sec.clamp(0, octal_max(12) as i64) as u64;
    let h = ustar(
        &m.path[..m.path.len().min(100)],
        m.kind,
        m.mode & 0o7777,
        m.uid.min(octal_max(8)),
        m.gid.min(octal_max(8)),
        m.size.min(octal_max(12)),
        mtime,
        &m.link[..m.link.len().min(100)],
        m.dev_major,
        m.dev_minor,
    );
    out.write_all(&h)
}

/// Pad `len` bytes of member data to the next 512-byte block.
pub(crate) fn pad(out: &mut dyn Write, len: u64) -> io::Result<()> {
    let rem = (len % 512) as usize;
    if rem != 0 {
        out.write_all(&[0u8; 512][..512 - rem])?;
    }
    Ok(())
}

/// The two zero blocks that end an archive.
pub(crate) fn finish(out: &mut dyn Write) -> io::Result<()> {
    out.write_all(&[0u8; 1024])
}

/// "%d key=value\n" where the length counts the whole record, itself included.
fn record(pax: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    pax.extend_from_slice(len.to_string().as_bytes());
    pax.push(b' ');
    pax.extend_from_slice(key);
    pax.push(b'=');
    pax.extend_from_slice(value);
    pax.push(b'\n');
}

/// Name of the PAX header member, as GNU tar forms it ("./PaxHeaders/<basename>").
fn pax_name(path: &[u8]) -> Vec<u8> {
    let base = path
        .rsplit(|c| *c == b'/')
        .find(|s| !s.is_empty())
        .unwrap_or(b".");
    let mut n = b"./PaxHeaders/".to_vec();
    n.extend_from_slice(&base[..base.len().min(80)]);
    n
}

#[allow(clippy::too_many_arguments)]
fn ustar(
    name: &[u8],
    kind: u8,
    mode: u32,
    uid: u64,
    gid: u64,
    size: u64,
    mtime: u64,
    link: &[u8],
    major: u32,
    minor: u32,
) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name);
    octal(&mut h[100..108], u64::from(mode));
    octal(&mut h[108..116], uid);
    octal(&mut h[116..124], gid);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], mtime);
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    if kind == CHAR || kind == BLOCK {
        octal(&mut h[329..337], u64::from(major).min(octal_max(8)));
        octal(&mut h[337..345], u64::from(minor).min(octal_max(8)));
    }
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    octal(&mut h[148..155], u64::from(sum));
    h[155] = b' ';
    h
}

/// Zero-padded octal digits followed by NUL, filling `field`.
fn octal(field: &mut [u8], v: u64) {
    let digits = field.len() - 1;
    let s = format!("{v:0digits$o}");
    field[..digits].copy_from_slice(&s.as_bytes()[s.len() - digits..]);
    field[digits] = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_itself() {
        let mut p = Vec::new();
        record(&mut p, b"path", b"a");
        assert_eq!(p, b"9 path=a\n");
        // Lengths that cross a digit boundary: the prefix always equals the record's size.
        for n in 0..300 {
            let mut p = Vec::new();
            record(&mut p, b"k", &vec![b'x'; n]);
            let sp = p.iter().position(|c| *c == b' ').unwrap();
            let len: usize = std::str::from_utf8(&p[..sp]).unwrap().parse().unwrap();
            assert_eq!(len, p.len(), "value of {n} bytes");
        }
    }

    #[test]
    fn header_checksum_and_fields() {
        let h = ustar(b"./etc", DIRECTORY, 0o755, 0, 0, 0, 1_000, b"", 0, 0);
        assert_eq!(&h[257..263], b"ustar\0");
        assert_eq!(&h[100..108], b"0000755\0");
        let stored = u32::from_str_radix(std::str::from_utf8(&h[148..154]).unwrap(), 8).unwrap();
        let mut copy = h;
        copy[148..156].copy_from_slice(b"        ");
        assert_eq!(stored, copy.iter().map(|b| u32::from(*b)).sum::<u32>());
    }
}
