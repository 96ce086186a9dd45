//! Reliability, part 5: bad command lines. Every invocation in the table fails with exit status
//! 2 (a usage error found by the argument parser) or 1 (a bad value or a missing or wrong
//! file found by wharf), prints exactly one line on stderr (`wharf: …`, naming what is wrong —
//! clap's usage block is folded into that one line), nothing on stdout, never "panicked", and
//! leaves the store exactly as it was.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;

use wharf_tests::fixtures::{Fs, TestStore};
use wharf_tests::reliability::{assert_same_store, report, small_image, store_fingerprint};
use wharf_tests::{temporaries, wharf, Run};

/// One bad invocation: arguments, the exit status it must end with, a piece of the message.
struct Bad {
    args: Vec<OsString>,
    code: i32,
    needle: &'static str,
}

fn bad(args: &[&str], code: i32, needle: &'static str) -> Bad {
    Bad {
        args: args.iter().map(OsString::from).collect(),
        code,
        needle,
    }
}

fn bad_os(args: Vec<OsString>, code: i32, needle: &'static str) -> Bad {
    Bad { args, code, needle }
}

/// At most the first and the last 1000 characters (messages quoting a 80 kB path stay readable).
fn brief(s: &str) -> String {
    let c: Vec<char> = s.chars().collect();
    if c.len() <= 2000 {
        return s.to_string();
    }
    let head: String = c[..1000].iter().collect();
    let tail: String = c[c.len() - 1000..].iter().collect();
    format!("{head}…{tail}")
}

