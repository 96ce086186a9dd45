//! Addresses in `wharf list`/`status` for a machine with a private network (veth), read from
//! its network namespace. wharf runs inside a network namespace of its own that plays the host
//! (held by an `unshare --net sleep` process, entered with `nsenter`), so the real host's
//! links are never touched and the kernel removes whatever a failed test left.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::Value;
use wharf_tests::started::Started;
use wharf_tests::{wharf_bin, Run};

/// A network namespace playing the host, alive while this value lives.
struct HostNs {
    holder: Child,
}

impl HostNs {
    fn new() -> HostNs {
        let holder = Command::new("unshare")
            .args(["--net", "sleep", "3600"])
            .spawn()
            .expect("unshare (util-linux) is required");
        let ns = HostNs { holder };
        let mine = std::fs::read_link("/proc/self/ns/net").unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::fs::read_link(ns.path()).ok().as_ref() == Some(&mine) || !ns.path().exists() {
            assert!(Instant::now() < deadline, "unshare --net did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        ns
    }

    fn path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/ns/net", self.holder.id()))
    }

    /// `prog args…` in the namespace.
    fn cmd(&self, prog: &str, args: &[&str]) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={}", self.path().display()))
            .arg("--")
            .arg(prog)
            .args(args);
        c
    }

    /// `wharf args…` of machine `m` in the namespace, required to succeed.
    fn wharf(&self, m: &Started, args: &[&str]) -> Run {
        let mut c = self.cmd(wharf_bin().to_str().unwrap(), args);
        c.env("WHARF_IMAGE_ROOT", &m.store.root)
            .env("WHARF_STATE_DIR", m.state.path())
            .env_remove("RUST_BACKTRACE");
        let r: Run = c.output().expect("nsenter (util-linux) is required").into();
        assert!(r.ok, "wharf {args:?}: {r:?}");
        r
    }
}

impl Drop for HostNs {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

#[test]
fn list_and_status_show_the_veth_address() {
    let ns = HostNs::new();
    let m = Started::new("mach-addr");
    ns.wharf(
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

    let list: Value = serde_json::from_str(&ns.wharf(&m, &["list", "--json"]).stdout).unwrap();
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
        serde_json::from_str(&ns.wharf(&m, &["status", "mach-addr", "--json"]).stdout).unwrap();
    assert_eq!(st["addresses"], list[0]["addresses"], "{st}");
    // Text output: the table's ADDRESS column and status' Address line.
    let table = ns.wharf(&m, &["list"]).stdout;
    let row = table.lines().find(|l| l.starts_with("mach-addr")).unwrap();
    assert!(row.contains(&machine), "{table}");
    assert!(table.contains("ADDRESS"), "{table}");
    let text = ns.wharf(&m, &["status", "mach-addr"]).stdout;
    assert!(text.contains(&format!("Address: {machine}")), "{text}");
    // The same from the real host's namespace (the machine's namespace is read, not ours).
    let st = m.status();
    assert_eq!(st["addresses"][0], machine.as_str(), "{st}");
    ns.wharf(&m, &["poweroff", "mach-addr"]);
}
