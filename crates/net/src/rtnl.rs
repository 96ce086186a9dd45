//! A small synchronous rtnetlink client: links, addresses and routes of one network namespace.
//!
//! Built on `netlink-packet-route` (message types) and `netlink-sys` (the socket); no async
//! runtime. A socket belongs to the network namespace of the thread that created it, for its
//! whole life: [`Rtnl::open`] talks to the caller's namespace, [`Rtnl::open_in`] creates the
//! socket on a short-lived thread that first entered the given namespace.

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, BorrowedFd};

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoIpVlan, InfoKind, InfoMacVlan, InfoVeth, IpVlanMode, LinkAttribute, LinkFlags,
    LinkInfo, LinkMessage, MacVlanMode,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use crate::mac::Mac;

/// One network interface as a link dump reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// Index of the bridge (or bond) this link is a port of.
    pub master: Option<u32>,
    /// `IFLA_INFO_KIND`, e.g. "veth", "bridge", "dummy" (None for physical devices).
    pub kind: Option<String>,
    pub up: bool,
}

/// One IPv4 address of a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Addr4 {
    pub index: u32,
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

/// One IPv4 route of the main table (destination/prefix; 0.0.0.0/0 is the default route).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route4 {
    pub dest: Ipv4Addr,
    pub prefix: u8,
}

/// An rtnetlink socket bound to one network namespace.
pub struct Rtnl {
    sock: Socket,
    seq: u32,
}

