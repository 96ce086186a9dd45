//! Command-line converter for manual tests and benchmarks:
//!
//!     convert to-raw IMAGE.qcow2 OUT.raw
//!     convert to-qcow2 IN.raw OUT.qcow2 [plain|zlib|zstd] [cluster_bits]
//!
//! Prints the elapsed time and the peak RSS (VmHWM) to stderr.

use std::fs::{File, OpenOptions};
use std::time::Instant;

use wharf_qcow2::{write_qcow2, CompressionType, Options, Reader, WriteOptions};

fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(str::to_string)
        })
        .unwrap_or_default()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: convert to-raw IN OUT | to-qcow2 IN OUT [plain|zlib|zstd] [cluster_bits]";
    let (verb, input, output) = match args.as_slice() {
        [v, i, o, ..] => (v.as_str(), i, o),
        _ => return Err(usage.into()),
    };
    let start = Instant::now();
    let out = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(output)?;
    match verb {
        "to-raw" => {
            let mut r = Reader::open(File::open(input)?, &Options::default())?;
            let mut out = out;
            r.copy_to_raw(&mut out, &mut |_| {})?;
            out.set_len(r.virtual_size())?;
        }
        "to-qcow2" => {
            let compress = match args.get(3).map(String::as_str) {
                None | Some("plain") => None,
                Some("zlib") => Some(CompressionType::Zlib),
                Some("zstd") => Some(CompressionType::Zstd),
                Some(_) => return Err(usage.into()),
            };
            let cluster_bits = args.get(4).map(|s| s.parse()).transpose()?.unwrap_or(16);
            let raw = File::open(input)?;
            let size = raw.metadata()?.len();
            let opts = WriteOptions {
                cluster_bits,
                compress,
            };
            write_qcow2(raw, size, out, &opts, &mut |_| {})?;
        }
        _ => return Err(usage.into()),
    }
    eprintln!(
        "{verb}: {:.3} s, {}",
        start.elapsed().as_secs_f64(),
        peak_rss()
    );
    Ok(())
}
