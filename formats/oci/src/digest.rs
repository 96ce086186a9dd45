//! Content digests (`sha256:<hex>`, `sha512:<hex>`): strict parsing (lowercase hex of exactly
//! the algorithm's length, so a digest is always safe to use as a file name) and streaming
//! hashing.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256, Sha512};

use crate::error::{Error, ErrorKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// length of the hex encoding
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated digest: `hex` is lowercase and exactly [`Algorithm::hex_len`] long.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    pub algorithm: Algorithm,
    pub hex: String,
}

fn invalid(s: &str, why: &str) -> Error {
    let shown: String = s.chars().take(80).collect();
    Error::new(
        ErrorKind::InvalidDigest,
        format!("invalid digest {shown:?}: {why}"),
    )
}

impl Digest {
    /// parses `sha256:<64 lowercase hex>` or `sha512:<128 lowercase hex>`.
    pub fn parse(s: &str) -> Result<Digest, Error> {
        let Some((alg, hex)) = s.split_once(':') else {
            return Err(invalid(s, "expected ALGORITHM:HEX"));
        };
        let algorithm = match alg {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            _ => return Err(invalid(s, "unsupported algorithm (only sha256 and sha512)")),
        };
        if hex.len() != algorithm.hex_len() {
            return Err(invalid(
                s,
                &format!(
                    "{alg} needs {} hex digits, found {}",
                    algorithm.hex_len(),
                    hex.len()
                ),
            ));
        }
        if !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(invalid(s, "the hex part must be lowercase 0-9a-f"));
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_string(),
        })
    }

    /// the sha256 digest of `bytes`
    pub fn sha256(bytes: &[u8]) -> Digest {
        let mut h = DigestHasher::new(Algorithm::Sha256);
        h.update(bytes);
        h.finish()
    }

    /// a hasher of this digest's algorithm, to compare its result against `self`.
    pub fn hasher(&self) -> DigestHasher {
        DigestHasher::new(self.algorithm)
    }

    /// checks `bytes` against this digest (DigestMismatch naming both digests otherwise).
    pub fn verify(&self, bytes: &[u8]) -> Result<(), Error> {
        let mut h = self.hasher();
        h.update(bytes);
        let got = h.finish();
        if &got != self {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!("content digest is {got}, expected {self}"),
            ));
        }
        Ok(())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.hex)
    }
}

impl FromStr for Digest {
    type Err = Error;
    fn from_str(s: &str) -> Result<Digest, Error> {
        Digest::parse(s)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Streaming hasher producing a [`Digest`]; also a `std::io::Write` sink for `io::copy`.
#[derive(Clone)]
pub struct DigestHasher {
    state: State,
}

#[derive(Clone)]
enum State {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl DigestHasher {
    pub fn new(algorithm: Algorithm) -> DigestHasher {
        let state = match algorithm {
            Algorithm::Sha256 => State::Sha256(Sha256::new()),
            Algorithm::Sha512 => State::Sha512(Sha512::new()),
        };
        DigestHasher { state }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match &mut self.state {
            State::Sha256(h) => h.update(bytes),
            State::Sha512(h) => h.update(bytes),
        }
    }

    pub fn finish(self) -> Digest {
        let (algorithm, raw) = match self.state {
            State::Sha256(h) => (Algorithm::Sha256, h.finalize().to_vec()),
            State::Sha512(h) => (Algorithm::Sha512, h.finalize().to_vec()),
        };
        Digest {
            algorithm,
            hex: to_hex(&raw),
        }
    }
}

impl fmt::Debug for DigestHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let alg = match self.state {
            State::Sha256(_) => Algorithm::Sha256,
            State::Sha512(_) => Algorithm::Sha512,
        };
        f.debug_struct("DigestHasher")
            .field("algorithm", &alg)
            .finish()
    }
}

impl std::io::Write for DigestHasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 15)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY256: &str =
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn known_values() {
        assert_eq!(Digest::sha256(b"").to_string(), EMPTY256);
        let mut h = DigestHasher::new(Algorithm::Sha512);
        h.update(b"abc");
        assert_eq!(
            h.finish().to_string(),
            "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
             2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
    }

    #[test]
    fn parse_round_trips_and_orders() {
        let d = Digest::parse(EMPTY256).unwrap();
        assert_eq!(d.algorithm, Algorithm::Sha256);
        assert_eq!(d.to_string(), EMPTY256);
        assert_eq!(EMPTY256.parse::<Digest>().unwrap(), d);
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, format!("\"{EMPTY256}\""));
        assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), d);
        let other = Digest::sha256(b"x");
        assert_ne!(d.cmp(&other), std::cmp::Ordering::Equal);
    }

    #[test]
    fn refuses_bad_digests() {
        let hex = &EMPTY256[7..];
        for bad in [
            "",
            "sha256",
            "sha256:",
            &format!("sha256:{}", &hex[1..]),
            &format!("sha256:{hex}0"),
            &format!("sha256:{}", hex.to_uppercase()),
            &format!("SHA256:{hex}"),
            &format!("md5:{hex}"),
            &format!("sha512:{hex}"),
            &format!("sha256:{}g", &hex[1..]),
            &format!("sha256:{}/", &hex[1..]),
            &format!("sha256:{}é", &hex[2..]),
            &format!(" sha256:{hex}"),
        ] {
            let err = Digest::parse(bad).unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidDigest, "{bad}");
            assert!(err.to_string().starts_with("invalid digest"), "{err}");
        }
        assert!(serde_json::from_str::<Digest>("\"sha256:ab\"").is_err());
    }

    #[test]
    fn hasher_is_a_writer_and_verify_checks() {
        let d = Digest::sha256(b"hello world");
        let mut h = d.hasher();
        std::io::copy(&mut &b"hello world"[..], &mut h).unwrap();
        assert_eq!(h.finish(), d);
        d.verify(b"hello world").unwrap();
        let err = d.verify(b"hello").unwrap_err();
        assert_eq!(err.kind, ErrorKind::DigestMismatch);
    }
}
