//! The hook API the launcher calls: set a machine's network up, tear it down, sweep leftovers.

use std::net::Ipv4Addr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::addr::{self, StaticAddr, Used};
use crate::error::{Error, Result};
use crate::mac::{self, Mac};
use crate::names::{self, check_ifname, check_machine_name, check_zone_name};
use crate::nft::{self, PortForward, Rules};
use crate::rtnl::Rtnl;
use crate::state::{self, MachineState, StateDir};
use crate::sysctl;

/// How the machine's IPv4 addresses are set (`--network-address=`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AddressMode {
    /// veth: a /31 from 10.231.0.0/16; zone: a /24 per zone from 10.232.0.0/16; an existing
    /// bridge, macvlan, ipvlan, moved interfaces: nothing (their network provides addresses).
    #[default]
    Auto,
    /// Nothing: a network manager (systemd-networkd in the machine and on the host) does it.
    None,
    /// Plain veth only: these addresses.
    Static(StaticAddr),
}

impl AddressMode {
    /// The documented default: `None` when systemd-networkd runs on the host (it addresses
    /// `ve-*`/`vz-*` and serves DHCP to `host0`, as for nspawn), `Auto` otherwise. networkd is
    /// taken to run when `/run/systemd/netif/state` exists.
    pub fn host_default() -> AddressMode {
        if std::path::Path::new("/run/systemd/netif/state").exists() {
            AddressMode::None
        } else {
            AddressMode::Auto
        }
    }
}

impl std::str::FromStr for AddressMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(AddressMode::Auto),
            "none" | "no" => Ok(AddressMode::None),
            _ => s.parse().map(AddressMode::Static),
        }
    }
}

/// What a machine's private network consists of: the `[Network]` settings of nspawn.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkSpec {
    /// `-n/--network-veth`: a veth pair `ve-NAME` ↔ `host0`. Implied by `bridge` and `zone`.
    pub veth: bool,
    /// `--network-bridge=BR`: attach the host side (`vb-NAME`) to this existing bridge.
    pub bridge: Option<String>,
    /// `--network-zone=Z`: attach the host side (`vb-NAME`) to `vz-Z`, created on demand.
    pub zone: Option<String>,
    /// `--network-interface=IF`: move these host links into the machine (back on teardown).
    pub interfaces: Vec<String>,
    /// `--network-macvlan=IF`: a macvlan `mv-IF` on IF inside the machine.
    pub macvlan: Vec<String>,
    /// `--network-ipvlan=IF`: an ipvlan `iv-IF` on IF inside the machine.
    pub ipvlan: Vec<String>,
    /// `-p/--port=`: forwarded ports (need a known machine address).
    pub ports: Vec<PortForward>,
    /// `--network-address=`.
    pub address: AddressMode,
    /// Masquerade the machine's outbound traffic behind the host's address (enables
    /// `ip_forward`). Only with addresses wharf assigned (auto or static).
    pub masquerade: bool,
}

impl NetworkSpec {
    fn has_veth(&self) -> bool {
        self.veth || self.bridge.is_some() || self.zone.is_some()
    }

    fn check(&self) -> Result<()> {
        if self.bridge.is_some() && self.zone.is_some() {
            return Err(Error::invalid(
                "network",
                "--network-bridge with --network-zone",
                "choose one",
            ));
        }
        if let Some(b) = &self.bridge {
            check_ifname("network bridge", b)?;
        }
        if let Some(z) = &self.zone {
            check_zone_name(z)?;
        }
        for i in self
            .interfaces
            .iter()
            .chain(&self.macvlan)
            .chain(&self.ipvlan)
        {
            check_ifname("network interface", i)?;
        }
        if matches!(self.address, AddressMode::Static(_))
            && (!self.has_veth() || self.bridge.is_some() || self.zone.is_some())
        {
            return Err(Error::invalid(
                "network address",
                "static",
                "only for a plain veth (--network-veth without bridge or zone)",
            ));
        }
        if !self.ports.is_empty() && !self.has_veth() {
            return Err(Error::invalid(
                "port",
                &self.ports[0].to_string(),
                "port forwarding needs --network-veth, --network-bridge or --network-zone",
            ));
        }
        Ok(())
    }
}

