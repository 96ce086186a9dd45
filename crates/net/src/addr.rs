//! IPv4 addresses wharf gives machines when no network manager does (`AddressMode::Auto`).
//!
//! - Plain veth: a /31 (RFC 3021 point-to-point pair) out of [`VETH_POOL`] 10.231.0.0/16: the
//!   even address on the host side (`ve-NAME`), the odd one on `host0`, default route via the
//!   host. The pair's position is SipHash of the machine name, so a machine usually gets the same
//!   pair on every start; on a collision the next pair is tried.
//! - Zone: a /24 out of [`ZONE_POOL`] 10.232.0.0/16 per zone (position from the zone name), `.1`
//!   on the bridge `vz-ZONE`, members get `.2`–`.254` (position from the machine name, skipping
//!   addresses other members hold), default route via `.1`.
//!
//! A candidate collides when it overlaps the subnet of any IPv4 address or any non-default route
//! in the host namespace (wharf's own earlier allocations included, since they are host
//! addresses); allocation happens under wharf-net's lock, so concurrent machines cannot pick the
//! same one. 10.88.0.0/16 (podman), 172.17.0.0/16 (docker) and 192.168.122.0/24 (libvirt) are
//! avoided on purpose.

use std::net::Ipv4Addr;

use crate::error::{Error, Result};
use crate::names::siphash24;

/// Pool for the /31 of a plain veth pair.
pub const VETH_POOL: (Ipv4Addr, u8) = (Ipv4Addr::new(10, 231, 0, 0), 16);
/// Pool for the /24 of a zone.
pub const ZONE_POOL: (Ipv4Addr, u8) = (Ipv4Addr::new(10, 232, 0, 0), 16);

const ADDR_KEY: [u8; 16] = *b"wharf-net-addr-1";

fn mask(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

/// The network address of `addr/prefix`.
pub fn network(addr: Ipv4Addr, prefix: u8) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(addr) & mask(prefix))
}

/// Whether the subnets `a/pa` and `b/pb` share any address.
pub fn overlaps(a: Ipv4Addr, pa: u8, b: Ipv4Addr, pb: u8) -> bool {
    let p = pa.min(pb);
    network(a, p) == network(b, p)
}

fn hash(s: &str) -> u64 {
    siphash24(s.as_bytes(), &ADDR_KEY)
}

/// Subnets already in use in the host namespace: (network, prefix) of every address and of
/// every route except the default one.
pub type Used = Vec<(Ipv4Addr, u8)>;

fn free(used: &Used, net: Ipv4Addr, prefix: u8) -> bool {
    !used.iter().any(|&(u, up)| overlaps(u, up, net, prefix))
}

/// A /31 for `machine`'s veth pair: (host side, machine side).
pub fn veth_pair(machine: &str, used: &Used) -> Result<(Ipv4Addr, Ipv4Addr)> {
    let (base, bits) = VETH_POOL;
    let n = 1u64 << (32 - bits - 1); // pairs in the pool
    let start = hash(machine) % n;
    for k in 0..n {
        let i = ((start + k) % n) as u32;
        let host = Ipv4Addr::from(u32::from(base) + 2 * i);
        if free(used, host, 31) {
            return Ok((host, Ipv4Addr::from(u32::from(host) + 1)));
        }
    }
    Err(Error::Exhausted {
        what: format!("machine {machine}"),
        pool: format!("{base}/{bits}"),
    })
}

/// A /24 for `zone`: its network address.
pub fn zone_subnet(zone: &str, used: &Used) -> Result<Ipv4Addr> {
    let (base, bits) = ZONE_POOL;
    let n = 1u64 << (24 - bits);
    let start = hash(zone) % n;
    for k in 0..n {
        let i = ((start + k) % n) as u32;
        let net = Ipv4Addr::from(u32::from(base) + (i << 8));
        if free(used, net, 24) {
            return Ok(net);
        }
    }
    Err(Error::Exhausted {
        what: format!("zone {zone}"),
        pool: format!("{base}/{bits}"),
    })
}

