//! Editing the GPT of an in-memory image: header and entry fields, with or without fixing the
//! CRC32s, on the primary or the backup copy. Written independently of the crate under test.

/// CRC-32 (IEEE, reflected) with a table built at first use from the bitwise definition.
pub fn crc32(bytes: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<Vec<u32>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        (0..256u32)
            .map(|mut c| {
                for _ in 0..8 {
                    c = if c & 1 != 0 {
                        (c >> 1) ^ 0xEDB8_8320
                    } else {
                        c >> 1
                    };
                }
                c
            })
            .collect()
    });
    !bytes.iter().fold(!0u32, |crc, &b| {
        table[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8)
    })
}

/// which header copy to edit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Primary,
    Backup,
}

pub const BOTH: [Side; 2] = [Side::Primary, Side::Backup];

// header field offsets
pub const REVISION: usize = 8;
pub const HEADER_SIZE: usize = 12;
pub const HEADER_CRC: usize = 16;
pub const MY_LBA: usize = 24;
pub const ALTERNATE_LBA: usize = 32;
pub const FIRST_USABLE: usize = 40;
pub const LAST_USABLE: usize = 48;
pub const DISK_GUID: usize = 56;
pub const ENTRIES_LBA: usize = 72;
pub const ENTRY_COUNT: usize = 80;
pub const ENTRY_SIZE: usize = 84;
pub const ENTRIES_CRC: usize = 88;

// entry field offsets
pub const E_TYPE: usize = 0;
pub const E_FIRST: usize = 32;
pub const E_LAST: usize = 40;
pub const E_ATTRS: usize = 48;

/// an image held in memory with a known sector size.
pub struct Gpt {
    pub bytes: Vec<u8>,
    pub sector: usize,
}

impl Gpt {
    pub fn new(bytes: Vec<u8>, sector: usize) -> Gpt {
        Gpt { bytes, sector }
    }

    pub fn header_at(&self, copy: Side) -> usize {
        match copy {
            Side::Primary => self.sector,
            Side::Backup => self.bytes.len() / self.sector * self.sector - self.sector,
        }
    }

    pub fn get32(&self, copy: Side, field: usize) -> u32 {
        let at = self.header_at(copy) + field;
        u32::from_le_bytes(self.bytes[at..at + 4].try_into().unwrap())
    }

    pub fn get64(&self, copy: Side, field: usize) -> u64 {
        let at = self.header_at(copy) + field;
        u64::from_le_bytes(self.bytes[at..at + 8].try_into().unwrap())
    }

    /// sets a header field without touching the CRC.
    pub fn set32(&mut self, copy: Side, field: usize, v: u32) {
        let at = self.header_at(copy) + field;
        self.bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    pub fn set64(&mut self, copy: Side, field: usize, v: u64) {
        let at = self.header_at(copy) + field;
        self.bytes[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }

    /// recomputes the header CRC over the declared header size (clamped to the sector).
    pub fn fix_header_crc(&mut self, copy: Side) {
        let at = self.header_at(copy);
        let size = (self.get32(copy, HEADER_SIZE) as usize).clamp(92, self.sector);
        self.set32(copy, HEADER_CRC, 0);
        let crc = crc32(&self.bytes[at..at + size]);
        self.set32(copy, HEADER_CRC, crc);
    }

    /// byte range of the entry array as the header describes it (clamped to the image).
    pub fn entries_range(&self, copy: Side) -> std::ops::Range<usize> {
        let start = (self.get64(copy, ENTRIES_LBA) as usize).saturating_mul(self.sector);
        let len = (self.get32(copy, ENTRY_COUNT) as usize)
            .saturating_mul(self.get32(copy, ENTRY_SIZE) as usize);
        let end = start.saturating_add(len).min(self.bytes.len());
        start.min(end)..end
    }

    /// the bytes of 1-based entry `index`.
    pub fn entry_mut(&mut self, copy: Side, index: usize) -> &mut [u8] {
        let size = self.get32(copy, ENTRY_SIZE) as usize;
        let start = self.entries_range(copy).start + (index - 1) * size;
        &mut self.bytes[start..start + size]
    }

    pub fn set_entry64(&mut self, copy: Side, index: usize, field: usize, v: u64) {
        self.entry_mut(copy, index)[field..field + 8].copy_from_slice(&v.to_le_bytes());
    }

    pub fn entry64(&self, copy: Side, index: usize, field: usize) -> u64 {
        let size = self.get32(copy, ENTRY_SIZE) as usize;
        let at = self.entries_range(copy).start + (index - 1) * size + field;
        u64::from_le_bytes(self.bytes[at..at + 8].try_into().unwrap())
    }

    /// recomputes the entry-array CRC, then the header CRC.
    pub fn fix_entries_crc(&mut self, copy: Side) {
        let crc = crc32(&self.bytes[self.entries_range(copy)]);
        self.set32(copy, ENTRIES_CRC, crc);
        self.fix_header_crc(copy);
    }

    /// fixes both CRCs of both copies.
    pub fn fix_all(&mut self) {
        for c in BOTH {
            self.fix_entries_crc(c);
        }
    }
}
