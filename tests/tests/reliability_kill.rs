//! Reliability, part 1: `kill -9` at random points across every operation that writes an image
//! or a file: import-tar, import-raw, import-oci, pull-tar (the test HTTP server), pull-oci (a
//! real docker-registry), clone and convert.
//!
//! Each operation is timed once (calibration) and then killed after a delay drawn uniformly from
//! [0, its duration] with a seeded generator (the seed is printed; `WHARF_RELIABILITY_SEED`
//! repeats a run). After every kill: `list-images -a --json` shows no partial image, the store
//! is exactly the old state or exactly the new one (every file's metadata and sha256 compared,
//! the pre-existing images included), `wharf clean` leaves no `.#` entry, and a rerun of the
//! same operation succeeds and gives the same result as the calibration run. convert's output
//! (outside the store) is either absent or complete. 20 kill points in the normal suite;
//! `WHARF_RELIABILITY_ROUNDS=100` (scripts/reliability) makes it 100.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use wharf_tests::fixtures::{Fs, TestStore};
use wharf_tests::http_server::Server;
use wharf_tests::oci_layout::{push_layout, umoci_image};
use wharf_tests::registry::Registry;
use wharf_tests::reliability::{
    assert_same_store, check_and_clean, comparable, fingerprint, report, rounds, small_image,
    strip_mtime, Rng, StorePrint,
};
use wharf_tests::tree::build_bulk_tree;
use wharf_tests::{ok, sh, wharf};

/// What an operation produces.
enum Target {
    /// An image in the store (NAME; raw images live in NAME.raw).
    Image(&'static str),
    /// A file outside the store (convert).
    File(PathBuf),
}

struct Op {
    label: &'static str,
    args: Vec<String>,
    env: Vec<(&'static str, PathBuf)>,
    target: Target,
    /// Removed before every run so each run does the whole work (download caches).
    reset: Vec<PathBuf>,
    duration: Duration,
    /// The store (or the output file) after a complete run.
    after: Option<StorePrint>,
}

impl Op {
    fn command(&self, root: &Path) -> std::process::Command {
        let mut c = wharf(root);
        c.args(&self.args);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    fn reset(&self) {
        for p in &self.reset {
            let _ = fs::remove_dir_all(p);
        }
    }

    /// Remove what the operation made, so the next run starts from the old state.
    fn undo(&self, root: &Path) {
        self.remove_target(root);
        self.reset();
    }

    /// Remove the image or file the operation made (caches stay).
    fn remove_target(&self, root: &Path) {
        match &self.target {
            Target::Image(name) => {
                if wharf_tests::listed(root).iter().any(|i| i.0 == *name) {
                    ok(root, &["remove", name]);
                }
            }
            Target::File(p) => {
                let _ = fs::remove_file(p);
            }
        }
    }

    fn name(&self) -> Option<&'static str> {
        match self.target {
            Target::Image(n) => Some(n),
            Target::File(_) => None,
        }
    }
}

fn file_print(p: &Path) -> Option<String> {
    p.exists()
        .then(|| strip_mtime(&fingerprint(p)[Path::new("")]))
}

/// Leftover temporaries of convert beside its output (`.#NAME.PID.part`).
fn convert_residue(out: &Path) -> usize {
    let dir = out.parent().unwrap();
    fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".#"))
        .count()
}

fn tar_of(dir: &Path, out: &Path, compress: &str) {
    sh(
        "tar",
        &[
            compress,
            "--format=pax",
            "--numeric-owner",
            "--xattrs",
            "--xattrs-include=*",
            "-C",
            dir.to_str().unwrap(),
            "-cf",
            out.to_str().unwrap(),
            ".",
        ],
    );
}

/// Deterministic incompressible-ish bytes.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

