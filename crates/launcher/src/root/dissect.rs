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

    fn part(index: u32, ty: wharf_gpt::Guid, name: &str, attributes: u64) -> wharf_gpt::Partition {
        wharf_gpt::Partition {
            index,
            type_guid: ty,
            uuid: wharf_gpt::Guid::ZERO,
            first_lba: u64::from(index) * 1000,
            last_lba: u64::from(index) * 1000 + 999,
            attributes,
            name: name.into(),
        }
    }

    fn table(partitions: Vec<wharf_gpt::Partition>) -> Table {
        Table {
            sector_size: 512,
            disk_guid: wharf_gpt::Guid::ZERO,
            first_usable: 34,
            last_usable: 1 << 30,
            partitions,
            used_backup: false,
        }
    }

    /// Every partition holds ext4, except those starting at `bad` (no known magic).
    fn heads(bad: u64) -> impl FnMut(u64, u64) -> Result<Vec<u8>> {
        move |offset, _| {
            let mut h = vec![0u8; fstype::HEAD_BYTES];
            if offset != bad {
                h[0x438] = 0x53;
                h[0x439] = 0xef;
            }
            Ok(h)
        }
    }

    #[test]
    fn dps_partitions_get_their_mount_points() {
        use wharf_gpt::{type_guid, ATTR_NO_AUTO, ATTR_READ_ONLY, LINUX_GENERIC};
        let x64 = |d| type_guid(d, Some(Arch::X86_64)).unwrap();
        let shared = |d| type_guid(d, None).unwrap();
        let t = table(vec![
            part(1, shared(Designator::Esp), "esp", 0),
            part(2, x64(Designator::Root), "os_1.0", 0),
            part(3, x64(Designator::Root), "os_3.0", ATTR_NO_AUTO),
            part(4, x64(Designator::Root), "os_2.0", 0),
            part(5, shared(Designator::Home), "home", ATTR_READ_ONLY),
            part(6, shared(Designator::Tmp), "tmp", 0),
            part(7, shared(Designator::Swap), "swap", 0),
            part(8, LINUX_GENERIC, "data", 0),
            part(9, x64(Designator::Usr), "usr", ATTR_NO_AUTO),
        ]);
        let parts = plan_table(&t, Arch::X86_64, heads(u64::MAX)).unwrap();
        let got: Vec<(&str, u32, &str, bool)> = parts
            .iter()
            .map(|p| {
                (
                    p.designator,
                    p.index,
                    p.mountpoint.to_str().unwrap(),
                    p.read_only,
                )
            })
            .collect();
        // The highest usable version wins the root; no-auto, swap and generic data are left out.
        assert_eq!(
            got,
            [
                ("root", 4, "", false),
                ("esp", 1, "efi", false),
                ("home", 5, "home", true),
                ("tmp", 6, "var/tmp", false),
            ]
        );
        assert_eq!((parts[0].offset, parts[0].size), (4000 * 512, 1000 * 512));
        // An unknown filesystem is a clear error naming the partition.
        let err = plan_table(&t, Arch::X86_64, heads(5000 * 512)).unwrap_err();
        assert!(format!("{err:#}").contains("partition 5 (home)"), "{err:#}");
    }

    #[test]
    fn generic_root_fallback_and_missing_root() {
        use wharf_gpt::LINUX_GENERIC;
        let one = table(vec![part(1, LINUX_GENERIC, "data", 0)]);
        let parts = plan_table(&one, Arch::X86_64, heads(u64::MAX)).unwrap();
        assert_eq!((parts[0].designator, parts[0].index), ("root", 1));
        let two = table(vec![
            part(1, LINUX_GENERIC, "a", 0),
            part(2, LINUX_GENERIC, "b", 0),
        ]);
        let err = plan_table(&two, Arch::X86_64, heads(u64::MAX)).unwrap_err();
        assert!(
            err.to_string().contains("no root partition for x86-64"),
            "{err}"
        );
        // An arm64 root is no root on x86-64.
        let arm = table(vec![part(
            1,
            wharf_gpt::type_guid(Designator::Root, Some(Arch::Arm64)).unwrap(),
            "",
            0,
        )]);
        assert!(plan_table(&arm, Arch::X86_64, heads(u64::MAX)).is_err());
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
