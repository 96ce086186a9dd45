//! Reliability, part 2: the hostile archive and image set in one place (generators in
//! tests/src/hostile.rs). Tar archives, OCI layers, qcow2 images and GPT disks that try to
//! write outside their image, follow symlinks out, exhaust memory or disk, or confuse the
//! parsers. Each must be refused with one line (exit 1) or imported confined; never a panic,
//! never a hang (each run is bounded), nothing written to a canary directory outside the store,
//! the store unchanged after a refusal and no `.#` residue (without `clean`).

use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use wharf_tests::fixtures::{Fs, TestStore};
use wharf_tests::hostile::{self, GPT_CASES, LAYER_CASES, QCOW2_CASES, TAR_CASES};
use wharf_tests::machine::Running;
use wharf_tests::oci::{require_tools, LayerTar, Layout};
use wharf_tests::reliability::{
    assert_same_store, report, small_image, store_fingerprint, Canary, StorePrint,
};
use wharf_tests::{ok, temporaries, wharf, Run};

/// How a hostile input ended.
#[derive(Debug, PartialEq)]
enum End {
    Refused,
    Confined,
}

/// Run wharf (bounded to 5 minutes, killed with its process group after that) and require a
/// clean refusal — exit 1, one line, `needle` in it — or success. Never "panicked".
fn attempt(root: &Path, args: &[&str], needle: &str, ctx: &str) -> (End, Run) {
    let mut cmd = wharf(root);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut r = Running::spawn(cmd);
    let code = r.wait(Duration::from_secs(300));
    let mut stdout = String::new();
    let mut stderr = String::new();
    use std::io::Read;
    r.child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    r.child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let run = Run {
        ok: code == Some(0),
        code,
        stdout,
        stderr,
    };
    assert!(!run.stderr.contains("panicked"), "{ctx}: {run:?}");
    println!(
        "{ctx}: {}",
        match run.ok {
            true => "confined (imported)".to_string(),
            false => format!("refused: {}", run.stderr.trim_end()),
        }
    );
    if run.ok {
        return (End::Confined, run);
    }
    assert_eq!(run.code, Some(1), "{ctx}: exit status: {run:?}");
    assert_eq!(
        run.stderr.trim_end().lines().count(),
        1,
        "{ctx}: one line expected: {run:?}"
    );
    assert!(
        run.stderr.to_lowercase().contains(&needle.to_lowercase()),
        "{ctx}: expected {needle:?} in {:?}",
        run.stderr
    );
    (End::Refused, run)
}

/// After each case: nothing outside, no residue, and (once the case's image is removed) the
/// store as before.
fn settle(root: &Path, canary: &Canary, before: &StorePrint, made: &[&str], ctx: &str) {
    canary.assert_untouched(ctx);
    assert!(
        temporaries(root).is_empty(),
        "{ctx}: {:?}",
        temporaries(root)
    );
    for name in made {
        if wharf_tests::listed(root).iter().any(|i| i.0 == *name) {
            ok(root, &["remove", name]);
        }
    }
    assert!(
        temporaries(root).is_empty(),
        "{ctx}: {:?}",
        temporaries(root)
    );
    assert_same_store(before, &store_fingerprint(root), ctx);
}

#[test]
fn hostile_tar_archives_are_refused_or_confined() {
    let s = TestStore::new(Fs::Host, 0);
    let root = &s.root;
    small_image(&root.join("keep"));
    let canary = Canary::new(&s.scratch);
    let before = store_fingerprint(root);
    let (mut refused, mut confined) = (0, 0);
    for (case, needle) in TAR_CASES {
        let t = s.scratch.join(format!("{case}.tar"));
        hostile::tar(case, &t, &canary.dir);
        let ctx = format!("tar {case}");
        let args = ["import-tar", "--size-max=1G", t.to_str().unwrap(), "h"];
        let (end, run) = attempt(root, &args, needle, &ctx);
        if end == End::Confined {
            // Only cases without a required refusal may end here; what they made is inside
            // the image (the canary and the rest of the store are checked in `settle`).
            assert!(needle.is_empty(), "{ctx}: imported: {run:?}");
            let img = root.join("h");
            assert!(img.is_dir(), "{ctx}: no image after success");
            confined += 1;
        } else {
            refused += 1;
        }
        settle(root, &canary, &before, &["h"], &ctx);
    }
    report(
        "hostile-tar",
        &[
            ("cases", TAR_CASES.len()),
            ("refused", refused),
            ("confined", confined),
            ("escaped", 0),
            ("panics", 0),
        ],
    );
}

