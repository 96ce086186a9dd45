//! Value checks shared by several keys: names, paths, signals, numbers with units, CPU sets.

/// Capability names known to Linux 6.x (index = capability number).
pub const CAPABILITIES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// A capability name (any case) or number as systemd's `capability_from_name()` accepts it,
/// returned in canonical upper case (`CAP_SYS_ADMIN`); numbers above the known table stay
/// numbers (the kernel allows up to 62).
pub fn capability(word: &str) -> Result<String, String> {
    if let Some(name) = CAPABILITIES.iter().find(|n| n.eq_ignore_ascii_case(word)) {
        return Ok((*name).to_string());
    }
    match word.parse::<u8>() {
        Ok(n) if usize::from(n) < CAPABILITIES.len() => Ok(CAPABILITIES[usize::from(n)].into()),
        Ok(n) if n <= 62 => Ok(n.to_string()),
        _ => Err(format!("unknown capability {word:?}")),
    }
}

/// Standard signals with their Linux numbers (x86, arm, arm64, riscv, s390, ppc).
const SIGNALS: [(&str, i32); 31] = [
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("IOT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("PWR", 30),
];
/// glibc's SIGRTMIN (the kernel's 32 plus the two glibc keeps for itself) and SIGRTMAX.
const RTMIN: i32 = 34;
const RTMAX: i32 = 64;

/// The signal number of a name as systemd's `signal_from_string()` accepts it: `SIGTERM`,
/// `TERM`, `SIGRTMIN+3`, `RTMIN+3`, `RTMAX-2`, or a number 1–64. Numbers use the Linux values
/// shared by x86, arm, arm64, riscv, s390 and ppc (not alpha, mips, parisc or sparc).
pub fn signal_number(s: &str) -> Option<i32> {
    let name = s.strip_prefix("SIG").unwrap_or(s);
    if let Some(&(_, n)) = SIGNALS.iter().find(|(sig, _)| *sig == name) {
        return Some(n);
    }
    let offset = |rest: &str| -> Option<i32> {
        if rest.is_empty() {
            return Some(0);
        }
        let digits = rest.strip_prefix(['+', '-'])?;
        if digits.is_empty() || digits.len() > 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: i32 = digits.parse().ok()?;
        Some(if rest.starts_with('-') { -n } else { n })
    };
    let n = if let Some(rest) = name.strip_prefix("RTMIN") {
        (!rest.starts_with('-')).then_some(())?;
        RTMIN + offset(rest)?
    } else if let Some(rest) = name.strip_prefix("RTMAX") {
        (!rest.starts_with('+')).then_some(())?;
        RTMAX + offset(rest)?
    } else if name.len() == s.len() && !s.is_empty() && s.len() <= 2 {
        s.bytes().all(|b| b.is_ascii_digit()).then_some(())?;
        s.parse().ok()?
    } else {
        return None;
    };
    (1..=RTMAX).contains(&n).then_some(n)
}

/// systemd's architecture names (`Personality=` takes one; whether it fits the host is the
/// launcher's business).
pub const ARCHITECTURES: [&str; 34] = [
    "alpha",
    "arc",
    "arc-be",
    "arm",
    "arm-be",
    "arm64",
    "arm64-be",
    "cris",
    "ia64",
    "loongarch64",
    "m68k",
    "mips",
    "mips-le",
    "mips64",
    "mips64-le",
    "nios2",
    "parisc",
    "parisc64",
    "ppc",
    "ppc-le",
    "ppc64",
    "ppc64-le",
    "riscv32",
    "riscv64",
    "s390",
    "s390x",
    "sh",
    "sh64",
    "sparc",
    "sparc64",
    "tilegx",
    "x86",
    "x86-64",
    "native",
];

/// An absolute path without NUL or line breaks.
pub fn absolute_path(s: &str) -> Result<(), String> {
    if !s.starts_with('/') {
        return Err(format!("{s:?} is not an absolute path"));
    }
    if s.contains(['\0', '\n', '\r']) {
        return Err(format!("{s:?} contains a control character"));
    }
    if s.len() > 4096 {
        return Err("path is longer than 4096 bytes".into());
    }
    Ok(())
}

/// systemd's `hostname_is_valid()`: dot-separated labels of letters, digits and `-`, at most
/// 64 bytes, no empty label.
pub fn hostname(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!("{s:?} is not a valid hostname"))
    }
}

/// systemd's `ifname_valid()`: 1–15 bytes, printable ASCII, no `/`, `:`, `%` or whitespace, not
/// `.` or `..`.
pub fn ifname(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 15
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b"/:%".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!("{s:?} is not a valid network interface name"))
    }
}

