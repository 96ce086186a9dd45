//! Port forwarding: reachable from the host's 127.0.0.1, its own address and another
//! namespace; masquerading; rules gone after teardown and after a simulated SIGKILL.
mod common;

use common::*;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::Command;
use wharf_net::{Error, NetworkSpec};

fn real_host_sysctls() -> (String, String) {
    let r = |p: &str| std::fs::read_to_string(p).unwrap();
    (
        r("/proc/sys/net/ipv4/ip_forward"),
        r("/proc/sys/net/ipv4/conf/all/route_localnet"),
    )
}

#[test]
fn forwarded_port_from_localhost_host_address_and_another_namespace() {
    let real = real_host_sysctls();
    in_fresh_host(|| {
        let before = snapshot();
        let c = Ctx::new();
        let out = outside();
        let m = Netns::new();
        let spec = NetworkSpec {
            veth: true,
            ports: vec!["8080:80".parse().unwrap(), "tcp:9090".parse().unwrap()],
            ..Default::default()
        };
        let net = c.ctx.setup("svc", m.fd(), &spec).unwrap();
        let maddr = net.machine_address().unwrap();
        let (haddr, _) = net.state().host_addr.unwrap();
        let _s80 = m.run(|| serve(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), "m80"));
        let _s9090 = m.run(|| serve(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 9090), "m9090"));

        // directly
        assert_eq!(
            fetch(SocketAddrV4::new(maddr, 80)).unwrap(),
            format!("m80 {haddr}")
        );
        // the host's own 127.0.0.1 (systemd#6106): arrives masqueraded as the host's ve address
        assert_eq!(
            fetch(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080)).unwrap(),
            format!("m80 {haddr}")
        );
        assert_eq!(
            fetch(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9090)).unwrap(),
            format!("m9090 {haddr}")
        );
        // the host's address on another interface, from the host
        assert!(fetch(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 8080))
            .unwrap()
            .starts_with("m80 "));
        // from another namespace: the client's own address is seen (no masquerade needed)
        assert_eq!(
            out.run(|| fetch(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 8080)))
                .unwrap(),
            "m80 192.0.2.2"
        );
        // a port not forwarded is not
        assert!(fetch(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 80)).is_none());

        // ip_forward on in this namespace, route_localnet only on ve-svc
        let rd = |p: &str| std::fs::read_to_string(p).unwrap();
        assert_eq!(rd("/proc/sys/net/ipv4/ip_forward").trim(), "1");
        assert_eq!(
            rd("/proc/sys/net/ipv4/conf/ve-svc/route_localnet").trim(),
            "1"
        );
        assert_eq!(rd("/proc/sys/net/ipv4/conf/all/route_localnet").trim(), "0");
        assert_eq!(wharf_tables(), vec!["wharf-svc".to_string()]);

        // a second machine cannot take the same host port
        let m2 = Netns::new();
        let e = c.ctx.setup("svc2", m2.fd(), &spec).unwrap_err();
        assert!(
            matches!(e, Error::Invalid { .. }) && e.to_string().contains("svc"),
            "{e}"
        );

        net.teardown().unwrap();
        assert!(wharf_tables().is_empty());
        assert!(fetch(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080)).is_none());
        assert!(out
            .run(|| fetch(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 8080)))
            .is_none());
        remove_outside();
        assert_eq!(snapshot(), before);
    });
    assert_eq!(
        real_host_sysctls(),
        real,
        "the real host's sysctls are untouched"
    );
}

#[test]
fn masquerade_outbound() {
    in_fresh_host(|| {
        let before = snapshot();
        let c = Ctx::new();
        let out = outside();
        let _srv = out.run(|| serve(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 7100), "out"));
        let m = Netns::new();
        let plain = NetworkSpec {
            veth: true,
            ..Default::default()
        };
        // without masquerading (forwarding on, as a router would have it) the outside sees
        // the machine's own address
        std::fs::write("/proc/sys/net/ipv4/ip_forward", "1").unwrap();
        let net = c.ctx.setup("nomasq", m.fd(), &plain).unwrap();
        let maddr = net.machine_address().unwrap();
        assert_eq!(
            m.run(|| fetch(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 7100)))
                .unwrap(),
            format!("out {maddr}")
        );
        net.teardown().unwrap();
        std::fs::write("/proc/sys/net/ipv4/ip_forward", "0").unwrap();

        let spec = NetworkSpec {
            veth: true,
            masquerade: true,
            ..Default::default()
        };
        let net = c.ctx.setup("masq", m.fd(), &spec).unwrap();
        assert_eq!(
            m.run(|| fetch(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 7100)))
                .unwrap(),
            "out 192.0.2.1"
        );
        net.teardown().unwrap();
        remove_outside();
        assert_eq!(snapshot(), before);
    })
}