#[test]
fn hostile_oci_layers_are_refused_or_confined() {
    require_tools();
    let s = TestStore::new(Fs::Host, 0);
    let root = &s.root;
    small_image(&root.join("keep"));
    let canary = Canary::new(&s.scratch);
    let outside = canary.dir.to_str().unwrap().to_string();
    let before = store_fingerprint(root);
    let l = Layout::init(&s.scratch.join("layout"));
    let mut cases: Vec<(String, String, &str)> = Vec::new(); // (label, tag, needle)

    // Whiteouts and opaque markers reaching through a symlink to the outside.
    let sym = s.scratch.join("sym.tar");
    LayerTar::new()
        .symlink("s", &outside)
        .symlink("rel", "../../../../../../../../..")
        .write(&sym);
    l.add_layer("base", "sym", &sym);
    for (label, layer) in [
        (
            "whiteout-through-symlink",
            LayerTar::new().whiteout("s/untouched"),
        ),
        ("opaque-through-symlink", LayerTar::new().opaque("s")),
        (
            "whiteout-through-relative-symlink",
            LayerTar::new().whiteout(&format!("rel{outside}/untouched")),
        ),
        (
            "write-through-symlink",
            LayerTar::new().file("s/new", b"x", 0o644),
        ),
        (
            "symlink-parent-swap",
            LayerTar::new()
                .symlink("d", &outside)
                .file("d/untouched", b"overwritten", 0o644),
        ),
        (
            "hardlink-through-symlink",
            LayerTar::new().hardlink("h", "s/untouched"),
        ),
    ] {
        let p = s.scratch.join(format!("{label}.tar"));
        layer.write(&p);
        l.add_layer("sym", label, &p);
        l.config(label, &["--config.cmd=/x"]);
        cases.push((label.into(), label.into(), ""));
    }
    // Whiteouts with ".." or absolute names (hand-made headers).
    for case in LAYER_CASES {
        let p = s.scratch.join(format!("{case}.tar"));
        hostile::tar(case, &p, &canary.dir);
        l.add_layer("base", case, &p);
        l.config(case, &["--config.cmd=/x"]);
        cases.push((case.to_string(), case.to_string(), ""));
    }
    // Every tar case as a layer, too.
    for (case, _) in TAR_CASES.iter().filter(|(c, _)| *c != "truncated") {
        let p = s.scratch.join(format!("layer-{case}.tar"));
        hostile::tar(case, &p, &canary.dir);
        let tag = format!("tar-{case}");
        l.add_layer("base", &tag, &p);
        l.config(&tag, &["--config.cmd=/x"]);
        cases.push((tag.clone(), tag, ""));
    }
    let (mut refused, mut confined) = (0, 0);
    for (label, tag, needle) in &cases {
        let ctx = format!("oci {label}");
        let args = [
            "import-oci",
            l.dir.to_str().unwrap(),
            "h",
            "--ref",
            tag.as_str(),
        ];
        match attempt(root, &args, needle, &ctx).0 {
            End::Refused => refused += 1,
            End::Confined => confined += 1,
        }
        settle(root, &canary, &before, &["h"], &ctx);
    }
    // Bad digests: a layer blob changed after the fact, a digest naming a path.
    let (m, _) = l.manifest("sym");
    let digest = m["layers"].as_array().unwrap().last().unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let blob = l.blob(&digest);
    let mut bytes = fs::read(&blob).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    fs::write(&blob, bytes).unwrap();
    let args = ["import-oci", l.dir.to_str().unwrap(), "h", "--ref", "sym"];
    assert_eq!(
        attempt(root, &args, "", "oci flipped blob").0,
        End::Refused,
        "a corrupt layer was imported"
    );
    settle(root, &canary, &before, &["h"], "oci flipped blob");
    refused += 1;
    let index_path = l.dir.join("index.json");
    let mut index: serde_json::Value =
        serde_json::from_slice(&fs::read(&index_path).unwrap()).unwrap();
    index["manifests"][0]["digest"] = "sha256:../../../../etc/passwd".into();
    fs::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
    let args = ["import-oci", l.dir.to_str().unwrap(), "h"];
    assert_eq!(
        attempt(root, &args, "", "oci path digest").0,
        End::Refused,
        "a digest naming a path was followed"
    );
    settle(root, &canary, &before, &["h"], "oci path digest");
    refused += 1;
    report(
        "hostile-oci",
        &[
            ("cases", cases.len() + 2),
            ("refused", refused),
            ("confined", confined),
            ("escaped", 0),
            ("panics", 0),
        ],
    );
}

