//! A quick timing of wharf's extraction against `tar -xf` on a ~300 MB tree (printed, never
//! asserted); both results must be identical. `WHARF_TAR_TIMING_MB` changes the size,
//! `WHARF_TAR_TIMING_ARCHIVE=/path/to.tar` times that archive instead (e.g. the output of
//! scripts/debian-rootfs); run with `--release -- --nocapture` for meaningful numbers.

mod common;

use std::time::{Duration, Instant};

use common::{assert_same, scan, sh, unpack_file};
use wharf_tar::UnpackOptions;

/// Python: writes a tree of about `argv[2]` MB under `argv[1]`: many small files in nested
/// directories (an OS tree's shape) plus a few large ones.
const MAKE_TREE: &str = r#"
import os, random, sys
root, mb = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
budget = mb << 20
big = budget // 2
for i in range(max(1, big // (16 << 20))):
    with open(os.path.join(root, f"big{i}"), "wb") as f:
        f.write(os.urandom(16 << 20))
    budget -= 16 << 20
n = 0
while budget > 0:
    d = os.path.join(root, f"d{n % 60}", f"s{n % 7}")
    os.makedirs(d, exist_ok=True)
    size = min(budget, int(rng.expovariate(1 / 24000)) + 1)
    with open(os.path.join(d, f"f{n}"), "wb") as f:
        f.write(os.urandom(size))
    budget -= size
    n += 1
"#;

fn best(mut run: impl FnMut() -> Duration) -> Duration {
    (0..2).map(|_| run()).min().unwrap()
}

#[test]
fn unpack_speed_vs_gnu_tar() {
    let mb: u64 = std::env::var("WHARF_TAR_TIMING_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let tmp = tempfile::tempdir().unwrap();
    let archive = match std::env::var_os("WHARF_TAR_TIMING_ARCHIVE") {
        Some(a) => a.into(),
        None => {
            let src = tmp.path().join("src");
            std::fs::create_dir(&src).unwrap();
            common::python(MAKE_TREE, &[src.to_str().unwrap(), &mb.to_string()]);
            let archive = tmp.path().join("tree.tar");
            sh(
                &src,
                &format!("tar --numeric-owner -cf {} .", archive.display()),
            );
            archive
        }
    };
    let size = std::fs::metadata(&archive).unwrap().len();

    let ours = tmp.path().join("ours");
    let gnu = tmp.path().join("gnu");
    let mut files = 0;
    let t_ours = best(|| {
        let _ = std::fs::remove_dir_all(&ours);
        std::fs::create_dir(&ours).unwrap();
        // write back the previous run's dirty pages first, so runs do not tax each other.
        sh(tmp.path(), "sync");
        let start = Instant::now();
        files = unpack_file(&archive, &ours, &UnpackOptions::default())
            .unwrap()
            .entries;
        start.elapsed()
    });
    let t_gnu = best(|| {
        let _ = std::fs::remove_dir_all(&gnu);
        std::fs::create_dir(&gnu).unwrap();
        sh(tmp.path(), "sync");
        let start = Instant::now();
        sh(
            &gnu,
            &format!(
                "tar --numeric-owner --xattrs --xattrs-include='*' -xpf {}",
                archive.display()
            ),
        );
        start.elapsed()
    });
    assert_same(&scan(&ours), &scan(&gnu), "timing tree", true);
    let rate = |t: Duration| size as f64 / (1 << 20) as f64 / t.as_secs_f64();
    let build = if cfg!(debug_assertions) {
        "debug build"
    } else {
        "release build"
    };
    println!(
        "unpack {} MiB, {files} entries ({build}): wharf {:.3} s ({:.0} MiB/s), tar -xf {:.3} s ({:.0} MiB/s)",
        size >> 20,
        t_ours.as_secs_f64(),
        rate(t_ours),
        t_gnu.as_secs_f64(),
        rate(t_gnu),
    );
}