#[test]
fn kill_9_at_random_points_leaves_old_or_new_state() {
    let s = TestStore::new(Fs::Host, 0);
    let root = &s.root;
    let scratch = &s.scratch;
    let mib = 4;

    // Pre-existing images that every kill must leave alone.
    small_image(&root.join("keep"));
    let src = root.join("src");
    fs::create_dir(&src).unwrap();
    build_bulk_tree(&src, mib);
    small_image(&src.join("small"));

    // Inputs.
    let tarball = scratch.join("os.tar.gz");
    tar_of(&src, &tarball, "-z");
    let raw = scratch.join("disk.raw");
    {
        let f = fs::File::create(&raw).unwrap();
        f.set_len(16 << 20).unwrap();
        use std::os::unix::fs::FileExt;
        f.write_all_at(&noise(mib << 20, 3), 1 << 20).unwrap();
    }
    let raw_gz = scratch.join("disk.raw.gz");
    let gz = sh(
        "sh",
        &[
            "-c",
            &format!("gzip -1 -c {} > {}", raw.display(), raw_gz.display()),
        ],
    );
    assert!(gz.is_empty());
    let layout = scratch.join("layout");
    let big = noise(mib << 20, 5);
    let small = noise(100_000, 6);
    umoci_image(
        &layout,
        "v1",
        &[
            &[("etc/os-release", b"ID=oci\n"), ("usr/share/big", &big)],
            &[("usr/share/small", &small)],
        ],
    );
    let server = Server::start();
    server.put("/os.tar.gz", fs::read(&tarball).unwrap());
    let reg = Registry::start();
    push_layout(&layout, "v1", &reg.image("app:v1"), &[]);
    let cache = scratch.join("oci-cache");
    let out_dir = scratch.join("out");
    fs::create_dir(&out_dir).unwrap();
    let converted = out_dir.join("disk.qcow2");

    let p = |x: &Path| x.to_str().unwrap().to_string();
    let op = |label, args: Vec<String>, target| Op {
        label,
        args,
        env: vec![("WHARF_OCI_CACHE", cache.clone())],
        target,
        reset: vec![cache.clone()],
        duration: Duration::ZERO,
        after: None,
    };
    let mut ops = [
        op(
            "import-tar",
            vec!["import-tar".into(), p(&tarball), "t-tar".into()],
            Target::Image("t-tar"),
        ),
        op(
            "import-raw",
            vec!["import-raw".into(), p(&raw_gz), "t-raw".into()],
            Target::Image("t-raw"),
        ),
        op(
            "import-oci",
            vec![
                "import-oci".into(),
                p(&layout),
                "t-oci".into(),
                "--ref".into(),
                "v1".into(),
            ],
            Target::Image("t-oci"),
        ),
        op(
            "pull-tar",
            vec![
                "pull-tar".into(),
                "--verify=no".into(),
                server.url("/os.tar.gz"),
                "t-pull".into(),
            ],
            Target::Image("t-pull"),
        ),
        op(
            "pull-oci",
            vec!["pull-oci".into(), reg.image("app:v1"), "t-reg".into()],
            Target::Image("t-reg"),
        ),
        op(
            "clone",
            vec!["clone".into(), "src".into(), "t-clone".into()],
            Target::Image("t-clone"),
        ),
        op(
            "convert",
            vec!["convert".into(), p(&raw), p(&converted)],
            Target::File(converted.clone()),
        ),
    ];

    let before = comparable(root);
    // Calibration: one complete run each, timed; its result is the "new state".
    for o in ops.iter_mut() {
        o.reset();
        let start = Instant::now();
        let r: wharf_tests::Run = o.command(root).output().unwrap().into();
        o.duration = start.elapsed();
        assert!(r.ok, "{}: {r:?}", o.label);
        o.after = Some(match &o.target {
            Target::Image(_) => comparable(root),
            Target::File(f) => {
                let mut m = BTreeMap::new();
                m.insert(
                    String::new(),
                    BTreeMap::from([(PathBuf::new(), file_print(f).unwrap())]),
                );
                m
            }
        });
        o.undo(root);
        assert_same_store(&before, &comparable(root), &format!("{} undo", o.label));
        println!("calibrated {}: {:?}", o.label, o.duration);
    }

    let points = rounds(20);
    let mut rng = Rng::from_env("kill points");
    let mut kills = 0;
    let mut finished_first = 0;
    let mut old_state = 0;
    let mut new_state = 0;
    let mut residue = 0;
    let mut convert_temps = 0;
    let mut reruns = 0;
    let mut per_op = vec![0usize; ops.len()];
    for i in 0..points {
        let k = i % ops.len();
        let o = &ops[k];
        let delay = Duration::from_micros(rng.below_eq(o.duration.as_micros() as u64));
        let ctx = format!("point {i}: {} killed after {delay:?}", o.label);
        let mut cmd = o.command(root);
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        let mut child = cmd.spawn().unwrap();
        std::thread::sleep(delay);
        let pid = rustix::process::Pid::from_child(&child);
        match child.try_wait().unwrap() {
            Some(_) => finished_first += 1,
            None => {
                rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
                kills += 1;
            }
        }
        child.wait().unwrap();
        // Anything the operation started itself goes too.
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        per_op[k] += 1;

        // Old state or new state, nothing between.
        let allowed: Vec<&str> = ["keep", "src"].into_iter().chain(o.name()).collect();
        residue += check_and_clean(root, &allowed, &ctx);
        let now = comparable(root);
        match &o.target {
            Target::Image(_) => {
                if now == before {
                    old_state += 1;
                } else {
                    assert_same_store(o.after.as_ref().unwrap(), &now, &ctx);
                    new_state += 1;
                }
            }
            Target::File(f) => {
                assert_same_store(&before, &now, &ctx);
                convert_temps += convert_residue(f);
                match file_print(f) {
                    None => old_state += 1,
                    Some(fp) => {
                        let want = &o.after.as_ref().unwrap()[""][Path::new("")];
                        assert_eq!(&fp, want, "{ctx}: partial output at the final name");
                        new_state += 1;
                    }
                }
            }
        }
        // A rerun of the same operation succeeds and gives the same result — with whatever the
        // killed run left in the download cache (pull-oci resumes or re-verifies it).
        o.remove_target(root);
        let r: wharf_tests::Run = o.command(root).output().unwrap().into();
        assert!(r.ok, "{ctx}: rerun failed: {r:?}");
        assert!(!r.stderr.contains("panicked"), "{ctx}: {r:?}");
        if let Target::Image(_) = o.target {
            assert_same_store(o.after.as_ref().unwrap(), &comparable(root), &ctx);
        } else if let Target::File(f) = &o.target {
            assert_eq!(
                file_print(f).as_ref(),
                Some(&o.after.as_ref().unwrap()[""][Path::new("")]),
                "{ctx}: rerun output differs"
            );
            // The rerun removed the killed run's temporary.
            assert_eq!(
                convert_residue(f),
                0,
                "{ctx}: temporaries left beside the output"
            );
        }
        reruns += 1;
        o.undo(root);
        assert_same_store(&before, &comparable(root), &format!("{ctx}: undo"));
    }
    for (o, n) in ops.iter().zip(&per_op) {
        println!("{}: {n} points over {:?}", o.label, o.duration);
    }
    report(
        "kill",
        &[
            ("points", points),
            ("kills", kills),
            ("finished_before_kill", finished_first),
            ("old_state", old_state),
            ("new_state", new_state),
            ("partial_images", 0),
            ("damaged", 0),
            ("residue_cleaned", residue),
            ("convert_temps_swept_by_rerun", convert_temps),
            ("reruns_ok", reruns),
        ],
    );
}
