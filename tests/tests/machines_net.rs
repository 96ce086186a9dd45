//! Addresses in `wharf list`/`status` for a machine with a private network (veth), read from
//! its network namespace. wharf runs inside a network namespace of its own that plays the host
//! (held by an `unshare --net sleep` process, entered with `nsenter`), so the real host's
//! links are never touched and the kernel removes whatever a failed test left.

use serde_json::Value;
use wharf_tests::netns::HostNs;
use wharf_tests::started::Started;
use wharf_tests::Run;

/// `wharf args…` for machine `m` inside the namespace, required to succeed.
fn wharf_in(ns: &HostNs, m: &Started, args: &[&str]) -> Run {
    let mut c = ns.wharf(&m.store.root, args);
    c.env("WHARF_STATE_DIR", m.state.path());
    let r: Run = c.output().expect("nsenter (util-linux) is required").into();
    assert!(r.ok, "wharf {args:?}: {r:?}");
    r
}

#[test]
fn list_and_status_show_the_veth_address() {
    let ns = HostNs::new();
    let m = Started::new("mach-addr");
    wharf_in(
        &ns,
        &m,
        &["start", "mach-addr", "--timeout", "120", "--network-veth"],
    );
    // The machine's end of the veth: the host side's /31 address + 1 (docs/networking.md).
    let o = ns
        .cmd("ip", &["-o", "-4", "addr", "show", "dev", "ve-mach-addr"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let host_side: std::net::Ipv4Addr = text
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .and_then(|a| a.split('/').next())
        .unwrap_or_else(|| panic!("no address on ve-mach-addr: {o:?}"))
        .parse()
        .unwrap();
    let machine = std::net::Ipv4Addr::from(u32::from(host_side) + 1).to_string();

    let list: Value = serde_json::from_str(&wharf_in(&ns, &m, &["list", "--json"]).stdout).unwrap();
    let addrs = list[0]["addresses"].as_array().unwrap();
    assert_eq!(addrs[0], machine.as_str(), "{list}");
    assert_eq!(list[0]["private_network"], true, "{list}");
    // No loopback, no link-local.
    for a in addrs {
        let a = a.as_str().unwrap();
        assert!(
            !a.starts_with("127.") && !a.starts_with("fe80:") && a != "::1",
            "{list}"
        );
    }
    let st: Value =
        serde_json::from_str(&wharf_in(&ns, &m, &["status", "mach-addr", "--json"]).stdout)
            .unwrap();
    assert_eq!(st["addresses"], list[0]["addresses"], "{st}");
    // Text output: the table's ADDRESS column and status' Address line.
    let table = wharf_in(&ns, &m, &["list"]).stdout;
    let row = table.lines().find(|l| l.starts_with("mach-addr")).unwrap();
    assert!(row.contains(&machine), "{table}");
    assert!(table.contains("ADDRESS"), "{table}");
    let text = wharf_in(&ns, &m, &["status", "mach-addr"]).stdout;
    assert!(text.contains(&format!("Address: {machine}")), "{text}");
    // The same from the real host's namespace (the machine's namespace is read, not ours).
    let st = m.status();
    assert_eq!(st["addresses"][0], machine.as_str(), "{st}");
    wharf_in(&ns, &m, &["poweroff", "mach-addr"]);
}
