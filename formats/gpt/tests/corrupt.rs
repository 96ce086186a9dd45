//! Damaged and hostile tables: each gives its specific error or the backup, never a panic.

mod common;

use common::patch::{self, Gpt, Side, BOTH};
use common::{parse, Image};
use wharf_gpt::{Error, Table};

use common::types::ROOT_X86_64 as ROOT;

/// a 4 MiB image with three 512 KiB partitions, in memory, and its correct table.
fn fixture() -> (Gpt, Table) {
    let script = format!(
        "label: gpt
size=512KiB, type={ROOT}, name=\"one\"
size=512KiB, type={ROOT}, name=\"two\"
size=512KiB, type={ROOT}, name=\"three\"
"
    );
    let img = Image::sfdisk(4 << 20, &script);
    let table = img.read_table().unwrap();
    assert_eq!(table.partitions.len(), 3);
    (Gpt::new(img.bytes(), 512), table)
}

fn err(gpt: &Gpt) -> Error {
    parse(&gpt.bytes).expect_err("table must be rejected")
}

/// the table read from the backup copy, equal to the undamaged one.
fn assert_backup(gpt: &Gpt, good: &Table) {
    let t = parse(&gpt.bytes).expect("backup must be used");
    assert!(t.used_backup);
    assert_eq!(
        Table {
            used_backup: false,
            ..t
        },
        *good
    );
}

#[test]
fn header_crc() {
    let (mut gpt, good) = fixture();
    gpt.bytes[512 + patch::DISK_GUID] ^= 1;
    assert_backup(&gpt, &good);
    let at = gpt.header_at(Side::Backup) + patch::DISK_GUID;
    gpt.bytes[at] ^= 1;
    assert!(matches!(err(&gpt), Error::HeaderCrc));
    assert_eq!(err(&gpt).to_string(), "gpt header checksum mismatch");
}

#[test]
fn entries_crc() {
    let (mut gpt, good) = fixture();
    let r = gpt.entries_range(Side::Primary);
    gpt.bytes[r.start + 56] ^= 1; // a name byte of entry 1
    assert_backup(&gpt, &good);
    let r = gpt.entries_range(Side::Backup);
    gpt.bytes[r.start + 200] ^= 1;
    assert!(matches!(err(&gpt), Error::EntriesCrc));
    // a stale entries CRC in an otherwise valid header is just as fatal.
    let (mut gpt, _) = fixture();
    for side in BOTH {
        gpt.set32(side, patch::ENTRIES_CRC, 0x1234_5678);
        gpt.fix_header_crc(side);
    }
    assert!(matches!(err(&gpt), Error::EntriesCrc));
}

#[test]
fn backup_with_primary_wiped() {
    let (mut gpt, good) = fixture();
    gpt.bytes[512..1024].fill(0);
    assert_backup(&gpt, &good);
}

#[test]
fn entry_sizes() {
    for size in [
        0,
        8,
        64,
        127,
        129,
        130,
        136,
        384,
        1 << 20,
        1 << 31,
        u32::MAX,
    ] {
        let (mut gpt, good) = fixture();
        gpt.set32(Side::Primary, patch::ENTRY_SIZE, size);
        gpt.fix_header_crc(Side::Primary);
        assert_backup(&gpt, &good);
        gpt.set32(Side::Backup, patch::ENTRY_SIZE, size);
        gpt.fix_header_crc(Side::Backup);
        let e = err(&gpt);
        assert!(
            matches!(e, Error::BadEntries(m) if m.contains("entry size")),
            "size {size}: {e}"
        );
    }
}