/// systemd's `valid_user_group_name()` in relaxed mode: no leading `-`, no whitespace, `:`,
/// `/` or control characters, not `.`/`..`, not all digits, at most 255 bytes.
pub fn user_name(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 255
        && !s.starts_with('-')
        && s != "."
        && s != ".."
        && !s.bytes().all(|b| b.is_ascii_digit())
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ':' || c == '/');
    if ok {
        Ok(())
    } else {
        Err(format!("{s:?} is not a valid user name"))
    }
}

/// A decimal number with an optional fraction, followed by the rest of the string.
fn number_prefix(s: &str) -> Option<(u64, u64, u32, &str)> {
    let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
    let (int, rest) = s.split_at(int_len);
    let (frac, rest) = match rest.strip_prefix('.') {
        Some(r) => {
            let n = r.bytes().take_while(u8::is_ascii_digit).count();
            r.split_at(n)
        }
        None => ("", rest),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let int = if int.is_empty() { 0 } else { int.parse().ok()? };
    // Only the first 9 fraction digits count; more would overflow and add nothing.
    let frac = &frac[..frac.len().min(9)];
    let digits = frac.len() as u32;
    let frac = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    Some((int, frac, digits, rest))
}

/// `int.frac * unit`, rounded down, or None on overflow.
fn scale(int: u64, frac: u64, digits: u32, unit: u64) -> Option<u64> {
    let whole = int.checked_mul(unit)?;
    let part = u128::from(frac) * u128::from(unit) / 10u128.pow(digits);
    whole.checked_add(u64::try_from(part).ok()?)
}

/// systemd's `parse_size(s, 1024)`: a number with an optional fraction and an optional suffix
/// `B K M G T P E` (powers of 1024); several parts add up (`1G 512M`).
pub fn size(s: &str) -> Result<u64, String> {
    const UNITS: [(&str, u32); 7] = [
        ("E", 60),
        ("P", 50),
        ("T", 40),
        ("G", 30),
        ("M", 20),
        ("K", 10),
        ("B", 0),
    ];
    sum_parts(s, |unit| {
        if unit.is_empty() {
            return Some(1);
        }
        UNITS
            .iter()
            .find(|(u, _)| *u == unit)
            .map(|(_, shift)| 1u64 << shift)
    })
    .map_err(|e| format!("invalid size {s:?}: {e}"))
}

/// systemd's `parse_time()`: parts like `1h 30min` add up; a bare number is in `default_unit`
/// microseconds. Returns microseconds.
pub fn time_usec(s: &str, default_unit: u64) -> Result<u64, String> {
    const UNITS: [(&[&str], u64); 10] = [
        (&["seconds", "second", "sec", "s"], 1_000_000),
        (&["minutes", "minute", "min", "m"], 60_000_000),
        (&["hours", "hour", "hr", "h"], 3_600_000_000),
        (&["days", "day", "d"], 86_400_000_000),
        (&["weeks", "week", "w"], 604_800_000_000),
        (&["months", "month", "M"], 2_629_800_000_000),
        (&["years", "year", "y"], 31_557_600_000_000),
        (&["msec", "ms"], 1_000),
        (&["usec", "us", "µs", "μs"], 1),
        (&["nsec", "ns"], 0),
    ];
    sum_parts(s, |unit| {
        if unit.is_empty() {
            return Some(default_unit);
        }
        UNITS
            .iter()
            .find(|(names, _)| names.contains(&unit))
            .map(|(_, usec)| *usec)
    })
    .map_err(|e| format!("invalid time span {s:?}: {e}"))
}

/// Sum `NUMBER[ ]UNIT` parts separated by whitespace.
fn sum_parts(s: &str, unit: impl Fn(&str) -> Option<u64>) -> Result<u64, String> {
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err("empty".into());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let (int, frac, digits, after) = number_prefix(rest).ok_or("expected a number")?;
        let after = after.trim_start();
        let unit_len = after.find(|c: char| c.is_ascii_digit() || c.is_whitespace() || c == '.');
        let (name, next) = after.split_at(unit_len.unwrap_or(after.len()));
        let factor = unit(name).ok_or_else(|| format!("unknown unit {name:?}"))?;
        let part = scale(int, frac, digits, factor).ok_or("too large")?;
        total = total.checked_add(part).ok_or("too large")?;
        rest = next.trim_start();
    }
    Ok(total)
}

/// Highest CPU number accepted by `CPUAffinity=` (the kernel's `NR_CPUS` limit is 8192).
pub const MAX_CPU: u32 = 8191;

