//! Images made by qemu-img: copy_to_raw, read_at and extents against `qemu-img convert -O raw`
//! and `qemu-img map`.

mod common;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use common::*;
use wharf_qcow2::{CompressionType, Extent, Options, RawBacking, Reader};

/// Converts `raw` with qemu-img into `img` (options `-o …` and maybe `-c`), checks our raw
/// output against qemu's, holes included, and returns our reader's header for checks.
fn check_image(dir: &TempDir, raw: &Path, o: &str, compress: bool) -> wharf_qcow2::Header {
    let img = dir.join("img.qcow2");
    let mut args = vec!["convert", "-f", "raw", "-O", "qcow2", "-o", o];
    if compress {
        args.push("-c");
    }
    args.extend([s(raw), s(&img)]);
    qemu_img(&args);
    let (theirs, ours) = (dir.join("theirs.raw"), dir.join("ours.raw"));
    qemu_img(&["convert", "-O", "raw", s(&img), s(&theirs)]);
    our_raw(&img, &ours, &Options::default());
    assert_same_file(&theirs, &ours);
    let (b_ours, b_theirs) = (blocks(&ours), blocks(&theirs));
    assert!(
        b_ours <= b_theirs + 64,
        "{o} -c={compress}: our output allocates {b_ours} blocks, qemu's {b_theirs}"
    );
    assert!(b_ours < 8 << 10, "{o}: holes were filled ({b_ours} blocks)");
    check_extents_and_reads(&img, &theirs);
    let r = Reader::open(File::open(&img).unwrap(), &Options::default()).unwrap();
    r.header().clone()
}

/// Extents tile the disk, alternate, and zero extents read as zeros in the reference; the
/// data extents of an uncompressed image are exactly qemu-img map's data ranges; read_at
/// agrees with the reference at awkward offsets.
fn check_extents_and_reads(img: &Path, reference: &Path) {
    let mut r = Reader::open(File::open(img).unwrap(), &Options::default()).unwrap();
    let size = r.virtual_size();
    let extents: Vec<Extent> = r.extents().collect::<Result<_, _>>().unwrap();
    let mut pos = 0;
    for (i, e) in extents.iter().enumerate() {
        assert_eq!(e.offset(), pos);
        assert!(!e.is_empty());
        if i > 0 {
            assert_ne!(e.is_data(), extents[i - 1].is_data(), "extents not merged");
        }
        pos = e.end();
    }
    assert_eq!(pos, size);

    let map = qemu_img(&["map", "--output=json", s(img)]);
    let mut qemu_data = Vec::<(u64, u64)>::new();
    for line in map.lines().filter(|l| l.contains("\"start\"")) {
        let num = |key: &str| -> u64 {
            let at = line.find(key).unwrap() + key.len();
            let rest = line[at..].trim_start_matches([':', ' ']);
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            rest[..end].parse().unwrap()
        };
        if line.contains("\"data\": true") {
            let (start, len) = (num("\"start\""), num("\"length\""));
            match qemu_data.last_mut() {
                Some(last) if last.0 + last.1 == start => last.1 += len,
                _ => qemu_data.push((start, len)),
            }
        }
    }
    let ours: Vec<(u64, u64)> = extents
        .iter()
        .filter(|e| e.is_data())
        .map(|e| (e.offset(), e.len()))
        .collect();
    assert_eq!(ours, qemu_data, "data extents differ from qemu-img map");

    let mut f = File::open(reference).unwrap();
    let mut probe = |off: u64, len: usize| {
        let mut want = vec![0u8; len];
        f.seek(SeekFrom::Start(off)).unwrap();
        let n = f.read(&mut want).unwrap();
        let mut got = vec![0xa5u8; len];
        let m = r.read_at(off, &mut got).unwrap();
        assert_eq!(m, (size.saturating_sub(off)).min(len as u64) as usize);
        assert_eq!(&got[..m], &want[..m.min(n)], "read_at({off}, {len})");
    };
    for (off, len) in [
        (0, 1),
        (511, 70_000),
        ((1 << 20) + 3 * 4096 - 7, 300 * 1024 + 20),
        ((5 << 20) - 100, 300 * 1024),
        ((7 << 20) + 500, 600),
        ((512 << 20) - 4096, 8192),
        ((600 << 20) + 12_000, 2 << 20),
        (size - 7000, 10_000),
        (size, 10),
        (size + 4096, 10),
    ] {
        probe(off, len);
    }
}

