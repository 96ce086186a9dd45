//! Version comparison of the UAPI "Version Format Specification", with systemd's ordering of
//! its steps (`strverscmp_improved()`), which is what picks among versioned partitions.
//!
//! The string is walked segment by segment. Characters other than ASCII letters, digits and
//! `~ - ^ .` are skipped before each segment. A segment may be introduced by a marker; where
//! only one side has the marker, that side is older:
//! - `~` (pre-release) is checked first, so `1~rc1 < 1` and even `"" > "~"`;
//! - then, if either side has ended, the side with characters left is newer;
//! - then `-` (release separator), `^` (patch suffix), `.` (point release), in that order.
//!
//! After the markers, a numeric run is newer than a letter run or nothing; two numeric runs
//! compare as numbers (leading zeros ignored, any length); letter runs compare bytewise
//! (`A < a`), a longer run being newer when one is a prefix of the other.
//!
//! The UAPI text lists the end check before `~` and gives `0 < ~`, `'' < ~` as examples;
//! systemd (and this function) answer `0 > ~` and `'' > ~`, consistent with the rule that a
//! `~` suffix sorts lowest.

use std::cmp::Ordering;

/// whether `c` takes part in comparisons (everything else separates segments).
fn is_version_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'~' | b'-' | b'^' | b'.')
}

/// the length of the run of bytes at the start of `s` satisfying `pred`.
fn run_len(s: &[u8], pred: fn(&u8) -> bool) -> usize {
    s.iter().take_while(|c| pred(c)).count()
}

/// if either side starts with `marker`: the side lacking it is newer; with it on both sides,
/// both are advanced past it.
fn marker(a: &mut &[u8], b: &mut &[u8], marker: u8) -> Option<Ordering> {
    let (in_a, in_b) = (a.first() == Some(&marker), b.first() == Some(&marker));
    match (in_a, in_b) {
        (true, true) => {
            *a = &a[1..];
            *b = &b[1..];
            None
        }
        (false, false) => None,
        // the side without the marker is newer.
        (in_a, _) => Some(if in_a {
            Ordering::Less
        } else {
            Ordering::Greater
        }),
    }
}

/// compares two numeric runs by value, without converting (they may be arbitrarily long).
fn compare_numbers(a: &[u8], b: &[u8]) -> Ordering {
    let strip = |s: &[u8]| -> usize { run_len(s, |&c| c == b'0') };
    let (a, b) = (&a[strip(a)..], &b[strip(b)..]);
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Compares two version strings; `Greater` means `a` is the newer version.
pub fn version_compare(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        a = &a[run_len(a, |&c| !is_version_char(c))..];
        b = &b[run_len(b, |&c| !is_version_char(c))..];

        if let Some(o) = marker(&mut a, &mut b, b'~') {
            return o;
        }
        if a.is_empty() || b.is_empty() {
            return (!a.is_empty()).cmp(&!b.is_empty());
        }
        for m in [b'-', b'^', b'.'] {
            if let Some(o) = marker(&mut a, &mut b, m) {
                return o;
            }
        }

        let starts_digit = |s: &[u8]| s.first().is_some_and(u8::is_ascii_digit);
        let (la, lb) = if starts_digit(a) || starts_digit(b) {
            let (la, lb) = (
                run_len(a, u8::is_ascii_digit),
                run_len(b, u8::is_ascii_digit),
            );
            // a number, even 0, is newer than no number.
            let o = (la > 0)
                .cmp(&(lb > 0))
                .then_with(|| compare_numbers(&a[..la], &b[..lb]));
            if o.is_ne() {
                return o;
            }
            (la, lb)
        } else {
            let (la, lb) = (
                run_len(a, u8::is_ascii_alphabetic),
                run_len(b, u8::is_ascii_alphabetic),
            );
            // bytewise, then the longer run is newer: exactly slice ordering.
            let o = a[..la].cmp(&b[..lb]);
            if o.is_ne() {
                return o;
            }
            (la, lb)
        };
        a = &a[la..];
        b = &b[lb..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    fn check(a: &str, b: &str, want: Ordering) {
        assert_eq!(version_compare(a, b), want, "{a:?} vs {b:?}");
        assert_eq!(version_compare(b, a), want.reverse(), "{b:?} vs {a:?}");
    }

    #[test]
    fn uapi_spec_examples() {
        check("11", "11", Equal);
        check("systemd-123", "systemd-123", Equal);
        check("bar-123", "foo-123", Less);
        check("123a", "123", Greater);
        check("123.a", "123", Greater);
        check("123.a", "123.b", Less);
        check("123a", "123.a", Greater);
        check("11α", "11β", Equal);
        check("A", "a", Less);
        check("", "0", Less);
        check("0.", "0", Greater);
        check("0.0", "0", Greater);
        check("1_", "1", Equal);
        check("_1", "1", Equal);
        check("1_", "1.2", Less);
        check("1_2_3", "1.3.3", Greater);
        check("1+", "1", Equal);
        check("+1", "1", Equal);
        check("1+", "1.2", Less);
        check("1+2+3", "1.3.3", Greater);
        // the spec lists `0 < ~` and `'' < ~`; systemd 252 (`systemd-analyze
        // compare-versions`) and the spec's own "tilde sorts lower" rule say otherwise.
        check("0", "~", Greater);
        check("", "~", Greater);
        check("~", "~", Equal);
    }

    #[test]
    fn release_ladder_is_strictly_increasing() {
        // the ordering systemd documents for strverscmp_improved(), oldest first.
        let ladder = [
            "122.1",
            "123~rc1-1",
            "123",
            "123-a",
            "123-a.1",
            "123-1",
            "123-1.1",
            "123^post1",
            "123.a-1",
            "123.1-1",
            "123a-1",
            "124-1",
        ];
        for (i, a) in ladder.iter().enumerate() {
            for (j, b) in ladder.iter().enumerate() {
                check(a, b, i.cmp(&j));
            }
        }
    }

    #[test]
    fn partition_labels() {
        check("root-1.10", "root-1.2", Greater);
        check("root-1.10~rc1", "root-1.10", Less);
        check("root-1.10~rc1", "root-1.2", Greater);
        check("fooOS_2.0", "fooOS_1.5", Greater);
        check("007", "7", Equal);
        check("1.0000000000000000000000000000002", "1.1", Greater);
        check(
            "99999999999999999999999",
            "99999999999999999999998",
            Greater,
        );
        check("", "", Equal);
        check("1-", "1-x", Less);
        check("-~", "-.", Greater);
        // a skipped character right after `~` is not skipped before the number (systemd).
        check("~_1", "~1", Less);
    }

    #[test]
    fn random_strings_are_antisymmetric_and_terminate() {
        let alphabet = b"0129aZz~-^._+\xce";
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let mut gen = || {
                let len = (next() % 8) as usize;
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize] as char)
                    .collect::<String>()
            };
            let (a, b) = (gen(), gen());
            assert_eq!(version_compare(&a, &b), version_compare(&b, &a).reverse());
            assert_eq!(version_compare(&a, &a), Equal);
        }
    }
}
