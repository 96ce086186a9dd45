//! The hook API end to end: veth, zones, bridges, ports, stale sweeps, vlan links and moved
//! interfaces, each inside its own throwaway "host" namespace (see common/mod.rs).
mod common;

use common::*;
use std::net::{Ipv4Addr, SocketAddrV4};
use wharf_net::{AddressMode, Error, NetworkSpec};

fn veth() -> NetworkSpec {
    NetworkSpec {
        veth: true,
        ..Default::default()
    }
}

#[test]
fn veth_ping_and_tcp_both_ways_then_gone() {
    in_fresh_host(|| {
        let before = snapshot();
        let c = Ctx::new();
        let m = Netns::new();
        let net = c.ctx.setup("web", m.fd(), &veth()).unwrap();
        let st = net.state().clone();
        assert_eq!(st.host_ifname.as_deref(), Some("ve-web"));
        let (host_addr, prefix) = st.host_addr.unwrap();
        assert_eq!(prefix, 31);
        let maddr = net.machine_address().unwrap();
        assert_eq!(u32::from(maddr), u32::from(host_addr) + 1);
        // the machine side is host0 with nspawn's MAC rules: local, unicast
        let mut inside = m.rtnl();
        assert!(link_names(&mut inside).contains(&"host0".to_string()));
        assert!(ping(None, maddr));
        assert!(ping(Some(&m), host_addr));
        // TCP machine → host and host → machine
        let _srv = serve(SocketAddrV4::new(host_addr, 7001), "host");
        let got = m.run(|| fetch(SocketAddrV4::new(host_addr, 7001))).unwrap();
        assert_eq!(got, format!("host {maddr}"));
        let _srv2 = m.run(|| serve(SocketAddrV4::new(maddr, 7002), "machine"));
        assert_eq!(
            fetch(SocketAddrV4::new(maddr, 7002)).unwrap(),
            format!("machine {host_addr}")
        );
        assert_eq!(c.states(), 1);
        net.teardown().unwrap();
        assert_eq!(c.states(), 0);
        assert!(!link_names(&mut inside).contains(&"host0".to_string()));
        assert!(!ping(None, maddr), "unreachable after teardown");
        assert!(fetch(SocketAddrV4::new(maddr, 7002)).is_none());
        assert_eq!(snapshot(), before);
    })
}

#[test]
fn same_machine_twice_is_busy_and_bad_specs_leave_nothing() {
    in_fresh_host(|| {
        let before = snapshot();
        let c = Ctx::new();
        let m = Netns::new();
        let net = c.ctx.setup("twice", m.fd(), &veth()).unwrap();
        let m2 = Netns::new();
        let e = c.ctx.setup("twice", m2.fd(), &veth()).unwrap_err();
        assert!(matches!(e, Error::Busy { .. }), "{e}");
        drop(net); // drop tears down too
        assert_eq!(snapshot(), before);

        // missing bridge: error, nothing left behind
        let spec = NetworkSpec {
            bridge: Some("nobr0".into()),
            ..Default::default()
        };
        let e = c.ctx.setup("lost", m.fd(), &spec).unwrap_err();
        assert!(e.to_string().contains("nobr0"), "{e}");
        // invalid specs fail before touching anything
        for spec in [
            NetworkSpec {
                zone: Some("thirteen-char".into()),
                ..Default::default()
            },
            NetworkSpec {
                ports: vec!["80".parse().unwrap()],
                ..Default::default()
            },
            NetworkSpec {
                zone: Some("z".into()),
                address: "10.0.0.1/30,10.0.0.2".parse().unwrap(),
                ..Default::default()
            },
        ] {
            assert!(c.ctx.setup("bad", m.fd(), &spec).is_err());
        }
        assert!(c.ctx.setup("bad/name", m.fd(), &veth()).is_err());
        assert_eq!(c.states(), 0);
        assert_eq!(snapshot(), before);
    })
}

#[test]
fn static_and_no_addresses() {
    in_fresh_host(|| {
        let before = snapshot();
        let c = Ctx::new();
        let m = Netns::new();
        let spec = NetworkSpec {
            veth: true,
            address: "192.168.77.1/30,192.168.77.2".parse().unwrap(),
            ..Default::default()
        };
        let net = c.ctx.setup("st", m.fd(), &spec).unwrap();
        assert!(ping(None, Ipv4Addr::new(192, 168, 77, 2)));
        net.teardown().unwrap();

        let spec = NetworkSpec {
            veth: true,
            address: AddressMode::None,
            ..Default::default()
        };
        let net = c.ctx.setup("na", m.fd(), &spec).unwrap();
        assert!(net.machine_address().is_none());
        let mut inside = m.rtnl();
        assert!(inside.link("host0").unwrap().unwrap().up);
        assert!(inside
            .addresses()
            .unwrap()
            .iter()
            .all(|a| a.addr.is_loopback()));
        net.teardown().unwrap();
        assert_eq!(snapshot(), before);
    })
}