#[test]
fn entry_size_256_is_valid() {
    // the spec allows 128 × 2^n: re-lay the same entries with a 256-byte stride.
    let (mut gpt, good) = fixture();
    for side in BOTH {
        let r = gpt.entries_range(side);
        let old = gpt.bytes[r.clone()].to_vec();
        let mut new = vec![0u8; old.len()];
        for (i, e) in old.chunks(128).take(old.len() / 256).enumerate() {
            new[i * 256..i * 256 + 128].copy_from_slice(e);
        }
        gpt.bytes[r].copy_from_slice(&new);
        gpt.set32(side, patch::ENTRY_SIZE, 256);
        gpt.set32(side, patch::ENTRY_COUNT, (old.len() / 256) as u32);
    }
    gpt.fix_all();
    assert_eq!(parse(&gpt.bytes).unwrap(), good);
}

#[test]
fn entry_counts() {
    let cases: [(u32, &str); 3] = [
        (u32::MAX, "entry array too large"),
        (8193, "entry array too large"),
        // 8192 × 128 bytes = 2048 sectors from LBA 2 runs into the usable area at 2048.
        (8192, "entry array overlaps the usable area"),
    ];
    for (count, want) in cases {
        let (mut gpt, good) = fixture();
        gpt.set32(Side::Primary, patch::ENTRY_COUNT, count);
        gpt.fix_header_crc(Side::Primary);
        assert_backup(&gpt, &good);
        gpt.set32(Side::Backup, patch::ENTRY_COUNT, count);
        gpt.fix_header_crc(Side::Backup);
        let e = err(&gpt);
        assert!(
            matches!(e, Error::BadEntries(m) if m == want),
            "{count}: {e}"
        );
    }
    // no entries at all: an empty table, wherever the (unread) array is said to be.
    let (mut gpt, _) = fixture();
    for side in BOTH {
        gpt.set32(side, patch::ENTRY_COUNT, 0);
        gpt.set64(side, patch::ENTRIES_LBA, u64::MAX);
    }
    gpt.fix_all();
    assert!(parse(&gpt.bytes).unwrap().partitions.is_empty());
    // fewer entries than the usual 128 are fine when the CRC covers exactly them.
    let (mut gpt, good) = fixture();
    for side in BOTH {
        gpt.set32(side, patch::ENTRY_COUNT, 4);
    }
    gpt.fix_all();
    assert_eq!(parse(&gpt.bytes).unwrap(), good);
}

#[test]
fn entry_array_location() {
    for (lba, want) in [
        (0, "entry array overlaps a header"),
        (1, "entry array overlaps a header"),
        (2040, "entry array overlaps the usable area"),
        (1 << 40, "entry array extends past the end of the disk"),
        (u64::MAX, "entry array extends past the end of the disk"),
    ] {
        let (mut gpt, _) = fixture();
        for side in BOTH {
            gpt.set64(side, patch::ENTRIES_LBA, lba);
            gpt.fix_header_crc(side);
        }
        let e = err(&gpt);
        assert!(matches!(e, Error::BadEntries(m) if m == want), "{lba}: {e}");
    }
}

/// applies `edit` to entries of both copies with CRCs fixed, so no fallback can help.
fn both_entries(edit: impl Fn(&mut Gpt, Side)) -> Gpt {
    let (mut gpt, _) = fixture();
    for side in BOTH {
        edit(&mut gpt, side);
    }
    gpt.fix_all();
    gpt
}

#[test]
fn overlapping_partitions() {
    let gpt = both_entries(|g, s| {
        let end_of_1 = g.entry64(s, 1, patch::E_LAST);
        g.set_entry64(s, 3, patch::E_FIRST, end_of_1);
    });
    let e = err(&gpt);
    assert!(matches!(e, Error::Overlap { a: 1, b: 3 }), "{e}");
    assert_eq!(e.to_string(), "gpt partitions 1 and 3 overlap");
    // the same partition twice (two identical entries).
    let gpt = both_entries(|g, s| {
        let two = g.entry_mut(s, 2).to_vec();
        g.entry_mut(s, 5).copy_from_slice(&two);
    });
    assert!(matches!(err(&gpt), Error::Overlap { a: 2, b: 5 }));
    // a checksummed primary is authoritative: no fallback to a clean backup.
    let (mut gpt, _) = fixture();
    let end_of_1 = gpt.entry64(Side::Primary, 1, patch::E_LAST);
    gpt.set_entry64(Side::Primary, 2, patch::E_FIRST, end_of_1);
    gpt.fix_entries_crc(Side::Primary);
    assert!(matches!(err(&gpt), Error::Overlap { a: 1, b: 2 }));
}

