//! The hook API the launcher calls: set a machine's network up, tear it down, sweep leftovers.

use std::net::Ipv4Addr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::addr::StaticAddr;
use crate::error::{Error, Result};
use crate::names::{self, check_ifname, check_machine_name, check_zone_name};
use crate::nft::{self, PortForward};
use crate::rtnl::Rtnl;
use crate::setup::{build, cleanup_state, write_rules};
use crate::state::{self, MachineState, StateDir};

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

/// One `--network-veth-extra=HOSTIF[:MACHINEIF]` (`[Network] VirtualEthernetExtra=`): a veth
/// pair with `host` in the host's namespace and `machine` (default: the same name) in the
/// machine's. Both sides are brought up; no addresses are assigned (as nspawn).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VethExtra {
    pub host: String,
    pub machine: String,
}

impl std::str::FromStr for VethExtra {
    type Err = Error;

    /// `HOSTIF[:MACHINEIF]`; both must be valid interface names.
    fn from_str(s: &str) -> Result<Self> {
        let (host, machine) = s.split_once(':').unwrap_or((s, s));
        check_ifname("veth-extra host interface", host)?;
        check_ifname("veth-extra machine interface", machine)?;
        Ok(VethExtra {
            host: host.into(),
            machine: machine.into(),
        })
    }
}

impl std::fmt::Display for VethExtra {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host == self.machine {
            f.write_str(&self.host)
        } else {
            write!(f, "{}:{}", self.host, self.machine)
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
    /// `--network-veth-extra=HOST[:MACHINE]`: additional veth pairs, no addresses.
    pub veth_extra: Vec<VethExtra>,
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
        // names the extra pairs may not take: the machine's other links
        let mut hosts: Vec<String> = Vec::new();
        let mut inside: Vec<String> = vec!["lo".into()];
        if self.has_veth() {
            inside.push("host0".into());
        }
        inside.extend(self.macvlan.iter().map(|i| names::vlan_link_name("mv-", i)));
        inside.extend(self.ipvlan.iter().map(|i| names::vlan_link_name("iv-", i)));
        inside.extend(self.interfaces.iter().cloned());
        for x in &self.veth_extra {
            check_ifname("veth-extra host interface", &x.host)?;
            check_ifname("veth-extra machine interface", &x.machine)?;
            if hosts.contains(&x.host) {
                return Err(Error::invalid(
                    "veth-extra host interface",
                    &x.host,
                    "given twice",
                ));
            }
            if inside.contains(&x.machine) {
                return Err(Error::invalid(
                    "veth-extra machine interface",
                    &x.machine,
                    "already the name of another link in the machine",
                ));
            }
            hosts.push(x.host.clone());
            inside.push(x.machine.clone());
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
        // A leftover that cannot be removed now must not block every later start: its state
        // file stays for the next attempt, and a clash with it fails below with a clear error.
        let _ = self.sweep_locked();
        if let Some(s) = self.dir.read(machine)? {
            if state::owner_alive(&s) {
                return Err(Error::Busy {
                    machine: machine.into(),
                    pid: s.owner_pid,
                });
            }
            // a leftover of this machine the sweep could not remove: try again, say why
            cleanup_state(&s, None)?;
            self.dir.remove(machine)?;
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
        let r =
            build(&mut st, &net.netns, spec, &self.dir, &others).and_then(|()| self.dir.write(&st));
        net.state = st;
        match r {
            Ok(()) => Ok(net),
            Err(e) => {
                // undo here, under the lock we hold (Drop would wait for it forever)
                net.done = true;
                let _ = net.undo_locked();
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

    /// Sweeps every stale machine, going on past failures; the first failure is returned
    /// (its state file is kept for a later sweep).
    fn sweep_locked(&self) -> Result<Vec<String>> {
        let mut swept = Vec::new();
        let mut first = None;
        for s in self.dir.all()? {
            if !state::owner_alive(&s) {
                match cleanup_state(&s, None).and_then(|()| self.dir.remove(&s.machine)) {
                    Ok(()) => swept.push(s.machine),
                    Err(e) => {
                        first.get_or_insert(e);
                    }
                }
            }
        }
        match first {
            Some(e) => Err(e),
            None => Ok(swept),
        }
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
