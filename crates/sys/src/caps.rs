//! The capability bounding set.

use std::io;

use rustix::thread::CapabilitySet;

/// The highest capability number the running kernel knows (`/proc/sys/kernel/cap_last_cap`).
pub fn last_cap() -> io::Result<u32> {
    let s = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")?;
    s.trim()
        .parse()
        .map_err(|_| io::Error::other(format!("bad cap_last_cap {s:?}")))
}

/// Drop every capability from the calling thread's bounding set whose bit is not in `keep`
/// (bit n = capability n). `last` is the highest capability to consider (see [`last_cap`]).
pub fn restrict_bounding_set(keep: u64, last: u32) -> io::Result<()> {
    for cap in 0..=last.min(63) {
        if keep & (1 << cap) != 0 {
            continue;
        }
        let set = CapabilitySet::from_bits_retain(1 << cap);
        if rustix::thread::capability_is_in_bounding_set(set)? {
            rustix::thread::remove_capability_from_bounding_set(set)?;
        }
    }
    Ok(())
}

/// The calling thread's capability bounding set as a mask (from `/proc/thread-self/status`).
pub fn bounding_set() -> io::Result<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/status")?;
    s.lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .ok_or_else(|| io::Error::other("no CapBnd: line in /proc/thread-self/status"))
}

/// Limit the calling thread's effective, permitted and inheritable sets to `keep` (each set keeps
/// only what it had and `keep` allows; inheritable is set to `keep` ∩ the old permitted set).
/// The ambient set follows (the kernel clears ambient capabilities that leave permitted or
/// inheritable).
pub fn limit_sets(keep: u64) -> io::Result<()> {
    use rustix::thread::{capabilities, set_capabilities, CapabilitySets};
    let cur = capabilities(None)?;
    let keep = CapabilitySet::from_bits_retain(keep);
    set_capabilities(
        None,
        CapabilitySets {
            effective: cur.effective & keep,
            permitted: cur.permitted & keep,
            inheritable: cur.permitted & keep,
        },
    )
    .map_err(Into::into)
}
