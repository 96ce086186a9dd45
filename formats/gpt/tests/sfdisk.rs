//! Tables written by `sfdisk` read back field for field, and the DPS rules applied to them.

mod common;

use common::types::*;
use common::{assert_matches_sfdisk, sfdisk_json, Image, LoopDev};
use wharf_gpt::{
    choose, choose_root, choose_root_or_generic, classify, type_name, Arch, Designator,
    ATTR_GROWFS, ATTR_NO_AUTO, ATTR_READ_ONLY, ATTR_REQUIRED,
};

/// an ESP, five x86-64 roots (one
/// read-only, one no-auto with the highest version), a growfs /usr, home, swap, and roots of
/// other architectures.
fn dps_script() -> String {
    format!(
        "label: gpt
label-id: 5A4B3C2D-1E0F-4A1B-8C2D-3E4F5A6B7C8D
size=4MiB, type={ESP}, name=\"esp\"
size=8MiB, type={ROOT_X86_64}, name=\"root-1.2\"
size=8MiB, type={ROOT_X86_64}, name=\"root-1.10\", attrs=\"GUID:60\"
size=8MiB, type={ROOT_X86_64}, name=\"root-1.10~rc1\"
size=8MiB, type={ROOT_X86_64}, name=\"root-2.0\", attrs=\"GUID:63\"
size=8MiB, type={USR_X86_64}, name=\"usr-1.10\", attrs=\"GUID:59\"
size=4MiB, type={HOME}, name=\"home\", attrs=\"RequiredPartition GUID:59,60\"
size=2MiB, type={SWAP}, name=\"swap\"
size=2MiB, type={ROOT_ARM64}, name=\"root-9\"
size=2MiB, type={ROOT_X86}, name=\"root-5.0\"
size=1MiB, type={GENERIC}, name=\"Grüße, data ⛵\"
"
    )
}

#[test]
fn sfdisk_table_reads_back_exactly() {
    let img = Image::sfdisk(64 << 20, &dps_script());
    let table = img.read_table().unwrap();
    assert_matches_sfdisk(&table, &sfdisk_json(&img.path));
    assert!(!table.used_backup);
    assert_eq!(table.sector_size, 512);
    assert_eq!(
        table.disk_guid.to_string(),
        "5a4b3c2d-1e0f-4a1b-8c2d-3e4f5a6b7c8d"
    );
    assert_eq!(table.partitions.len(), 11);
    // spot checks independent of sfdisk's own reading.
    let p = |i| table.partition(i).unwrap();
    assert_eq!(p(1).first_lba, 2048);
    assert_eq!(p(1).size_bytes(512), 4 << 20);
    assert_eq!(p(11).name, "Grüße, data ⛵");
    assert!(p(3).read_only() && !p(3).no_auto() && !p(3).growfs());
    assert!(p(5).no_auto() && p(5).attributes == ATTR_NO_AUTO);
    assert!(p(6).growfs());
    assert_eq!(
        p(7).attributes,
        ATTR_REQUIRED | ATTR_GROWFS | ATTR_READ_ONLY
    );
    assert!(p(7).required());
    assert!(table.partition(12).is_none());
}

#[test]
fn type_names_and_classification() {
    let table = Image::sfdisk(64 << 20, &dps_script()).read_table().unwrap();
    let names: Vec<_> = table
        .partitions
        .iter()
        .map(|p| type_name(&p.type_guid).unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "esp",
            "root-x86-64",
            "root-x86-64",
            "root-x86-64",
            "root-x86-64",
            "usr-x86-64",
            "home",
            "swap",
            "root-arm64",
            "root-x86",
            "linux-generic"
        ]
    );
    let p2 = table.partition(2).unwrap();
    assert_eq!(
        classify(&p2.type_guid),
        Some((Designator::Root, Some(Arch::X86_64)))
    );
}

#[test]
fn root_selection() {
    let table = Image::sfdisk(64 << 20, &dps_script()).read_table().unwrap();
    // root-2.0 is newest but no-auto; root-1.10 beats root-1.10~rc1 and root-1.2.
    let root = choose_root(&table, Arch::X86_64).unwrap();
    assert_eq!((root.index, root.name.as_str()), (3, "root-1.10"));
    assert!(root.read_only());
    assert_eq!(choose_root(&table, Arch::Arm64).unwrap().name, "root-9");
    assert_eq!(choose_root(&table, Arch::X86).unwrap().name, "root-5.0");
    assert_eq!(choose_root(&table, Arch::Arm), None);
    let pick = |d| choose(&table, d, Arch::X86_64).map(|p| p.index);
    assert_eq!(pick(Designator::Usr), Some(6));
    assert_eq!(pick(Designator::Esp), Some(1));
    assert_eq!(pick(Designator::Home), Some(7));
    assert_eq!(pick(Designator::Swap), Some(8));
    assert_eq!(pick(Designator::Srv), None);
    assert_eq!(pick(Designator::RootVerity), None);
    assert_eq!(
        choose_root_or_generic(&table, Arch::X86_64).unwrap().index,
        3
    );
}