#[test]
fn hostile_qcow2_and_gpt_images_are_refused_or_confined() {
    let s = TestStore::new(Fs::Host, 0);
    let root = &s.root;
    small_image(&root.join("keep"));
    let canary = Canary::new(&s.scratch);
    let before = store_fingerprint(root);
    let (mut refused, mut confined) = (0, 0);
    for case in QCOW2_CASES {
        let q = s.scratch.join(format!("{case}.qcow2"));
        hostile::qcow2(case, &q, &canary.dir);
        let ctx = format!("qcow2 {case}");
        let needle = if *case == "backing-file-outside" {
            "backing"
        } else {
            ""
        };
        let args = ["import-raw", q.to_str().unwrap(), "h"];
        let (end, run) = attempt(root, &args, needle, &ctx);
        if end == End::Confined {
            // The image is no larger than the 64 MiB the header claims.
            assert!(needle.is_empty(), "{ctx}: imported: {run:?}");
            let len = fs::metadata(root.join("h.raw")).unwrap().len();
            assert!(len <= 64 << 20, "{ctx}: {len} bytes");
            confined += 1;
        } else {
            refused += 1;
        }
        settle(root, &canary, &before, &["h"], &ctx);
        // convert (to a file outside the store) ends the same way, never a partial output.
        let out = s.scratch.join("out.raw");
        let args = ["convert", q.to_str().unwrap(), out.to_str().unwrap()];
        let (end, _) = attempt(root, &args, needle, &format!("convert {ctx}"));
        if end == End::Refused {
            assert!(!out.exists(), "{ctx}: convert left {}", out.display());
        }
        let _ = fs::remove_file(&out);
        canary.assert_untouched(&ctx);
    }
    for case in GPT_CASES {
        let disk = root.join("g.raw");
        hostile::gpt(case, &disk);
        let ctx = format!("gpt {case}");
        for args in [
            &["image-status", "g"][..],
            &["image-status", "--json", "g"][..],
            &["show-image", "g"][..],
        ] {
            let (_, run) = attempt(root, args, "", &format!("{ctx} {args:?}"));
            assert!(
                run.stdout.len() < 64 << 10,
                "{ctx}: {} bytes",
                run.stdout.len()
            );
        }
        let (end, _) = attempt(root, &["clone", "g", "g2"], "", &ctx);
        if end == End::Confined {
            confined += 1;
        } else {
            refused += 1;
        }
        settle(root, &canary, &before, &["g", "g2"], &ctx);
    }
    report(
        "hostile-disk",
        &[
            ("qcow2_cases", QCOW2_CASES.len()),
            ("gpt_cases", GPT_CASES.len()),
            ("refused", refused),
            ("confined", confined),
            ("escaped", 0),
            ("panics", 0),
        ],
    );
}
