//! Which parts of a raw disk image become which directories of the machine: the
//! Discoverable Partitions Specification, as systemd-nspawn applies it (root for the host's
//! architecture, `/usr`, `/home`, `/srv`, `/var`, `/var/tmp`, the ESP and XBOOTLDR), or a
//! single unpartitioned filesystem.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use wharf_gpt::{Arch, Designator, Table};

use super::fstype;

/// One filesystem of the image to mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    /// What it is (`root`, `home`, …, `esp`).
    pub designator: &'static str,
    /// GPT entry number (0 for an unpartitioned image).
    pub index: u32,
    /// Byte range in the image (`size` 0 = to the end).
    pub offset: u64,
    pub size: u64,
    /// The GPT read-only attribute (bit 60).
    pub read_only: bool,
    /// Filesystem type for mount(2).
    pub fstype: &'static str,
    /// Mount point relative to the machine's root (`""` for the root itself); for the ESP
    /// see [`esp_mountpoint`].
    pub mountpoint: PathBuf,
}

/// The non-root designators nspawn mounts, with their mount points.
const OTHERS: [(Designator, &str); 7] = [
    (Designator::Usr, "usr"),
    (Designator::Home, "home"),
    (Designator::Srv, "srv"),
    (Designator::Var, "var"),
    (Designator::Tmp, "var/tmp"),
    (Designator::Xbootldr, "boot"),
    (Designator::Esp, "efi"),
];

/// Where the ESP goes (systemd's rule): `/efi` when the image has it or has an XBOOTLDR
/// partition (which takes `/boot`), else `/boot` when the image has that directory, else `/efi`.
pub(crate) fn esp_mountpoint(has_xbootldr: bool, has_efi: bool, has_boot: bool) -> &'static str {
    if has_efi || has_xbootldr || !has_boot {
        "efi"
    } else {
        "boot"
    }
}

fn read_head<R: Read + Seek>(r: &mut R, offset: u64, size: u64) -> Result<Vec<u8>> {
    let len = if size == 0 {
        fstype::HEAD_BYTES as u64
    } else {
        size.min(fstype::HEAD_BYTES as u64)
    };
    r.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::with_capacity(len as usize);
    r.take(len).read_to_end(&mut buf)?;
    Ok(buf)
}

/// The filesystems of image `r` to mount on an `arch` host, root first then by mount point.
pub(crate) fn plan<R: Read + Seek>(r: &mut R, arch: Arch) -> Result<Vec<Part>> {
    let table = match wharf_gpt::read_table(&mut *r) {
        Ok(t) => t,
        Err(wharf_gpt::Error::NoGpt) => {
            let head = read_head(r, 0, 0).context("read the image")?;
            let Some(fstype) = fstype::sniff(&head) else {
                bail!("no partition table and no known filesystem (ext4, btrfs, xfs, vfat, squashfs, erofs)");
            };
            return Ok(vec![Part {
                designator: "root",
                index: 0,
                offset: 0,
                size: 0,
                read_only: false,
                fstype,
                mountpoint: PathBuf::new(),
            }]);
        }
        Err(e) => return Err(e).context("read the partition table"),
    };
    plan_table(&table, arch, |offset, size| read_head(r, offset, size))
}

fn plan_table(
    table: &Table,
    arch: Arch,
    mut head: impl FnMut(u64, u64) -> Result<Vec<u8>>,
) -> Result<Vec<Part>> {
    let ss = table.sector_size;
    let Some(root) = wharf_gpt::choose_root_or_generic(table, arch) else {
        bail!(
            "no root partition for {} (a DPS root partition, or a single Linux filesystem partition)",
            arch.name()
        );
    };
    let mut chosen = vec![("root", root, String::new())];
    for (d, mp) in OTHERS {
        if let Some(p) = wharf_gpt::choose(table, d, arch) {
            if p.index != root.index {
                chosen.push((d.name(), p, mp.to_string()));
            }
        }
    }
    let mut parts = Vec::new();
    for (designator, p, mp) in chosen {
        let offset = p.offset_bytes(ss);
        let size = p.size_bytes(ss);
        let h = head(offset, size)
            .with_context(|| format!("read partition {} ({designator})", p.index))?;
        let Some(fstype) = fstype::sniff(&h) else {
            bail!(
                "partition {} ({designator}): unknown filesystem (ext4, btrfs, xfs, vfat, squashfs, erofs are supported)",
                p.index
            );
        };
        parts.push(Part {
            designator,
            index: p.index,
            offset,
            size,
            read_only: p.read_only(),
            fstype,
            mountpoint: PathBuf::from(mp),
        });
    }
    parts.sort_by(|a, b| a.mountpoint.cmp(&b.mountpoint));
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esp_rules() {
        assert_eq!(esp_mountpoint(false, true, true), "efi");
        assert_eq!(esp_mountpoint(false, false, true), "boot");
        assert_eq!(esp_mountpoint(true, false, true), "efi");
        assert_eq!(esp_mountpoint(false, false, false), "efi");
    }

    #[test]
    fn unpartitioned_and_garbage() {
        let mut ext4 = vec![0u8; 1 << 20];
        ext4[0x438] = 0x53;
        ext4[0x439] = 0xef;
        let parts = plan(&mut std::io::Cursor::new(ext4), Arch::X86_64).unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!((parts[0].fstype, parts[0].size), ("ext4", 0));
        let err = plan(&mut std::io::Cursor::new(vec![0u8; 1 << 20]), Arch::X86_64).unwrap_err();
        assert!(format!("{err:#}").contains("no partition table"), "{err:#}");
        assert!(plan(&mut std::io::Cursor::new(Vec::new()), Arch::X86_64).is_err());
    }
}
