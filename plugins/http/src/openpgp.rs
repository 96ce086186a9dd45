//! OpenPGP signature checks of checksum lists with rpgp, replacing systemd's
//! `gpg --verify` call (import.md §8.3).
//!
//! Keyrings may be binary (`gpg --export`), ASCII-armored (one or several armor blocks) or a
//! GnuPG keybox (`.kbx`, what `gpg --keyring new.gpg --import` writes), and hold several keys.
//! A signature verifies if any primary key or properly bound subkey of the ring made it; keys
//! with a valid self-revocation are not used. Like `gpg --trust-model=always`, every key in
//! the ring is trusted; expiry is not checked.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use pgp::composed::{CleartextSignedMessage, Deserializable, DetachedSignature, SignedPublicKey};
use pgp::packet::{Signature, SignatureType};
use pgp::types::{KeyDetails, VerifyingKey};

use crate::PullError;

/// Where systemd looks for the import keyring, in order: local, legacy local, vendor, legacy
/// vendor.
pub const DEFAULT_KEYRINGS: [&str; 4] = [
    "/etc/systemd/import-pubring.pgp",
    "/etc/systemd/import-pubring.gpg",
    "/usr/lib/systemd/import-pubring.pgp",
    "/usr/lib/systemd/import-pubring.gpg",
];

const ARMOR_KEY_BEGIN: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----";

/// Trusted public keys.
#[derive(Debug, Clone)]
pub struct Keyring {
    path: PathBuf,
    keys: Vec<SignedPublicKey>,
}

impl Keyring {
    /// The first existing keyring of [`DEFAULT_KEYRINGS`]; [`PullError::NoKeyring`] if none.
    pub fn find_default() -> Result<Keyring, PullError> {
        let path = DEFAULT_KEYRINGS
            .iter()
            .map(Path::new)
            .find(|p| p.exists())
            .ok_or(PullError::NoKeyring)?;
        Keyring::load(path)
    }

