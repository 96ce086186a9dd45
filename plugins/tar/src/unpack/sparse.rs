//! GNU sparse files: the map of data segments, from an old-GNU `S` header (plus extension
//! blocks), from PAX `GNU.sparse.*` records (formats 0.0 and 0.1), or from the start of the
//! entry data (format 1.0, GNU tar's default with `--format=pax`).

use super::limits::MAX_SPARSE_SEGMENTS;
use super::pax::{number, SparseExt};
use super::stream::{Stream, BLOCK};

/// Data segments `(offset, length)` of a file of `real_size` bytes; the archive holds their
/// bytes back to back, everything else is a hole.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct SparseMap {
    pub real_size: u64,
    pub segments: Vec<(u64, u64)>,
}

/// An error while reading a map: malformed, or the archive ended (`None` message).
pub(crate) enum MapError {
    Bad(String),
    Truncated,
    Read(std::io::Error),
}

impl From<std::io::Error> for MapError {
    fn from(e: std::io::Error) -> Self {
        MapError::Read(e)
    }
}

fn push(segments: &mut Vec<(u64, u64)>, seg: (u64, u64)) -> Result<(), MapError> {
    if segments.len() >= MAX_SPARSE_SEGMENTS {
        return Err(MapError::Bad(format!(
            "sparse map has more than {MAX_SPARSE_SEGMENTS} segments"
        )));
    }
    segments.push(seg);
    Ok(())
}

/// The map of an old-GNU sparse header; reads its extension blocks from `stream`.
pub(crate) fn from_gnu(hdr: &tar::Header, stream: &mut Stream<'_>) -> Result<SparseMap, MapError> {
    let bad = |e: std::io::Error| MapError::Bad(e.to_string());
    let gnu = hdr
        .as_gnu()
        .ok_or_else(|| MapError::Bad("sparse entry without a GNU header".into()))?;
    let mut map = SparseMap {
        real_size: gnu.real_size().map_err(bad)?,
        segments: Vec::new(),
    };
    for s in gnu.sparse.iter().take_while(|s| !s.is_empty()) {
        push(
            &mut map.segments,
            (s.offset().map_err(bad)?, s.length().map_err(bad)?),
        )?;
    }
    let mut extended = gnu.is_extended();
    while extended {
        let block = stream.block()?.ok_or(MapError::Truncated)?;
        let mut ext = tar::GnuExtSparseHeader::new();
        ext.as_mut_bytes().copy_from_slice(&block);
        for s in ext.sparse.iter().take_while(|s| !s.is_empty()) {
            push(
                &mut map.segments,
                (s.offset().map_err(bad)?, s.length().map_err(bad)?),
            )?;
        }
        extended = ext.is_extended();
    }
    Ok(map)
}

/// The map of PAX format 0.0 / 0.1 records (format 1.0 keeps it in the data instead).
pub(crate) fn from_pax(ext: &SparseExt, fallback_size: u64) -> Result<SparseMap, MapError> {
    if !ext.map.len().is_multiple_of(2) {
        return Err(MapError::Bad(
            "odd number of values in GNU.sparse.map".into(),
        ));
    }
    let mut map = SparseMap {
        real_size: ext.real_size.unwrap_or(fallback_size),
        segments: Vec::new(),
    };
    for pair in ext.map.chunks_exact(2) {
        push(&mut map.segments, (pair[0], pair[1]))?;
    }
    Ok(map)
}

/// Reads a format 1.0 map from the start of the entry data: decimal numbers, one per line
/// (count, then offset/length pairs), padded to a block. Returns the map bytes consumed.
pub(crate) fn read_v1(
    stream: &mut Stream<'_>,
    real_size: u64,
    data_size: u64,
) -> Result<(SparseMap, u64), MapError> {
    let mut map = SparseMap {
        real_size,
        segments: Vec::new(),
    };
    let mut consumed = 0u64;
    let mut line: Vec<u8> = Vec::with_capacity(24);
    let mut count: Option<u64> = None;
    let mut pending: Option<u64> = None;
    loop {
        if consumed + BLOCK as u64 > data_size {
            return Err(MapError::Bad("sparse map runs past the entry data".into()));
        }
        let block = stream.block()?.ok_or(MapError::Truncated)?;
        consumed += BLOCK as u64;
        for &b in &block {
            if b != b'\n' {
                if line.len() >= 20 {
                    return Err(MapError::Bad("bad number in sparse map".into()));
                }
                line.push(b);
                continue;
            }
            let n =
                number(&line).ok_or_else(|| MapError::Bad("bad number in sparse map".into()))?;
            line.clear();
            match (count, pending) {
                (None, _) => count = Some(n),
                (Some(_), None) => pending = Some(n),
                (Some(_), Some(off)) => {
                    push(&mut map.segments, (off, n))?;
                    pending = None;
                }
            }
            if count.is_some_and(|c| c == map.segments.len() as u64) && pending.is_none() {
                return Ok((map, consumed));
            }
        }
    }
}

impl SparseMap {
    /// Checks that segments are ordered, do not overlap, lie within the file and hold
    /// exactly `data_size` bytes.
    pub(crate) fn validate(&self, data_size: u64) -> Result<(), String> {
        let mut end = 0u64;
        let mut total = 0u64;
        for &(off, len) in &self.segments {
            let seg_end = off.checked_add(len).filter(|&e| e <= self.real_size);
            let Some(seg_end) = seg_end.filter(|_| off >= end) else {
                return Err(format!(
                    "sparse segment {off}+{len} overlaps or lies outside the file size {}",
                    self.real_size
                ));
            };
            end = seg_end;
            total = total.saturating_add(len);
        }
        if total != data_size {
            return Err(format!(
                "sparse map holds {total} bytes but the entry stores {data_size}"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_map_from_data() {
        let mut data = b"3\n0\n512\n4096\n512\n8192\n0\n".to_vec();
        data.resize(512, 0);
        data.extend([7u8; 1024]);
        let mut input = &data[..];
        let mut s = Stream::new(&mut input, None);
        let Ok((map, consumed)) = read_v1(&mut s, 8192, 1536) else {
            panic!("map")
        };
        assert_eq!(consumed, 512);
        assert_eq!(map.segments, [(0, 512), (4096, 512), (8192, 0)]);
        map.validate(1024).unwrap();
    }

    #[test]
    fn v1_map_longer_than_the_data_is_refused() {
        // the map needs a second block, but the entry stores only 700 bytes.
        let mut data = b"200\n".to_vec();
        data.extend(b"0\n".repeat(400));
        data.resize(1024, 0);
        let mut input = &data[..];
        let mut s = Stream::new(&mut input, None);
        match read_v1(&mut s, 10, 700) {
            Err(MapError::Bad(m)) => assert!(m.contains("runs past"), "{m}"),
            _ => panic!("must be refused"),
        }
    }

    #[test]
    fn validation() {
        let m = |segments: Vec<(u64, u64)>| SparseMap {
            real_size: 100,
            segments,
        };
        assert!(m(vec![(0, 10), (50, 10)]).validate(20).is_ok());
        assert!(m(vec![(0, 10), (5, 10)]).validate(20).is_err());
        assert!(m(vec![(95, 10)]).validate(10).is_err());
        assert!(m(vec![(0, 10)]).validate(11).is_err());
        assert!(m(vec![(u64::MAX, 2)]).validate(2).is_err());
    }
}
