//! A quick timing of apply_layer against unpack on the cached Debian rootfs tarball
//! (scripts/debian-rootfs, ~200 MB), printed, never asserted; both trees must be identical.
//! Ignored by default: `cargo test --release -p wharf-tar --test layers_timing -- --ignored
//! --nocapture`. `WHARF_TAR_TIMING_ARCHIVE=/path/to.tar` times another archive.

mod common;

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{assert_same, scan};
use wharf_tar::{apply_layer, unpack, UnpackOptions};

/// CPU time of this thread (user + system), from /proc/thread-self/schedstat.
fn cpu() -> Duration {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    Duration::from_nanos(s.split_whitespace().next().unwrap().parse().unwrap())
}

/// Wall time (writeback of the previous run done first, not counted) and CPU time.
fn timed(archive: &Path, root: &Path, layer: bool) -> (Duration, Duration) {
    rustix::fs::sync();
    let mut f = BufReader::with_capacity(1 << 16, File::open(archive).unwrap());
    let opts = UnpackOptions::default();
    let (t, c) = (Instant::now(), cpu());
    if layer {
        apply_layer(&mut f, root, &opts).unwrap();
    } else {
        unpack(&mut f, root, &opts).unwrap();
    }
    (t.elapsed(), cpu() - c)
}

const ROUNDS: usize = 4;

#[test]
#[ignore = "timing: run in release mode with --ignored --nocapture"]
fn apply_layer_vs_unpack_on_debian() {
    let archive = match std::env::var_os("WHARF_TAR_TIMING_ARCHIVE") {
        Some(a) => a.into(),
        None => wharf_tests::debian::tarball(),
    };
    let tmp = tempfile::tempdir().unwrap();
    let (mut unpacks, mut layers, mut overs) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let a = tmp.path().join(format!("unpack{round}"));
        let b = tmp.path().join(format!("layer{round}"));
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        // alternate the order so neither always runs on a warmer cache.
        if round % 2 == 0 {
            unpacks.push(timed(&archive, &a, false));
            layers.push(timed(&archive, &b, true));
        } else {
            layers.push(timed(&archive, &b, true));
            unpacks.push(timed(&archive, &a, false));
        }
        if round == 0 {
            assert_same(&scan(&a), &scan(&b), "unpack vs apply_layer", true);
            // the same layer again on top: every node replaced, directories kept.
            overs.push(timed(&archive, &b, true));
            assert_same(&scan(&a), &scan(&b), "unpack vs apply_layer twice", true);
        }
        wharf_fsops::remove_tree(&a).unwrap();
        wharf_fsops::remove_tree(&b).unwrap();
    }
    let ms = |v: &[(Duration, Duration)]| {
        v.iter()
            .map(|(w, c)| format!("{}/{}", w.as_millis(), c.as_millis()))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!(
        "{} (wall/CPU ms per run): unpack {}; apply_layer (empty root) {}; \
         apply_layer again on top {}",
        archive.display(),
        ms(&unpacks),
        ms(&layers),
        ms(&overs)
    );
}