/// Where wharf-net keeps its state and which process owns what it creates.
#[derive(Clone, Debug)]
pub struct NetContext {
    dir: StateDir,
    owner_pid: u32,
}

impl Default for NetContext {
    fn default() -> Self {
        NetContext::new(state::DEFAULT_DIR)
    }
}

impl NetContext {
    /// State under `dir` (normally /run/wharf/net), owned by the calling process.
    pub fn new(dir: impl Into<std::path::PathBuf>) -> NetContext {
        NetContext {
            dir: StateDir::new(dir),
            owner_pid: std::process::id(),
        }
    }

    /// Records another process as the owner (whose death makes the network stale). For a
    /// supervisor that sets up on behalf of a child, and for tests simulating a SIGKILL.
    pub fn with_owner(mut self, pid: u32) -> NetContext {
        self.owner_pid = pid;
        self
    }

    pub fn state_dir(&self) -> &StateDir {
        &self.dir
    }

    /// Sets up `machine`'s network in the network namespace `netns` (e.g. `/proc/PID/ns/net`
    /// of the machine's first process, or the fd the child sent after `unshare(CLONE_NEWNET)`),
    /// from the caller's (host) network namespace. First removes whatever dead wharf processes
    /// left behind. On error everything created so far is removed again.
    pub fn setup(
        &self,
        machine: &str,
        netns: BorrowedFd<'_>,
        spec: &NetworkSpec,
    ) -> Result<MachineNetwork> {
        check_machine_name(machine)?;
        spec.check()?;
        let _lock = self.dir.lock()?;
        self.sweep_locked()?;
        if let Some(s) = self.dir.read(machine)? {
            // sweep removed it unless its owner lives
            return Err(Error::Busy {
                machine: machine.into(),
                pid: s.owner_pid,
            });
        }
        let others = self.dir.all()?;
        for p in &spec.ports {
            if let Some(o) = others.iter().find(|o| {
                o.ports
                    .iter()
                    .any(|q| q.proto == p.proto && q.host_port == p.host_port)
            }) {
                return Err(Error::invalid(
                    "port",
                    &p.to_string(),
                    format!("host port already forwarded to machine {}", o.machine),
                ));
            }
        }
        let owner_start = state::process_start(self.owner_pid).ok_or_else(|| {
            Error::invalid("owner", &self.owner_pid.to_string(), "no such process")
        })?;
        let mut st = MachineState {
            machine: machine.into(),
            owner_pid: self.owner_pid,
            owner_start,
            host_ifname: spec.has_veth().then(|| {
                names::veth_host_name(machine, spec.bridge.is_some() || spec.zone.is_some())
            }),
            bridge: spec.bridge.clone(),
            zone: spec.zone.clone(),
            ports: spec.ports.clone(),
            masquerade: spec.masquerade,
            nft_table: (!spec.ports.is_empty() || spec.masquerade)
                .then(|| nft::table_name(machine)),
            ..Default::default()
        };
        // Intent first: a crash from here on leaves a state file naming what to remove.
        self.dir.write(&st)?;
        let host_netns = wharf_sys::netns::open_current_netns()
            .map_err(|e| Error::file("open", "/proc/thread-self/ns/net", e))?;
        let netns = netns
            .try_clone_to_owned()
            .map_err(|e| Error::file("duplicate", "machine netns fd", e))?;
        let mut net = MachineNetwork {
            ctx: self.clone(),
            state: st.clone(),
            netns,
            host_netns,
            done: false,
        };
        match build(&mut st, &net.netns, spec, &self.dir, &others) {
            Ok(()) => {
                net.state = st;
                self.dir.write(&net.state)?;
                Ok(net)
            }
            Err(e) => {
                net.state = st;
                let _ = net.undo_locked();
                net.done = true;
                Err(e)
            }
        }
    }

    /// Removes the leftovers of every machine whose owning wharf process is gone (killed,
    /// crashed); returns their names.
    pub fn sweep_stale(&self) -> Result<Vec<String>> {
        let _lock = self.dir.lock()?;
        self.sweep_locked()
    }

    fn sweep_locked(&self) -> Result<Vec<String>> {
        let mut swept = Vec::new();
        for s in self.dir.all()? {
            if !state::owner_alive(&s) {
                cleanup_state(&s, None)?;
                self.dir.remove(&s.machine)?;
                swept.push(s.machine);
            }
        }
        Ok(swept)
    }

