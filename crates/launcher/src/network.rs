//! The machine's network (nspawn's `[Network]` options, docs/networking.md): which network
//! namespace PID 1 gets, and the links wharf-net sets up in it from the parent.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
pub use wharf_net::{AddressMode, MachineNetwork, NetContext, NetworkSpec, PortForward, VethExtra};

/// `CAP_NET_ADMIN`, kept with a private network (as nspawn).
pub const CAP_NET_ADMIN: u32 = 12;

/// The network settings of a run.
#[derive(Debug, Clone, Default)]
pub struct Network {
    /// A new network namespace (`--private-network`, implied by every link option).
    pub private: bool,
    /// The links wharf-net makes (`-n`, bridge, zone, interfaces, macvlan, ipvlan, extra veth
    /// pairs, ports).
    pub spec: NetworkSpec,
    /// `--network-namespace-path=`: join this namespace instead (host links untouched).
    pub namespace_path: Option<PathBuf>,
}

impl Network {
    /// Whether the spec asks for links (anything beyond a bare private namespace).
    fn has_links(&self) -> bool {
        let s = &self.spec;
        s.veth
            || s.bridge.is_some()
            || s.zone.is_some()
            || !s.interfaces.is_empty()
            || !s.macvlan.is_empty()
            || !s.ipvlan.is_empty()
            || !s.veth_extra.is_empty()
            || !s.ports.is_empty()
            || s.masquerade
    }

    /// Check the combination as nspawn does: `--port=` needs a veth link (plain, bridge or
    /// zone); `--network-namespace-path=` excludes a private network.
    pub fn validate(&self) -> Result<()> {
        let s = &self.spec;
        let veth = s.veth || s.bridge.is_some() || s.zone.is_some();
        if !s.ports.is_empty() && !veth {
            bail!("--port= needs a private network with a veth link (-n, --network-bridge= or --network-zone=)");
        }
        if self.namespace_path.is_some() && (self.private || self.has_links()) {
            bail!("--network-namespace-path= cannot be combined with --private-network or other network options");
        }
        if let Some(z) = &s.zone {
            wharf_net::names::check_zone_name(z).context("invalid --network-zone=")?;
        }
        for i in s.interfaces.iter().chain(&s.macvlan).chain(&s.ipvlan) {
            wharf_net::names::check_ifname("interface", i)?;
        }
        Ok(())
    }

    /// A new network namespace at the clone.
    pub(crate) fn new_netns(&self) -> bool {
        self.namespace_path.is_none() && (self.private || self.has_links())
    }

    /// Open the namespace to join (before the clone; the child enters it first thing).
    pub(crate) fn open_path(&self) -> Result<Option<OwnedFd>> {
        let Some(p) = &self.namespace_path else {
            return Ok(None);
        };
        let f = File::open(p).with_context(|| format!("open network namespace {}", p.display()))?;
        Ok(Some(f.into()))
    }
}

/// In the parent, after the clone and before PID 1 goes on: set up the links in the machine's
/// new namespace (`lo` up; veth, zones, ports…). `None` without a private network.
pub(crate) fn setup(
    cfg: &crate::Config,
    pid: rustix::process::Pid,
) -> Result<Option<MachineNetwork>> {
    if !cfg.network.new_netns() {
        return Ok(None);
    }
    let netns = wharf_sys::netns::open_netns(pid.as_raw_nonzero().get() as u32)
        .context("open the machine's network namespace")?;
    let net = NetContext::default()
        .setup(&cfg.machine, netns.as_fd(), &cfg.network.spec)
        .with_context(|| format!("set up the network of machine {}", cfg.machine))?;
    Ok(Some(net))
}

/// In PID 1 before the mount table: join `--network-namespace-path=`.
pub(crate) fn join(fd: Option<&OwnedFd>) -> Result<()> {
    if let Some(fd) = fd {
        wharf_sys::netns::enter_netns(fd.as_fd())
            .context("join the network namespace (--network-namespace-path=)")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(f: impl FnOnce(&mut Network)) -> Network {
        let mut n = Network::default();
        f(&mut n);
        n
    }

    #[test]
    fn which_namespace() {
        assert!(!Network::default().new_netns());
        assert!(net(|n| n.private = true).new_netns());
        assert!(net(|n| n.spec.zone = Some("lab".into())).new_netns());
        assert!(net(|n| n.spec.macvlan = vec!["eth0".into()]).new_netns());
        assert!(net(|n| n.spec.veth_extra = vec!["vx0:eth1".parse().unwrap()]).new_netns());
        assert!(!net(|n| n.namespace_path = Some("/run/netns/x".into())).new_netns());
    }

    #[test]
    fn validation_as_nspawn() {
        let port = "8080".parse::<PortForward>().unwrap();
        let e = net(|n| {
            n.private = true;
            n.spec.ports = vec![port];
        })
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("--port= needs"), "{e}");
        net(|n| {
            n.spec.veth = true;
            n.spec.ports = vec![port];
        })
        .validate()
        .unwrap();
        net(|n| {
            n.spec.zone = Some("lab".into());
            n.spec.ports = vec![port];
        })
        .validate()
        .unwrap();
        let e = net(|n| {
            n.namespace_path = Some("/run/netns/x".into());
            n.spec.veth = true;
        })
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("cannot be combined"), "{e}");
        assert!(
            net(|n| n.spec.zone = Some("a-zone-name-far-too-long".into()))
                .validate()
                .is_err()
        );
        assert!(net(|n| n.spec.interfaces = vec!["a/b".into()])
            .validate()
            .is_err());
    }
}
