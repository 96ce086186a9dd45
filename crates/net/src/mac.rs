//! Stable MAC addresses derived from the machine name, computed as systemd-nspawn does.
//!
//! `SipHash-2-4(host machine ID (16 bytes of /etc/machine-id) ‖ machine name [‖ index as
//! little-endian u64 when index > 0], key)`; the first 6 bytes of the little-endian hash, with
//! the multicast bit cleared and the locally-administered bit set. The keys are nspawn's (one per
//! purpose: host side, machine side, macvlan), so a machine keeps the MAC addresses (and hence
//! DHCP leases and IPv6 link-local addresses) it had under systemd-nspawn on the same host.
//! Mixing in the host's machine ID keeps two hosts that bridge the same LAN from giving a
//! same-named machine the same address. Without a readable /etc/machine-id sixteen zero bytes
//! are used (still stable, no longer host-specific).

use crate::names::siphash24;

/// Key for the host side of the main veth (`ve-NAME`/`vb-NAME`).
pub const HOST_KEY: [u8; 16] = [
    0x1a, 0x37, 0x6f, 0xc7, 0x46, 0xec, 0x45, 0x0b, 0xad, 0xa3, 0xd5, 0x31, 0x06, 0x60, 0x5d, 0xb1,
];
/// Key for the machine side of the main veth (`host0`).
pub const MACHINE_KEY: [u8; 16] = [
    0xc3, 0xc4, 0xf9, 0x19, 0xb5, 0x57, 0xb2, 0x1c, 0xe6, 0xcf, 0x14, 0x27, 0x03, 0x9c, 0xee, 0xa2,
];
/// Key for macvlan links (`mv-IF`), indexed by their position on the command line.
pub const MACVLAN_KEY: [u8; 16] = [
    0x00, 0x13, 0x6d, 0xbc, 0x66, 0x83, 0x44, 0x81, 0xbb, 0x0c, 0xf9, 0x51, 0x1f, 0x24, 0xa6, 0x6f,
];

/// Key for the host side of extra veth pairs (`--network-veth-extra`), indexed by position.
pub const VETH_EXTRA_HOST_KEY: [u8; 16] = [
    0x48, 0xc7, 0xf6, 0xb7, 0xea, 0x9d, 0x4c, 0x9e, 0xb7, 0x28, 0xd4, 0xde, 0x91, 0xd5, 0xbf, 0x66,
];
/// Key for the machine side of extra veth pairs, indexed by position.
pub const VETH_EXTRA_MACHINE_KEY: [u8; 16] = [
    0xaf, 0x50, 0x17, 0x61, 0xce, 0xf9, 0x4d, 0x35, 0x84, 0x0d, 0x2b, 0x20, 0x54, 0xbe, 0xce, 0x59,
];

/// A 48-bit Ethernet address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// Locally administered (bit 1 of the first byte set).
    pub fn is_local(&self) -> bool {
        self.0[0] & 0x02 != 0
    }

    /// Unicast (bit 0 of the first byte clear).
    pub fn is_unicast(&self) -> bool {
        self.0[0] & 0x01 == 0
    }
}

impl std::fmt::Display for Mac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

/// The host's machine ID as 16 bytes (`/etc/machine-id`, 32 hex digits), or zeros.
pub fn host_machine_id() -> [u8; 16] {
    std::fs::read_to_string("/etc/machine-id")
        .ok()
        .and_then(|s| parse_id128(s.trim()))
        .unwrap_or([0; 16])
}

fn parse_id128(s: &str) -> Option<[u8; 16]> {
    if s.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The MAC for `machine` under `key` (one of the keys above) and `index`, on a host whose
/// machine ID is `host_id`.
pub fn generate(host_id: &[u8; 16], machine: &str, key: &[u8; 16], index: u64) -> Mac {
    let mut v = Vec::with_capacity(16 + machine.len() + 8);
    v.extend_from_slice(host_id);
    v.extend_from_slice(machine.as_bytes());
    if index > 0 {
        v.extend_from_slice(&index.to_le_bytes());
    }
    let h = siphash24(&v, key).to_le_bytes();
    let mut mac = [h[0], h[1], h[2], h[3], h[4], h[5]];
    mac[0] &= 0xfe; // unicast
    mac[0] |= 0x02; // locally administered
    Mac(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_local_unicast_and_distinct() {
        let id = parse_id128("0123456789abcdef0123456789abcdef").unwrap();
        let a = generate(&id, "web", &HOST_KEY, 0);
        assert_eq!(a, generate(&id, "web", &HOST_KEY, 0));
        assert!(a.is_local() && a.is_unicast());
        for m in [
            generate(&id, "web", &MACHINE_KEY, 0),
            generate(&id, "db", &HOST_KEY, 0),
            generate(&id, "web", &MACVLAN_KEY, 1),
            generate(&[0; 16], "web", &HOST_KEY, 0),
        ] {
            assert!(m.is_local() && m.is_unicast());
            assert_ne!(m, a);
        }
        assert_eq!(a.to_string().len(), 17);
    }

    #[test]
    fn same_mac_as_systemd_nspawn_252() {
        // observed: host0 of `systemd-nspawn -M a-rather-long-machine-name -n` on a host with
        // machine ID 3d1219c7c4c5404aaa1f6d2a48adfda4
        let id = parse_id128("3d1219c7c4c5404aaa1f6d2a48adfda4").unwrap();
        let m = generate(&id, "a-rather-long-machine-name", &MACHINE_KEY, 0);
        assert_eq!(m.to_string(), "a2:4d:e8:13:8e:6e");
    }

    #[test]
    fn machine_id_parsing() {
        assert!(parse_id128("xyz").is_none());
        assert!(parse_id128(&"g".repeat(32)).is_none());
        assert_eq!(parse_id128(&"ff".repeat(16)), Some([0xff; 16]));
    }
}