#[test]
fn secondary_arch_and_ties() {
    let script = format!(
        "label: gpt
size=1MiB, type={ROOT_X86}, name=\"os_3\"
size=1MiB, type={ROOT_X86}, name=\"os_10\"
size=1MiB, type={ROOT_X86}, name=\"os_010\"
size=1MiB, type={ROOT_ARM64}, name=\"os_99\"
"
    );
    let table = Image::sfdisk(8 << 20, &script).read_table().unwrap();
    // no native root: the x86 ones count, os_10 and os_010 tie and the first wins.
    assert_eq!(choose_root(&table, Arch::X86_64).unwrap().index, 2);
    assert_eq!(choose_root(&table, Arch::Arm64).unwrap().index, 4);
    // unlabelled roots: all versions tie (empty), the first wins.
    let script =
        format!("label: gpt\nsize=1MiB, type={ROOT_X86_64}\nsize=1MiB, type={ROOT_X86_64}\n");
    let table = Image::sfdisk(8 << 20, &script).read_table().unwrap();
    assert_eq!(choose_root(&table, Arch::X86_64).unwrap().index, 1);
}

#[test]
fn generic_partition_fallback() {
    let one = format!("label: gpt\nsize=1MiB, type={ESP}\nsize=1MiB, type={GENERIC}\n");
    let table = Image::sfdisk(8 << 20, &one).read_table().unwrap();
    assert_eq!(choose_root(&table, Arch::X86_64), None);
    assert_eq!(
        choose_root_or_generic(&table, Arch::X86_64).unwrap().index,
        2
    );
    let two = format!("label: gpt\nsize=1MiB, type={GENERIC}\nsize=1MiB, type={GENERIC}\n");
    let table = Image::sfdisk(8 << 20, &two).read_table().unwrap();
    assert_eq!(choose_root_or_generic(&table, Arch::X86_64), None);
    let no_auto = format!(
        "label: gpt\nsize=1MiB, type={GENERIC}, attrs=\"GUID:63\"\nsize=1MiB, type={GENERIC}\n"
    );
    let table = Image::sfdisk(8 << 20, &no_auto).read_table().unwrap();
    assert_eq!(
        choose_root_or_generic(&table, Arch::X86_64).unwrap().index,
        2
    );
    let with_usr = format!("label: gpt\nsize=1MiB, type={USR_X86_64}\nsize=1MiB, type={GENERIC}\n");
    let table = Image::sfdisk(8 << 20, &with_usr).read_table().unwrap();
    assert_eq!(choose_root_or_generic(&table, Arch::X86_64), None);
}

#[test]
fn empty_table_and_mbr_only() {
    let table = Image::sfdisk(4 << 20, "label: gpt\n").read_table().unwrap();
    assert!(table.partitions.is_empty());
    assert_eq!(choose_root(&table, Arch::X86_64), None);
    let mbr = Image::sfdisk(4 << 20, "label: dos\nsize=1MiB, type=83\n");
    assert!(matches!(mbr.read_table(), Err(wharf_gpt::Error::NoGpt)));
}

#[test]
fn sector_size_4096() {
    let img = Image::sparse(16 << 20);
    let script = format!(
        "label: gpt
size=2MiB, type={ESP}, name=\"esp\"
size=4MiB, type={ROOT_X86_64}, name=\"root-2\", attrs=\"GUID:59\"
size=4MiB, type={ROOT_X86_64}, name=\"root-10\"
"
    );
    let json = {
        let dev = LoopDev::attach(&img.path, &["--sector-size", "4096"]);
        common::sfdisk_write(dev.dev.as_ref(), &script);
        sfdisk_json(dev.dev.as_ref())
    };
    let table = img.read_table().unwrap();
    assert_eq!(table.sector_size, 4096);
    assert!(!table.used_backup);
    assert_matches_sfdisk(&table, &json);
    let root = choose_root(&table, Arch::X86_64).unwrap();
    assert_eq!(root.name, "root-10");
    assert_eq!(root.size_bytes(4096), 4 << 20);

    // with the primary header damaged, the backup at the last 4 KiB sector is used.
    let mut gpt = common::patch::Gpt::new(img.bytes(), 4096);
    gpt.bytes[4096 + 60] ^= 0xff;
    let t = common::parse(&gpt.bytes).unwrap();
    assert!(t.used_backup);
    assert_eq!((t.sector_size, &t.partitions), (4096, &table.partitions));
}

#[test]
fn tiny_tables_and_fuzz_seeds() {
    // sfdisk's smallest layout: 8 sectors, a 4-entry array; read back exactly.
    let script = format!(
        "label: gpt\ntable-length: 4\nfirst-lba: 3\nlast-lba: 5\n\
         start=3, size=1, type={ROOT_X86_64}, name=\"a\"\nstart=5, size=1, type={ESP}\n"
    );
    let img = Image::sfdisk(4096, &script);
    let table = img.read_table().unwrap();
    assert_matches_sfdisk(&table, &sfdisk_json(&img.path));
    assert_eq!((table.first_usable, table.last_usable), (3, 5));

    // the committed fuzz seeds (fuzz/make-seeds.sh) are what they claim to be.
    let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let read = |name: &str| common::parse(&std::fs::read(seeds.join(name)).unwrap()).unwrap();
    let tiny = read("tiny-512");
    assert_eq!(tiny.partitions.len(), 3);
    assert_eq!(choose_root(&tiny, Arch::X86_64).unwrap().name, "root-1.2");
    let backup = read("backup-only-512");
    assert!(backup.used_backup);
    assert_eq!(backup.partitions, tiny.partitions);
    assert!(read("empty-512").partitions.is_empty());
    let dps = read("dps-512");
    assert_eq!(choose_root(&dps, Arch::X86_64).unwrap().name, "root-1.10");
    assert_eq!(choose_root(&dps, Arch::X86).unwrap().name, "root-x86_3");
    let big = read("tiny-4096");
    assert_eq!((big.sector_size, big.partitions.len()), (4096, 2));
    assert_eq!(choose_root(&big, Arch::X86_64).unwrap().name, "root-10");
}