/// A member address in the zone `/24` at `net` (`.2`–`.254`) not in `taken`.
pub fn zone_member(machine: &str, net: Ipv4Addr, taken: &[Ipv4Addr]) -> Result<Ipv4Addr> {
    let start = hash(machine) % 253;
    for k in 0..253 {
        let host = 2 + ((start + k) % 253) as u32;
        let a = Ipv4Addr::from(u32::from(net) + host);
        if !taken.contains(&a) {
            return Ok(a);
        }
    }
    Err(Error::Exhausted {
        what: format!("machine {machine}"),
        pool: format!("{net}/24"),
    })
}

/// A user-given static address plan (`--network-address=HOST/PREFIX,MACHINE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StaticAddr {
    pub host: Ipv4Addr,
    pub machine: Ipv4Addr,
    pub prefix: u8,
}

impl std::str::FromStr for StaticAddr {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = |r: &str| Error::invalid("network address", s, r);
        let (host, machine) = s
            .split_once(',')
            .ok_or_else(|| bad("expected HOST/PREFIX,MACHINE"))?;
        let (host, prefix) = host
            .split_once('/')
            .ok_or_else(|| bad("expected HOST/PREFIX,MACHINE"))?;
        let host: Ipv4Addr = host.parse().map_err(|_| bad("bad host address"))?;
        let machine: Ipv4Addr = machine.parse().map_err(|_| bad("bad machine address"))?;
        let prefix: u8 = prefix.parse().map_err(|_| bad("bad prefix length"))?;
        if !(8..=31).contains(&prefix) {
            return Err(bad("prefix length must be 8-31"));
        }
        if host == machine || !overlaps(host, prefix, machine, prefix) {
            return Err(bad("host and machine must be two addresses of one subnet"));
        }
        Ok(StaticAddr {
            host,
            machine,
            prefix,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_rules() {
        let a = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert!(overlaps(a("10.0.0.0"), 8, a("10.231.4.2"), 31));
        assert!(!overlaps(a("10.231.4.0"), 31, a("10.231.4.2"), 31));
        assert!(overlaps(a("10.231.4.1"), 31, a("10.231.4.0"), 31));
        assert!(overlaps(a("1.2.3.4"), 0, a("10.0.0.0"), 8));
        assert_eq!(network(a("10.232.7.9"), 24), a("10.232.7.0"));
    }

    #[test]
    fn veth_pairs_are_stable_and_skip_used() {
        let (h, m) = veth_pair("web", &vec![]).unwrap();
        assert_eq!(u32::from(h) % 2, 0);
        assert_eq!(u32::from(m), u32::from(h) + 1);
        assert!(overlaps(h, 31, VETH_POOL.0, VETH_POOL.1));
        assert_eq!(veth_pair("web", &vec![]).unwrap(), (h, m));
        let (h2, _) = veth_pair("web", &vec![(h, 31)]).unwrap();
        assert_ne!(h2, h);
        // the whole pool taken by a host /8
        assert!(matches!(
            veth_pair("web", &vec![(Ipv4Addr::new(10, 0, 0, 0), 8)]),
            Err(Error::Exhausted { .. })
        ));
    }

    #[test]
    fn zones() {
        let net = zone_subnet("lab", &vec![]).unwrap();
        assert_eq!(u32::from(net) & 0xff, 0);
        let a = zone_member("one", net, &[]).unwrap();
        let b = zone_member("one", net, &[a]).unwrap();
        assert_ne!(a, b);
        let last = u32::from(a) & 0xff;
        assert!((2..=254).contains(&last));
        let all: Vec<Ipv4Addr> = (2..=254)
            .map(|i| Ipv4Addr::from(u32::from(net) + i))
            .collect();
        assert!(zone_member("x", net, &all).is_err());
    }

    #[test]
    fn static_parse() {
        let s: StaticAddr = "192.168.50.1/30,192.168.50.2".parse().unwrap();
        assert_eq!(s.prefix, 30);
        for bad in [
            "192.168.50.1,192.168.50.2",
            "192.168.50.1/30",
            "192.168.50.1/30,192.168.51.2",
            "192.168.50.1/32,192.168.50.1",
            "x/30,192.168.50.2",
        ] {
            assert!(bad.parse::<StaticAddr>().is_err(), "{bad}");
        }
    }
}
