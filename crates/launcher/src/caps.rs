//! Capability options: `--capability=` / `--drop-capability=` on top of nspawn's default set,
//! limited by what the caller's bounding set has.

use anyhow::{bail, Result};

/// Capability names in number order (capabilities(7)), without the `CAP_` prefix.
pub const NAMES: [&str; 41] = [
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
];

/// Every capability bit, 0..=63 (capabilities newer than [`NAMES`] included).
pub const ALL: u64 = u64::MAX;

/// The capability options of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapOptions {
    /// `--capability=`: added to the default set.
    pub add: u64,
    /// `--drop-capability=`: removed (wins over `add`, as in nspawn).
    pub drop: u64,
}

/// Parse a `--capability=`/`--drop-capability=` value: `all`, or comma-separated names as in
/// capabilities(7), with or without `CAP_`, any case.
pub fn parse_list(s: &str) -> Result<u64> {
    let mut mask = 0u64;
    for word in s.split(',').map(str::trim) {
        if word.eq_ignore_ascii_case("all") {
            mask = ALL;
            continue;
        }
        let lower = word.to_ascii_lowercase();
        let name = lower.strip_prefix("cap_").unwrap_or(&lower);
        match NAMES.iter().position(|n| *n == name) {
            Some(i) => mask |= 1 << i,
            None => bail!("unknown capability {word:?}"),
        }
    }
    Ok(mask)
}

/// `CAP_A,CAP_B` for a mask (bits beyond the known names as numbers).
pub fn names(mask: u64) -> String {
    (0..64)
        .filter(|i| mask & (1 << i) != 0)
        .map(|i| match NAMES.get(i) {
            Some(n) => format!("cap_{n}"),
            None => format!("cap_{i}"),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The retained set: (nspawn's default ∪ added) ∖ dropped, limited to the caller's bounding set
/// and the kernel's capabilities (`last_cap`), plus a warning when an explicitly requested
/// capability is not available. Defaults the host lacks are dropped silently.
pub fn retained(opts: CapOptions, host_bounding: u64, last_cap: u32) -> (u64, Option<String>) {
    let known = if last_cap >= 63 {
        u64::MAX
    } else {
        (1u64 << (last_cap + 1)) - 1
    };
    let wanted = (crate::DEFAULT_CAPS | opts.add) & !opts.drop & known;
    let keep = wanted & host_bounding;
    // `all` asks for whatever exists; only named capabilities deserve a warning.
    let missing = if opts.add == ALL {
        0
    } else {
        opts.add & wanted & !host_bounding
    };
    let warning = (missing != 0).then(|| {
        format!(
            "some capabilities will not be set because they are not in the caller's bounding set: {}",
            names(missing)
        )
    });
    (keep, warning)
}

/// In the container, right before the payload starts: cut the bounding set to `keep`, install
/// the seccomp filter (while CAP_SYS_ADMIN is still effective, so no no_new_privs is needed),
/// limit the effective, permitted and inheritable sets to `keep`, then set no_new_privs if asked.
pub(crate) fn apply(
    keep: u64,
    last_cap: u32,
    seccomp: &[crate::seccomp::SockFilter],
    nnp: bool,
) -> Result<()> {
    use anyhow::Context;
    wharf_sys::caps::restrict_bounding_set(keep, last_cap)
        .context("restrict the capability bounding set")?;
    if !seccomp.is_empty() {
        crate::seccomp::install(seccomp).context("install the seccomp filter")?;
    }
    wharf_sys::caps::limit_sets(keep).context("set capabilities")?;
    if nnp {
        wharf_sys::seccomp::set_no_new_privs().context("set no_new_privs")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse() {
        assert_eq!(parse_list("CAP_NET_ADMIN").unwrap(), 1 << 12);
        assert_eq!(
            parse_list("net_admin,cap_sys_time").unwrap(),
            1 << 12 | 1 << 25
        );
        assert_eq!(parse_list("Sys_Module").unwrap(), 1 << 16);
        assert_eq!(parse_list("all").unwrap(), ALL);
        assert_eq!(parse_list("checkpoint_restore").unwrap(), 1 << 40);
        assert!(parse_list("cap_nope")
            .unwrap_err()
            .to_string()
            .contains("cap_nope"));
        assert!(parse_list("").is_err());
        assert_eq!(names(1 << 12 | 1 << 50), "cap_net_admin,cap_50");
    }

    #[test]
    fn retained_sets() {
        let host = 0x1ff_feff_ffff; // this VM: all but CAP_SYS_RESOURCE (24)
        let d = CapOptions::default();
        assert_eq!(retained(d, host, 40), (0xfcec_afff, None));
        assert_eq!(retained(d, u64::MAX, 40).0, crate::DEFAULT_CAPS);
        let add = CapOptions {
            add: parse_list("net_admin,sys_resource").unwrap(),
            drop: parse_list("mknod").unwrap(),
        };
        let (keep, warn) = retained(add, host, 40);
        assert_eq!(keep, (0xfcec_afff | 1 << 12) & !(1 << 27));
        assert!(warn.unwrap().ends_with(": cap_sys_resource"));
        let all = CapOptions { add: ALL, drop: 0 };
        assert_eq!(retained(all, host, 40), (host, None));
        // Dropping beats adding; `all` drops everything.
        let none = CapOptions {
            add: 1 << 12,
            drop: ALL,
        };
        assert_eq!(retained(none, host, 40), (0, None));
    }
}