#[test]
fn sigkilled_owner_is_swept_on_next_start() {
    in_fresh_host(|| {
        let before = snapshot();
        let c = Ctx::new();
        // the "wharf process" that owns the network, killed with SIGKILL below
        let mut owner = Command::new("sleep").arg("1000").spawn().unwrap();
        let m = Netns::new();
        let spec = NetworkSpec {
            veth: true,
            ports: vec!["8081:80".parse().unwrap()],
            ..Default::default()
        };
        let net = c
            .ctx
            .clone()
            .with_owner(owner.id())
            .setup("doomed", m.fd(), &spec)
            .unwrap();
        let _s = m.run(|| serve(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), "doomed"));
        assert!(fetch(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8081)).is_some());
        // a SIGKILLed wharf runs no destructor
        std::mem::forget(net);
        owner.kill().unwrap();
        owner.wait().unwrap();
        // its residue is still there ...
        assert_eq!(wharf_tables(), vec!["wharf-doomed".to_string()]);
        let mut host = wharf_net::rtnl::Rtnl::open().unwrap();
        assert!(host.link("ve-doomed").unwrap().is_some());
        assert_eq!(c.states(), 1);
        // ... until the next start of any machine sweeps it
        let m2 = Netns::new();
        let next = c.ctx.setup("next", m2.fd(), &spec).unwrap();
        assert_eq!(wharf_tables(), vec!["wharf-next".to_string()]);
        assert!(host.link("ve-doomed").unwrap().is_none());
        assert_eq!(c.states(), 1);
        next.teardown().unwrap();

        // the same through sweep_stale, and a live owner is never swept
        let mut owner = Command::new("sleep").arg("1000").spawn().unwrap();
        let net = c
            .ctx
            .clone()
            .with_owner(owner.id())
            .setup("doomed", m.fd(), &spec)
            .unwrap();
        std::mem::forget(net);
        assert!(c.ctx.sweep_stale().unwrap().is_empty());
        assert!(matches!(c.ctx.cleanup("doomed"), Err(Error::Busy { .. })));
        owner.kill().unwrap();
        owner.wait().unwrap();
        assert_eq!(c.ctx.sweep_stale().unwrap(), vec!["doomed".to_string()]);
        assert!(wharf_tables().is_empty());
        assert_eq!(c.states(), 0);
        assert!(!c.ctx.cleanup("doomed").unwrap());
        assert_eq!(snapshot(), before);
    })
}

#[test]
fn ports_follow_an_address_wharf_did_not_assign() {
    in_fresh_host(|| {
        let before = snapshot();
        let c = Ctx::new();
        let m = Netns::new();
        let spec = NetworkSpec {
            veth: true,
            address: wharf_net::AddressMode::None,
            ports: vec!["8082:80".parse().unwrap()],
            ..Default::default()
        };
        let mut net = c.ctx.setup("dhcp", m.fd(), &spec).unwrap();
        assert!(net.machine_address().is_none());
        assert!(
            wharf_tables().is_empty(),
            "no rules before the address is known"
        );
        assert_eq!(net.refresh_ports().unwrap(), None);
        // what a network manager would do on both sides
        let mut host = wharf_net::rtnl::Rtnl::open().unwrap();
        let ve = host.index("ve-dhcp").unwrap();
        host.add_address(ve, Ipv4Addr::new(172, 31, 9, 1), 24)
            .unwrap();
        let mut inside = m.rtnl();
        let h0 = inside.index("host0").unwrap();
        inside
            .add_address(h0, Ipv4Addr::new(172, 31, 9, 2), 24)
            .unwrap();
        assert_eq!(
            net.refresh_ports().unwrap(),
            Some(Ipv4Addr::new(172, 31, 9, 2))
        );
        assert_eq!(wharf_tables(), vec!["wharf-dhcp".to_string()]);
        let _s = m.run(|| serve(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80), "dhcp"));
        assert_eq!(
            fetch(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8082)).unwrap(),
            "dhcp 172.31.9.1"
        );
        net.teardown().unwrap();
        assert_eq!(snapshot(), before);
    })
}
