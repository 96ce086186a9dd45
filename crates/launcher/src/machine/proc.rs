//! What /proc and the cgroup tree say about a running machine.

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// The UID range of process `pid`'s user namespace as (base, count) from its `uid_map` (the
/// mapping of UID 0), `None` for the host's (`0 0 4294967295`) or when unreadable.
pub fn uid_range(pid: u32) -> Option<(u32, u32)> {
    let map = fs::read_to_string(format!("/proc/{pid}/uid_map")).ok()?;
    parse_uid_map(&map)
}

fn parse_uid_map(map: &str) -> Option<(u32, u32)> {
    let mut f = map.lines().next()?.split_whitespace();
    let (inside, base, count) = (f.next()?, f.next()?, f.next()?);
    let (base, count): (u32, u32) = (base.parse().ok()?, count.parse().ok()?);
    (inside == "0" && !(base == 0 && count == u32::MAX)).then_some((base, count))
}

#[cfg(test)]
#[test]
fn uid_maps() {
    assert_eq!(parse_uid_map("         0          0 4294967295\n"), None);
    assert_eq!(
        parse_uid_map("         0 1384120320      65536\n"),
        Some((1384120320, 65536))
    );
    assert_eq!(parse_uid_map(""), None);
}

/// A process's start time (clock ticks since boot, /proc/PID/stat field 22), `None` when there
/// is no such process or it has exited (a zombie).
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields follow the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    // rest starts at field 3 (the state); field 22 is the 20th of rest. A process that exited
    // and waits to be reaped (a zombie: its parent may be the very process asking, busy
    // waiting for it, like a test spawning `wharf boot`) counts as gone.
    let mut fields = rest.split_whitespace();
    if matches!(fields.next(), Some("Z" | "X" | "x")) {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// The machine's PID 1: the supervisor's child (a reboot replaces it).
pub fn leader_of(supervisor: u32) -> Option<u32> {
    let s = fs::read_to_string(format!("/proc/{supervisor}/task/{supervisor}/children")).ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// The machine cgroup (absolute cgroup2 path) of process `pid` of machine `name`: the ancestor
/// of its cgroup named after the machine (`machine.slice/wharf-<leaf>[-N].scope` or
/// `wharf/<leaf>[-N]`).
pub fn machine_cgroup(pid: u32, name: &str, unified: &Path) -> Option<PathBuf> {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    let leaf = crate::cgroup::leaf_name(name);
    let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
    let matches = |parent: &str, part: &str| -> bool {
        let (prefix, suffix, want_parent) = if parent == "machine.slice" {
            (format!("wharf-{leaf}"), ".scope", "machine.slice")
        } else {
            (leaf.clone(), "", "wharf")
        };
        if parent != want_parent {
            return false;
        }
        let Some(mid) = part
            .strip_prefix(prefix.as_str())
            .and_then(|m| m.strip_suffix(suffix))
        else {
            return false;
        };
        mid.is_empty()
            || mid
                .strip_prefix('-')
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    for i in 1..parts.len() {
        if matches(parts[i - 1], parts[i]) {
            let mut p = unified.to_path_buf();
            p.extend(&parts[..=i]);
            // A scope systemd made for wharf holds wharf in `supervisor` and the machine in
            // `payload` (see cgroup::Layout::keep_unit).
            if parts.get(i + 1) == Some(&"payload") {
                p.push("payload");
            }
            return Some(p);
        }
    }
    None
}

/// Every PID in cgroup `cg` and below (bounded depth and count).
pub fn cgroup_procs(cg: &Path) -> Vec<u32> {
    fn walk(dir: &Path, depth: u32, out: &mut Vec<u32>) {
        if depth > 32 || out.len() > 100_000 {
            return;
        }
        if let Ok(s) = fs::read_to_string(dir.join("cgroup.procs")) {
            out.extend(s.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
        }
        if let Ok(rd) = fs::read_dir(dir) {
            for e in rd.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    walk(&e.path(), depth + 1, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(cg, 0, &mut out);
    out
}

/// Kill every process in cgroup `cg` (`cgroup.kill`, else SIGKILL to each listed process).
pub fn kill_cgroup(cg: &Path) -> Result<()> {
    if fs::write(cg.join("cgroup.kill"), "1").is_ok() {
        return Ok(());
    }
    for pid in cgroup_procs(cg) {
        if let Some(p) = wharf_sys::process::Pid::from_raw(pid as i32) {
            let _ = wharf_sys::process::kill(p, libc::SIGKILL);
        }
    }
    if cg.exists() {
        Ok(())
    } else {
        Err(std::io::Error::from(std::io::ErrorKind::NotFound))
            .with_context(|| format!("kill cgroup {}", cg.display()))
    }
}

/// Remove cgroup `cg` and its children, waiting (at most `limit`) for killed processes to go.
pub fn remove_cgroup(cg: &Path, limit: Duration) -> Result<()> {
    fn rm(dir: &Path, depth: u32) -> std::io::Result<()> {
        if depth < 32 {
            if let Ok(rd) = fs::read_dir(dir) {
                for e in rd.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        rm(&e.path(), depth + 1)?;
                    }
                }
            }
        }
        match fs::remove_dir(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
    let deadline = Instant::now() + limit;
    loop {
        match rm(cg, 0) {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() > deadline => {
                return Err(e).with_context(|| format!("remove cgroup {}", cg.display()))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// The OS of an image root: PRETTY_NAME (else NAME, else ID) of its os-release.
pub fn os_name(root: &Path) -> Option<String> {
    let text = ["etc/os-release", "usr/lib/os-release"]
        .iter()
        .find_map(|p| {
            let f = fs::File::open(root.join(p)).ok()?;
            let mut s = String::new();
            f.take(64 * 1024).read_to_string(&mut s).ok()?;
            Some(s)
        })?;
    let get = |key: &str| {
        text.lines().find_map(|l| {
            let v = l.strip_prefix(key)?.strip_prefix('=')?;
            Some(v.trim().trim_matches('"').trim_matches('\'').to_string())
        })
    };
    get("PRETTY_NAME")
        .or_else(|| get("NAME"))
        .or_else(|| get("ID"))
}

/// The last `n` lines of a console log (reads at most its last 64 KiB; control characters
/// other than tab dropped).
pub fn console_tail(path: &Path, n: usize) -> Vec<String> {
    let Ok(mut f) = fs::File::open(path) else {
        return Vec::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(64 * 1024);
    if f.seek(SeekFrom::Start(start)).is_err() {
        return Vec::new();
    }
    let mut buf = Vec::new();
    let _ = f.take(64 * 1024).read_to_end(&mut buf);
    let text = strip_ansi(&String::from_utf8_lossy(&buf));
    let lines: Vec<String> = text
        .split(['\n', '\r'])
        .map(|l| {
            l.chars()
                .filter(|c| !c.is_control() || *c == '\t')
                .collect::<String>()
        })
        .filter(|l| !l.trim().is_empty())
        .collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

/// `s` without ANSI CSI sequences (`ESC [ … final byte`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\x1b' && it.peek() == Some(&'[') {
            it.next();
            for d in it.by_ref() {
                if ('@'..='~').contains(&d) {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_start_time() {
        assert!(start_time(std::process::id()).is_some());
        assert!(start_time(u32::MAX).is_none());
    }

    #[test]
    fn tail() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("log");
        fs::write(&p, "a\r\nb\n\x1b[0mc\n\n").unwrap();
        assert_eq!(console_tail(&p, 2), ["b", "c"]);
        assert_eq!(console_tail(&p, 10).len(), 3);
    }
}
