//! A running machine's IP addresses, read from its network namespace over rtnetlink (a socket
//! created by a short-lived thread that entered the namespace; wharf itself never moves).

use std::net::IpAddr;
use std::os::fd::AsFd;

use anyhow::{Context, Result};

/// Whether `a` is worth showing: not loopback, link-local, unspecified or multicast.
pub fn reportable(a: &IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => !(v.is_loopback() || v.is_link_local() || v.is_unspecified()),
        IpAddr::V6(v) => {
            let link_local = v.segments()[0] & 0xffc0 == 0xfe80;
            !(v.is_loopback() || link_local || v.is_unspecified() || v.is_multicast())
        }
    }
}

/// The addresses of the machine whose PID 1 is `leader` (IPv4 first), or `None` when it
/// shares the caller's network namespace (no private network: the host's addresses are not
/// the machine's to show).
pub fn addresses(leader: u32) -> Result<Option<Vec<IpAddr>>> {
    let theirs = std::fs::metadata(format!("/proc/{leader}/ns/net"))
        .context("stat the machine's network namespace")?;
    let ours =
        std::fs::metadata("/proc/thread-self/ns/net").context("stat our network namespace")?;
    use std::os::unix::fs::MetadataExt;
    if (theirs.dev(), theirs.ino()) == (ours.dev(), ours.ino()) {
        return Ok(None);
    }
    let ns =
        wharf_sys::netns::open_netns(leader).context("open the machine's network namespace")?;
    let mut rt = wharf_net::rtnl::Rtnl::open_in(ns.as_fd())
        .context("open a netlink socket in the machine's network namespace")?;
    let mut all: Vec<IpAddr> = rt
        .ip_addresses()
        .context("list the machine's addresses")?
        .into_iter()
        .map(|(_, a, _)| a)
        .filter(reportable)
        .collect();
    all.sort_by_key(|a| a.is_ipv6());
    all.dedup();
    Ok(Some(all))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        for a in ["127.0.0.1", "169.254.3.4", "::1", "fe80::1", "0.0.0.0"] {
            assert!(!reportable(&a.parse().unwrap()), "{a}");
        }
        for a in ["10.231.7.13", "192.168.1.2", "fd00::5", "2001:db8::1"] {
            assert!(reportable(&a.parse().unwrap()), "{a}");
        }
    }
}