#[test]
fn v2_and_v3_plain_and_compressed_all_cluster_sizes() {
    let dir = TempDir::new("matrix");
    let raw = dir.join("src.raw");
    make_raw(&raw);
    for compat in ["0.10", "1.1"] {
        for cluster in [4096, 65536, 2 << 20] {
            for compress in [false, true] {
                let o = format!("compat={compat},cluster_size={cluster}");
                let h = check_image(&dir, &raw, &o, compress);
                assert_eq!(h.version, if compat == "0.10" { 2 } else { 3 });
                assert_eq!(1u64 << h.cluster_bits, cluster);
                assert_eq!(h.size, RAW_SIZE);
                assert_eq!(h.compression, CompressionType::Zlib);
            }
            if compat == "1.1" {
                let o = format!("compat=1.1,cluster_size={cluster},compression_type=zstd");
                let h = check_image(&dir, &raw, &o, true);
                assert_eq!(h.compression, CompressionType::Zstd);
            }
        }
    }
}

#[test]
fn smallest_clusters() {
    let dir = TempDir::new("c512");
    let raw = dir.join("src.raw");
    make_raw(&raw);
    // 1 GiB with 512-byte clusters needs a 256 KiB L1 table and many L2 tables.
    check_image(&dir, &raw, "cluster_size=512", false);
    check_image(&dir, &raw, "cluster_size=512,compression_type=zstd", true);
}

#[test]
fn extended_l2_subclusters() {
    let dir = TempDir::new("extl2");
    let raw = dir.join("src.raw");
    make_raw(&raw);
    for cluster in [16384, 65536, 2 << 20] {
        let h = check_image(
            &dir,
            &raw,
            &format!("extended_l2=on,cluster_size={cluster}"),
            false,
        );
        assert!(h.extended_l2);
        check_image(
            &dir,
            &raw,
            &format!("extended_l2=on,cluster_size={cluster}"),
            true,
        );
    }
    // Subcluster writes into an empty image: allocated, zeroed and unallocated subclusters
    // in one cluster, over a backing-less image.
    let img = dir.join("sub.qcow2");
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        "-o",
        "extended_l2=on",
        s(&img),
        "4M",
    ]);
    qemu_io(s(&img), "write -P 0x61 2048 2048");
    qemu_io(s(&img), "write -P 0x62 65536 8192");
    qemu_io(s(&img), "write -z 69632 2048");
    qemu_io(s(&img), "write -P 0x63 100000 50000");
    qemu_io(s(&img), "write -z 4096 4096");
    let (theirs, ours) = (dir.join("theirs.raw"), dir.join("ours.raw"));
    qemu_img(&["convert", "-O", "raw", s(&img), s(&theirs)]);
    our_raw(&img, &ours, &Options::default());
    assert_same_file(&theirs, &ours);
    check_extents_and_reads(&img, &theirs);
}

#[test]
fn preallocation_snapshots_bitmaps_dirty() {
    let dir = TempDir::new("misc");
    let (theirs, ours) = (dir.join("theirs.raw"), dir.join("ours.raw"));
    let img = dir.join("p.qcow2");
    for pre in ["metadata", "falloc", "full"] {
        qemu_img(&[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-o",
            &format!("preallocation={pre}"),
            s(&img),
            "10M",
        ]);
        qemu_io(s(&img), "write -P 0x55 1M 100k");
        qemu_io(s(&img), "write -z 3M 128k");
        qemu_img(&["convert", "-O", "raw", s(&img), s(&theirs)]);
        our_raw(&img, &ours, &Options::default());
        assert_same_file(&theirs, &ours);
    }
    // Internal snapshot (shared clusters) and a persistent bitmap: the active image is read.
    qemu_img(&["create", "-q", "-f", "qcow2", s(&img), "10M"]);
    qemu_io(s(&img), "write -P 0x11 0 1M");
    qemu_img(&["snapshot", "-c", "snap1", s(&img)]);
    qemu_io(s(&img), "write -P 0x22 512k 1M");
    qemu_img(&["bitmap", "--add", s(&img), "bm0"]);
    qemu_img(&["convert", "-O", "raw", s(&img), s(&theirs)]);
    our_raw(&img, &ours, &Options::default());
    assert_same_file(&theirs, &ours);
    // The dirty bit (refcounts may be stale) does not matter for reading.
    let mut b = std::fs::read(&img).unwrap();
    b[79] |= 1;
    std::fs::write(&img, &b).unwrap();
    our_raw(&img, &ours, &Options::default());
    assert_same_file(&theirs, &ours);
    let r = Reader::open(File::open(&img).unwrap(), &Options::default()).unwrap();
    assert!(r.header().dirty);
}

