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
