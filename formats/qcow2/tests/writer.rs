//! raw → qcow2: `qemu-img check` finds no errors and no leaks, `qemu-img compare` finds the
//! images identical, and our reader reads back the raw bytes.

mod common;

use std::fs::File;
use std::io::Cursor;
use std::path::Path;

use common::*;
use wharf_qcow2::{write_qcow2, CompressionType, Options, Reader, WriteOptions};

const MODES: [Option<CompressionType>; 3] = [
    None,
    Some(CompressionType::Zlib),
    Some(CompressionType::Zstd),
];

fn write(raw: &Path, img: &Path, opts: &WriteOptions) {
    let size = std::fs::metadata(raw).unwrap().len();
    let mut done = 0;
    write_qcow2(
        File::open(raw).unwrap(),
        size,
        File::create(img).unwrap(),
        opts,
        &mut |d| {
            assert!(d > 0);
            done += d;
        },
    )
    .unwrap();
    assert_eq!(done, size, "progress steps add up to the raw size");
}

/// qemu-img check is clean (no errors, no leaks) and compare says identical.
fn qemu_agrees(raw: &Path, img: &Path) {
    let (ok, out) = qemu_img_status(&["check", s(img)]);
    assert!(
        ok && out.contains("No errors were found"),
        "qemu-img check {img:?}:\n{out}"
    );
    assert!(!out.contains("leak"), "qemu-img check {img:?}:\n{out}");
    let (ok, out) = qemu_img_status(&["compare", "-f", "raw", "-F", "qcow2", s(raw), s(img)]);
    assert!(
        ok && out.contains("Images are identical"),
        "qemu-img compare:\n{out}"
    );
}

fn read_back(raw: &Path, img: &Path, dir: &TempDir) {
    let back = dir.join("back.raw");
    let size = our_raw(img, &back, &Options::default());
    let raw_len = std::fs::metadata(raw).unwrap().len();
    assert_eq!(size, raw_len.next_multiple_of(512));
    File::options()
        .write(true)
        .open(&back)
        .unwrap()
        .set_len(raw_len)
        .unwrap();
    assert_same_file(raw, &back);
}

#[test]
fn sparse_raw_every_mode_and_cluster_size() {
    let dir = TempDir::new("w-matrix");
    // The 1 GiB disk once (crosses the 512 MiB range of a 64 KiB-cluster L2 table), then a
    // 40 MiB one for every mode: the writer reads holes as zeros, which is slow in debug builds.
    let big = dir.join("big.raw");
    make_raw(&big);
    let img = dir.join("out.qcow2");
    write(&big, &img, &WriteOptions::default());
    qemu_agrees(&big, &img);
    read_back(&big, &img, &dir);

    let raw = dir.join("src.raw");
    File::create(&raw)
        .unwrap()
        .set_len((40 << 20) + 1536)
        .unwrap();
    write_at(&raw, 4096, &pattern(200 * 1024, 1, false));
    write_at(&raw, (3 << 20) + 512, &pattern(300 * 1024, 2, true));
    write_at(&raw, 9 << 20, &vec![0u8; 256 * 1024]);
    write_at(&raw, 33 << 20, &pattern(100 * 1024, 3, false));
    write_at(&raw, (40 << 20) - 3000, &pattern(4536, 4, true));
    for compress in MODES {
        for cluster_bits in [9, 12, 16, 21] {
            write(
                &raw,
                &img,
                &WriteOptions {
                    cluster_bits,
                    compress,
                },
            );
            qemu_agrees(&raw, &img);
            read_back(&raw, &img, &dir);
            let r = Reader::open(File::open(&img).unwrap(), &Options::default()).unwrap();
            let h = r.header();
            assert_eq!((h.version, h.cluster_bits), (3, cluster_bits));
            assert_eq!(h.compression, compress.unwrap_or_default());
            // Holes stay unallocated.
            let len = std::fs::metadata(&img).unwrap().len();
            let limit = (2 << 20) + (12 << cluster_bits);
            assert!(len < limit, "{compress:?} {cluster_bits}: {len} bytes");
        }
    }
}

