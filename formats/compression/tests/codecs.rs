//! Round trips, multi-member streams, truncation and trailing bytes for every codec.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use wharf_compression::{decoder, encoder, peek, sniff, Compression, SNIFF_LEN};

const CODECS: [Compression; 4] = [
    Compression::Gzip,
    Compression::Xz,
    Compression::Bzip2,
    Compression::Zstd,
];

/// Deterministic, somewhat compressible bytes.
fn sample(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            if i % 7 < 4 {
                b"wharf machine image "[i % 20]
            } else {
                x as u8
            }
        })
        .collect()
}

fn encode(c: Compression, data: &[u8], threads: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = encoder(c, Box::new(&mut out), threads).unwrap();
    // odd chunk sizes exercise the encoders' buffering.
    for chunk in data.chunks(77_777) {
        enc.write_all(chunk).unwrap();
    }
    enc.finish().unwrap();
    out
}

fn decode(c: Compression, data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    decoder(c, Box::new(data))?.read_to_end(&mut out)?;
    Ok(out)
}

#[test]
fn round_trip_every_codec() {
    let data = sample(3 << 20, 1);
    for c in CODECS {
        for threads in [1, 2] {
            let enc = encode(c, &data, threads);
            assert_eq!(sniff(&enc), c, "{c} sniffed");
            assert!(enc.len() < data.len(), "{c} compresses");
            assert_eq!(decode(c, &enc).unwrap(), data, "{c} threads={threads}");
        }
    }
}

#[test]
fn empty_input_round_trips() {
    for c in CODECS {
        let enc = encode(c, b"", 1);
        assert_eq!(decode(c, &enc).unwrap(), b"", "{c}");
    }
}

#[test]
fn uncompressed_passes_through() {
    let data = sample(1000, 2);
    let enc = encode(Compression::None, &data, 4);
    assert_eq!(enc, data);
    assert_eq!(decode(Compression::None, &data).unwrap(), data);
}

#[test]
fn concatenated_members_decode_in_turn() {
    // gzip members, xz and bzip2 streams, zstd frames: `cat a.gz b.gz` is valid input.
    let a = sample(100_000, 3);
    let b = sample(50_000, 4);
    for c in CODECS {
        let mut joined = encode(c, &a, 1);
        if c == Compression::Xz {
            joined.extend_from_slice(&[0; 8]); // xz stream padding
        }
        joined.extend(encode(c, &b, 1));
        joined.extend(encode(c, b"", 1));
        assert_eq!(
            decode(c, &joined).unwrap(),
            [&a[..], &b[..]].concat(),
            "{c}"
        );
    }
}

#[test]
fn zstd_skippable_frames_are_skipped() {
    let a = sample(10_000, 5);
    let mut joined = encode(Compression::Zstd, &a, 1);
    // skippable frame: magic 0x184D2A5E, length 3, payload.
    joined.extend_from_slice(&[0x5E, 0x2A, 0x4D, 0x18, 3, 0, 0, 0, 1, 2, 3]);
    joined.extend(encode(Compression::Zstd, &a, 1));
    assert_eq!(
        decode(Compression::Zstd, &joined).unwrap(),
        [&a[..], &a[..]].concat()
    );
}

#[test]
fn trailing_garbage_after_last_member_is_ignored() {
    let a = sample(20_000, 6);
    for c in CODECS {
        let mut data = encode(c, &a, 1);
        data.extend_from_slice(&[0, 0, 0, 0]);
        data.extend_from_slice(b"this is not a compressed stream");
        assert_eq!(decode(c, &data).unwrap(), a, "{c}");
    }
}

#[test]
fn truncated_input_is_an_error() {
    let a = sample(200_000, 7);
    for c in CODECS {
        let enc = encode(c, &a, 1);
        for cut in [1, 4, 9, enc.len() / 2, enc.len() - 1] {
            let r = decode(c, &enc[..enc.len() - cut]);
            assert!(
                r.is_err(),
                "{c} cut {cut} bytes: decoded {:?} bytes",
                r.map(|v| v.len())
            );
        }
    }
}

#[test]
fn corrupt_input_is_an_error() {
    let a = sample(200_000, 8);
    for c in CODECS {
        let mut enc = encode(c, &a, 1);
        let mid = enc.len() / 2;
        enc[mid] ^= 0x55;
        enc[mid + 1] ^= 0xAA;
        assert!(decode(c, &enc).is_err(), "{c}");
        // the wrong codec for the data fails as well.
        let other = if c == Compression::Gzip {
            Compression::Zstd
        } else {
            Compression::Gzip
        };
        assert!(decode(other, &encode(c, &a, 1)).is_err(), "{c} as {other}");
    }
}

#[test]
fn peek_then_decode() {
    let a = sample(5000, 9);
    for c in CODECS {
        let enc = encode(c, &a, 1);
        let (head, rest) = peek(&enc[..], SNIFF_LEN).unwrap();
        assert_eq!(sniff(&head), c);
        let mut out = Vec::new();
        decoder(sniff(&head), Box::new(rest))
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, a);
    }
}

/// Runs `cmd args` with `input` on stdin and returns its output. A missing tool fails the
/// test (Debian packages gzip, xz-utils, bzip2, zstd).
fn tool(cmd: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(cmd)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd} must be installed for this test: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "{cmd} {args:?}");
    out.stdout
}

#[test]
fn interoperates_with_system_tools() {
    let data = sample(4 << 20, 10);
    let cases: [(Compression, &str, &[&str]); 5] = [
        (Compression::Gzip, "gzip", &["-c"]),
        // multi-block stream: decoded on several threads.
        (Compression::Xz, "xz", &["-c", "-T2", "--block-size=256KiB"]),
        (Compression::Xz, "xz", &["-c", "-T1"]),
        (Compression::Bzip2, "bzip2", &["-c"]),
        (Compression::Zstd, "zstd", &["-c", "-q", "--long=27"]),
    ];
    for (c, cmd, args) in cases {
        let enc = tool(cmd, args, &data);
        assert_eq!(decode(c, &enc).unwrap(), data, "{cmd} {args:?}");
        let ours = encode(c, &data, 2);
        assert_eq!(tool(cmd, &["-d", "-c"], &ours), data, "{cmd} -d of ours");
    }
}