/// systemd's `parse_cpu_set()`: numbers and ranges `A-B` separated by whitespace or commas.
/// Returned sorted and without duplicates.
pub fn cpu_set(s: &str) -> Result<Vec<u32>, String> {
    let mut set = vec![false; 0];
    for word in s.split(|c: char| c == ',' || c.is_ascii_whitespace()) {
        if word.is_empty() {
            continue;
        }
        let (a, b) = word.split_once('-').unwrap_or((word, word));
        let num = |x: &str| -> Result<u32, String> {
            let n: u32 = x
                .trim()
                .parse()
                .map_err(|_| format!("invalid CPU number {x:?}"))?;
            if n > MAX_CPU {
                return Err(format!("CPU {n} is above the limit {MAX_CPU}"));
            }
            Ok(n)
        };
        let (a, b) = (num(a)?, num(b)?);
        if a > b {
            return Err(format!("invalid CPU range {word:?}"));
        }
        if set.len() <= b as usize {
            set.resize(b as usize + 1, false);
        }
        set[a as usize..=b as usize].fill(true);
    }
    Ok(set
        .iter()
        .enumerate()
        .filter(|(_, on)| **on)
        .map(|(i, _)| i as u32)
        .collect())
}

/// A machine ID: 32 hex digits or a dashed UUID, not all zero; returned as 32 lower-case hex.
pub fn machine_id(s: &str) -> Result<String, String> {
    let hex: String = if s.len() == 36 {
        let dashes = [8, 13, 18, 23];
        if !dashes.iter().all(|&i| s.as_bytes()[i] == b'-') {
            return Err(format!("{s:?} is not a 128-bit ID"));
        }
        s.chars().filter(|&c| c != '-').collect()
    } else {
        s.to_string()
    };
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{s:?} is not a 128-bit ID (32 hex digits)"));
    }
    if hex.bytes().all(|b| b == b'0') {
        return Err("the all-zero ID is not a machine ID".into());
    }
    Ok(hex.to_ascii_lowercase())
}

/// A system call or `@group` name for `SystemCallFilter=`.
pub fn syscall_name(s: &str) -> Result<(), String> {
    let body = s.strip_prefix('@').unwrap_or(s);
    let ok = !body.is_empty()
        && s.len() <= 64
        && body
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!("{s:?} is not a system call or @group name"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals() {
        for (s, n) in [
            ("SIGTERM", 15),
            ("TERM", 15),
            ("SIGRTMIN+3", 37),
            ("RTMIN+3", 37),
            ("SIGRTMIN", 34),
            ("RTMAX-1", 63),
            ("SIGRTMAX", 64),
            ("9", 9),
            ("64", 64),
            ("SIGIOT", 6),
        ] {
            assert_eq!(signal_number(s), Some(n), "{s}");
        }
        for s in [
            "",
            "SIG",
            "sigterm",
            "0",
            "65",
            "RTMIN+31",
            "RTMIN-1",
            "RTMAX+1",
            "SIG9",
            "RTMIN+",
            "RTMIN++3",
            "+3",
            "SIGRTMIN+003",
        ] {
            assert_eq!(signal_number(s), None, "{s}");
        }
    }

    #[test]
    fn sizes_and_times() {
        assert_eq!(size("10"), Ok(10));
        assert_eq!(size("4K"), Ok(4096));
        assert_eq!(size("1.5M"), Ok(1536 * 1024));
        assert_eq!(size("1G 512M"), Ok(1536 << 20));
        assert_eq!(size("2 T"), Ok(2 << 40));
        assert!(size("16E").is_err());
        assert!(size("1KiB").is_err());
        assert!(size("-1").is_err());
        assert_eq!(time_usec("90", 1_000_000), Ok(90_000_000));
        assert_eq!(time_usec("1h 30min", 1), Ok(5_400_000_000));
        assert_eq!(time_usec("1.5s", 1), Ok(1_500_000));
        assert_eq!(time_usec("20ms", 1), Ok(20_000));
        assert!(time_usec("5 parsecs", 1).is_err());
        assert!(time_usec("99999999999999999999", 1).is_err());
    }

    #[test]
    fn cpus() {
        assert_eq!(cpu_set("0-3 5,7"), Ok(vec![0, 1, 2, 3, 5, 7]));
        assert_eq!(cpu_set("3,1,1 2"), Ok(vec![1, 2, 3]));
        assert!(cpu_set("3-1").is_err());
        assert!(cpu_set("0-4294967295").is_err());
        assert!(cpu_set("x").is_err());
    }
}
