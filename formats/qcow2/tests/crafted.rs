//! Crafted images: every refusal of the validation checklist gives its own error, never a
//! panic and never wrong data.

mod common;

use std::io::Cursor;

use common::*;
use wharf_qcow2::{check_backing_name, Error, Options, Reader};

const ALLOW: Options = Options {
    allow_backing_file: true,
};

/// A small qemu-made image (1 MiB, data in the first clusters and at 512 KiB).
fn base(dir: &TempDir, opts: &str, compress: bool) -> Vec<u8> {
    let raw = dir.join("src.raw");
    std::fs::File::create(&raw)
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    write_at(&raw, 0, &pattern(192 * 1024, 11, false));
    write_at(&raw, 512 * 1024, &pattern(64 * 1024, 12, false));
    let img = dir.join("base.qcow2");
    let mut args = vec!["convert", "-f", "raw", "-O", "qcow2", "-o", opts];
    if compress {
        args.push("-c");
    }
    args.extend([s(&raw), s(&img)]);
    qemu_img(&args);
    std::fs::read(&img).unwrap()
}

fn get32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes(b[off..off + 4].try_into().unwrap())
}
fn get64(b: &[u8], off: usize) -> u64 {
    u64::from_be_bytes(b[off..off + 8].try_into().unwrap())
}
fn set32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_be_bytes());
}
fn set64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_be_bytes());
}

/// Host offset of the first L2 table and of its entry `k`.
fn l2_entry_off(b: &[u8], k: usize) -> usize {
    let l1 = get64(b, 40) as usize;
    (get64(b, l1) & 0x00ff_ffff_ffff_fe00) as usize + 8 * k
}

/// Opens and converts into memory: the outcome of reading the whole image.
fn convert(b: &[u8], opts: &Options) -> Result<Vec<u8>, Error> {
    let mut r = Reader::open(Cursor::new(b.to_vec()), opts)?;
    let mut out = Cursor::new(Vec::new());
    r.copy_to_raw(&mut out, &mut |_| {})?;
    Ok(out.into_inner())
}

fn err(b: &[u8]) -> Error {
    match convert(b, &Options::default()) {
        Ok(_) => panic!("crafted image accepted"),
        Err(e) => {
            let msg = e.to_string();
            assert!(
                !msg.contains('\n') && msg.starts_with(char::is_lowercase),
                "{msg}"
            );
            e
        }
    }
}

fn patched(b: &[u8], f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut c = b.to_vec();
    f(&mut c);
    c
}

#[test]
fn magic_version_and_truncation() {
    let dir = TempDir::new("hdr");
    let b = base(&dir, "compat=1.1", false);
    convert(&b, &Options::default()).unwrap();
    assert!(matches!(err(&[]), Error::NotQcow2));
    assert!(matches!(err(b"QFI"), Error::NotQcow2));
    assert!(matches!(
        err(&patched(&b, |c| c[3] = 0xfa)),
        Error::NotQcow2
    ));
    for v in [0, 1, 4, u32::MAX] {
        let e = err(&patched(&b, |c| set32(c, 4, v)));
        assert!(matches!(e, Error::UnsupportedVersion(x) if x == v), "{e}");
    }
    assert!(matches!(err(&b[..100]), Error::BadHeader(_)));
    assert!(matches!(
        err(&b[..1000]),
        Error::OutOfBounds {
            what: "L1 table",
            ..
        }
    ));
    let e = err(&b[..b.len() / 2]);
    assert!(matches!(e, Error::OutOfBounds { .. }), "{e}");
    let e = err(&b[..b.len() - 100]);
    assert!(matches!(e, Error::OutOfBounds { .. }), "{e}");
}

