//! Interface names as systemd-nspawn makes them, and validation of user-given names.
//!
//! Host side of a veth: `ve-MACHINE`, or `vb-MACHINE` when it is attached to a bridge or zone;
//! zone bridges `vz-ZONE`; macvlan/ipvlan links inside the machine `mv-IF` / `iv-IF`. Linux
//! limits names to 15 bytes (`IFNAMSIZ` − 1). A longer name is shortened exactly as systemd's
//! `net_shorten_ifname()` does (naming scheme ≥ v249, `NAMING_NSPAWN_LONG_HASH`): the first 11
//! bytes, then 4 characters of URL-safe base64 taken from the low 24 bits of
//! SipHash-2-4(full name, key `e190a404a8ef4b518cccc33a9f11fca2`). So `ve-averyverylongname`
//! becomes the same name nspawn would give it, and two long names with a common prefix differ.

use siphasher::sip::SipHasher24;
use std::hash::Hasher;

use crate::error::{Error, Result};

/// Longest interface name Linux accepts (`IFNAMSIZ - 1`).
pub const IFNAME_MAX: usize = 15;

const SHORTEN_IFNAME_HASH_KEY: [u8; 16] = [
    0xe1, 0x90, 0xa4, 0x04, 0xa8, 0xef, 0x4b, 0x51, 0x8c, 0xcc, 0xc3, 0x3a, 0x9f, 0x11, 0xfc, 0xa2,
];

const URLSAFE_BASE64: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// SipHash-2-4 of `data` with a 16-byte key, as systemd's `siphash24(data, len, key)`.
pub(crate) fn siphash24(data: &[u8], key: &[u8; 16]) -> u64 {
    let mut h = SipHasher24::new_with_key(key);
    h.write(data);
    h.finish()
}

/// Shortens `name` to at most 15 bytes the way systemd-nspawn does (see the module doc).
/// Names that fit are returned unchanged.
pub fn shorten_ifname(name: &str) -> String {
    if name.len() <= IFNAME_MAX {
        return name.to_owned();
    }
    let h = siphash24(name.as_bytes(), &SHORTEN_IFNAME_HASH_KEY);
    let mut out: Vec<u8> = name.as_bytes()[..IFNAME_MAX - 4].to_vec();
    for shift in [18, 12, 6, 0] {
        out.push(URLSAFE_BASE64[((h >> shift) & 63) as usize]);
    }
    // Machine names are ASCII (validated); a multi-byte char cut in half is replaced rather
    // than producing an invalid string.
    String::from_utf8_lossy(&out).into_owned()
}

/// Host-side name of a machine's veth: `ve-NAME`, or `vb-NAME` when bridged (bridge or zone).
pub fn veth_host_name(machine: &str, bridged: bool) -> String {
    shorten_ifname(&format!("{}{machine}", if bridged { "vb-" } else { "ve-" }))
}

/// The bridge of a network zone: `vz-ZONE`.
pub fn zone_bridge_name(zone: &str) -> String {
    format!("vz-{zone}")
}

/// Name of the macvlan (`mv-IF`) or ipvlan (`iv-IF`) link made from host interface `iface`.
pub fn vlan_link_name(prefix: &str, iface: &str) -> String {
    shorten_ifname(&format!("{prefix}{iface}"))
}

/// Checks an interface name as the kernel's `dev_valid_name()`: 1–15 bytes, not `.`/`..`, no
/// `/`, `:` or whitespace.
pub fn check_ifname(what: &'static str, name: &str) -> Result<()> {
    let bad = |reason: &str| Err(Error::invalid(what, name, reason));
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > IFNAME_MAX {
        return bad("longer than 15 bytes");
    }
    if name == "." || name == ".." {
        return bad("not a valid interface name");
    }
    if name
        .chars()
        .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
    {
        return bad("contains '/', ':' or whitespace");
    }
    Ok(())
}

/// Checks a machine name for use in interface, table and file names: 1–64 bytes of ASCII
/// letters, digits, `-`, `_` and `.`, not starting with `.`.
pub fn check_machine_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 64 {
        return Err(Error::invalid("machine name", name, "must be 1-64 bytes"));
    }
    if name.starts_with('.')
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(Error::invalid(
            "machine name",
            name,
            "only ASCII letters, digits, '-', '_' and '.' are allowed, not first '.'",
        ));
    }
    Ok(())
}

/// Checks a zone name: the bridge `vz-ZONE` must be a valid interface name (so at most 12
/// bytes), and only the characters of a machine name.
pub fn check_zone_name(zone: &str) -> Result<()> {
    check_machine_name(zone).map_err(|_| {
        Error::invalid(
            "network zone",
            zone,
            "only ASCII letters, digits, '-', '_' and '.'",
        )
    })?;
    check_ifname("network zone", &zone_bridge_name(zone)).map_err(|_| {
        Error::invalid(
            "network zone",
            zone,
            "at most 12 bytes (the bridge vz-ZONE must fit 15)",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_unchanged() {
        assert_eq!(veth_host_name("web", false), "ve-web");
        assert_eq!(veth_host_name("web", true), "vb-web");
        assert_eq!(veth_host_name("abcdefghijkl", false), "ve-abcdefghijkl");
        assert_eq!(zone_bridge_name("lab"), "vz-lab");
        assert_eq!(vlan_link_name("mv-", "eth0"), "mv-eth0");
    }

    #[test]
    fn long_names_hashed_to_15() {
        let a = veth_host_name("abcdefghijklm", false);
        let b = veth_host_name("abcdefghijkln", false);
        assert_eq!(a.len(), 15);
        assert!(a.starts_with("ve-abcdefgh"));
        assert_ne!(a, b);
        // stable
        assert_eq!(a, veth_host_name("abcdefghijklm", false));
        check_ifname("x", &a).unwrap();
    }

    #[test]
    fn same_name_as_systemd_nspawn_252() {
        // observed: "Network interface name 've-a-rather-long-machine-name' has been changed
        // to 've-a-rather4gZZ' to fit length constraints." (naming scheme v252)
        assert_eq!(
            veth_host_name("a-rather-long-machine-name", false),
            "ve-a-rather4gZZ"
        );
    }

    #[test]
    fn siphash_matches_reference_vector() {
        // SipHash-2-4 paper test vector: key 00..0f, empty message.
        let key: [u8; 16] = core::array::from_fn(|i| i as u8);
        assert_eq!(siphash24(b"", &key), 0x726fdb47dd0e0e31);
    }

    #[test]
    fn name_checks() {
        check_machine_name("debian-12.x_y").unwrap();
        assert!(check_machine_name("").is_err());
        assert!(check_machine_name(".hidden").is_err());
        assert!(check_machine_name("a/b").is_err());
        assert!(check_machine_name(&"a".repeat(65)).is_err());
        check_zone_name("twelve-chars").unwrap();
        assert!(check_zone_name("thirteen-char").is_err());
        assert!(check_ifname("i", "eth0:1").is_err());
        assert!(check_ifname("i", "a b").is_err());
        assert!(check_ifname("i", "..").is_err());
        check_ifname("i", "enp0s31f6").unwrap();
    }
}
