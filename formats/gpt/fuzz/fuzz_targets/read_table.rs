//! Disk images are untrusted: reading a GPT must never panic or allocate without bound, and a
//! table it accepts must satisfy every invariant the rest of wharf relies on. The DPS helpers
//! run on whatever was accepted.
//!
//! Each input is parsed twice: as given, and with every header and entry-array CRC32 that the
//! headers describe recomputed, so mutations reach the checks behind the checksums.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use wharf_gpt::{
    choose_root, choose_root_or_generic, type_name, version_compare, Arch, Guid, Table,
    SECTOR_SIZES,
};

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

fn le32(d: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(d[at..at + 4].try_into().unwrap())
}

/// recomputes the CRCs of any header found where a primary or backup header may sit.
fn fix_checksums(data: &mut [u8]) {
    for ss in SECTOR_SIZES.map(|s| s as usize) {
        let sectors = data.len() / ss;
        for at in [ss, sectors.saturating_sub(1) * ss] {
            if at < ss || at + ss > data.len() || &data[at..at + 8] != b"EFI PART" {
                continue;
            }
            let lba = u64::from_le_bytes(data[at + 72..at + 80].try_into().unwrap());
            let len = u64::from(le32(data, at + 80)) * u64::from(le32(data, at + 84));
            let start = lba.saturating_mul(ss as u64);
            if len <= 1 << 20 && start.saturating_add(len) <= data.len() as u64 {
                let crc = crc32(&data[start as usize..(start + len) as usize]);
                data[at + 88..at + 92].copy_from_slice(&crc.to_le_bytes());
            }
            let size = (le32(data, at + 12) as usize).clamp(92, ss);
            data[at + 16..at + 20].fill(0);
            let crc = crc32(&data[at..at + size]);
            data[at + 16..at + 20].copy_from_slice(&crc.to_le_bytes());
        }
    }
}

fn check(data: &[u8]) {
    let table = match wharf_gpt::read_table(Cursor::new(data)) {
        Ok(t) => t,
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.is_empty() && !msg.contains('\n'));
            return;
        }
    };
    check_invariants(&table, data.len() as u64);
}

fn check_invariants(table: &Table, disk_len: u64) {
    assert!(SECTOR_SIZES.contains(&table.sector_size));
    assert!(table.first_usable >= 2 && table.first_usable <= table.last_usable);
    assert!((table.last_usable + 1) * table.sector_size <= disk_len);
    let mut previous_index = 0;
    for p in &table.partitions {
        assert!(p.index > previous_index);
        previous_index = p.index;
        assert!(!p.type_guid.is_zero());
        assert!(table.first_usable <= p.first_lba && p.first_lba <= p.last_lba);
        assert!(p.last_lba <= table.last_usable);
        assert!(p.size_bytes(table.sector_size) >= table.sector_size);
        assert_eq!(p.uuid.to_string().parse::<Guid>().ok(), Some(p.uuid));
        let _ = type_name(&p.type_guid);
    }
    let mut by_start: Vec<_> = table.partitions.iter().collect();
    by_start.sort_by_key(|p| p.first_lba);
    for w in by_start.windows(2) {
        assert!(w[0].last_lba < w[1].first_lba);
    }
    for arch in Arch::ALL {
        if let Some(root) = choose_root(table, arch) {
            assert!(!root.no_auto());
        }
        let _ = choose_root_or_generic(table, arch);
    }
    for a in &table.partitions {
        for b in &table.partitions {
            let (x, y) = (&a.name, &b.name);
            assert_eq!(version_compare(x, y), version_compare(y, x).reverse());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let mut fixed = data.to_vec();
    fix_checksums(&mut fixed);
    if fixed != data {
        check(&fixed);
    }
});