#[test]
fn header_fields() {
    let dir = TempDir::new("fields");
    let b = base(&dir, "compat=1.1", false);
    for bits in [0, 8, 22, 31, 63, 64, 200, u32::MAX] {
        let e = err(&patched(&b, |c| set32(c, 20, bits)));
        assert!(matches!(e, Error::BadHeader(_)), "cluster_bits {bits}: {e}");
    }
    for len in [0, 100, 105, 1 << 20] {
        let e = err(&patched(&b, |c| set32(c, 100, len)));
        assert!(matches!(e, Error::BadHeader(_)), "header_length {len}: {e}");
    }
    let e = err(&patched(&b, |c| set32(c, 96, 7)));
    assert!(matches!(e, Error::BadHeader(_)), "{e}");
    let e = err(&patched(&b, |c| set32(c, 56, u32::MAX)));
    assert!(matches!(e, Error::TooLarge { .. }), "{e}");
    let e = err(&patched(&b, |c| set64(c, 48, 1 << 40)));
    assert!(
        matches!(
            e,
            Error::OutOfBounds {
                what: "refcount table",
                ..
            }
        ),
        "{e}"
    );
    let e = err(&patched(&b, |c| set32(c, 60, u32::MAX)));
    assert!(
        matches!(
            e,
            Error::TooLarge {
                what: "snapshot count",
                ..
            }
        ),
        "{e}"
    );
    // The first header extension (backing format or feature names) claims 64 KiB.
    let e = err(&patched(&b, |c| set32(c, 116, 0xffff)));
    assert!(matches!(e, Error::BadHeader(_)), "{e}");
}

#[test]
fn sizes_and_l1() {
    let dir = TempDir::new("l1");
    let b = base(&dir, "compat=1.1", false);
    for size in [1u64 << 62, u64::MAX - 511, u64::MAX] {
        let e = err(&patched(&b, |c| set64(c, 24, size)));
        assert!(
            matches!(
                e,
                Error::TooLarge {
                    what: "virtual size",
                    ..
                }
            ),
            "{e}"
        );
    }
    // 2^50 bytes fit the L1 cap but need far more entries than the table has.
    let e = err(&patched(&b, |c| set64(c, 24, 1 << 50)));
    assert!(matches!(e, Error::BadHeader(_)), "{e}");
    let e = err(&patched(&b, |c| set32(c, 36, u32::MAX)));
    assert!(
        matches!(
            e,
            Error::TooLarge {
                what: "L1 table (bytes)",
                ..
            }
        ),
        "{e}"
    );
    let e = err(&patched(&b, |c| set32(c, 36, 0)));
    assert!(matches!(e, Error::BadHeader(_)), "{e}");
    let e = err(&patched(&b, |c| set64(c, 40, 1 << 40)));
    assert!(
        matches!(
            e,
            Error::OutOfBounds {
                what: "L1 table",
                ..
            }
        ),
        "{e}"
    );
    let e = err(&patched(&b, |c| set64(c, 40, get64(&b, 40) + 8)));
    assert!(matches!(e, Error::Corrupt(_)), "{e}");
    let e = err(&patched(&b, |c| set64(c, 40, 0)));
    assert!(matches!(e, Error::Corrupt(_)), "{e}");
    // 512-byte clusters: 1 TiB would need a 256 MiB L1 table.
    let small = base(&dir, "cluster_size=512", false);
    // Two L1 entries sharing one L2 table.
    let l1 = get64(&small, 40) as usize;
    let e = err(&patched(&small, |c| set64(c, l1 + 8, get64(&small, l1))));
    assert!(
        matches!(e, Error::Corrupt(ref m) if m.contains("two L1 entries")),
        "{e}"
    );
    let e = err(&patched(&small, |c| set64(c, 24, 1 << 40)));
    assert!(matches!(e, Error::TooLarge { .. }), "{e}");
}