#[test]
fn bad_invocations_fail_with_one_line_and_change_nothing() {
    let s = TestStore::new(Fs::Host, 0);
    let root = &s.root;
    small_image(&root.join("a"));
    fs::write(root.join("disk.raw"), vec![0u8; 1 << 20]).unwrap();
    let text = s.scratch.join("notes.txt");
    fs::write(&text, "root:x:0:0:root:/root:/bin/bash\nsecond line\n").unwrap();
    let dir = s.scratch.join("somedir");
    fs::create_dir(&dir).unwrap();
    let t = text.to_str().unwrap();
    let d = dir.to_str().unwrap();
    let out = s.scratch.join("out.qcow2");
    let o = out.to_str().unwrap();
    let long_name = "n".repeat(100_000);
    let long_path = format!("/{}", "p/".repeat(40_000));
    let non_utf8 = OsStr::from_bytes(b"bad\xffname").to_os_string();
    let mut table = vec![
        // The parser: verbs, options, missing arguments, bad values.
        bad(&[], 2, "requires a subcommand"),
        bad(&["frobnicate"], 2, "unrecognized subcommand 'frobnicate'"),
        bad(&["--bogus", "list-images"], 2, "'--bogus'"),
        bad(&["list-images", "--bogus"], 2, "'--bogus'"),
        bad(&["list-images", "extra"], 2, "'extra'"),
        bad(&["clone"], 2, "<SOURCE>"),
        bad(&["clone", "a"], 2, "required"),
        bad(&["rename", "a"], 2, "required"),
        bad(&["remove"], 2, "required"),
        bad(&["import-tar"], 2, "required"),
        bad(&["convert", t], 2, "required"),
        bad(&["read-only", "a", "maybe"], 2, "maybe"),
        bad(&["set-limit", "a", "-5"], 2, "'-5'"),
        bad(&["start"], 2, "required"),
        bad(&["export-tar", "a", "--format"], 2, "--format"),
        // Names.
        bad(&["clone", "a", ".#x"], 1, "invalid image name"),
        bad(&["clone", "a", "x/y"], 1, "invalid image name"),
        bad(&["clone", "a", ""], 1, "name is empty"),
        bad(&["clone", "a", ".."], 1, "invalid image name"),
        bad(&["clone", "a", "b.raw"], 1, "reserved suffix"),
        bad(&["rename", "a", "b.nspawn"], 1, "reserved suffix"),
        bad(&["clone", "a", "tab\there"], 1, "invalid image name"),
        bad(&["clone", "a", &long_name], 1, "invalid image name"),
        bad(&["clone", "missing", "b"], 1, "image missing not found"),
        bad(&["remove", "missing"], 1, "image missing not found"),
        bad(&["image-status", "missing"], 1, "image missing not found"),
        bad(&["clone", "a", "disk"], 1, "already exists"),
        // Numbers and sizes.
        bad(&["set-limit", "a", "abc"], 1, "invalid size \"abc\""),
        bad(
            &["set-limit", "a", "99999999999999999999999T"],
            1,
            "out of range",
        ),
        bad(&["import-tar", "--size-max=xyz", t, "x"], 1, "invalid size"),
        bad(&["convert", "--compress=lz4", t, o], 1, "lz4"),
        bad(&["export-tar", "a", "--format=lz4"], 1, "lz4"),
        // Paths that do not exist, wrong file types.
        bad(
            &["import-tar", "/nonexistent/x.tar", "x"],
            1,
            "No such file",
        ),
        bad(
            &["import-raw", "/nonexistent/x.raw", "x"],
            1,
            "No such file",
        ),
        bad(
            &["import-oci", "/nonexistent/layout", "x"],
            1,
            "No such file",
        ),
        bad(&["convert", "/nonexistent/x.raw", o], 1, "No such file"),
        bad(&["import-tar", &long_path, "x"], 1, "too long"),
        bad(&["import-tar", d, "x"], 1, "Is a directory"),
        bad(&["import-raw", d, "x"], 1, "Is a directory"),
        bad(&["import-raw", "/dev/null", "x"], 1, "not a regular file"),
        bad(&["import-tar", t, "x"], 1, "tar"),
        bad(&["import-oci", t, "x"], 1, "not a valid tar archive"),
        bad(&["convert", d, o], 1, "Is a directory"),
        bad(
            &["export-tar", "a", "/nonexistent/dir/out.tar"],
            1,
            "No such file",
        ),
        bad(&["export-raw", "a", "/nonexistent/x.raw"], 1, "export-tar"),
        bad(
            &["pull-tar", "ftp://example.invalid/x.tar", "x"],
            1,
            "unsupported scheme",
        ),
        bad(&["pull-tar", "not a url", "x"], 1, "invalid url"),
        bad(&["pull-oci", "::bad::", "x"], 1, "invalid image reference"),
        bad(
            &["run", "-M", "missing", "/bin/true"],
            1,
            "image missing not found",
        ),
    ];
    // Non-UTF-8 arguments: refused by the parser (wharf's arguments are strings).
    table.push(bad_os(
        vec!["clone".into(), "a".into(), non_utf8.clone()],
        2,
        "invalid UTF-8",
    ));
    table.push(bad_os(
        vec!["import-tar".into(), non_utf8.clone(), "x".into()],
        2,
        "invalid UTF-8",
    ));
    let before = store_fingerprint(root);
    let mut usage = 0;
    let mut refused = 0;
    for b in &table {
        let r: Run = wharf(root)
            .args(&b.args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
            .into();
        let ctx: String = format!("{:?}", b.args).chars().take(120).collect();
        let r = Run {
            stdout: brief(&r.stdout),
            stderr: brief(&r.stderr),
            ..r
        };
        assert!(!r.stderr.contains("panicked"), "{ctx}: {r:?}");
        assert_eq!(r.code, Some(b.code), "{ctx}: exit status: {r:?}");
        assert_eq!(r.stdout, "", "{ctx}: stdout: {r:?}");
        let lines: Vec<&str> = r.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{ctx}: one line expected: {r:?}");
        assert!(lines[0].starts_with("wharf: "), "{ctx}: {r:?}");
        // Names are cut in messages; a path is quoted whole (it is what the user typed).
        if b.needle != "too long" {
            assert!(lines[0].len() < 600, "{ctx}: a very long line: {r:?}");
        }
        assert!(
            r.stderr.contains(b.needle),
            "{ctx}: {:?} not in {r:?}",
            b.needle
        );
        // A message never quotes the input's contents or names wharf's own temporaries.
        assert!(!r.stderr.contains("root:x:0"), "{ctx}: {r:?}");
        assert!(!r.stderr.contains("/.#"), "{ctx}: {r:?}");
        // Nothing is said twice ("invalid image reference X: invalid image reference X: …").
        let first = lines[0].split(": ").nth(1).unwrap_or("");
        assert!(
            first.len() < 12 || lines[0].matches(first).count() == 1,
            "{ctx}: repeated {first:?}: {r:?}"
        );
        assert!(
            temporaries(root).is_empty(),
            "{ctx}: {:?}",
            temporaries(root)
        );
        assert!(!out.exists(), "{ctx}: wrote {o}");
        if b.code == 2 {
            usage += 1;
        } else {
            refused += 1;
        }
    }
    assert_same_store(&before, &store_fingerprint(root), "bad invocations");
    report(
        "cli",
        &[
            ("invocations", table.len()),
            ("usage_errors", usage),
            ("refused", refused),
            ("multi_line", 0),
            ("panics", 0),
            ("store_changed", 0),
        ],
    );
}
