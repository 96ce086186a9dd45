//! Compressed streams come from untrusted downloads: sniffing and decoding arbitrary bytes must
//! never panic, hang or allocate without bound. Input that sniffs as uncompressed is decoded
//! with the codec its first byte picks, so every decoder sees arbitrary data too.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use wharf_compression::{decoder, peek, sniff, Compression, SNIFF_LEN};

/// Stop reading after this much output: a tiny input may legitimately expand a lot.
const OUTPUT_CAP: usize = 16 << 20;

fuzz_target!(|data: &[u8]| {
    let (c, input) = match sniff(data) {
        Compression::None if !data.is_empty() => {
            let c = [
                Compression::None,
                Compression::Gzip,
                Compression::Xz,
                Compression::Bzip2,
                Compression::Zstd,
            ][usize::from(data[0] % 5)];
            (c, &data[1..])
        }
        c => (c, data),
    };
    let (head, rest) = peek(input, SNIFF_LEN).expect("reading a slice cannot fail");
    assert_eq!(head, &input[..head.len()]);
    let Ok(mut r) = decoder(c, Box::new(rest)) else {
        return;
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    while total < OUTPUT_CAP {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
});
