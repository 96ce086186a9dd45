//! Creating and removing what a [`NetworkSpec`] asks for (the work behind
//! [`NetContext::setup`](crate::NetContext::setup) and the teardowns and sweeps).

use std::net::Ipv4Addr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::addr::{self, Used};
use crate::error::{Error, Result};
use crate::mac::{self, Mac};
use crate::machine::{AddressMode, NetworkSpec};
use crate::names;
use crate::nft::{self, Rules};
use crate::rtnl::Rtnl;
use crate::state::{MachineState, StateDir};
use crate::sysctl;

fn nl<T>(op: impl FnOnce() -> String, r: std::io::Result<T>) -> Result<T> {
    r.map_err(|e| Error::netlink(op(), e))
}

/// Subnets in use in the host namespace.
fn used_subnets(host: &mut Rtnl) -> Result<Used> {
    let mut used: Used = nl(|| "list host addresses".into(), host.addresses())?
        .into_iter()
        .map(|a| (addr::network(a.addr, a.prefix), a.prefix))
        .collect();
    used.extend(
        nl(|| "list host routes".into(), host.routes())?
            .into_iter()
            .filter(|r| r.prefix > 0)
            .map(|r| (r.dest, r.prefix)),
    );
    Ok(used)
}

pub(crate) fn build(
    st: &mut MachineState,
    netns: &OwnedFd,
    spec: &NetworkSpec,
    dir: &StateDir,
    others: &[MachineState],
) -> Result<()> {
    let machine = st.machine.clone();
    let mut host = nl(|| "open rtnetlink".into(), Rtnl::open())?;
    let mut inside = nl(
        || "open rtnetlink in the machine".into(),
        Rtnl::open_in(netns.as_fd()),
    )?;
    let lo = nl(|| "find lo in the machine".into(), inside.index("lo"))?;
    nl(|| "set lo up in the machine".into(), inside.set_up(lo))?;
    let host_id = mac::host_machine_id();

    // The host-side interface that routes to the machine (gets route_localnet for ports).
    let mut l3_ifname: Option<String> = None;
    let mut gateway: Option<Ipv4Addr> = None;
    let mut machine_prefix = 0;

    if let Some(ve) = st.host_ifname.clone() {
        let hmac = mac::generate(&host_id, &machine, &mac::HOST_KEY, 0);
        let pmac = mac::generate(&host_id, &machine, &mac::MACHINE_KEY, 0);
        nl(
            || format!("create veth {ve} <-> host0"),
            host.create_veth(&ve, hmac, "host0", pmac, netns.as_fd()),
        )?;
        let ve_idx = nl(|| format!("find {ve}"), host.index(&ve))?;
        if let Some(br) = &spec.bridge {
            let bi = host
                .link(br)
                .map_err(|e| Error::netlink(format!("find bridge {br}"), e))?
                .filter(|l| l.kind.as_deref() == Some("bridge"))
                .ok_or_else(|| {
                    Error::invalid("network bridge", br, "no such bridge on the host")
                })?;
            nl(
                || format!("attach {ve} to {br}"),
                host.set_master(ve_idx, bi.index),
            )?;
            l3_ifname = Some(br.clone());
        } else if let Some(zone) = &spec.zone {
            let bname = names::zone_bridge_name(zone);
            let bridge = match nl(|| format!("find {bname}"), host.link(&bname))? {
                Some(b) => b.index,
                None => {
                    nl(
                        || format!("create bridge {bname}"),
                        host.create_bridge(&bname),
                    )?;
                    nl(|| format!("find {bname}"), host.index(&bname))?
                }
            };
            nl(|| format!("set {bname} up"), host.set_up(bridge))?;
            if spec.address == AddressMode::Auto {
                let existing = nl(|| "list host addresses".into(), host.addresses())?
                    .into_iter()
                    .find(|a| a.index == bridge);
                let (br_addr, prefix) = match existing {
                    Some(a) => (a.addr, a.prefix),
                    None => {
                        let net = addr::zone_subnet(zone, &used_subnets(&mut host)?)?;
                        let a = Ipv4Addr::from(u32::from(net) + 1);
                        nl(
                            || format!("add {a}/24 to {bname}"),
                            host.add_address(bridge, a, 24),
                        )?;
                        (a, 24)
                    }
                };
                let net = addr::network(br_addr, prefix);
                let mut taken: Vec<Ipv4Addr> = others
                    .iter()
                    .filter(|o| o.zone.as_deref() == Some(zone.as_str()))
                    .filter_map(|o| o.machine_addr)
                    .collect();
                taken.push(br_addr);
                let a = if prefix == 24 {
                    addr::zone_member(&machine, net, &taken)?
                } else {
                    return Err(Error::invalid(
                        "network zone",
                        zone,
                        format!("bridge {bname} has {br_addr}/{prefix}, not a /24"),
                    ));
                };
                st.host_addr = Some((br_addr, prefix));
                st.machine_addr = Some(a);
                gateway = Some(br_addr);
                machine_prefix = prefix;
            }
            nl(
                || format!("attach {ve} to {bname}"),
                host.set_master(ve_idx, bridge),
            )?;
            l3_ifname = Some(bname);
        } else {
            let plan = match spec.address {
                AddressMode::Auto => {
                    let (h, m) = addr::veth_pair(&machine, &used_subnets(&mut host)?)?;
                    Some((h, m, 31))
                }
                AddressMode::Static(s) => Some((s.host, s.machine, s.prefix)),
                AddressMode::None => None,
            };
            if let Some((h, m, p)) = plan {
                nl(
                    || format!("add {h}/{p} to {ve}"),
                    host.add_address(ve_idx, h, p),
                )?;
                st.host_addr = Some((h, p));
                st.machine_addr = Some(m);
                gateway = Some(h);
                machine_prefix = p;
            }
            l3_ifname = Some(ve.clone());
        }
        // Record the address before anything can fail, for the teardown of a half setup.
        dir.write(st)?;
        nl(|| format!("set {ve} up"), host.set_up(ve_idx))?;
        let h0 = nl(|| "find host0 in the machine".into(), inside.index("host0"))?;
        if let (Some(a), Some(gw)) = (st.machine_addr, gateway) {
            nl(
                || format!("add {a}/{machine_prefix} to host0"),
                inside.add_address(h0, a, machine_prefix),
            )?;
            nl(|| "set host0 up".into(), inside.set_up(h0))?;
            nl(
                || format!("add default route via {gw} in the machine"),
                inside.add_default_route(gw),
            )?;
        } else {
            nl(|| "set host0 up".into(), inside.set_up(h0))?;
        }
    }

    for (i, x) in spec.veth_extra.iter().enumerate() {
        let hmac = mac::generate(&host_id, &machine, &mac::VETH_EXTRA_HOST_KEY, i as u64);
        let pmac = mac::generate(&host_id, &machine, &mac::VETH_EXTRA_MACHINE_KEY, i as u64);
        nl(
            || {
                format!(
                    "create veth {} <-> {} (--network-veth-extra)",
                    x.host, x.machine
                )
            },
            host.create_veth(&x.host, hmac, &x.machine, pmac, netns.as_fd()),
        )?;
        // Recorded only once created: a failure above (e.g. the host already has a link of
        // that name) must not make the teardown delete somebody else's link.
        st.veth_extra.push(x.host.clone());
        dir.write(st)?;
        let hi = nl(|| format!("find {}", x.host), host.index(&x.host))?;
        nl(|| format!("set {} up", x.host), host.set_up(hi))?;
        let mi = nl(
            || format!("find {} in the machine", x.machine),
            inside.index(&x.machine),
        )?;
        nl(
            || format!("set {} up in the machine", x.machine),
            inside.set_up(mi),
        )?;
    }

    for (i, iface) in spec.macvlan.iter().enumerate() {
        let name = names::vlan_link_name("mv-", iface);
        let parent = nl(|| format!("find {iface}"), host.index(iface))?;
        let m: Mac = mac::generate(&host_id, &machine, &mac::MACVLAN_KEY, i as u64);
        nl(
            || format!("create macvlan {name} on {iface}"),
            host.create_macvlan(&name, parent, m, netns.as_fd()),
        )?;
        st.vlan_links.push(name.clone());
        let idx = nl(
            || format!("find {name} in the machine"),
            inside.index(&name),
        )?;
        nl(|| format!("set {name} up"), inside.set_up(idx))?;
    }
    for iface in &spec.ipvlan {
        let name = names::vlan_link_name("iv-", iface);
        let parent = nl(|| format!("find {iface}"), host.index(iface))?;
        nl(
            || format!("create ipvlan {name} on {iface}"),
            host.create_ipvlan(&name, parent, netns.as_fd()),
        )?;
        st.vlan_links.push(name.clone());
        let idx = nl(
            || format!("find {name} in the machine"),
            inside.index(&name),
        )?;
        nl(|| format!("set {name} up"), inside.set_up(idx))?;
    }
    for iface in &spec.interfaces {
        let idx = nl(|| format!("find {iface}"), host.index(iface))?;
        nl(
            || format!("move {iface} into the machine"),
            host.move_to_netns(idx, netns.as_fd()),
        )?;
        st.moved_interfaces.push(iface.clone());
        dir.write(st)?;
    }

    if st.nft_table.is_some() {
        if !spec.ports.is_empty() {
            if let Some(l3) = &l3_ifname {
                sysctl::enable_route_localnet(l3)?;
            }
        }
        if spec.masquerade || !spec.ports.is_empty() {
            sysctl::enable_ip_forward()?;
        }
        write_rules(st)?;
    }
    Ok(())
}