    /// Reads a keyring file.
    pub fn load(path: &Path) -> Result<Keyring, PullError> {
        let bytes = std::fs::read(path).map_err(|e| PullError::Keyring {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Keyring::from_bytes(path, &bytes)
    }

    /// Parses keyring bytes; `path` is only used in messages.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Keyring, PullError> {
        let mut keys = Vec::new();
        let mut first_error = None;
        let mut note = |r: pgp::errors::Result<SignedPublicKey>| match r {
            Ok(k) => keys.push(k),
            Err(e) => {
                first_error.get_or_insert_with(|| e.to_string());
            }
        };
        if is_keybox(bytes) {
            for block in keybox_keyblocks(bytes) {
                binary_keys(block).into_iter().for_each(&mut note);
            }
        } else if let Some(text) = armored_text(bytes, ARMOR_KEY_BEGIN) {
            for block in split_armor_blocks(text) {
                match SignedPublicKey::from_armor_many(block.as_bytes()) {
                    Ok((iter, _)) => iter.for_each(&mut note),
                    Err(e) => note(Err(e)),
                }
            }
        } else {
            binary_keys(bytes).into_iter().for_each(&mut note);
        }
        if keys.is_empty() {
            return Err(PullError::Keyring {
                path: path.to_path_buf(),
                reason: format!(
                    "no OpenPGP public key found ({})",
                    first_error.unwrap_or_else(|| "empty file".into())
                ),
            });
        }
        Ok(Keyring {
            path: path.to_path_buf(),
            keys,
        })
    }

    /// The file the keys came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of primary keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the ring holds no key (never true for a loaded ring).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Checks a detached signature (binary or armored, possibly several) over `data`. The error
    /// is a one-line reason.
    pub fn verify_detached(&self, data: &[u8], signature: &[u8]) -> Result<(), String> {
        let sigs: Vec<Signature> =
            if let Some(text) = armored_text(signature, "-----BEGIN PGP SIGNATURE-----") {
                match DetachedSignature::from_armor_many(text.as_bytes()) {
                    Ok((iter, _)) => iter.filter_map(Result::ok).map(|s| s.signature).collect(),
                    Err(e) => return Err(format!("not an OpenPGP signature: {e}")),
                }
            } else {
                match DetachedSignature::from_bytes_many(BufReader::new(signature)) {
                    Ok(iter) => iter.filter_map(Result::ok).map(|s| s.signature).collect(),
                    Err(e) => return Err(format!("not an OpenPGP signature: {e}")),
                }
            };
        if sigs.is_empty() {
            return Err("not an OpenPGP signature".into());
        }
        self.verify_any(&sigs, data)
    }

    /// Checks an inline-signed (cleartext) message and returns its signed text (LF line ends).
    pub fn verify_cleartext(&self, message: &[u8]) -> Result<String, String> {
        let text = std::str::from_utf8(message).map_err(|_| "not UTF-8 text".to_string())?;
        let (msg, _) = CleartextSignedMessage::from_string(text)
            .map_err(|e| format!("not an OpenPGP signed message: {e}"))?;
        let signed = msg.signed_text();
        self.verify_any(msg.signatures(), signed.as_bytes())?;
        Ok(signed.replace("\r\n", "\n"))
    }

    fn verify_any(&self, sigs: &[Signature], data: &[u8]) -> Result<(), String> {
        let mut issuer_known = false;
        let mut issuers = Vec::new();
        for sig in sigs {
            if !matches!(sig.typ(), Some(SignatureType::Binary | SignatureType::Text)) {
                continue;
            }
            issuers.extend(sig.issuer_key_id().into_iter().map(|id| id.to_string()));
            for key in self.keys.iter().filter(|k| !is_revoked(k)) {
                let bound_subkeys = key
                    .public_subkeys
                    .iter()
                    .filter(|sub| sub.verify_bindings(&key.primary_key).is_ok());
                let results = std::iter::once(try_key(sig, &key.primary_key, data))
                    .chain(bound_subkeys.map(|sub| try_key(sig, &sub.key, data)));
                for (issued, ok) in results {
                    issuer_known |= issued;
                    if ok {
                        return Ok(());
                    }
                }
            }
        }
        let who = if issuers.is_empty() {
            "unknown".to_string()
        } else {
            issuers.join(", ")
        };
        if issuer_known {
            Err(format!(
                "bad signature by key {who}: the data was modified or the signature is corrupt"
            ))
        } else {
            Err(format!(
                "made by key {who}, which is not in keyring {}",
                self.path.display()
            ))
        }
    }
}

/// `(issuer matches this key, signature verifies)`.
fn try_key<K: VerifyingKey + KeyDetails>(sig: &Signature, key: &K, data: &[u8]) -> (bool, bool) {
    let id = key.legacy_key_id();
    let fpr = key.fingerprint();
    let issued = sig.issuer_key_id().into_iter().any(|i| *i == id)
        || sig.issuer_fingerprint().into_iter().any(|f| *f == fpr);
    (issued, issued && sig.verify(key, data).is_ok())
}

fn is_revoked(key: &SignedPublicKey) -> bool {
    key.details
        .revocation_signatures
        .iter()
        .any(|sig| sig.verify_key(&key.primary_key).is_ok())
}

fn binary_keys(bytes: &[u8]) -> Vec<pgp::errors::Result<SignedPublicKey>> {
    let cleaned = without_trust_packets(bytes);
    let bytes = cleaned.as_deref().unwrap_or(bytes);
    let keys = match SignedPublicKey::from_bytes_many(BufReader::new(bytes)) {
        Ok(iter) => iter.collect(),
        Err(e) => vec![Err(e)],
    };
    keys
}

/// `bytes` without GnuPG's local trust packets (tag 12), which keyboxes and legacy
/// `pubring.gpg` files interleave with the key packets and rpgp does not expect. `None` when
/// there are none or the packet framing is not understood (then the bytes are parsed as is).
fn without_trust_packets(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut pos = 0;
    let mut dropped = false;
    while pos < bytes.len() {
        let (tag, header, body) = packet_frame(&bytes[pos..])?;
        let end = pos + header + body;
        if tag == 12 {
            dropped = true;
        } else {
            out.extend_from_slice(&bytes[pos..end]);
        }
        pos = end;
    }
    dropped.then_some(out)
}

/// `(tag, header length, body length)` of the packet at the start of `b` (RFC 9580 §4.2);
/// `None` for partial or indeterminate lengths and truncated input.
fn packet_frame(b: &[u8]) -> Option<(u8, usize, usize)> {
    let ctb = *b.first()?;
    if ctb & 0x80 == 0 {
        return None;
    }
    let be = |s: &[u8]| s.iter().fold(0usize, |acc, &x| (acc << 8) | x as usize);
    let (tag, header, body) = if ctb & 0x40 == 0 {
        // Legacy format: length type in the low two bits.
        let tag = (ctb >> 2) & 0x0f;
        match ctb & 3 {
            0 => (tag, 2, be(b.get(1..2)?)),
            1 => (tag, 3, be(b.get(1..3)?)),
            2 => (tag, 5, be(b.get(1..5)?)),
            _ => return None,
        }
    } else {
        let tag = ctb & 0x3f;
        match *b.get(1)? {
            o @ 0..=191 => (tag, 2, o as usize),
            o @ 192..=223 => (
                tag,
                3,
                ((o as usize - 192) << 8) + *b.get(2)? as usize + 192,
            ),
            255 => (tag, 6, be(b.get(2..6)?)),
            _ => return None,
        }
    };
    (b.len() >= header + body).then_some((tag, header, body))
}

/// The text if `bytes` is UTF-8 that contains `begin` (armor may follow leading prose).
fn armored_text<'a>(bytes: &'a [u8], begin: &str) -> Option<&'a str> {
    let text = std::str::from_utf8(bytes).ok()?;
    text.contains(begin).then_some(text)
}