#[test]
fn l1_and_l2_entries() {
    let dir = TempDir::new("entries");
    let b = base(&dir, "compat=1.1", false);
    let l1 = get64(&b, 40) as usize;
    let e = err(&patched(&b, |c| c[l1 + 7] |= 1));
    assert!(matches!(e, Error::Corrupt(_)), "L1 reserved: {e}");
    let e = err(&patched(&b, |c| set64(c, l1, (1 << 63) | (1 << 40))));
    assert!(
        matches!(
            e,
            Error::OutOfBounds {
                what: "L2 table",
                ..
            }
        ),
        "{e}"
    );
    let e = err(&patched(&b, |c| set64(c, l1, get64(&b, l1) + 512)));
    assert!(matches!(e, Error::Corrupt(_)), "L2 unaligned: {e}");
    let e = err(&patched(&b, |c| set64(c, l1, (1 << 63) | 512)));
    assert!(matches!(e, Error::Corrupt(_)), "L2 in header: {e}");

    let k = l2_entry_off(&b, 0);
    let e = err(&patched(&b, |c| set64(c, k, (1 << 63) | (1 << 40))));
    assert!(
        matches!(
            e,
            Error::OutOfBounds {
                what: "data cluster",
                ..
            }
        ),
        "{e}"
    );
    let e = err(&patched(&b, |c| set64(c, k, get64(&b, k) | (1 << 56))));
    assert!(matches!(e, Error::Corrupt(_)), "L2 reserved: {e}");
    let e = err(&patched(&b, |c| set64(c, k, get64(&b, k) + 4096)));
    assert!(matches!(e, Error::Corrupt(_)), "data unaligned: {e}");
    let e = err(&patched(&b, |c| set64(c, k, get64(&b, k) | 2)));
    assert!(matches!(e, Error::Corrupt(_)), "L2 reserved bit 1: {e}");
    // A data cluster that starts inside the file and ends past its end.
    assert_eq!(b.len() % 65536, 0);
    let last = b.len() as u64 - 65536;
    let e = err(&patched(&b, |c| {
        set64(c, k, (1 << 63) | last);
        c.truncate(b.len() - 100);
    }));
    assert!(
        matches!(
            e,
            Error::OutOfBounds {
                what: "data cluster",
                ..
            }
        ),
        "{e}"
    );

    // The zero flag does not exist in version 2.
    let v2 = base(&dir, "compat=0.10", false);
    let k2 = l2_entry_off(&v2, 0);
    let e = err(&patched(&v2, |c| set64(c, k2, get64(&v2, k2) | 1)));
    assert!(matches!(e, Error::Corrupt(_)), "{e}");
    // In version 3 it reads as zeros even with a host offset.
    let mut want = convert(&b, &Options::default()).unwrap();
    want[..65536].fill(0);
    let got = convert(
        &patched(&b, |c| set64(c, k, get64(&b, k) | 1)),
        &Options::default(),
    );
    assert_eq!(got.unwrap(), want);
}

#[test]
fn features() {
    let dir = TempDir::new("features");
    let b = base(&dir, "compat=1.1", false);
    for bit in [5, 6, 31, 63] {
        let e = err(&patched(&b, |c| set64(c, 72, 1 << bit)));
        assert!(
            matches!(e, Error::IncompatibleFeatures(x) if x == 1 << bit),
            "{e}"
        );
    }
    let e = err(&patched(&b, |c| set64(c, 72, 2)));
    assert!(
        matches!(e, Error::Corrupt(ref m) if m.contains("marked corrupt")),
        "{e}"
    );
    assert!(matches!(
        err(&patched(&b, |c| set64(c, 72, 4))),
        Error::ExternalDataFile
    ));
    // Compression type bit and byte must agree; only 0 and 1 exist.
    let e = err(&patched(&b, |c| set64(c, 72, 8)));
    assert!(matches!(e, Error::BadHeader(_)), "{e}");
    let e = err(&patched(&b, |c| c[104] = 1));
    assert!(matches!(e, Error::BadHeader(_)), "{e}");
    let e = err(&patched(&b, |c| {
        set64(c, 72, 8);
        c[104] = 2;
    }));
    assert!(matches!(e, Error::BadHeader(_)), "{e}");
    // Extended L2 entries need clusters of 16 KiB or more.
    let small = base(&dir, "cluster_size=4096", false);
    let e = err(&patched(&small, |c| set64(c, 72, 16)));
    assert!(matches!(e, Error::BadHeader(_)), "{e}");

    // A real external data file.
    let img = dir.join("ext.qcow2");
    let data = dir.join("ext.data");
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        "-o",
        &format!("data_file={}", s(&data)),
        s(&img),
        "1M",
    ]);
    assert!(matches!(
        err(&std::fs::read(&img).unwrap()),
        Error::ExternalDataFile
    ));
}