/// (Re)writes the machine's nft table from its state; nothing before its address is known.
pub(crate) fn write_rules(st: &MachineState) -> Result<()> {
    let (Some(table), Some(m)) = (&st.nft_table, st.machine_addr) else {
        return Ok(());
    };
    let masquerade = if st.masquerade {
        st.host_addr.map(|(h, p)| (addr::network(h, p), p))
    } else {
        None
    };
    nft::apply(&Rules {
        table: table.clone(),
        comment: format!("wharf machine {} owner {}", st.machine, st.owner_pid),
        machine_addr: m,
        ports: st.ports.clone(),
        masquerade,
    })
}

/// Removes what `s` records. With the machine's and host's netns fds (a live teardown), moved
/// interfaces go back to the host and macvlan/ipvlan links are deleted; without them (a stale
/// sweep) the kernel did that when the namespace died, or the machine still holds them.
/// Every step runs even if an earlier one failed; the first error is returned.
pub(crate) fn cleanup_state(
    s: &MachineState,
    netns: Option<(BorrowedFd<'_>, BorrowedFd<'_>)>,
) -> Result<()> {
    let mut first: Option<Error> = None;
    let mut keep = |r: Result<()>| {
        if let Err(e) = r {
            first.get_or_insert(e);
        }
    };
    if let Some(t) = &s.nft_table {
        keep(nft::delete_table(t));
    }
    if let Some((machine_ns, host_ns)) = netns {
        match Rtnl::open_in(machine_ns) {
            Ok(mut inside) => {
                for iface in &s.moved_interfaces {
                    keep(remove_link_by_name(&mut inside, iface, |r, i| {
                        r.move_to_netns(i, host_ns)
                    }));
                }
                for name in &s.vlan_links {
                    keep(remove_link_by_name(&mut inside, name, |r, i| {
                        r.delete_link(i)
                    }));
                }
            }
            Err(e) => keep(Err(Error::netlink("open rtnetlink in the machine", e))),
        }
    }
    match Rtnl::open() {
        Ok(mut host) => {
            if let Some(ve) = &s.host_ifname {
                keep(remove_link_by_name(&mut host, ve, |r, i| r.delete_link(i)));
            }
            for ve in &s.veth_extra {
                keep(remove_veth_by_name(&mut host, ve));
            }
            if let Some(zone) = &s.zone {
                keep(remove_zone_if_empty(&mut host, zone));
            }
        }
        Err(e) => keep(Err(Error::netlink("open rtnetlink", e))),
    }
    match first {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn remove_link_by_name(
    r: &mut Rtnl,
    name: &str,
    f: impl FnOnce(&mut Rtnl, u32) -> std::io::Result<()>,
) -> Result<()> {
    match r.link(name) {
        Ok(None) => Ok(()),
        Ok(Some(l)) => match f(r, l.index) {
            // gone meanwhile (e.g. the peer's namespace died)
            Err(e) if e.raw_os_error() == Some(19) => Ok(()),
            x => x.map_err(|e| Error::netlink(format!("remove {name}"), e)),
        },
        Err(e) => Err(Error::netlink(format!("find {name}"), e)),
    }
}

/// Deletes the host side of an extra veth pair (and so its peer), if it is still a veth: the
/// name is the user's, and a stale record must not take down another kind of link that got
/// the name since.
fn remove_veth_by_name(host: &mut Rtnl, name: &str) -> Result<()> {
    match host.link(name) {
        Ok(Some(l)) if l.kind.as_deref() != Some("veth") => Ok(()),
        Ok(_) => remove_link_by_name(host, name, |r, i| r.delete_link(i)),
        Err(e) => Err(Error::netlink(format!("find {name}"), e)),
    }
}

fn remove_zone_if_empty(host: &mut Rtnl, zone: &str) -> Result<()> {
    let bname = names::zone_bridge_name(zone);
    let links = host.links().map_err(|e| Error::netlink("list links", e))?;
    let Some(b) = links.iter().find(|l| l.name == bname) else {
        return Ok(());
    };
    if links.iter().any(|l| l.master == Some(b.index)) {
        return Ok(());
    }
    remove_link_by_name(host, &bname, |r, i| r.delete_link(i))
}
