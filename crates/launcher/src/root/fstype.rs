//! Which filesystem a partition holds, from its superblock magic (no blkid): the kernel is
//! then asked to mount exactly that type.

/// How many bytes of a partition [`sniff`] needs (btrfs' magic ends at 64 KiB + 72).
pub const HEAD_BYTES: usize = 0x10000 + 0x48;

fn at(head: &[u8], offset: usize, magic: &[u8]) -> bool {
    head.get(offset..offset + magic.len()) == Some(magic)
}

/// The kernel filesystem type of a partition starting with `head` (at most [`HEAD_BYTES`]
/// bytes are looked at; a shorter head only finds filesystems whose magic it contains):
/// `ext4` (also ext2/3), `btrfs`, `xfs`, `vfat`, `squashfs`, `erofs`. `None` when unknown.
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    // ext2/3/4: superblock at 1024, s_magic 0xEF53 (LE) at offset 0x38.
    if at(head, 1024 + 0x38, &[0x53, 0xef]) {
        return Some("ext4");
    }
    // erofs: superblock at 1024, magic 0xE0F5E1E2 (LE).
    if at(head, 1024, &[0xe2, 0xe1, 0xf5, 0xe0]) {
        return Some("erofs");
    }
    // xfs: "XFSB" at 0.
    if at(head, 0, b"XFSB") {
        return Some("xfs");
    }
    // squashfs: "hsqs" at 0 (little-endian squashfs 4).
    if at(head, 0, b"hsqs") {
        return Some("squashfs");
    }
    // btrfs: "_BHRfS_M" at 64 KiB + 0x40.
    if at(head, 0x10040, b"_BHRfS_M") {
        return Some("btrfs");
    }
    // FAT: boot sector signature 55 AA and a FAT type string (FAT12/16 at 0x36, FAT32 at 0x52).
    if at(head, 510, &[0x55, 0xaa]) && (at(head, 0x36, b"FAT") || at(head, 0x52, b"FAT32")) {
        return Some("vfat");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(offset: usize, magic: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; HEAD_BYTES];
        v[offset..offset + magic.len()].copy_from_slice(magic);
        v
    }

    #[test]
    fn magics() {
        assert_eq!(sniff(&with(0x438, &[0x53, 0xef])), Some("ext4"));
        assert_eq!(sniff(&with(1024, &[0xe2, 0xe1, 0xf5, 0xe0])), Some("erofs"));
        assert_eq!(sniff(&with(0, b"XFSB")), Some("xfs"));
        assert_eq!(sniff(&with(0, b"hsqs")), Some("squashfs"));
        assert_eq!(sniff(&with(0x10040, b"_BHRfS_M")), Some("btrfs"));
        let mut fat = with(0x52, b"FAT32   ");
        fat[510] = 0x55;
        fat[511] = 0xaa;
        assert_eq!(sniff(&fat), Some("vfat"));
        let mut fat16 = with(0x36, b"FAT16   ");
        fat16[510] = 0x55;
        fat16[511] = 0xaa;
        assert_eq!(sniff(&fat16), Some("vfat"));
        // The boot signature alone (an MBR) is not a filesystem.
        let mut mbr = vec![0u8; 512];
        mbr[510] = 0x55;
        mbr[511] = 0xaa;
        assert_eq!(sniff(&mbr), None);
        assert_eq!(sniff(&[0u8; HEAD_BYTES]), None);
        // Short or empty input never panics.
        assert_eq!(sniff(&[]), None);
        assert_eq!(sniff(&[0x58, 0x46]), None);
        assert_eq!(sniff(&with(0x438, &[0x53, 0xef])[..0x439]), None);
    }
}
