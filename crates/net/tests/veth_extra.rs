//! --network-veth-extra (`VirtualEthernetExtra=`): extra veth pairs between the throwaway host
//! namespace and a machine namespace, their teardown, the sweep after a SIGKILLed owner, and
//! names that must be refused.
mod common;

use std::process::Command;

use common::*;
use wharf_net::rtnl::Rtnl;
use wharf_net::{NetworkSpec, VethExtra};

fn extra(s: &str) -> VethExtra {
    s.parse().unwrap()
}

fn spec() -> NetworkSpec {
    NetworkSpec {
        veth_extra: vec![extra("vx0:eth1"), extra("vx1")],
        ..Default::default()
    }
}

/// The link `name` of `r`: a veth, up.
fn up_veth(r: &mut Rtnl, name: &str) -> wharf_net::rtnl::Link {
    let l = r
        .link(name)
        .unwrap()
        .unwrap_or_else(|| panic!("no link {name}"));
    assert_eq!(l.kind.as_deref(), Some("veth"), "{l:?}");
    assert!(l.up, "{name} is down: {l:?}");
    l
}

fn mac_of(ns: Option<&Netns>, name: &str) -> String {
    let mut c = match ns {
        Some(n) => n.cmd("ip"),
        None => Command::new("ip"),
    };
    let o = output(c.args(["-o", "link", "show", name]));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn extra_pairs_on_both_sides_without_addresses_then_gone() {
    in_fresh_host(|| {
        let before = snapshot();
        let c = Ctx::new();
        let m = Netns::new();
        let net = c.ctx.setup("vxm", m.fd(), &spec()).unwrap();
        assert_eq!(
            net.state().veth_extra,
            vec!["vx0".to_string(), "vx1".to_string()]
        );
        let mut host = Rtnl::open().unwrap();
        let mut inside = m.rtnl();
        let vx0 = up_veth(&mut host, "vx0");
        let vx1 = up_veth(&mut host, "vx1");
        let eth1 = up_veth(&mut inside, "eth1");
        let vx1in = up_veth(&mut inside, "vx1");
        // no main veth was asked for
        assert!(inside.link("host0").unwrap().is_none());
        assert!(host
            .links()
            .unwrap()
            .iter()
            .all(|l| !l.name.starts_with("ve-")));
        // no addresses on either side
        let mine = [vx0.index, vx1.index];
        assert!(host
            .addresses()
            .unwrap()
            .iter()
            .all(|a| !mine.contains(&a.index)));
        let theirs = [eth1.index, vx1in.index];
        assert!(inside
            .addresses()
            .unwrap()
            .iter()
            .all(|a| !theirs.contains(&a.index)));
        // nspawn's MAC addresses: own keys, indexed by position
        let id = wharf_net::mac::host_machine_id();
        for (i, (h, ns_name)) in [("vx0", "eth1"), ("vx1", "vx1")].into_iter().enumerate() {
            let hm = wharf_net::mac::generate(
                &id,
                "vxm",
                &wharf_net::mac::VETH_EXTRA_HOST_KEY,
                i as u64,
            );
            let mm = wharf_net::mac::generate(
                &id,
                "vxm",
                &wharf_net::mac::VETH_EXTRA_MACHINE_KEY,
                i as u64,
            );
            assert!(mac_of(None, h).contains(&hm.to_string()), "{h} lacks {hm}");
            assert!(
                mac_of(Some(&m), ns_name).contains(&mm.to_string()),
                "{ns_name} lacks {mm}"
            );
        }
        net.teardown().unwrap();
        assert!(host.link("vx0").unwrap().is_none());
        assert!(host.link("vx1").unwrap().is_none());
        assert_eq!(link_names(&mut inside), vec!["lo".to_string()]);
        assert_eq!(c.states(), 0);
        assert_eq!(snapshot(), before);
    })
}

#[test]
fn with_the_main_veth_and_after_a_sigkill() {
    in_fresh_host(|| {
        let before = snapshot();
        let c = Ctx::new();
        let mut owner = Command::new("sleep").arg("1000").spawn().unwrap();
        let m = Netns::new();
        let s = NetworkSpec {
            veth: true,
            ..spec()
        };
        let net = c
            .ctx
            .clone()
            .with_owner(owner.id())
            .setup("doomed", m.fd(), &s)
            .unwrap();
        let mut host = Rtnl::open().unwrap();
        let mut inside = m.rtnl();
        up_veth(&mut host, "ve-doomed");
        up_veth(&mut host, "vx0");
        up_veth(&mut inside, "host0");
        up_veth(&mut inside, "eth1");
        // a SIGKILLed wharf runs no destructor; the machine's namespace is still held (m)
        std::mem::forget(net);
        owner.kill().unwrap();
        owner.wait().unwrap();
        assert!(host.link("vx0").unwrap().is_some());
        // the next start of any machine sweeps it, both sides
        let m2 = Netns::new();
        let next = c
            .ctx
            .setup(
                "next",
                m2.fd(),
                &NetworkSpec {
                    veth: true,
                    ..Default::default()
                },
            )
            .unwrap();
        assert!(host.link("vx0").unwrap().is_none());
        assert!(host.link("vx1").unwrap().is_none());
        assert!(host.link("ve-doomed").unwrap().is_none());
        assert_eq!(link_names(&mut inside), vec!["lo".to_string()]);
        next.teardown().unwrap();
        assert_eq!(c.states(), 0);
        assert_eq!(snapshot(), before);
    })
}

#[test]
fn a_taken_host_name_fails_and_is_left_alone() {
    in_fresh_host(|| {
        let mut host = Rtnl::open().unwrap();
        let here = wharf_sys::netns::open_current_netns().unwrap();
        let mac = wharf_net::mac::Mac([2, 0, 0, 0, 7, 7]);
        host.create_veth("taken", mac, "takenp", mac, std::os::fd::AsFd::as_fd(&here))
            .unwrap();
        let before = snapshot();
        let c = Ctx::new();
        let m = Netns::new();
        let s = NetworkSpec {
            veth_extra: vec![extra("vx0"), extra("taken:eth2")],
            ..Default::default()
        };
        let e = c.ctx.setup("vxm", m.fd(), &s).unwrap_err().to_string();
        assert!(e.contains("create veth taken <-> eth2"), "{e}");
        // the first pair is undone, the host's own "taken" is still there
        assert!(host.link("taken").unwrap().is_some());
        assert!(host.link("vx0").unwrap().is_none());
        assert_eq!(link_names(&mut m.rtnl()), vec!["lo".to_string()]);
        assert_eq!(c.states(), 0);
        assert_eq!(snapshot(), before);
        let i = host.index("taken").unwrap();
        host.delete_link(i).unwrap();
    })
}

#[test]
fn bad_names_are_refused_in_one_line() {
    for (arg, want) in [
        ("", "empty"),
        ("a/b", "contains '/'"),
        ("a:b:c", "contains '/', ':'"),
        ("a:", "empty"),
        (":b", "empty"),
        ("sixteen-bytes-xx", "longer than 15 bytes"),
        ("ok:sixteen-bytes-xx", "longer than 15 bytes"),
        ("..", "not a valid interface name"),
    ] {
        let e = arg.parse::<VethExtra>().unwrap_err().to_string();
        assert!(e.contains(want), "{arg:?}: {e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }
    assert_eq!(
        extra("vx0"),
        VethExtra {
            host: "vx0".into(),
            machine: "vx0".into()
        }
    );
    assert_eq!(extra("vx0:eth1").to_string(), "vx0:eth1");
    // clashes with the machine's other links, checked before anything is made
    in_fresh_host(|| {
        let c = Ctx::new();
        let m = Netns::new();
        for (s, want) in [
            (
                NetworkSpec {
                    veth: true,
                    veth_extra: vec![extra("vx0:host0")],
                    ..Default::default()
                },
                "host0",
            ),
            (
                NetworkSpec {
                    veth_extra: vec![extra("vx0:lo")],
                    ..Default::default()
                },
                "already the name of another link",
            ),
            (
                NetworkSpec {
                    veth_extra: vec![extra("vx0:a"), extra("vx0:b")],
                    ..Default::default()
                },
                "given twice",
            ),
            (
                NetworkSpec {
                    veth_extra: vec![extra("vx0:a"), extra("vx1:a")],
                    ..Default::default()
                },
                "already the name of another link",
            ),
        ] {
            let e = c.ctx.setup("bad", m.fd(), &s).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
        assert_eq!(c.states(), 0);
    })
}