#[test]
fn two_machines_on_a_zone_and_the_bridge_goes_with_the_last() {
    in_fresh_host(|| {
        let before = snapshot();
        let c = Ctx::new();
        let (a, b) = (Netns::new(), Netns::new());
        let spec = NetworkSpec {
            zone: Some("lab".into()),
            ..Default::default()
        };
        let na = c.ctx.setup("alpha", a.fd(), &spec).unwrap();
        let nb = c.ctx.setup("beta", b.fd(), &spec).unwrap();
        let mut host = wharf_net::rtnl::Rtnl::open().unwrap();
        let br = host.link("vz-lab").unwrap().expect("zone bridge");
        for ve in ["vb-alpha", "vb-beta"] {
            assert_eq!(host.link(ve).unwrap().unwrap().master, Some(br.index));
        }
        let (aa, ba) = (na.machine_address().unwrap(), nb.machine_address().unwrap());
        assert_ne!(aa, ba);
        assert_eq!(na.state().host_addr, nb.state().host_addr);
        assert!(ping(Some(&a), ba));
        assert!(ping(Some(&b), aa));
        let _srv = b.run(|| serve(SocketAddrV4::new(ba, 7003), "beta"));
        assert_eq!(
            a.run(|| fetch(SocketAddrV4::new(ba, 7003))).unwrap(),
            format!("beta {aa}")
        );
        // the host reaches both through the bridge address
        assert!(ping(None, aa));

        let gw = na.state().host_addr.unwrap().0;
        na.teardown().unwrap();
        assert!(
            host.link("vz-lab").unwrap().is_some(),
            "bridge kept for beta"
        );
        assert!(ping(Some(&b), gw));
        nb.teardown().unwrap();
        assert!(
            host.link("vz-lab").unwrap().is_none(),
            "bridge removed with its last member"
        );
        assert_eq!(snapshot(), before);
    })
}

#[test]
fn existing_bridge_gets_the_vb_side() {
    in_fresh_host(|| {
        let before = snapshot();
        let c = Ctx::new();
        let mut host = wharf_net::rtnl::Rtnl::open().unwrap();
        host.create_bridge("br9").unwrap();
        let br = host.index("br9").unwrap();
        let m = Netns::new();
        let spec = NetworkSpec {
            bridge: Some("br9".into()),
            ..Default::default()
        };
        let net = c.ctx.setup("bridged", m.fd(), &spec).unwrap();
        assert_eq!(host.link("vb-bridged").unwrap().unwrap().master, Some(br));
        assert!(
            net.machine_address().is_none(),
            "the bridge's network gives addresses"
        );
        net.teardown().unwrap();
        assert!(
            host.link("br9").unwrap().is_some(),
            "a bridge wharf did not make stays"
        );
        host.delete_link(br).unwrap();
        assert_eq!(snapshot(), before);
    })
}

#[test]
fn concurrent_zone_members_never_race() {
    in_fresh_host(|| {
        let before = snapshot();
        let c = Ctx::new();
        let spec = NetworkSpec {
            zone: Some("race".into()),
            ..Default::default()
        };
        let nss: Vec<Netns> = (0..4).map(|_| Netns::new()).collect();
        // threads spawned here inherit this thread's (the throwaway host's) namespace
        let nets: Vec<_> = std::thread::scope(|s| {
            let hs: Vec<_> = nss
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let (c, spec) = (&c, &spec);
                    s.spawn(move || c.ctx.setup(&format!("r{i}"), n.fd(), spec).unwrap())
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut addrs: Vec<Ipv4Addr> = nets.iter().map(|n| n.machine_address().unwrap()).collect();
        addrs.sort();
        addrs.dedup();
        assert_eq!(addrs.len(), 4, "distinct addresses");
        assert!(ping(Some(&nss[0]), nets[3].machine_address().unwrap()));
        std::thread::scope(|s| {
            for n in nets {
                s.spawn(move || n.teardown().unwrap());
            }
        });
        let mut host = wharf_net::rtnl::Rtnl::open().unwrap();
        assert!(host.link("vz-race").unwrap().is_none());
        assert_eq!(c.states(), 0);
        assert_eq!(snapshot(), before);
    })
}