impl Rtnl {
    /// Opens a socket in the calling thread's network namespace.
    pub fn open() -> io::Result<Rtnl> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        Ok(Rtnl { sock, seq: 0 })
    }

    /// Opens a socket in the network namespace `netns` (an fd of `/proc/PID/ns/net`) without
    /// moving the calling thread: a helper thread enters the namespace and creates the socket.
    pub fn open_in(netns: BorrowedFd<'_>) -> io::Result<Rtnl> {
        std::thread::scope(|s| {
            s.spawn(|| {
                wharf_sys::netns::enter_netns(netns)?;
                Rtnl::open()
            })
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("netlink helper thread panicked")))
        })
    }

    /// Sends one request and collects the replies until the ACK (or the end of a dump).
    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut buf = vec![0; packet.buffer_len()];
        packet.serialize(&mut buf);
        self.sock.send(&buf, 0)?;

        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let mut out = Vec::new();
        loop {
            let (data, _) = self.sock.recv_from_full()?;
            let mut offset = 0;
            while offset < data.len() {
                let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[offset..])
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                let len = msg.header.length as usize;
                if len == 0 {
                    break;
                }
                offset += (len + 3) & !3;
                if msg.header.sequence_number != self.seq {
                    continue; // a stale reply to an earlier request
                }
                match msg.payload {
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            Some(code) => Err(io::Error::from_raw_os_error(-code.get())),
                            None => Ok(out),
                        };
                    }
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::InnerMessage(m) => {
                        out.push(m);
                        if !dump && flags & NLM_F_ACK == 0 {
                            return Ok(out);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    fn ack(&mut self, msg: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
        self.request(msg, NLM_F_ACK | flags).map(|_| ())
    }

    /// Every link of the namespace.
    pub fn links(&mut self) -> io::Result<Vec<Link>> {
        let replies = self.request(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
        )?;
        let mut links = Vec::new();
        for r in replies {
            let RouteNetlinkMessage::NewLink(m) = r else {
                continue;
            };
            let mut link = Link {
                index: m.header.index,
                name: String::new(),
                master: None,
                kind: None,
                up: m.header.flags.contains(LinkFlags::Up),
            };
            for a in m.attributes {
                match a {
                    LinkAttribute::IfName(n) => link.name = n,
                    LinkAttribute::Controller(i) => link.master = Some(i),
                    LinkAttribute::LinkInfo(infos) => {
                        for i in infos {
                            if let LinkInfo::Kind(k) = i {
                                link.kind = Some(k.to_string());
                            }
                        }
                    }
                    _ => {}
                }
            }
            links.push(link);
        }
        Ok(links)
    }

    /// The link called `name`, if any.
    pub fn link(&mut self, name: &str) -> io::Result<Option<Link>> {
        Ok(self.links()?.into_iter().find(|l| l.name == name))
    }

    /// The index of link `name`, or `ENODEV`.
    pub fn index(&mut self, name: &str) -> io::Result<u32> {
        self.link(name)?.map(|l| l.index).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("no network interface {name}"),
            )
        })
    }

    fn new_link(&mut self, m: LinkMessage) -> io::Result<()> {
        self.ack(RouteNetlinkMessage::NewLink(m), NLM_F_CREATE | NLM_F_EXCL)
    }

    /// Creates a veth pair: `name` (with `mac`) here, `peer` (with `peer_mac`) directly in the
    /// network namespace `peer_netns`. Both ends start down.
    pub fn create_veth(
        &mut self,
        name: &str,
        mac: Mac,
        peer: &str,
        peer_mac: Mac,
        peer_netns: BorrowedFd<'_>,
    ) -> io::Result<()> {
        let mut peer_msg = LinkMessage::default();
        peer_msg.attributes = vec![
            LinkAttribute::IfName(peer.to_owned()),
            LinkAttribute::Address(peer_mac.0.to_vec()),
            LinkAttribute::NetNsFd(peer_netns.as_raw_fd()),
        ];
        let mut m = LinkMessage::default();
        m.attributes = vec![
            LinkAttribute::IfName(name.to_owned()),
            LinkAttribute::Address(mac.0.to_vec()),
            LinkAttribute::LinkInfo(vec![
                LinkInfo::Kind(InfoKind::Veth),
                LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
            ]),
        ];
        self.new_link(m)
    }

    /// Creates a bridge `name` (down).
    pub fn create_bridge(&mut self, name: &str) -> io::Result<()> {
        let mut m = LinkMessage::default();
        m.attributes = vec![
            LinkAttribute::IfName(name.to_owned()),
            LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]),
        ];
        self.new_link(m)
    }

    /// Creates a macvlan (bridge mode) link `name` on `parent` (an index in this namespace),
    /// directly in `netns`.
    pub fn create_macvlan(
        &mut self,
        name: &str,
        parent: u32,
        mac: Mac,
        netns: BorrowedFd<'_>,
    ) -> io::Result<()> {
        let mut m = LinkMessage::default();
        m.attributes = vec![
            LinkAttribute::IfName(name.to_owned()),
            LinkAttribute::Link(parent),
            LinkAttribute::Address(mac.0.to_vec()),
            LinkAttribute::NetNsFd(netns.as_raw_fd()),
            LinkAttribute::LinkInfo(vec![
                LinkInfo::Kind(InfoKind::MacVlan),
                LinkInfo::Data(InfoData::MacVlan(vec![InfoMacVlan::Mode(
                    MacVlanMode::Bridge,
                )])),
            ]),
        ];
        self.new_link(m)
    }

    /// Creates an ipvlan (L2 mode) link `name` on `parent`, directly in `netns`.
    pub fn create_ipvlan(
        &mut self,
        name: &str,
        parent: u32,
        netns: BorrowedFd<'_>,
    ) -> io::Result<()> {
        let mut m = LinkMessage::default();
        m.attributes = vec![
            LinkAttribute::IfName(name.to_owned()),
            LinkAttribute::Link(parent),
            LinkAttribute::NetNsFd(netns.as_raw_fd()),
            LinkAttribute::LinkInfo(vec![
                LinkInfo::Kind(InfoKind::IpVlan),
                LinkInfo::Data(InfoData::IpVlan(vec![InfoIpVlan::Mode(IpVlanMode::L2)])),
            ]),
        ];
        self.new_link(m)
    }

    fn set_link(&mut self, index: u32, f: impl FnOnce(&mut LinkMessage)) -> io::Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        f(&mut m);
        self.ack(RouteNetlinkMessage::SetLink(m), 0)
    }

    /// Sets link `index` up.
    pub fn set_up(&mut self, index: u32) -> io::Result<()> {
        self.set_link(index, |m| {
            m.header.flags = LinkFlags::Up;
            m.header.change_mask = LinkFlags::Up;
        })
    }

    /// Makes link `index` a port of bridge `master`.
    pub fn set_master(&mut self, index: u32, master: u32) -> io::Result<()> {
        self.set_link(index, |m| {
            m.attributes.push(LinkAttribute::Controller(master))
        })
    }

    /// Moves link `index` into the network namespace `netns` (it keeps its name, goes down and
    /// loses its addresses).
    pub fn move_to_netns(&mut self, index: u32, netns: BorrowedFd<'_>) -> io::Result<()> {
        self.set_link(index, |m| {
            m.attributes.push(LinkAttribute::NetNsFd(netns.as_raw_fd()))
        })
    }

    /// Deletes link `index` (for a veth, both ends).
    pub fn delete_link(&mut self, index: u32) -> io::Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        self.ack(RouteNetlinkMessage::DelLink(m), 0)
    }

    /// Every IPv4 address of the namespace.
    pub fn addresses(&mut self) -> io::Result<Vec<Addr4>> {
        Ok(self
            .dump_addresses(AddressFamily::Inet)?
            .into_iter()
            .filter_map(|(index, addr, prefix)| match addr {
                IpAddr::V4(addr) => Some(Addr4 {
                    index,
                    addr,
                    prefix,
                }),
                IpAddr::V6(_) => None,
            })
            .collect())
    }

    /// Every address of the namespace, IPv4 and IPv6, with its link index and prefix length.
    pub fn ip_addresses(&mut self) -> io::Result<Vec<(u32, IpAddr, u8)>> {
        let mut out = self.dump_addresses(AddressFamily::Inet)?;
        out.extend(self.dump_addresses(AddressFamily::Inet6)?);
        Ok(out)
    }

    /// The addresses of one family as (link index, address, prefix length).
    fn dump_addresses(&mut self, family: AddressFamily) -> io::Result<Vec<(u32, IpAddr, u8)>> {
        let mut req = AddressMessage::default();
        req.header.family = family;
        let replies = self.request(RouteNetlinkMessage::GetAddress(req), NLM_F_DUMP)?;
        let mut out = Vec::new();
        for r in replies {
            let RouteNetlinkMessage::NewAddress(m) = r else {
                continue;
            };
            // IFA_LOCAL is the interface's own address on point-to-point links (IFA_ADDRESS the
            // peer's); IPv6 reports IFA_ADDRESS only.
            let local = m.attributes.iter().find_map(|a| match a {
                AddressAttribute::Local(a) => Some(*a),
                _ => None,
            });
            let addr = local.or_else(|| {
                m.attributes.iter().find_map(|a| match a {
                    AddressAttribute::Address(a) => Some(*a),
                    _ => None,
                })
            });
            if let Some(addr) = addr {
                out.push((m.header.index, addr, m.header.prefix_len));
            }
        }
        Ok(out)
    }

    /// Adds `addr/prefix` to link `index` (with the broadcast address of the subnet when the
    /// prefix leaves room for one).
    pub fn add_address(&mut self, index: u32, addr: Ipv4Addr, prefix: u8) -> io::Result<()> {
        let mut m = AddressMessage::default();
        m.header.family = AddressFamily::Inet;
        m.header.prefix_len = prefix;
        m.header.index = index;
        m.attributes = vec![
            AddressAttribute::Local(IpAddr::V4(addr)),
            AddressAttribute::Address(IpAddr::V4(addr)),
        ];
        if prefix < 31 {
            let host_bits = u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
            let bcast = Ipv4Addr::from(u32::from(addr) | host_bits);
            m.attributes.push(AddressAttribute::Broadcast(bcast));
        }
        self.ack(
            RouteNetlinkMessage::NewAddress(m),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// Every IPv4 route of the main table.
    pub fn routes(&mut self) -> io::Result<Vec<Route4>> {
        let mut req = RouteMessage::default();
        req.header.address_family = AddressFamily::Inet;
        let replies = self.request(RouteNetlinkMessage::GetRoute(req), NLM_F_DUMP)?;
        let mut out = Vec::new();
        for r in replies {
            let RouteNetlinkMessage::NewRoute(m) = r else {
                continue;
            };
            if m.header.table != RouteHeader::RT_TABLE_MAIN {
                continue;
            }
            let dest = m
                .attributes
                .iter()
                .find_map(|a| match a {
                    RouteAttribute::Destination(RouteAddress::Inet(d)) => Some(*d),
                    _ => None,
                })
                .unwrap_or(Ipv4Addr::UNSPECIFIED);
            out.push(Route4 {
                dest,
                prefix: m.header.destination_prefix_length,
            });
        }
        Ok(out)
    }

    /// Adds the default route via `gateway` (reachable through an address already configured).
    pub fn add_default_route(&mut self, gateway: Ipv4Addr) -> io::Result<()> {
        let mut m = RouteMessage::default();
        m.header.address_family = AddressFamily::Inet;
        m.header.table = RouteHeader::RT_TABLE_MAIN;
        m.header.protocol = RouteProtocol::Static;
        m.header.scope = RouteScope::Universe;
        m.header.kind = RouteType::Unicast;
        m.attributes = vec![RouteAttribute::Gateway(RouteAddress::Inet(gateway))];
        self.ack(RouteNetlinkMessage::NewRoute(m), NLM_F_CREATE | NLM_F_EXCL)
    }
}
