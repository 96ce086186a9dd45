//! qcow2 images are untrusted downloads: opening arbitrary bytes and converting them to raw
//! must never panic, hang or allocate without bound, and whatever is accepted must read the
//! same through `copy_to_raw`, `read_at` and `extents`.
#![no_main]

use std::io::{self, Cursor, Seek, SeekFrom, Write};

use libfuzzer_sys::fuzz_target;
use wharf_qcow2::{Extent, Options, ReadAt, Reader};

/// Larger virtual disks are opened and iterated but not converted (conversion time grows with
/// the number of compressed clusters, which can all share one stream).
const VIRTUAL_SIZE_CAP: u64 = 64 << 20;

/// Write + Seek sink that keeps only what it needs to check: where writes land.
struct Sink {
    pos: u64,
    size: u64,
    written: u64,
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        assert!(
            self.pos + buf.len() as u64 <= self.size,
            "write past the virtual size"
        );
        self.pos += buf.len() as u64;
        self.written += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for Sink {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        match to {
            SeekFrom::Start(p) => self.pos = p,
            _ => unreachable!("copy_to_raw seeks from the start only"),
        }
        Ok(self.pos)
    }
}

/// A backing image of 1 MiB of a fixed pattern.
struct Pattern;

impl ReadAt for Pattern {
    fn size(&mut self) -> io::Result<u64> {
        Ok(1 << 20)
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min((1u64 << 20).saturating_sub(offset) as usize);
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = (offset as usize + i) as u8 | 1;
        }
        Ok(n)
    }
}

fuzz_target!(|data: &[u8]| {
    let opts = Options {
        allow_backing_file: true,
    };
    let Ok(r) = Reader::open(Cursor::new(data), &opts) else {
        return;
    };
    let mut r = r.with_backing(Box::new(Pattern));
    let size = r.virtual_size();
    // Extents tile the disk in order.
    let mut pos = 0;
    let mut extents = Vec::new();
    for e in r.extents() {
        let Ok(e) = e else { return };
        assert_eq!(e.offset(), pos);
        assert!(!e.is_empty());
        pos = e.end();
        if extents.len() < 64 {
            extents.push(e);
        }
    }
    assert_eq!(pos, size);
    if size > VIRTUAL_SIZE_CAP {
        return;
    }
    let mut sink = Sink {
        pos: 0,
        size,
        written: 0,
    };
    let mut done = 0u64;
    let converted = r.copy_to_raw(&mut sink, &mut |d| {
        done += d;
        assert!(done <= size, "progress past the virtual size");
    });
    if converted.is_err() {
        return;
    }
    assert_eq!(done, size, "progress does not add up to the virtual size");
    // Zero extents read as zeros.
    let mut buf = vec![0u8; 1 << 16];
    for e in extents {
        if let Extent::Zero { offset, len } = e {
            let n = len.min(buf.len() as u64) as usize;
            assert_eq!(r.read_at(offset, &mut buf[..n]).unwrap(), n);
            assert!(buf[..n].iter().all(|&b| b == 0), "zero extent with data");
        }
    }
});
