//! Human formatting of sizes and timestamps (machinectl's style), and parsing of sizes.

/// "1.5G", "512B": powers of 1024 with one decimal, as machinectl prints sizes.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["K", "M", "G", "T", "P", "E"];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1}{}", UNITS[unit])
}

/// Parse "10G", "1.5M", "4096", "-", "none", "infinity" (base 1024). `None` = no limit.
pub fn parse_bytes(s: &str) -> Result<Option<u64>, String> {
    let t = s.trim();
    if matches!(t, "-" | "none" | "infinity") {
        return Ok(None);
    }
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let exp = match c.to_ascii_uppercase() {
                'B' => 0,
                'K' => 1,
                'M' => 2,
                'G' => 3,
                'T' => 4,
                'P' => 5,
                'E' => 6,
                _ => return Err(format!("invalid size {s:?}: unknown unit {c:?}")),
            };
            (&t[..i], 1024u64.pow(exp))
        }
        _ => (t, 1),
    };
    let v: f64 = num.parse().map_err(|_| {
        format!("invalid size {s:?}: expected a number with an optional K, M, G, T unit")
    })?;
    if !v.is_finite() || v < 0.0 || v * mult as f64 >= u64::MAX as f64 {
        return Err(format!("invalid size {s:?}: out of range"));
    }
    Ok(Some((v * mult as f64) as u64))
}

/// "Sun 2026-11-29 03:54:27 UTC" for µs since the epoch.
pub fn timestamp(usec: u64) -> String {
    let secs = usec / 1_000_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = wharf_core::util::civil_from_days(days);
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    format!(
        "{} {y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        WD[(days.rem_euclid(7)) as usize],
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(bytes(0), "0B");
        assert_eq!(bytes(1023), "1023B");
        assert_eq!(bytes(1024), "1.0K");
        assert_eq!(bytes(1536 * 1024 * 1024), "1.5G");
        assert_eq!(parse_bytes("10G"), Ok(Some(10 << 30)));
        assert_eq!(parse_bytes("1.5M"), Ok(Some(1536 * 1024)));
        assert_eq!(parse_bytes("4096"), Ok(Some(4096)));
        assert_eq!(parse_bytes("none"), Ok(None));
        assert_eq!(parse_bytes("-"), Ok(None));
        assert!(parse_bytes("10Q").is_err());
        assert!(parse_bytes("abc").is_err());
        assert!(parse_bytes("-5").is_err());
        assert!(parse_bytes("99999999E").is_err());
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0), "Thu 1970-01-01 00:00:00 UTC");
        // 2026-11-29 03:54:27 UTC
        assert_eq!(
            timestamp(1_795_924_467_000_000),
            "Sun 2026-11-29 03:54:27 UTC"
        );
        assert_eq!(
            timestamp(951_782_400_000_000),
            "Tue 2000-02-29 00:00:00 UTC"
        );
    }
}