/// Each `-----BEGIN PGP PUBLIC KEY BLOCK-----` … block of a file with several of them.
fn split_armor_blocks(text: &str) -> Vec<&str> {
    let starts: Vec<usize> = text
        .match_indices(ARMOR_KEY_BEGIN)
        .map(|(i, _)| i)
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(n, &start)| {
            let end = starts.get(n + 1).copied().unwrap_or(text.len());
            &text[start..end]
        })
        .collect()
}

/// A GnuPG keybox starts with a header blob whose bytes 8..12 are `KBXf`.
fn is_keybox(bytes: &[u8]) -> bool {
    bytes.len() >= 32 && bytes[4] == 1 && &bytes[8..12] == b"KBXf"
}

/// The OpenPGP keyblocks of a keybox. Every blob starts with a big-endian u32 length and a type
/// byte (1 header, 2 OpenPGP, 3 X.509); an OpenPGP blob has the keyblock's offset (from the
/// blob start) and length as big-endian u32 at bytes 8 and 12.
fn keybox_keyblocks(bytes: &[u8]) -> Vec<&[u8]> {
    let be32 = |b: &[u8], at: usize| -> Option<usize> {
        let s = b.get(at..at + 4)?;
        Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize)
    };
    let mut blocks = Vec::new();
    let mut pos = 0;
    while let Some(len) = be32(bytes, pos) {
        let Some(blob) = bytes.get(pos..pos.saturating_add(len)) else {
            break;
        };
        if len < 5 {
            break;
        }
        if blob[4] == 2 {
            if let (Some(off), Some(klen)) = (be32(blob, 8), be32(blob, 12)) {
                if let Some(block) = blob.get(off..off.saturating_add(klen)) {
                    blocks.push(block);
                }
            }
        }
        pos += len;
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_keyring_is_an_error() {
        let err = Keyring::from_bytes(Path::new("/x.gpg"), b"not a key").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("cannot use keyring /x.gpg: no OpenPGP public key found"),
            "{msg}"
        );
        let err = Keyring::from_bytes(Path::new("/e.gpg"), b"").unwrap_err();
        assert!(err.to_string().contains("no OpenPGP public key"), "{err}");
    }

    #[test]
    fn armor_blocks_split() {
        let text = format!("intro\n{ARMOR_KEY_BEGIN}\na\n{ARMOR_KEY_BEGIN}\nb\n");
        let blocks = split_armor_blocks(&text);
        assert_eq!(blocks.len(), 2);
        assert!(blocks[1].ends_with("b\n"));
    }

    #[test]
    fn trust_packets_are_dropped() {
        // New-format tag 6 (2 bytes), legacy tag 12 (1 byte), new-format tag 13 (1 byte).
        let ring = [0xc6, 2, 1, 2, 0xb0, 1, 9, 0xcd, 1, 7];
        assert_eq!(
            without_trust_packets(&ring),
            Some(vec![0xc6, 2, 1, 2, 0xcd, 1, 7])
        );
        assert_eq!(without_trust_packets(&[0xc6, 2, 1, 2]), None);
        assert_eq!(without_trust_packets(&[0xc6, 9, 1]), None, "truncated");
    }

    #[test]
    fn keybox_walk() {
        // Header blob (32 bytes) then one OpenPGP blob with a 3-byte keyblock at offset 20.
        let mut kbx = vec![0, 0, 0, 32, 1, 1, 0, 0];
        kbx.extend_from_slice(b"KBXf");
        kbx.resize(32, 0);
        let mut blob = vec![0, 0, 0, 23, 2, 1, 0, 0, 0, 0, 0, 20, 0, 0, 0, 3];
        blob.resize(20, 0);
        blob.extend_from_slice(b"key");
        kbx.extend_from_slice(&blob);
        assert!(is_keybox(&kbx));
        assert_eq!(keybox_keyblocks(&kbx), vec![&b"key"[..]]);
    }
}