#[test]
fn extended_l2_bitmaps() {
    let dir = TempDir::new("extl2");
    let b = base(&dir, "extended_l2=on", false);
    convert(&b, &Options::default()).unwrap();
    let l1 = get64(&b, 40) as usize;
    let k = (get64(&b, l1) & 0x00ff_ffff_ffff_fe00) as usize;
    // Subcluster 0 both allocated and zero.
    let e = err(&patched(&b, |c| {
        set64(c, k + 8, get64(&b, k + 8) | (1 << 32))
    }));
    assert!(matches!(e, Error::Corrupt(_)), "{e}");
    // Allocated subclusters without a host cluster.
    let e = err(&patched(&b, |c| set64(c, k, 0)));
    assert!(matches!(e, Error::Corrupt(_)), "{e}");
    // Bit 0 is reserved with extended L2.
    let e = err(&patched(&b, |c| set64(c, k, get64(&b, k) | 1)));
    assert!(matches!(e, Error::Corrupt(_)), "{e}");
}

#[test]
fn compressed_clusters() {
    let dir = TempDir::new("compressed");
    let b = base(&dir, "compat=1.1", true);
    convert(&b, &Options::default()).unwrap();
    let k = l2_entry_off(&b, 0);
    let entry = get64(&b, k);
    assert!(entry & (1 << 62) != 0, "cluster 0 is compressed");
    let x = 70 - 16;
    let host = (entry & ((1 << x) - 1)) as usize;
    // Stream offset past the end of the file; into the header.
    let e = err(&patched(&b, |c| {
        set64(c, k, (1 << 62) | (b.len() as u64 + 4096))
    }));
    assert!(
        matches!(
            e,
            Error::OutOfBounds {
                what: "compressed cluster",
                ..
            }
        ),
        "{e}"
    );
    let e = err(&patched(&b, |c| set64(c, k, (1 << 62) | 100)));
    assert!(matches!(e, Error::Corrupt(_)), "{e}");
    // A sector count reaching whole sectors past the end of the file.
    let near_end = (b.len() as u64 - 100) | (255 << x) | (1 << 62);
    let e = err(&patched(&b, |c| set64(c, k, near_end)));
    assert!(
        matches!(
            e,
            Error::OutOfBounds {
                what: "compressed cluster",
                ..
            }
        ),
        "{e}"
    );
    let e = err(&patched(&b, |c| set64(c, k, entry | (1 << 63))));
    assert!(matches!(e, Error::Corrupt(_)), "{e}");
    // Garbage instead of the stream.
    let e = err(&patched(&b, |c| c[host..host + 64].fill(0xff)));
    assert!(matches!(e, Error::Decompress(_)), "{e}");
    // A valid stream of the wrong length.
    let mut short = Vec::new();
    {
        use std::io::Write;
        let mut enc = flate2::write::DeflateEncoder::new(&mut short, flate2::Compression::fast());
        enc.write_all(&[7u8; 1000]).unwrap();
        enc.finish().unwrap();
    }
    let e = err(&patched(&b, |c| {
        c[host..host + short.len()].copy_from_slice(&short)
    }));
    assert!(
        matches!(e, Error::Decompress(ref m) if m.contains("1000 bytes")),
        "{e}"
    );

    // zstd: a frame of two clusters in the place of one.
    let z = base(&dir, "compat=1.1,compression_type=zstd", true);
    convert(&z, &Options::default()).unwrap();
    let k = l2_entry_off(&z, 0);
    let host = (get64(&z, k) & ((1 << x) - 1)) as usize;
    let long = zstd::bulk::compress(&[1u8; 131072], 3).unwrap();
    let e = err(&patched(&z, |c| {
        c[host..host + long.len()].copy_from_slice(&long)
    }));
    assert!(matches!(e, Error::Decompress(_)), "{e}");
    let e = err(&patched(&z, |c| c[host..host + 16].fill(0)));
    assert!(matches!(e, Error::Decompress(_)), "{e}");
}

