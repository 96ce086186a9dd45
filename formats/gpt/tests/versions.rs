//! `version_compare` against systemd's own implementation (`systemd-analyze
//! compare-versions`, systemd 252 on the test machine) on edge cases and generated strings.
//! Skipped with a loud message on the terminal when `systemd-analyze` is not installed.

mod common;

use std::cmp::Ordering;
use std::io::Write;
use std::process::Command;

use common::find_tool;
use wharf_gpt::version_compare;

/// systemd's verdict, from the operator it prints between the two (space-free) strings; the
/// exit status encodes it too (0 equal, 11 greater, 12 less), so it is not an error.
fn systemd_compare(exe: &std::path::Path, a: &str, b: &str) -> Ordering {
    let out = Command::new(exe)
        .args(["compare-versions", "--", a, b])
        .output()
        .expect("run systemd-analyze");
    let out = String::from_utf8_lossy(&out.stdout);
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(words.len(), 3, "unexpected output {out:?}");
    match words[1] {
        "<" => Ordering::Less,
        "==" => Ordering::Equal,
        ">" => Ordering::Greater,
        other => panic!("unexpected operator {other:?} in {out:?}"),
    }
}

const EDGE_CASES: [(&str, &str); 16] = [
    ("0", "~"),
    ("", "~"),
    ("~_1", "~1"),
    ("-~", "-."),
    ("1-", "1-x"),
    ("123^post1", "123.a-1"),
    ("root-1.10~rc1", "root-1.10"),
    ("root-1.10", "root-1.2"),
    ("007", "7"),
    ("1.0000000000000000000000000002", "1.1"),
    ("1_2_3", "1.3.3"),
    ("11α", "11β"),
    ("A", "a"),
    ("abc", "abcd"),
    ("^", "."),
    ("~~", "~"),
];

#[test]
fn agrees_with_systemd_analyze() {
    let Some(exe) = find_tool("systemd-analyze") else {
        let _ = writeln!(
            std::io::stderr(),
            "\n!!!! SKIPPED the version_compare cross-check: systemd-analyze is not installed \
             (apt-get install systemd) !!!!\n"
        );
        return;
    };
    let mut pairs: Vec<(String, String)> = EDGE_CASES
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let atoms = [
        "0", "1", "2", "10", "007", "a", "b", "Z", "rc", "~", "-", "^", ".", "_", "é",
    ];
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..400 {
        let mut gen = || {
            let n = (next() % 6) as usize;
            (0..n)
                .map(|_| atoms[(next() % atoms.len() as u64) as usize])
                .collect::<String>()
        };
        pairs.push((gen(), gen()));
    }
    let mismatches: Vec<String> = pairs
        .iter()
        .filter_map(|(a, b)| {
            let (ours, theirs) = (version_compare(a, b), systemd_compare(&exe, a, b));
            (ours != theirs).then(|| format!("{a:?} vs {b:?}: ours {ours:?}, systemd {theirs:?}"))
        })
        .collect();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
