//! The rtnetlink layer against real namespaces.
mod common;

use common::*;
use std::net::Ipv4Addr;
use wharf_net::mac::Mac;
use wharf_net::rtnl::Rtnl;

#[test]
fn veth_into_namespace_addresses_routes_and_deletion() {
    in_fresh_host(|| {
        let before = snapshot();
        let m = Netns::new();
        let mut host = Rtnl::open().unwrap();
        let hmac = Mac([0x02, 1, 2, 3, 4, 5]);
        let pmac = Mac([0x02, 1, 2, 3, 4, 6]);
        host.create_veth("ve-t", hmac, "host0", pmac, m.fd())
            .unwrap();
        let ve = host.link("ve-t").unwrap().unwrap();
        assert_eq!(ve.kind.as_deref(), Some("veth"));
        assert!(!ve.up);
        // exists only on its side
        assert!(host.link("host0").unwrap().is_none());
        let mut inside = m.rtnl();
        let h0 = inside.index("host0").unwrap();

        host.add_address(ve.index, Ipv4Addr::new(10, 9, 0, 0), 31)
            .unwrap();
        host.set_up(ve.index).unwrap();
        inside
            .add_address(h0, Ipv4Addr::new(10, 9, 0, 1), 31)
            .unwrap();
        inside.set_up(h0).unwrap();
        inside
            .add_default_route(Ipv4Addr::new(10, 9, 0, 0))
            .unwrap();
        assert!(inside
            .routes()
            .unwrap()
            .iter()
            .any(|r| r.prefix == 0 && r.dest == Ipv4Addr::UNSPECIFIED));
        assert!(host
            .addresses()
            .unwrap()
            .iter()
            .any(|a| a.addr == Ipv4Addr::new(10, 9, 0, 0) && a.prefix == 31));
        // duplicate creation fails with EEXIST
        let e = host.create_bridge("ve-t").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(17));

        assert!(ping(None, Ipv4Addr::new(10, 9, 0, 1)));
        assert!(ping(Some(&m), Ipv4Addr::new(10, 9, 0, 0)));

        host.delete_link(ve.index).unwrap();
        assert!(inside.link("host0").unwrap().is_none());
        assert_eq!(snapshot(), before);
    })
}
