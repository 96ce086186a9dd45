//! GUIDs as GPT stores them: 16 bytes whose first three fields are little-endian.

use std::fmt;
use std::str::FromStr;

/// a GUID in its on-disk (mixed-endian) byte order.
///
/// The canonical text `00112233-4455-6677-8899-aabbccddeeff` is stored as
/// `33 22 11 00 55 44 77 66 88 99 aa bb cc dd ee ff`: the 32-bit and the two 16-bit leading
/// fields are little-endian, the last eight bytes are kept in order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Guid(pub [u8; 16]);

/// the text given to [`Guid::from_str`] is not a canonical `8-4-4-4-12` hex GUID.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[error("invalid guid: expected 8-4-4-4-12 hex digits")]
pub struct ParseGuidError;

/// where each on-disk byte's two hex digits sit in the canonical text.
const TEXT_POS: [usize; 16] = [6, 4, 2, 0, 11, 9, 16, 14, 19, 21, 24, 26, 28, 30, 32, 34];

const fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// parses the canonical text form; `const` so the type tables are checked at compile time.
const fn parse_canonical(text: &[u8]) -> Option<Guid> {
    if text.len() != 36 || text[8] != b'-' || text[13] != b'-' || text[18] != b'-' {
        return None;
    }
    if text[23] != b'-' {
        return None;
    }
    let mut bytes = [0u8; 16];
    let mut i = 0;
    while i < 16 {
        let pos = TEXT_POS[i];
        let (Some(hi), Some(lo)) = (hex_value(text[pos]), hex_value(text[pos + 1])) else {
            return None;
        };
        bytes[i] = hi << 4 | lo;
        i += 1;
    }
    Some(Guid(bytes))
}

impl Guid {
    /// the all-zero GUID, which marks an unused partition entry.
    pub const ZERO: Guid = Guid([0; 16]);

    /// the GUID for a canonical text literal; panics (at compile time in a `const`) on bad text.
    pub(crate) const fn must(text: &str) -> Guid {
        match parse_canonical(text.as_bytes()) {
            Some(g) => g,
            None => panic!("malformed guid literal"),
        }
    }

    /// the GUID in the 16 on-disk bytes starting at `bytes[0]`; `None` if fewer than 16.
    pub fn from_disk(bytes: &[u8]) -> Option<Guid> {
        bytes.get(..16)?.try_into().ok().map(Guid)
    }

    /// whether every byte is zero.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 16]
    }
}

impl FromStr for Guid {
    type Err = ParseGuidError;

    /// parses `8-4-4-4-12` hex digits in either case.
    fn from_str(s: &str) -> Result<Guid, ParseGuidError> {
        parse_canonical(s.as_bytes()).ok_or(ParseGuidError)
    }
}

impl fmt::Display for Guid {
    /// the canonical lowercase `8-4-4-4-12` form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-",
            u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            u16::from_le_bytes([b[4], b[5]]),
            u16::from_le_bytes([b[6], b[7]]),
            b[8],
            b[9]
        )?;
        b[10..].iter().try_for_each(|x| write!(f, "{x:02x}"))
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ESP: &str = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b";

    #[test]
    fn disk_byte_order() {
        let g: Guid = ESP.parse().unwrap();
        assert_eq!(
            g.0,
            [
                0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e,
                0xc9, 0x3b
            ]
        );
        assert_eq!(g.to_string(), ESP);
        assert_eq!(Guid::must(ESP), g);
    }

    #[test]
    fn parse_accepts_uppercase_and_prints_lowercase() {
        let g: Guid = ESP.to_uppercase().parse().unwrap();
        assert_eq!(g.to_string(), ESP);
        assert_eq!(format!("{g:?}"), format!("Guid({ESP})"));
    }

    #[test]
    fn parse_rejects_malformed() {
        for bad in [
            "",
            "c12a7328f81f11d2ba4b00a0c93ec93b",
            "c12a7328-f81f-11d2-ba4b-00a0c93ec93",
            "c12a7328-f81f-11d2-ba4b-00a0c93ec93bb",
            "c12a7328-f81f-11d2-ba4b_00a0c93ec93b",
            "{12a7328-f81f-11d2-ba4b-00a0c93ec93b",
            "c12a7328-f81f-11d2-ba4b-00a0c93ec93g",
            "c12a7328-f81f-11d2-ba4b-00a0c93ec9\u{e9}",
        ] {
            assert_eq!(bad.parse::<Guid>(), Err(ParseGuidError), "{bad:?}");
        }
    }

    #[test]
    fn zero_and_from_disk() {
        assert!(Guid::ZERO.is_zero());
        assert_eq!(
            Guid::ZERO.to_string(),
            "00000000-0000-0000-0000-000000000000"
        );
        assert_eq!(Guid::from_disk(&[7; 15]), None);
        assert_eq!(Guid::from_disk(&[7; 17]), Some(Guid([7; 16])));
    }
}