#[test]
fn encryption() {
    let dir = TempDir::new("crypt");
    let img = dir.join("luks.qcow2");
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        "--object",
        "secret,id=sec0,data=123456",
        "-o",
        "encrypt.format=luks,encrypt.key-secret=sec0",
        s(&img),
        "1M",
    ]);
    let b = std::fs::read(&img).unwrap();
    assert_eq!(get32(&b, 32), 2);
    let e = err(&b);
    assert!(matches!(e, Error::Encrypted), "{e}");
    assert!(e.to_string().contains("encrypted"));
    // crypt_method cleared but the LUKS header extension is still there.
    assert!(matches!(
        err(&patched(&b, |c| set32(c, 32, 0))),
        Error::Encrypted
    ));
    // Legacy AES.
    let plain = base(&dir, "compat=1.1", false);
    assert!(matches!(
        err(&patched(&plain, |c| set32(c, 32, 1))),
        Error::Encrypted
    ));
}

#[test]
fn backing_files() {
    let dir = TempDir::new("backing");
    let img = dir.join("shadow.qcow2");
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        "-u",
        "-b",
        "/etc/shadow",
        "-F",
        "raw",
        s(&img),
        "1M",
    ]);
    let b = std::fs::read(&img).unwrap();
    let e = err(&b);
    assert!(
        matches!(e, Error::BackingFile(ref n) if n == "/etc/shadow"),
        "{e}"
    );
    // Allowed: the name is exposed for the caller, who must refuse it.
    let r = Reader::open(Cursor::new(b.clone()), &ALLOW).unwrap();
    let name = r.header().backing_file.clone().unwrap();
    assert!(matches!(
        check_backing_name(&name),
        Err(Error::UnsafeBackingName(_))
    ));
    assert!(matches!(convert(&b, &ALLOW), Err(Error::MissingBacking(_))));

    let (off, len) = (get64(&b, 8) as usize, get32(&b, 16));
    assert_eq!(&b[off..off + len as usize], b"/etc/shadow");
    let e = err(&patched(&b, |c| set32(c, 16, 5000)));
    assert!(
        matches!(
            e,
            Error::TooLarge {
                what: "backing file name length",
                ..
            }
        ),
        "{e}"
    );
    let e = err(&patched(&b, |c| set64(c, 8, 65530)));
    assert!(matches!(e, Error::BadHeader(_)), "{e}");
    let e = err(&patched(&b, |c| set64(c, 8, 16)));
    assert!(matches!(e, Error::BadHeader(_)), "{e}");
    let e = err(&patched(&b, |c| set32(c, 16, 0)));
    assert!(matches!(e, Error::BadHeader(_)), "{e}");
    let e = err(&patched(&b, |c| c[off + 3] = 0));
    assert!(matches!(e, Error::BadHeader(_)), "{e}");

    for bad in [
        "/etc/shadow",
        "../base.raw",
        "a/../../b",
        "",
        "nbd:host:10809",
        "json:{}",
        ".",
        "a/..",
    ] {
        assert!(check_backing_name(bad).is_err(), "{bad:?} accepted");
    }
    for good in ["base.qcow2", "sub/base.raw", "./base.raw"] {
        assert!(check_backing_name(good).is_ok(), "{good:?} refused");
    }
}
