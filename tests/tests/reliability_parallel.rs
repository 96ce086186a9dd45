//! Reliability, part 3: 50 operations at once on one name — import-tar, clone and rename mixed.
//! Exactly one wins; every other fails with one clear line (the name is busy or already
//! exists); the winner's image is exactly what its operation makes; the sources of the losing
//! renames are untouched; no `.#` entry is left (without running `clean`). One round in the
//! normal suite, more with `WHARF_RELIABILITY_ROUNDS`.

use std::fs;
use std::path::Path;
use std::process::{Child, Stdio};

use wharf_tests::fixtures::{Fs, TestStore};
use wharf_tests::reliability::{comparable, fingerprint, report, rounds, small_image, strip_mtime};
use wharf_tests::tree::build_bulk_tree;
use wharf_tests::{ok, sh, temporaries, wharf, Run};

const N: usize = 50;

fn tree_print(p: &Path) -> Vec<(std::path::PathBuf, String)> {
    fingerprint(p)
        .into_iter()
        .map(|(k, v)| {
            if k.as_os_str().is_empty() {
                (k, strip_mtime(&v))
            } else {
                (k, v)
            }
        })
        .collect()
}

#[test]
fn fifty_operations_on_one_name_exactly_one_wins() {
    let s = TestStore::new(Fs::Host, 0);
    let root = &s.root;
    // Sources: a clone source, a tarball, and one image per rename.
    let src = root.join("src");
    small_image(&src);
    build_bulk_tree(&src, 2);
    let tree = s.scratch.join("tree");
    small_image(&tree);
    fs::write(tree.join("from-tar"), "tar\n").unwrap();
    let tarball = s.scratch.join("t.tar");
    sh(
        "tar",
        &[
            "--format=pax",
            "--numeric-owner",
            "-C",
            tree.to_str().unwrap(),
            "-cf",
            tarball.to_str().unwrap(),
            ".",
        ],
    );
    let mut total_winners = 0;
    let mut total_losers = 0;
    let mut busy = 0;
    let mut exists = 0;
    let rounds = rounds(1);
    for round in 0..rounds {
        let renames: Vec<String> = (0..N)
            .filter(|i| i % 3 == 2)
            .map(|i| format!("r{i}"))
            .collect();
        for r in &renames {
            let p = root.join(r);
            small_image(&p);
            fs::write(p.join("which"), r).unwrap();
        }
        let expected_src = tree_print(&src);
        let expected_tar = {
            ok(root, &["import-tar", tarball.to_str().unwrap(), "probe"]);
            let fp = tree_print(&root.join("probe"));
            ok(root, &["remove", "probe"]);
            fp
        };
        let rename_prints: Vec<_> = renames.iter().map(|r| tree_print(&root.join(r))).collect();
        let before = comparable(root);

        let args: Vec<Vec<String>> = (0..N)
            .map(|i| match i % 3 {
                0 => vec![
                    "import-tar".into(),
                    tarball.to_str().unwrap().into(),
                    "dst".into(),
                ],
                1 => vec!["clone".into(), "src".into(), "dst".into()],
                _ => vec!["rename".into(), format!("r{i}"), "dst".into()],
            })
            .collect();
        let children: Vec<Child> = args
            .iter()
            .map(|a| {
                wharf(root)
                    .args(a)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let runs: Vec<Run> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap().into())
            .collect();
        let winners: Vec<usize> = (0..N).filter(|i| runs[*i].ok).collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: winners {winners:?}: {runs:#?}"
        );
        let w = winners[0];
        for (i, r) in runs.iter().enumerate().filter(|(i, _)| *i != w) {
            assert_eq!(r.code, Some(1), "{:?}: {r:?}", args[i]);
            assert_eq!(
                r.stderr.trim_end().lines().count(),
                1,
                "{:?}: {r:?}",
                args[i]
            );
            assert!(!r.stderr.contains("panicked"), "{r:?}");
            if r.stderr.contains("image dst is busy") {
                busy += 1;
            } else if r.stderr.contains("image dst already exists") {
                exists += 1;
            } else {
                panic!("{:?}: unexpected error {:?}", args[i], r.stderr);
            }
        }
        assert!(temporaries(root).is_empty(), "{:?}", temporaries(root));
        // The winner's image is exactly what its operation makes.
        let got = tree_print(&root.join("dst"));
        let want = match w % 3 {
            0 => expected_tar.clone(),
            1 => expected_src.clone(),
            _ => rename_prints[renames.iter().position(|r| *r == format!("r{w}")).unwrap()].clone(),
        };
        assert_eq!(
            got, want,
            "round {round}: winner {:?} left a damaged image",
            args[w]
        );
        // Everything else is as before (a winning rename took its source away).
        let mut now = comparable(root);
        now.remove("dst");
        let mut expect = before.clone();
        if w % 3 == 2 {
            expect.remove(&format!("r{w}"));
        }
        assert_eq!(now, expect, "round {round}: other images changed");
        println!("round {round}: winner {:?}", args[w]);
        total_winners += winners.len();
        total_losers += N - 1;
        // Next round from the same start.
        ok(root, &["remove", "dst"]);
        for r in &renames {
            if root.join(r).exists() {
                ok(root, &["remove", r]);
            }
        }
    }
    report(
        "parallel",
        &[
            ("rounds", rounds),
            ("operations", rounds * N),
            ("winners_per_round", total_winners / rounds),
            ("losers", total_losers),
            ("busy", busy),
            ("already_exists", exists),
            ("residue", 0),
        ],
    );
}