#[test]
fn overlay_over_raw_and_qcow2_backing() {
    let dir = TempDir::new("backing");
    let base_raw = dir.join("base.raw");
    File::create(&base_raw).unwrap().set_len(3 << 20).unwrap();
    write_at(&base_raw, 0, &pattern(3 << 20, 9, true));
    let base_q = dir.join("base.qcow2");
    qemu_img(&[
        "convert",
        "-f",
        "raw",
        "-O",
        "qcow2",
        "-c",
        s(&base_raw),
        s(&base_q),
    ]);
    let (theirs, ours) = (dir.join("theirs.raw"), dir.join("ours.raw"));
    for (base, fmt) in [(&base_raw, "raw"), (&base_q, "qcow2")] {
        let ov = dir.join(&format!("overlay-{fmt}.qcow2"));
        // The overlay is larger than its backing image: the tail reads as zeros.
        qemu_img(&[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-b",
            s(base),
            "-F",
            fmt,
            s(&ov),
            "8M",
        ]);
        qemu_io(s(&ov), "write -P 0x77 1M 64k");
        qemu_io(s(&ov), "write -z 2M 64k");
        qemu_io(s(&ov), "write -P 0x78 5M 64k");
        qemu_img(&["convert", "-O", "raw", s(&ov), s(&theirs)]);

        let err = Reader::open(File::open(&ov).unwrap(), &Options::default())
            .err()
            .unwrap();
        assert!(
            matches!(&err, wharf_qcow2::Error::BackingFile(n) if n == s(base)),
            "{err}"
        );

        let allow = Options {
            allow_backing_file: true,
        };
        let mut r = Reader::open(File::open(&ov).unwrap(), &allow).unwrap();
        assert_eq!(r.header().backing_format.as_deref(), Some(fmt));
        // Without the backing image attached, unallocated clusters cannot be read.
        let mut sink = std::io::Cursor::new(Vec::new());
        let err = r.copy_to_raw(&mut sink, &mut |_| {}).unwrap_err();
        assert!(
            matches!(err, wharf_qcow2::Error::MissingBacking(_)),
            "{err}"
        );

        let backing: Box<dyn wharf_qcow2::ReadAt> = if fmt == "raw" {
            // A raw backing file as a File (pread) and through RawBacking (Read + Seek).
            let mut via_cursor = Reader::open(File::open(&ov).unwrap(), &allow)
                .unwrap()
                .with_backing(Box::new(
                    RawBacking::new(std::io::Cursor::new(std::fs::read(base).unwrap())).unwrap(),
                ));
            let mut f = File::create(&ours).unwrap();
            via_cursor.copy_to_raw(&mut f, &mut |_| {}).unwrap();
            f.set_len(via_cursor.virtual_size()).unwrap();
            assert_same_file(&theirs, &ours);
            Box::new(File::open(base).unwrap())
        } else {
            Box::new(Reader::open(File::open(base).unwrap(), &Options::default()).unwrap())
        };
        let mut r = r.with_backing(backing);
        let mut f = File::create(&ours).unwrap();
        r.copy_to_raw(&mut f, &mut |_| {}).unwrap();
        f.set_len(r.virtual_size()).unwrap();
        assert_same_file(&theirs, &ours);
        // Backing data counts as data: 3 MiB of backing image minus the zeroed 64 KiB, plus
        // the cluster written past the backing image's end.
        assert_eq!(
            r.allocated_bytes().unwrap(),
            (3 << 20) - (64 << 10) + (64 << 10)
        );
        let ext: Vec<Extent> = r.extents().collect::<Result<_, _>>().unwrap();
        assert_eq!(
            ext,
            vec![
                Extent::Data {
                    offset: 0,
                    len: 2 << 20
                },
                Extent::Zero {
                    offset: 2 << 20,
                    len: 64 << 10
                },
                Extent::Data {
                    offset: (2 << 20) + (64 << 10),
                    len: (1 << 20) - (64 << 10)
                },
                Extent::Zero {
                    offset: 3 << 20,
                    len: 2 << 20
                },
                Extent::Data {
                    offset: 5 << 20,
                    len: 64 << 10
                },
                Extent::Zero {
                    offset: (5 << 20) + (64 << 10),
                    len: (3 << 20) - (64 << 10)
                },
            ]
        );
    }
}

#[test]
fn reader_over_cursor() {
    let dir = TempDir::new("cursor");
    let raw = dir.join("small.raw");
    File::create(&raw).unwrap().set_len(1 << 20).unwrap();
    write_at(&raw, 4096, &pattern(100_000, 7, false));
    let img = dir.join("small.qcow2");
    qemu_img(&[
        "convert",
        "-f",
        "raw",
        "-O",
        "qcow2",
        "-c",
        s(&raw),
        s(&img),
    ]);
    let bytes = std::fs::read(&img).unwrap();
    let mut r = Reader::open(std::io::Cursor::new(bytes), &Options::default()).unwrap();
    let mut out = std::io::Cursor::new(Vec::new());
    r.copy_to_raw(&mut out, &mut |_| {}).unwrap();
    let mut got = out.into_inner();
    got.resize(1 << 20, 0);
    assert_eq!(got, std::fs::read(&raw).unwrap());
}