    /// Undoes everything recorded for `machine` (when its owner is gone or is this process):
    /// nft table, veth, zone bridge if it was the last member. Interfaces moved into a machine
    /// whose namespace is gone were already returned to the initial namespace by the kernel.
    /// Ok(false) when nothing was recorded.
    pub fn cleanup(&self, machine: &str) -> Result<bool> {
        check_machine_name(machine)?;
        let _lock = self.dir.lock()?;
        let Some(s) = self.dir.read(machine)? else {
            return Ok(false);
        };
        if state::owner_alive(&s) && s.owner_pid != std::process::id() {
            return Err(Error::Busy {
                machine: machine.into(),
                pid: s.owner_pid,
            });
        }
        cleanup_state(&s, None)?;
        self.dir.remove(machine)?;
        Ok(true)
    }
}

/// A machine's network while it runs. Tear it down with [`MachineNetwork::teardown`] after the
/// machine stopped (while this handle still keeps its namespace alive); dropping it tears down
/// too, ignoring errors.
pub struct MachineNetwork {
    ctx: NetContext,
    state: MachineState,
    netns: OwnedFd,
    host_netns: OwnedFd,
    done: bool,
}

impl std::fmt::Debug for MachineNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MachineNetwork")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl MachineNetwork {
    /// What was set up (interface names, addresses, ports, table).
    pub fn state(&self) -> &MachineState {
        &self.state
    }

    /// The machine's IPv4 address, when known.
    pub fn machine_address(&self) -> Option<Ipv4Addr> {
        self.state.machine_addr
    }

    /// For machines whose address is not wharf's (`AddressMode::None`, e.g. DHCP by
    /// systemd-networkd): looks up the machine's first global IPv4 address and (re)writes the
    /// port forwarding rules for it. Returns the address in use. Call it again when the machine's
    /// address may have changed (the launcher can poll, or watch RTM_NEWADDR in the netns).
    pub fn refresh_ports(&mut self) -> Result<Option<Ipv4Addr>> {
        if self.state.ports.is_empty() {
            return Ok(self.state.machine_addr);
        }
        let mut inside = Rtnl::open_in(self.netns.as_fd())
            .map_err(|e| Error::netlink("open rtnetlink in the machine", e))?;
        let found = inside
            .addresses()
            .map_err(|e| Error::netlink("list machine addresses", e))?
            .into_iter()
            .map(|a| a.addr)
            .find(|a| !a.is_loopback() && !a.is_link_local());
        if found.is_some() && found != self.state.machine_addr {
            let _lock = self.ctx.dir.lock()?;
            self.state.machine_addr = found;
            self.ctx.dir.write(&self.state)?;
            write_rules(&self.state)?;
        }
        Ok(self.state.machine_addr)
    }

    /// Removes everything: moves interfaces back to the host, deletes macvlan/ipvlan links,
    /// the veth, the zone bridge when it was the last member, the nft table, the state file.
    pub fn teardown(mut self) -> Result<()> {
        self.done = true;
        let _lock = self.ctx.dir.lock()?;
        self.undo_locked()
    }

    fn undo_locked(&mut self) -> Result<()> {
        let r = cleanup_state(
            &self.state,
            Some((self.netns.as_fd(), self.host_netns.as_fd())),
        );
        self.ctx.dir.remove(&self.state.machine)?;
        r
    }
}

impl Drop for MachineNetwork {
    fn drop(&mut self) {
        if !self.done {
            self.done = true;
            if let Ok(_lock) = self.ctx.dir.lock() {
                let _ = self.undo_locked();
            }
        }
    }
}

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

fn build(
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
fn write_rules(st: &MachineState) -> Result<()> {
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
fn cleanup_state(s: &MachineState, netns: Option<(BorrowedFd<'_>, BorrowedFd<'_>)>) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_mode_syntax() {
        assert_eq!("auto".parse::<AddressMode>().unwrap(), AddressMode::Auto);
        assert_eq!("none".parse::<AddressMode>().unwrap(), AddressMode::None);
        assert!(matches!(
            "10.0.0.1/30,10.0.0.2".parse::<AddressMode>().unwrap(),
            AddressMode::Static(_)
        ));
        assert!("dhcp".parse::<AddressMode>().is_err());
    }
}
