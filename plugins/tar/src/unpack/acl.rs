//! POSIX ACLs from their text form (GNU tar's `SCHILY.acl.access` / `SCHILY.acl.default`,
//! star's as well) to the binary value of the `system.posix_acl_access` / `_default` xattrs.
//!
//! Text: entries separated by `,` or newlines, each `tag:qualifier:perms[:id]` with tags
//! `user`/`u`, `group`/`g`, `mask`/`m`, `other`/`o`, and `#` comments. Qualifiers must be
//! numeric ids (or star's `name:perms:id` form supplies the id): names are never looked up,
//! entries naming an unknown user are dropped.
//!
//! Binary (kernel `posix_acl_xattr`): a little-endian `u32` version 2, then per entry `u16`
//! tag, `u16` perm, `u32` id, sorted by tag then id.

const ACL_USER_OBJ: u16 = 0x01;
const ACL_USER: u16 = 0x02;
const ACL_GROUP_OBJ: u16 = 0x04;
const ACL_GROUP: u16 = 0x08;
const ACL_MASK: u16 = 0x10;
const ACL_OTHER: u16 = 0x20;
const ACL_UNDEFINED_ID: u32 = u32::MAX;
const VERSION: u32 = 2;

/// The binary xattr value for an ACL in text form; `Ok(None)` for an empty ACL.
pub(crate) fn text_to_xattr(text: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut entries: Vec<(u16, u16, u32)> = Vec::new();
    for raw in text.split(|&b| b == b',' || b == b'\n') {
        let raw = match raw.iter().position(|&b| b == b'#') {
            Some(i) => &raw[..i],
            None => raw,
        };
        let raw = raw.trim_ascii();
        if raw.is_empty() {
            continue;
        }
        if let Some(e) = entry(raw)? {
            entries.push(e);
        }
    }
    if entries.is_empty() {
        return Ok(None);
    }
    entries.sort_unstable_by_key(|&(tag, _, id)| (tag, id));
    entries.dedup_by_key(|&mut (tag, _, id)| (tag, id));
    for required in [ACL_USER_OBJ, ACL_GROUP_OBJ, ACL_OTHER] {
        if !entries.iter().any(|e| e.0 == required) {
            return Err(format!(
                "ACL {:?} lacks a user::, group:: or other:: entry",
                String::from_utf8_lossy(text)
            ));
        }
    }
    let named = entries.iter().any(|e| e.0 == ACL_USER || e.0 == ACL_GROUP);
    if named && !entries.iter().any(|e| e.0 == ACL_MASK) {
        // the kernel requires a mask with named entries; setfacl computes it like this.
        let mask = entries
            .iter()
            .filter(|e| matches!(e.0, ACL_USER | ACL_GROUP_OBJ | ACL_GROUP))
            .fold(0, |m, e| m | e.1);
        entries.push((ACL_MASK, mask, ACL_UNDEFINED_ID));
        entries.sort_unstable_by_key(|&(tag, _, id)| (tag, id));
    }
    let mut out = Vec::with_capacity(4 + 8 * entries.len());
    out.extend_from_slice(&VERSION.to_le_bytes());
    for (tag, perm, id) in entries {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&perm.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
    }
    Ok(Some(out))
}

/// One entry; `None` when its qualifier is a name without a numeric id.
fn entry(raw: &[u8]) -> Result<Option<(u16, u16, u32)>, String> {
    let bad = || format!("bad ACL entry {:?}", String::from_utf8_lossy(raw));
    let mut fields = raw.split(|&b| b == b':');
    let tag = fields.next().ok_or_else(bad)?;
    let qualifier = fields.next().ok_or_else(bad)?;
    let perms = fields.next().ok_or_else(bad)?;
    let extra = fields.next();
    if fields.next().is_some() {
        return Err(bad());
    }
    let perm = perms_of(perms).ok_or_else(bad)?;
    let (obj, named) = match tag {
        b"user" | b"u" => (ACL_USER_OBJ, ACL_USER),
        b"group" | b"g" => (ACL_GROUP_OBJ, ACL_GROUP),
        b"mask" | b"m" => (ACL_MASK, ACL_MASK),
        b"other" | b"o" => (ACL_OTHER, ACL_OTHER),
        _ => return Err(bad()),
    };
    if qualifier.is_empty() {
        return Ok(Some((obj, perm, ACL_UNDEFINED_ID)));
    }
    if obj == ACL_MASK || obj == ACL_OTHER {
        return Err(bad());
    }
    // numeric qualifier, or star's trailing numeric id after a name.
    let id = id_of(qualifier).or_else(|| extra.and_then(id_of));
    Ok(id.map(|id| (named, perm, id)))
}

fn id_of(s: &[u8]) -> Option<u32> {
    super::pax::number(s)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|&n| n != ACL_UNDEFINED_ID)
}

/// `rwx`, `r-x`, `rw`, `-`, …: each of r, w, x at most once, `-` placeholders.
fn perms_of(s: &[u8]) -> Option<u16> {
    let mut p = 0u16;
    for &c in s {
        let bit = match c {
            b'r' => 4,
            b'w' => 2,
            b'x' => 1,
            b'-' => continue,
            _ => return None,
        };
        if p & bit != 0 {
            return None;
        }
        p |= bit;
    }
    (!s.is_empty()).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(v: &[u8]) -> Vec<(u16, u16, u32)> {
        assert_eq!(v[..4], 2u32.to_le_bytes());
        v[4..]
            .chunks(8)
            .map(|c| {
                (
                    u16::from_le_bytes([c[0], c[1]]),
                    u16::from_le_bytes([c[2], c[3]]),
                    u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
                )
            })
            .collect()
    }

    #[test]
    fn gnu_tar_text() {
        let v =
            text_to_xattr(b"user::rw-,user:1000:r--,group::r--,group:10:rwx,mask::rwx,other::---")
                .unwrap()
                .unwrap();
        assert_eq!(
            decode(&v),
            [
                (ACL_USER_OBJ, 6, u32::MAX),
                (ACL_USER, 4, 1000),
                (ACL_GROUP_OBJ, 4, u32::MAX),
                (ACL_GROUP, 7, 10),
                (ACL_MASK, 7, u32::MAX),
                (ACL_OTHER, 0, u32::MAX),
            ]
        );
    }

    #[test]
    fn star_and_comments_and_missing_mask() {
        let v = text_to_xattr(b"u::rwx\ng:root:r-x:0 # comment\nu:bob:rw-:1001\no::r\n#x\ng::r")
            .unwrap()
            .unwrap();
        assert_eq!(
            decode(&v),
            [
                (ACL_USER_OBJ, 7, u32::MAX),
                (ACL_USER, 6, 1001),
                (ACL_GROUP_OBJ, 4, u32::MAX),
                (ACL_GROUP, 5, 0),
                (ACL_MASK, 7, u32::MAX),
                (ACL_OTHER, 4, u32::MAX),
            ]
        );
    }

    #[test]
    fn names_without_ids_are_dropped() {
        let v = text_to_xattr(b"user::rw-,user:bob:r--,group::r--,other::r--")
            .unwrap()
            .unwrap();
        assert_eq!(decode(&v).len(), 3);
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            &b"user::rwz,group::r,other::r"[..],
            b"user:1",
            b"other:5:r",
            b"x::r",
            b"user::rr",
        ] {
            assert!(
                text_to_xattr(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(text_to_xattr(b"user::rw-").is_err());
        assert_eq!(text_to_xattr(b" , ").unwrap(), None);
    }
}
