//! Small helpers shared by the store modules (and the temporary-file naming exporters use).

use std::fs::File;
use std::io;
use std::path::Path;

/// 16 random lowercase hex digits, the suffix of staging names (`.#NAME<hex>`).
pub(crate) fn random_hex16() -> String {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        // Extremely unlikely; fall back to time and pid, still unique enough for a temp name.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        b = (t ^ (u64::from(std::process::id()) << 32)).to_le_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Whether `s` is exactly 16 lowercase hex digits.
pub(crate) fn is_hex16(s: &str) -> bool {
    s.len() == 16 && s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// A temporary name beside `path` (`.#NAME.<pid>.part`) for writing a file that is renamed
/// into place once complete, so a failed write never leaves a partial `path`.
pub fn temp_beside(path: &Path) -> std::path::PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".#{name}.{}.part", std::process::id()))
}

/// Remove the temporaries [`temp_beside`] made for `path` in processes that no longer run (a
/// convert or export killed with SIGKILL could not remove its own). Those of running processes
/// are left alone; nothing else is touched. Errors are ignored: this is tidying only.
pub fn remove_stale_temps(path: &Path) {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".#{name}.");
    for e in entries.flatten() {
        let file_name = e.file_name();
        let Some(pid) = file_name
            .to_str()
            .and_then(|f| f.strip_prefix(&prefix))
            .and_then(|rest| rest.strip_suffix(".part"))
            .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let alive = pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists();
        if !alive && e.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// fsync a directory so a rename in it is durable.
pub(crate) fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A human name for the filesystem holding `path` ("ext4", "btrfs", …), for error messages.
pub(crate) fn fs_name(path: &Path) -> String {
    let magic =
        File::open(path).and_then(|f| wharf_sys::fs::fs_magic(std::os::fd::AsFd::as_fd(&f)));
    match magic {
        Ok(0xEF53) => "ext4".into(),
        Ok(0x9123_683E) => "btrfs".into(),
        Ok(0x5846_5342) => "xfs".into(),
        Ok(0x0102_1994) => "tmpfs".into(),
        Ok(0x794C_7630) => "overlayfs".into(),
        Ok(0x6969) => "nfs".into(),
        Ok(0xF2F5_2010) => "f2fs".into(),
        Ok(m) => format!("filesystem 0x{m:x}"),
        Err(_) => "unknown filesystem".into(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn stale_temps_of_dead_processes_are_removed_and_nothing_else() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out.qcow2");
        let dead = d.path().join(".#out.qcow2.999999999.part"); // above any pid_max
        let mine = super::temp_beside(&out);
        let other = d.path().join(".#other.999999999.part");
        let odd = d.path().join(".#out.qcow2.12x.part");
        for p in [&dead, &mine, &other, &odd] {
            std::fs::write(p, b"x").unwrap();
        }
        super::remove_stale_temps(&out);
        assert!(!dead.exists());
        assert!(mine.exists() && other.exists() && odd.exists());
    }

    use super::*;

    #[test]
    fn hex16_roundtrip() {
        let a = random_hex16();
        assert!(is_hex16(&a), "{a}");
        assert_ne!(a, random_hex16());
        assert!(!is_hex16("0123456789abcdeg"));
        assert!(!is_hex16("0123456789ABCDEF"));
        assert!(!is_hex16("0123"));
    }

    #[test]
    fn tmp_is_ext4_here_or_named() {
        let n = fs_name(Path::new("/"));
        assert!(!n.is_empty());
    }
}

/// The causes below an error's top (which often only repeats what was asked, like a URL),
/// joined by ": " without repeats; the error itself when it has no cause.
pub fn error_causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !parts.last().is_some_and(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = e.source();
    }
    if parts.is_empty() {
        parts.push(err.to_string());
    }
    parts.join(": ")
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Seconds since the epoch as RFC 3339 UTC (`2026-11-29T07:50:00Z`).
pub fn rfc3339_utc(secs: u64) -> String {
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod date_tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_000), (2024, 10, 4));
        assert_eq!(rfc3339_utc(1_795_937_746), "2026-11-29T07:35:46Z");
    }
}