#[test]
fn compression_saves_space_and_packs_streams() {
    let dir = TempDir::new("w-pack");
    let raw = dir.join("mixed.raw");
    // Alternating compressible and incompressible 64 KiB clusters: streams are packed around
    // the plain clusters.
    let mut data = Vec::new();
    for i in 0..64u32 {
        data.extend(pattern(65536, i, i % 3 == 1));
    }
    std::fs::write(&raw, &data).unwrap();
    let img = dir.join("out.qcow2");
    let plain_len = {
        write(&raw, &img, &WriteOptions::default());
        std::fs::metadata(&img).unwrap().len()
    };
    for c in [CompressionType::Zlib, CompressionType::Zstd] {
        write(
            &raw,
            &img,
            &WriteOptions {
                cluster_bits: 16,
                compress: Some(c),
            },
        );
        qemu_agrees(&raw, &img);
        read_back(&raw, &img, &dir);
        let len = std::fs::metadata(&img).unwrap().len();
        // 22 incompressible clusters stay plain; the 42 others shrink a lot.
        assert!(len < plain_len / 2, "{c:?}: {len} vs {plain_len}");
        // qemu reads every compressed cluster.
        let theirs = dir.join("theirs.raw");
        qemu_img(&["convert", "-O", "raw", s(&img), s(&theirs)]);
        assert_same_file(&raw, &theirs);
    }
}

#[test]
fn many_refcount_blocks() {
    // 512-byte clusters: one refcount block covers 256 clusters (128 KiB), so 12 MiB of data
    // needs ~100 blocks and a refcount table of two clusters.
    let dir = TempDir::new("w-refblocks");
    let raw = dir.join("dense.raw");
    let mut data = pattern(12 << 20, 3, false);
    for (i, chunk) in data.chunks_mut(512).enumerate() {
        if i % 5 == 0 {
            chunk.copy_from_slice(&pattern(512, i as u32, true));
        }
        if i % 7 == 0 {
            chunk.fill(0);
        }
    }
    std::fs::write(&raw, &data).unwrap();
    let img = dir.join("out.qcow2");
    for compress in MODES {
        write(
            &raw,
            &img,
            &WriteOptions {
                cluster_bits: 9,
                compress,
            },
        );
        qemu_agrees(&raw, &img);
        read_back(&raw, &img, &dir);
        if compress.is_none() {
            let r = Reader::open(File::open(&img).unwrap(), &Options::default()).unwrap();
            assert!(r.header().refcount_table_clusters >= 2);
        }
    }
}

#[test]
fn odd_sizes_empty_and_all_zero() {
    let dir = TempDir::new("w-odd");
    let img = dir.join("out.qcow2");
    for (name, len, fill) in [
        ("empty", 0usize, false),
        ("tiny", 1000, true),
        ("zeros", 3 << 20, false),
        ("one-sector", 512, true),
        ("odd", (1 << 20) + 12345, true),
    ] {
        let raw = dir.join(&format!("{name}.raw"));
        let data = if fill {
            pattern(len, 5, false)
        } else {
            vec![0; len]
        };
        std::fs::write(&raw, &data).unwrap();
        for compress in MODES {
            write(
                &raw,
                &img,
                &WriteOptions {
                    cluster_bits: 16,
                    compress,
                },
            );
            let (ok, out) = qemu_img_status(&["check", s(&img)]);
            assert!(ok && out.contains("No errors"), "{name}: {out}");
            read_back(&raw, &img, &dir);
            let info = qemu_img(&["info", s(&img)]);
            let vsize = (len as u64).next_multiple_of(512);
            assert!(info.contains(&format!("({vsize} bytes)")), "{name}: {info}");
        }
    }
}

#[test]
fn into_memory_and_bad_options() {
    let data = pattern(300_000, 8, false);
    let mut out = Cursor::new(Vec::new());
    let opts = WriteOptions {
        cluster_bits: 12,
        compress: Some(CompressionType::Zstd),
    };
    write_qcow2(
        Cursor::new(&data),
        data.len() as u64,
        &mut out,
        &opts,
        &mut |_| {},
    )
    .unwrap();
    let mut r = Reader::open(Cursor::new(out.into_inner()), &Options::default()).unwrap();
    let mut back = vec![0u8; data.len()];
    assert_eq!(r.read_at(0, &mut back).unwrap(), data.len());
    assert_eq!(back, data);

    for bits in [8, 22] {
        let opts = WriteOptions {
            cluster_bits: bits,
            compress: None,
        };
        let e = write_qcow2(
            Cursor::new(&data),
            10,
            Cursor::new(Vec::new()),
            &opts,
            &mut |_| {},
        );
        assert!(matches!(e, Err(wharf_qcow2::Error::BadHeader(_))));
    }
    // A raw stream shorter than the size it claims.
    let e = write_qcow2(
        Cursor::new(&data),
        1 << 20,
        Cursor::new(Vec::new()),
        &WriteOptions::default(),
        &mut |_| {},
    );
    assert!(matches!(e, Err(wharf_qcow2::Error::Io(_))));
    let e = write_qcow2(
        Cursor::new(&data),
        u64::MAX,
        Cursor::new(Vec::new()),
        &WriteOptions::default(),
        &mut |_| {},
    );
    assert!(matches!(e, Err(wharf_qcow2::Error::TooLarge { .. })));
}