#[test]
fn partitions_outside_usable_area() {
    let gpt = both_entries(|g, s| {
        let last = g.get64(s, patch::LAST_USABLE);
        g.set_entry64(s, 2, patch::E_LAST, last + 1);
    });
    let e = err(&gpt);
    assert!(matches!(e, Error::OutOfBounds { index: 2 }), "{e}");
    let gpt = both_entries(|g, s| g.set_entry64(s, 3, patch::E_LAST, u64::MAX));
    assert!(matches!(err(&gpt), Error::OutOfBounds { index: 3 }));
    let gpt = both_entries(|g, s| g.set_entry64(s, 1, patch::E_FIRST, 33));
    assert!(matches!(err(&gpt), Error::OutOfBounds { index: 1 }));
}

#[test]
fn inverted_partition() {
    let gpt = both_entries(|g, s| {
        let first = g.entry64(s, 2, patch::E_FIRST);
        g.set_entry64(s, 2, patch::E_LAST, first - 1);
    });
    let e = err(&gpt);
    assert!(matches!(e, Error::Inverted { index: 2 }), "{e}");
    assert_eq!(e.to_string(), "gpt partition 2 ends before it starts");
    // a one-sector partition is fine.
    let gpt = both_entries(|g, s| {
        let first = g.entry64(s, 2, patch::E_FIRST);
        g.set_entry64(s, 2, patch::E_LAST, first);
    });
    assert_eq!(
        parse(&gpt.bytes).unwrap().partition(2).unwrap().sectors(),
        1
    );
}

#[test]
fn header_fields() {
    let cases: [(usize, u64, bool, &str); 11] = [
        (patch::REVISION, 0x0002_0000, false, "unsupported revision"),
        (patch::HEADER_SIZE, 91, false, "header size out of range"),
        (patch::HEADER_SIZE, 513, false, "header size out of range"),
        (
            patch::MY_LBA,
            2,
            true,
            "header lba does not match its location",
        ),
        (
            patch::FIRST_USABLE,
            1,
            true,
            "usable area overlaps a header",
        ),
        (
            patch::FIRST_USABLE,
            8180,
            true,
            "first usable lba is after the last",
        ),
        (
            patch::LAST_USABLE,
            8192,
            true,
            "usable area extends past the end of the disk",
        ),
        (
            patch::LAST_USABLE,
            8191,
            true,
            "usable area overlaps a header",
        ),
        (
            patch::LAST_USABLE,
            u64::MAX,
            true,
            "usable area extends past the end of the disk",
        ),
        (
            patch::ALTERNATE_LBA,
            4000,
            true,
            "usable area overlaps a header",
        ),
        (patch::DISK_GUID, 0, true, "(accepted)"),
    ];
    for (field, value, wide, want) in cases {
        let (mut gpt, good) = fixture();
        let set = |g: &mut Gpt, side| {
            if wide {
                g.set64(side, field, value);
            } else {
                g.set32(side, field, value as u32);
            }
            g.fix_header_crc(side);
        };
        set(&mut gpt, Side::Primary);
        if field == patch::DISK_GUID {
            // any disk GUID, even zero, is valid.
            let guid = parse(&gpt.bytes).unwrap().disk_guid.to_string();
            assert!(guid.starts_with("00000000-0000-0000-"), "{guid}");
            continue;
        }
        assert_backup(&gpt, &good);
        set(&mut gpt, Side::Backup);
        let e = err(&gpt);
        assert!(
            matches!(e, Error::BadHeader(m) if m == want),
            "{field}={value}: {e}"
        );
    }
}

