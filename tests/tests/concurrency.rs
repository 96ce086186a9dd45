//! Locks and crash safety: concurrent clones onto one name, kill -9 in the middle of a clone.

use std::fs;
use std::process::{Child, Stdio};

use wharf_tests::fixtures::{Fs, TestStore};
use wharf_tests::tree::build_bulk_tree;
use wharf_tests::{listed, ok, on_each_fs, temporaries, wharf, Run};

fn spawn(s: &TestStore, args: &[&str]) -> Child {
    wharf(&s.root)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wharf")
}

fn wait_for_staging(s: &TestStore, name: &str, child: &mut Child) -> std::path::PathBuf {
    wharf_tests::wait_for_staging(&s.root, name, child)
}

fn finish(child: Child) -> Run {
    child.wait_with_output().expect("wait").into()
}

#[test]
fn second_clone_onto_a_busy_name_fails_at_once() {
    let s = TestStore::new(Fs::Host, 0);
    build_bulk_tree(
        &{
            let p = s.root.join("src");
            fs::create_dir(&p).unwrap();
            p
        },
        400,
    );
    let mut first = spawn(&s, &["clone", "src", "dst"]);
    wait_for_staging(&s, "dst", &mut first);
    let second: Run = wharf(&s.root)
        .args(["clone", "src", "dst"])
        .output()
        .unwrap()
        .into();
    let first_still_running = first.try_wait().unwrap().is_none();
    let first = finish(first);
    assert!(first.ok, "{first:?}");
    assert!(!second.ok);
    assert_eq!(second.stderr.trim(), "wharf: image dst is busy");
    assert!(
        first_still_running,
        "the loser must fail while the winner still works"
    );
    assert_eq!(listed(&s.root).iter().filter(|i| i.0 == "dst").count(), 1);
    assert!(
        temporaries(&s.root).is_empty(),
        "{:?}",
        temporaries(&s.root)
    );
}

#[test]
fn racing_clones_onto_one_name_exactly_one_wins() {
    let s = TestStore::new(Fs::Host, 0);
    build_bulk_tree(
        &{
            let p = s.root.join("src");
            fs::create_dir(&p).unwrap();
            p
        },
        32,
    );
    let children: Vec<Child> = (0..8)
        .map(|_| spawn(&s, &["clone", "src", "dst"]))
        .collect();
    let runs: Vec<Run> = children.into_iter().map(finish).collect();
    let winners = runs.iter().filter(|r| r.ok).count();
    assert_eq!(winners, 1, "{runs:?}");
    for r in runs.iter().filter(|r| !r.ok) {
        assert!(
            r.stderr.contains("is busy") || r.stderr.contains("already exists"),
            "{r:?}"
        );
    }
    assert!(
        temporaries(&s.root).is_empty(),
        "{:?}",
        temporaries(&s.root)
    );
}

on_each_fs!(
    kill_9_during_clone_leaves_no_half_image,
    1536,
    |s: &TestStore, _f: Fs| {
        // A plain directory source, so even btrfs copies file by file (a snapshot is instant).
        let src = s.root.join("src");
        fs::create_dir(&src).unwrap();
        build_bulk_tree(&src, 400);
        let mut child = spawn(s, &["clone", "src", "dst"]);
        wait_for_staging(s, "dst", &mut child);
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(!status.success());
        let names: Vec<String> = listed(&s.root).into_iter().map(|i| i.0).collect();
        assert_eq!(names, vec!["src".to_string()], "a half clone is listed");
        assert!(
            !temporaries(&s.root).is_empty(),
            "expected residue from the killed clone"
        );
        let out = ok(&s.root, &["clean"]).stdout;
        assert!(out.contains(".#dst"), "{out}");
        assert!(
            temporaries(&s.root).is_empty(),
            "{:?}",
            temporaries(&s.root)
        );
        ok(&s.root, &["clone", "src", "dst"]);
        assert_eq!(listed(&s.root).len(), 2);
    }
);
