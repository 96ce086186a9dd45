//! --network-macvlan, --network-ipvlan and --network-interface on links of the throwaway host
//! namespace (veth pairs standing in for NICs: this kernel has no dummy driver); also the
//! interface names of long machine names.
mod common;

use common::*;
use wharf_net::NetworkSpec;

#[test]
fn macvlan_ipvlan_and_moved_interface() {
    in_fresh_host(|| {
        let mut host = wharf_net::rtnl::Rtnl::open().unwrap();
        let here = wharf_sys::netns::open_current_netns().unwrap();
        for (a, b) in [("nic0", "nic0p"), ("nic1", "nic1p")] {
            let mac = wharf_net::mac::Mac([2, 0, 0, 0, 9, a.len() as u8]);
            host.create_veth(a, mac, b, mac, std::os::fd::AsFd::as_fd(&here))
                .unwrap();
        }
        let before = snapshot();
        let c = Ctx::new();
        let m = Netns::new();
        let mut spec = NetworkSpec {
            macvlan: vec!["nic0".into()],
            interfaces: vec!["nic1".into()],
            ..Default::default()
        };
        let ipvlan = kernel_has("CONFIG_IPVLAN");
        if ipvlan {
            spec.ipvlan = vec!["nic0".into()];
        } else {
            // this kernel lacks ipvlan: a clear error and nothing left behind
            let bad = NetworkSpec {
                ipvlan: vec!["nic0".into()],
                ..spec.clone()
            };
            let e = c.ctx.setup("vl", m.fd(), &bad).unwrap_err().to_string();
            assert!(e.contains("create ipvlan iv-nic0 on nic0"), "{e}");
            assert_eq!(snapshot(), before);
            assert_eq!(link_names(&mut m.rtnl()), vec!["lo".to_string()]);
            assert_eq!(c.states(), 0);
        }
        let net = c.ctx.setup("vl", m.fd(), &spec).unwrap();
        let mut inside = m.rtnl();
        let links = inside.links().unwrap();
        let get = |n: &str| links.iter().find(|l| l.name == n).cloned();
        let mv = get("mv-nic0").expect("macvlan inside");
        assert_eq!(mv.kind.as_deref(), Some("macvlan"));
        assert!(mv.up);
        if ipvlan {
            assert_eq!(
                get("iv-nic0").expect("ipvlan inside").kind.as_deref(),
                Some("ipvlan")
            );
        }
        assert!(get("nic1").is_some(), "moved in");
        assert!(
            host.link("nic1").unwrap().is_none(),
            "moved out of the host"
        );
        // no veth without -n
        assert!(get("host0").is_none());
        // the macvlan MAC is nspawn's
        let ip = output(m.cmd("ip").args(["-o", "link", "show", "mv-nic0"]));
        let want = wharf_net::mac::generate(
            &wharf_net::mac::host_machine_id(),
            "vl",
            &wharf_net::mac::MACVLAN_KEY,
            0,
        );
        assert!(
            String::from_utf8_lossy(&ip.stdout).contains(&want.to_string()),
            "{ip:?} lacks {want}"
        );
        net.teardown().unwrap();
        assert!(host.link("nic1").unwrap().is_some(), "moved back");
        assert_eq!(link_names(&mut inside), vec!["lo".to_string()]);
        // nic1 comes back with a new index; compare names and kinds only
        let names = |s: &str| {
            let mut v: Vec<String> = s
                .lines()
                .filter_map(|l| l.split(": ").nth(1).map(str::to_owned))
                .collect();
            v.sort();
            v
        };
        assert_eq!(names(&snapshot()), names(&before));
        for (a, _) in [("nic0", ()), ("nic1", ())] {
            let i = host.index(a).unwrap();
            host.delete_link(i).unwrap();
        }
    })
}

/// Whether the running kernel was built with `option` (=y; this kernel loads no modules).
fn kernel_has(option: &str) -> bool {
    let out = output(std::process::Command::new("sh").args(["-c", "zcat /proc/config.gz"]));
    assert!(out.status.success(), "no /proc/config.gz to check {option}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l == format!("{option}=y") || l == format!("{option}=m"))
}

#[test]
fn long_machine_names_get_nspawns_hashed_interface_names() {
    in_fresh_host(|| {
        let before = snapshot();
        let c = Ctx::new();
        let m = Netns::new();
        let name = "a-rather-long-machine-name";
        let net = c
            .ctx
            .setup(
                name,
                m.fd(),
                &NetworkSpec {
                    veth: true,
                    ..Default::default()
                },
            )
            .unwrap();
        let ve = net.state().host_ifname.clone().unwrap();
        assert_eq!(ve.len(), 15);
        assert!(ve.starts_with("ve-a-rather"));
        let mut host = wharf_net::rtnl::Rtnl::open().unwrap();
        assert!(host.link(&ve).unwrap().is_some());
        assert!(ping(None, net.machine_address().unwrap()));
        net.teardown().unwrap();
        assert_eq!(snapshot(), before);
    })
}