#[test]
fn header_size_above_92_is_summed() {
    // the CRC covers the declared size: a 128-byte header with zero padding is valid.
    let (mut gpt, good) = fixture();
    for side in BOTH {
        gpt.set32(side, patch::HEADER_SIZE, 128);
        gpt.fix_header_crc(side);
    }
    assert_eq!(parse(&gpt.bytes).unwrap(), good);
}

#[test]
fn truncated_images() {
    let (gpt, good) = fixture();
    // cut after the partitions: the primary's usable area now runs off the end, and the
    // backup is gone.
    let cut = gpt.bytes[..3 << 20].to_vec();
    let e = parse(&cut).unwrap_err();
    assert!(
        matches!(
            e,
            Error::BadHeader("usable area extends past the end of the disk")
        ),
        "{e}"
    );
    // too short for MBR + header + one more sector: nothing to find.
    for len in [0, 1, 511, 512, 700, 1024, 1535] {
        let e = parse(&gpt.bytes[..len]).unwrap_err();
        assert!(matches!(e, Error::NoGpt), "{len}: {e}");
    }
    let e = parse(&gpt.bytes[..1536]).unwrap_err();
    assert!(matches!(e, Error::BadHeader(_)), "{e}");
    // cut inside the entry array.
    let e = parse(&gpt.bytes[..4096]).unwrap_err();
    assert!(matches!(e, Error::BadHeader(_)), "{e}");
    // an image that grew: the backup is no longer at the end, the primary still rules.
    let mut grown = gpt.bytes.clone();
    grown.resize(8 << 20, 0);
    assert_eq!(parse(&grown).unwrap(), good);
}

#[test]
fn no_gpt_at_all() {
    assert!(matches!(parse(&vec![0u8; 1 << 20]), Err(Error::NoGpt)));
    assert!(matches!(parse(&vec![0xffu8; 1 << 20]), Err(Error::NoGpt)));
    assert_eq!(
        parse(&[]).unwrap_err().to_string(),
        "no gpt partition table found"
    );
}

/// a reader whose every read fails.
struct Broken;

impl std::io::Read for Broken {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("disk on fire"))
    }
}

impl std::io::Seek for Broken {
    fn seek(&mut self, _: std::io::SeekFrom) -> std::io::Result<u64> {
        Ok(1 << 20)
    }
}

#[test]
fn io_errors_propagate() {
    let e = wharf_gpt::read_table(Broken).unwrap_err();
    assert!(matches!(e, Error::Io(_)));
    assert_eq!(e.to_string(), "cannot read gpt: disk on fire");
}

#[test]
fn every_header_byte_mutation_is_handled() {
    // flip each primary header and first-entry byte with the primary's CRCs fixed: any result
    // but a panic is fine, and a success must still satisfy the table invariants.
    let (mut gpt, _) = fixture();
    let entries = gpt.entries_range(Side::Primary);
    let pristine = gpt.bytes[..entries.end].to_vec();
    let offsets = (512..512 + 92).chain(entries.start..entries.start + 128);
    for at in offsets {
        for mask in [0x01u8, 0x80, 0xff] {
            gpt.bytes[..entries.end].copy_from_slice(&pristine);
            gpt.bytes[at] ^= mask;
            let r = gpt.entries_range(Side::Primary);
            let crc = patch::crc32(&gpt.bytes[r]);
            gpt.set32(Side::Primary, patch::ENTRIES_CRC, crc);
            gpt.fix_header_crc(Side::Primary);
            if let Ok(t) = parse(&gpt.bytes) {
                for p in &t.partitions {
                    assert!(t.first_usable <= p.first_lba && p.first_lba <= p.last_lba);
                    assert!(p.last_lba <= t.last_usable);
                }
            }
        }
    }
}
