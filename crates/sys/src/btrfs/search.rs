//! walking a btrfs tree with `BTRFS_IOC_TREE_SEARCH` (needs CAP_SYS_ADMIN).

use std::io;
use std::ops::ControlFlow;

use super::abi::{self, SearchArgs, SearchKey, SEARCH_HEADER_LEN};
use super::BtrfsFd;

/// a (objectid, type, offset) btrfs key, ordered like the kernel orders keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Key {
    pub objectid: u64,
    pub item_type: u32,
    pub offset: u64,
}

impl Key {
    /// the smallest key after this one, `None` past the last possible key.
    fn next(self) -> Option<Key> {
        if let Some(offset) = self.offset.checked_add(1) {
            return Some(Key { offset, ..self });
        }
        if self.item_type < u32::from(u8::MAX) {
            return Some(Key {
                item_type: self.item_type + 1,
                offset: 0,
                ..self
            });
        }
        Some(Key {
            objectid: self.objectid.checked_add(1)?,
            item_type: 0,
            offset: 0,
        })
    }
}

/// one item found by a tree search; `data` is the raw (little-endian) on-disk item.
pub(super) struct Item<'a> {
    pub key: Key,
    pub data: &'a [u8],
}

/// calls `f` for every item of tree `tree_id` whose key lies between `min` and `max` in key
/// order (the kernel compares whole keys, so callers must still check each field they care
/// about), until `f` breaks. `ENOENT` when the tree does not exist.
pub(super) fn search<B>(
    fd: BtrfsFd<'_>,
    tree_id: u64,
    min: Key,
    max: Key,
    mut f: impl FnMut(Item<'_>) -> ControlFlow<B>,
) -> io::Result<Option<B>> {
    let mut args = Box::new(SearchArgs::new(SearchKey::default()));
    let mut start = min;
    loop {
        args.key = SearchKey {
            tree_id,
            min_objectid: start.objectid,
            max_objectid: max.objectid,
            min_offset: start.offset,
            max_offset: max.offset,
            min_transid: 0,
            max_transid: u64::MAX,
            min_type: start.item_type,
            max_type: max.item_type,
            nr_items: 4096,
            ..SearchKey::default()
        };
        abi::tree_search(fd, &mut args)?;
        let count = args.key.nr_items;
        if count == 0 {
            return Ok(None);
        }
        let mut pos = 0usize;
        let mut last = None;
        for _ in 0..count {
            let Some((key, data, next)) = parse_item(&args.buf, pos) else {
                break;
            };
            pos = next;
            last = Some(key);
            if key < min || key > max {
                continue;
            }
            if let ControlFlow::Break(b) = f(Item { key, data }) {
                return Ok(Some(b));
            }
        }
        match last.and_then(Key::next) {
            Some(next) if next <= max => start = next,
            _ => return Ok(None),
        }
    }
}

/// the key and data of the item whose search header starts at `pos`, and the position after
/// it; `None` when the buffer is too short (never with a sane kernel).
fn parse_item(buf: &[u8], pos: usize) -> Option<(Key, &[u8], usize)> {
    let hdr = buf.get(pos..pos.checked_add(SEARCH_HEADER_LEN)?)?;
    // the header is in CPU byte order: transid @0, objectid @8, offset @16, type @24, len @28.
    let objectid = u64::from_ne_bytes(hdr[8..16].try_into().ok()?);
    let offset = u64::from_ne_bytes(hdr[16..24].try_into().ok()?);
    let item_type = u32::from_ne_bytes(hdr[24..28].try_into().ok()?);
    let len = u32::from_ne_bytes(hdr[28..32].try_into().ok()?) as usize;
    let start = pos + SEARCH_HEADER_LEN;
    let end = start.checked_add(len)?;
    let data = buf.get(start..end)?;
    let key = Key {
        objectid,
        item_type,
        offset,
    };
    Some((key, data, end))
}

/// the little-endian u64 at byte `at` of an on-disk item, `None` when the item is too short.
pub(super) fn le_u64(data: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(data.get(at..at + 8)?.try_into().ok()?))
}

/// the little-endian u16 at byte `at` of an on-disk item.
pub(super) fn le_u16(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_next_carries() {
        let k = Key {
            objectid: 5,
            item_type: 144,
            offset: u64::MAX,
        };
        assert_eq!(
            k.next(),
            Some(Key {
                objectid: 5,
                item_type: 145,
                offset: 0
            })
        );
        let k = Key {
            objectid: 5,
            item_type: 255,
            offset: u64::MAX,
        };
        assert_eq!(
            k.next(),
            Some(Key {
                objectid: 6,
                item_type: 0,
                offset: 0
            })
        );
        let k = Key {
            objectid: u64::MAX,
            item_type: 255,
            offset: u64::MAX,
        };
        assert_eq!(k.next(), None);
    }

    #[test]
    fn parse_items_from_buffer() {
        let mut buf = vec![0u8; 100];
        buf[8..16].copy_from_slice(&7u64.to_ne_bytes());
        buf[16..24].copy_from_slice(&9u64.to_ne_bytes());
        buf[24..28].copy_from_slice(&156u32.to_ne_bytes());
        buf[28..32].copy_from_slice(&4u32.to_ne_bytes());
        buf[32..36].copy_from_slice(b"abcd");
        let (key, data, next) = parse_item(&buf, 0).unwrap();
        assert_eq!((key.objectid, key.item_type, key.offset), (7, 156, 9));
        assert_eq!(data, b"abcd");
        assert_eq!(next, 36);
        // a length running past the buffer is rejected, not a panic.
        buf[28..32].copy_from_slice(&1000u32.to_ne_bytes());
        assert!(parse_item(&buf, 0).is_none());
        assert!(parse_item(&buf, 90).is_none());
    }
}
