//! `cargo run --release -p wharf-tar --example unpack -- ARCHIVE.tar[.gz|.xz|.bz2|.zst] DIR`:
//! decompresses (by magic) and unpacks an archive into the existing empty directory DIR, then
//! applies the OS-tree hoisting rule; prints the statistics and the time taken.

use std::fs::File;
use std::time::Instant;

use wharf_compression::{decoder, peek, sniff, SNIFF_LEN};
use wharf_tar::{hoist_single_os_dir, unpack, UnpackOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, archive, dir] = args.as_slice() else {
        return Err("usage: unpack ARCHIVE DIR".into());
    };
    let start = Instant::now();
    let (head, input) = peek(File::open(archive)?, SNIFF_LEN)?;
    let mut input = decoder(sniff(&head), Box::new(input))?;
    let stats = unpack(&mut input, dir.as_ref(), &UnpackOptions::default())?;
    let hoisted = hoist_single_os_dir(dir.as_ref())?;
    println!(
        "{} entries, {} bytes of file data, hoisted: {hoisted}, {:.3} s",
        stats.entries,
        stats.bytes,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
