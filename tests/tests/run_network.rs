//! `wharf run` with a private network (docs/networking.md): every test runs wharf, `ip`,
//! `nft`, `ping` and its TCP clients inside a network namespace of its own that plays the host
//! (held by an `unshare --net sleep` process, entered with `nsenter`), so the real host's links
//! and rules are never touched and the kernel removes whatever a failed test left.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rustix::process::Signal;
use wharf_tests::debian;
use wharf_tests::fixtures::TestStore;
use wharf_tests::machine::{run_in, status_field, store_named, wait_for_file, Running};
use wharf_tests::netns::HostNs;
use wharf_tests::ok;

const LIMIT: Duration = Duration::from_secs(60);
const CAP_NET_ADMIN: u64 = 1 << 12;

/// tests/probe/listen.c built static: `listen PORT MESSAGE` serves MESSAGE to one client.
fn listener() -> &'static PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("probe/listen.c");
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wharf-listen");
        let st = Command::new("gcc")
            .args(["-static", "-O1", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .expect("gcc is required to build the listener (apt-get install gcc libc6-dev)");
        assert!(st.success(), "building {} failed", src.display());
        out
    })
}

fn listen_bind() -> String {
    format!("--bind-ro={}:/usr/local/bin/listen", listener().display())
}

/// What these tests do in the namespace that plays the host (tests/src/netns.rs).
trait NetTest {
    fn run_cmd(&self, s: &TestStore, name: &str, args: &[&str]) -> Command;
    fn run(&self, s: &TestStore, name: &str, args: &[&str]) -> (Option<i32>, String, String);
    fn links(&self) -> Vec<String>;
    fn ruleset(&self) -> String;
    fn wait_addr(&self, link: &str, r: &mut Running) -> String;
    fn wait_table(&self, table: &str, r: &mut Running);
    fn tcp_get(&self, addr: &str, port: u16) -> String;
}

impl NetTest for HostNs {
    /// `wharf run -M NAME args…` inside the namespace.
    fn run_cmd(&self, s: &TestStore, name: &str, args: &[&str]) -> Command {
        let mut full = vec!["run", "-M", name, "--console=pipe"];
        full.extend_from_slice(args);
        self.wharf(&s.root, &full)
    }

    /// `wharf run` to its end (bounded); (exit code, stdout, stderr).
    fn run(&self, s: &TestStore, name: &str, args: &[&str]) -> (Option<i32>, String, String) {
        let mut c = self.run_cmd(s, name, args);
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        Running::spawn(c).finish(LIMIT)
    }

    /// Links of the namespace (names only).
    fn links(&self) -> Vec<String> {
        self.ok(&["ip", "-o", "link"])
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap().to_string())
            .collect()
    }

    fn ruleset(&self) -> String {
        self.ok(&["nft", "list", "ruleset"])
    }

    /// The first IPv4 address of `link`, once it has one (bounded wait).
    fn wait_addr(&self, link: &str, r: &mut Running) -> String {
        let deadline = Instant::now() + LIMIT;
        loop {
            let o = self.output(&["ip", "-o", "-4", "addr", "show", "dev", link]);
            let text = String::from_utf8_lossy(&o.stdout);
            if let Some(a) = text.split_whitespace().skip_while(|w| *w != "inet").nth(1) {
                return a.split('/').next().unwrap().to_string();
            }
            if let Ok(Some(st)) = r.child.try_wait() {
                panic!("wharf ended ({st}) before {link} got an address");
            }
            assert!(Instant::now() < deadline, "{link} got no address");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait (bounded) until the ruleset holds `table`: wharf writes the forwarding rules after
    /// the link's address, so seeing the address does not mean the rules are there yet.
    fn wait_table(&self, table: &str, r: &mut Running) {
        let deadline = Instant::now() + LIMIT;
        while !self.ruleset().contains(table) {
            if let Ok(Some(st)) = r.child.try_wait() {
                panic!("wharf ended ({st}) before nft table {table} appeared");
            }
            assert!(
                Instant::now() < deadline,
                "no nft table {table}: {}",
                self.ruleset()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A TCP client in the namespace (bash's /dev/tcp): what the server sent, retried until a
    /// server answers (bounded).
    fn tcp_get(&self, addr: &str, port: u16) -> String {
        let script = format!("exec 3<>/dev/tcp/{addr}/{port} && cat <&3");
        let deadline = Instant::now() + LIMIT;
        loop {
            let o = self.output(&["timeout", "10", "bash", "-c", &script]);
            if o.status.success() {
                return String::from_utf8_lossy(&o.stdout).into_owned();
            }
            assert!(
                Instant::now() < deadline,
                "{addr}:{port} never answered: {o:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn plus_one(addr: &str) -> String {
    let a: std::net::Ipv4Addr = addr.parse().unwrap();
    std::net::Ipv4Addr::from(u32::from(a) + 1).to_string()
}

#[test]
fn private_network_has_only_lo_own_sysfs_and_net_admin() {
    let s = store_named("nlpriv");
    let ns = HostNs::new();
    let script = "ls /sys/class/net; grep CapBnd /proc/self/status; \
                  echo 1 > /proc/sys/net/ipv4/conf/lo/forwarding && echo net-sysctl-writable; \
                  echo 1 > /proc/sys/kernel/domainname 2>/dev/null || echo kernel-sysctl-ro";
    let (code, out, err) = ns.run(&s, "nlpriv", &["--private-network", "sh", "-c", script]);
    assert_eq!(code, Some(0), "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "lo", "{out}");
    assert!(!out.contains("host0"), "{out}");
    assert!(status_field(&out, "CapBnd:") & CAP_NET_ADMIN != 0, "{out}");
    assert!(out.contains("net-sysctl-writable"), "{out}");
    assert!(out.contains("kernel-sysctl-ro"), "{out}");
    // The host network: no NET_ADMIN, /proc/sys/net read-only, the host's sysfs.
    let (code, out, err) = ns.run(
        &s,
        "nlpriv",
        &["sh", "-c", "grep CapBnd /proc/self/status; echo 1 > /proc/sys/net/ipv4/conf/lo/forwarding 2>/dev/null || echo net-ro"],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(status_field(&out, "CapBnd:") & CAP_NET_ADMIN, 0, "{out}");
    assert!(out.contains("net-ro"), "{out}");
    // --drop-capability wins over the private network's NET_ADMIN.
    let (_, out, _) = ns.run(
        &s,
        "nlpriv",
        &[
            "--private-network",
            "--drop-capability=CAP_NET_ADMIN",
            "grep",
            "CapBnd",
            "/proc/self/status",
        ],
    );
    assert_eq!(status_field(&out, "CapBnd:") & CAP_NET_ADMIN, 0, "{out}");
    // --network-namespace-path=: wharf (on the real host) joins the given namespace; the
    // machine sees its links (only lo) and gets no NET_ADMIN (nspawn's rules).
    let ns_arg = format!("--network-namespace-path={}", ns.path().display());
    let r = run_in(
        &s,
        "nlpriv",
        &[
            &ns_arg,
            "sh",
            "-c",
            "ls /sys/class/net; ip -o link | wc -l; grep CapBnd /proc/self/status",
        ],
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(&lines[..2], &["lo", "1"], "{r:?}");
    assert_eq!(
        status_field(&r.stdout, "CapBnd:") & CAP_NET_ADMIN,
        0,
        "{r:?}"
    );
    let r = run_in(&s, "nlpriv", &[&ns_arg, "-n", "true"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.stderr
            .contains("--network-namespace-path= cannot be combined"),
        "{r:?}"
    );
}

#[test]
fn veth_host_and_machine_talk_and_links_go_away() {
    let s = store_named("nlveth");
    let ns = HostNs::new();
    // The host's listener first: the machine connects to it after serving its own.
    let mut host_listener = Running::spawn({
        let mut c = ns.cmd(listener(), &["7002", "hi-from-host"]);
        c.stdout(Stdio::null());
        c
    });
    let script = "ip -o -4 addr show host0; listen 7001 hi-from-machine; \
                  gw=$(ip route | sed -n 's/^default via \\([0-9.]*\\).*/\\1/p'); \
                  for i in $(seq 100); do \
                    bash -c \"exec 3<>/dev/tcp/$gw/7002 && cat <&3\" 2>/dev/null && exit 0; sleep 0.1; \
                  done; exit 1";
    let bind = listen_bind();
    let mut c = ns.run_cmd(&s, "nlveth", &["-n", &bind, "sh", "-c", script]);
    c.stdout(Stdio::piped());
    let mut r = Running::spawn(c);
    let host_addr = ns.wait_addr("ve-nlveth", &mut r);
    let machine_addr = plus_one(&host_addr);
    // host → machine: ICMP and TCP
    ns.ok(&["ping", "-c", "1", "-W", "5", &machine_addr]);
    assert_eq!(ns.tcp_get(&machine_addr, 7001).trim(), "hi-from-machine");
    let (code, out, _) = r.finish(LIMIT);
    assert_eq!(code, Some(0));
    assert_eq!(
        host_listener.wait(LIMIT),
        Some(0),
        "the machine never reached the host"
    );
    assert!(out.contains(&format!("inet {machine_addr}/31")), "{out}");
    assert!(out.contains("hi-from-host"), "{out}");
    // Gone with the machine: the link and the state file.
    assert!(
        !ns.links().iter().any(|l| l.starts_with("ve-")),
        "{:?}",
        ns.links()
    );
    assert!(!Path::new("/run/wharf/net/machines/nlveth.json").exists());
}

#[test]
fn two_machines_on_one_zone_reach_each_other() {
    let s = store_named("nlz1");
    ok(
        &s.root,
        &["import-tar", debian::tarball().to_str().unwrap(), "nlz2"],
    );
    let ns = HostNs::new();
    let shared = tempfile::tempdir().unwrap();
    let share = format!("--bind={}:/shared", shared.path().display());
    let bind = listen_bind();
    let mut c = ns.run_cmd(
        &s,
        "nlz1",
        &[
            "--network-zone=nltest",
            &bind,
            &share,
            "sh",
            "-c",
            "ip -o -4 addr show host0 > /shared/addr.tmp; mv /shared/addr.tmp /shared/addr; exec listen 7003 hi-from-nlz1",
        ],
    );
    c.stdout(Stdio::null());
    let mut first = Running::spawn(c);
    let addr_file = shared.path().join("addr");
    wait_for_file(&addr_file, LIMIT, &mut first);
    let deadline = Instant::now() + LIMIT;
    let line = loop {
        let l = std::fs::read_to_string(&addr_file).unwrap();
        if l.contains("inet ") {
            break l;
        }
        assert!(Instant::now() < deadline, "nlz1 wrote no address");
        std::thread::sleep(Duration::from_millis(50));
    };
    let addr = line
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .unwrap();
    let addr = addr.split('/').next().unwrap().to_string();
    assert!(addr.starts_with("10.232."), "{line}");
    assert!(
        ns.links().contains(&"vz-nltest".to_string()),
        "{:?}",
        ns.links()
    );
    let script = format!(
        "for i in $(seq 100); do bash -c 'exec 3<>/dev/tcp/{addr}/7003 && cat <&3' 2>/dev/null && exit 0; sleep 0.1; done; exit 1"
    );
    let (code, out, err) = ns.run(
        &s,
        "nlz2",
        &["--network-zone=nltest", "bash", "-c", &script],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(out.trim(), "hi-from-nlz1");
    assert_eq!(first.wait(LIMIT), Some(0));
    // The zone bridge goes with its last member.
    assert!(
        !ns.links()
            .iter()
            .any(|l| l.starts_with("vz-") || l.starts_with("vb-")),
        "{:?}",
        ns.links()
    );
}

#[test]
fn forwarded_port_from_localhost_and_rules_removed() {
    let s = store_named("nlport");
    let ns = HostNs::new();
    let bind = listen_bind();
    let mut c = ns.run_cmd(
        &s,
        "nlport",
        &[
            "-n",
            "-p",
            "tcp:18080:80",
            &bind,
            "listen",
            "80",
            "hi-via-port",
        ],
    );
    c.stdout(Stdio::null());
    let mut r = Running::spawn(c);
    ns.wait_addr("ve-nlport", &mut r);
    ns.wait_table("wharf-nlport", &mut r);
    assert_eq!(ns.tcp_get("127.0.0.1", 18080).trim(), "hi-via-port");
    assert_eq!(r.wait(LIMIT), Some(0));
    assert!(!ns.ruleset().contains("wharf-"), "{}", ns.ruleset());
    assert!(
        !ns.links().iter().any(|l| l.starts_with("ve-")),
        "{:?}",
        ns.links()
    );
    // -p without a veth link: refused as nspawn does.
    let (code, _, err) = ns.run(&s, "nlport", &["--private-network", "-p", "8080", "true"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("--port= needs a private network with a veth link"),
        "{err}"
    );
}

#[test]
fn residue_of_a_killed_wharf_is_swept_at_the_next_start() {
    let s = store_named("nlkill");
    let ns = HostNs::new();
    let mut c = ns.run_cmd(&s, "nlkill", &["-n", "-p", "tcp:18081:81", "sleep", "1000"]);
    c.stdout(Stdio::null());
    let mut r = Running::spawn(c);
    ns.wait_addr("ve-nlkill", &mut r);
    ns.wait_table("wharf-nlkill", &mut r);
    let state = Path::new("/run/wharf/net/machines/nlkill.json");
    assert!(state.exists());
    r.signal(Signal::KILL);
    r.wait(LIMIT);
    // Nothing ran after the SIGKILL: the table and the state stay behind.
    assert!(ns.ruleset().contains("wharf-nlkill"), "{}", ns.ruleset());
    assert!(state.exists());
    // The next start sweeps them (and cleans up after itself).
    let (code, out, err) = ns.run(&s, "nlkill", &["-n", "true"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(!ns.ruleset().contains("wharf-"), "{}", ns.ruleset());
    assert!(
        !ns.links().iter().any(|l| l.starts_with("ve-")),
        "{:?}",
        ns.links()
    );
    assert!(!state.exists());
}

#[test]
fn reboot_restart_recreates_the_network() {
    let s = store_named("nlboot");
    let ns = HostNs::new();
    let shared = tempfile::tempdir().unwrap();
    let share = format!("--bind={}:/shared", shared.path().display());
    // First start: note the address and reboot (reboot() directly); second start: show it again.
    let script = "ip -o -4 addr show host0; ls /sys/class/net | tr '\\n' ' '; echo; \
                  [ -e /shared/once ] && exit 7; touch /shared/once; systemctl reboot -ff";
    let (code, out, err) = ns.run(&s, "nlboot", &["-n", &share, "sh", "-c", script]);
    assert_eq!(code, Some(7), "{out}{err}");
    let addrs: Vec<&str> = out.lines().filter(|l| l.contains("inet ")).collect();
    assert_eq!(addrs.len(), 2, "{out}");
    assert!(addrs.iter().all(|l| l.contains("host0")), "{out}");
    assert_eq!(out.matches("host0 lo").count(), 2, "{out}");
    assert!(
        !ns.links().iter().any(|l| l.starts_with("ve-")),
        "{:?}",
        ns.links()
    );
    assert!(!Path::new("/run/wharf/net/machines/nlboot.json").exists());
}

#[test]
fn ports_follow_an_address_the_machine_gets_later() {
    let s = store_named("nlnone");
    let ns = HostNs::new();
    let bind = listen_bind();
    // --network-address=none: wharf assigns nothing; the machine configures host0 itself (as
    // DHCP would) after a while, and wharf then writes the forward rules.
    let script = "sleep 1; ip addr add 10.99.0.2/24 dev host0 && exec listen 80 hi-later";
    let mut c = ns.run_cmd(
        &s,
        "nlnone",
        &[
            "-n",
            "--network-address=none",
            "-p",
            "tcp:18082:80",
            &bind,
            "sh",
            "-c",
            script,
        ],
    );
    c.stdout(Stdio::null());
    let mut r = Running::spawn(c);
    let deadline = Instant::now() + LIMIT;
    while !ns.links().contains(&"ve-nlnone".to_string()) {
        assert!(r.child.try_wait().unwrap().is_none(), "wharf ended early");
        assert!(Instant::now() < deadline, "ve-nlnone did not appear");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!ns.ruleset().contains("dnat"), "{}", ns.ruleset());
    ns.ok(&["ip", "addr", "add", "10.99.0.1/24", "dev", "ve-nlnone"]);
    // Nothing else listens on 18082 in this namespace: an answer means the DNAT was written.
    assert_eq!(ns.tcp_get("127.0.0.1", 18082).trim(), "hi-later");
    assert_eq!(r.wait(LIMIT), Some(0));
    assert!(!ns.ruleset().contains("wharf-"), "{}", ns.ruleset());
}

#[test]
fn veth_extra_pairs_live_with_the_machine_and_are_swept_after_a_kill() {
    let s = store_named("nlvx");
    let ns = HostNs::new();
    let shared = tempfile::tempdir().unwrap();
    let share = format!("--bind={}:/shared", shared.path().display());
    let script = "ip -o link show up > /shared/links.tmp; ip -o -4 addr > /shared/addrs; \
                  mv /shared/links.tmp /shared/links; \
                  while [ ! -e /shared/stop ]; do sleep 0.1; done";
    let mut c = ns.run_cmd(
        &s,
        "nlvx",
        &[
            "--network-veth-extra=vx0:eth1",
            "--network-veth-extra=vx1",
            &share,
            "sh",
            "-c",
            script,
        ],
    );
    c.stdout(Stdio::null());
    let mut r = Running::spawn(c);
    wait_for_file(&shared.path().join("links"), LIMIT, &mut r);
    // Inside: both machine sides up, no host0 (no -n), no addresses on them.
    let inside = std::fs::read_to_string(shared.path().join("links")).unwrap();
    for l in ["eth1@", "vx1@"] {
        assert!(inside.contains(&format!(": {l}")), "{inside}");
    }
    assert!(!inside.contains("host0"), "{inside}");
    let addrs = std::fs::read_to_string(shared.path().join("addrs")).unwrap();
    assert!(!addrs.contains("eth1") && !addrs.contains("vx1"), "{addrs}");
    // The host: both host sides, veth, up, no addresses.
    for l in ["vx0", "vx1"] {
        let o = ns.ok(&["ip", "-o", "-d", "link", "show", "up", "dev", l]);
        assert!(o.contains("veth"), "{l}: {o}");
        assert_eq!(ns.ok(&["ip", "-o", "-4", "addr", "show", "dev", l]), "");
    }
    std::fs::write(shared.path().join("stop"), "").unwrap();
    assert_eq!(r.wait(LIMIT), Some(0));
    let links = ns.links();
    assert!(!links.iter().any(|l| l == "vx0" || l == "vx1"), "{links:?}");
    assert!(!Path::new("/run/wharf/net/machines/nlvx.json").exists());

    // A SIGKILLed wharf: the pairs stay until the next start sweeps them.
    std::fs::remove_file(shared.path().join("links")).unwrap();
    std::fs::remove_file(shared.path().join("stop")).unwrap();
    let mut c = ns.run_cmd(
        &s,
        "nlvx",
        &["--network-veth-extra=vx0:eth1", &share, "sh", "-c", script],
    );
    c.stdout(Stdio::null());
    let mut r = Running::spawn(c);
    wait_for_file(&shared.path().join("links"), LIMIT, &mut r);
    assert!(ns.links().iter().any(|l| l == "vx0"), "{:?}", ns.links());
    r.signal(Signal::KILL);
    r.wait(LIMIT);
    std::fs::write(shared.path().join("stop"), "").unwrap();
    let (code, out, err) = ns.run(&s, "nlvx", &["-n", "true"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let links = ns.links();
    assert!(!links.iter().any(|l| l == "vx0"), "{links:?}");
    assert!(!links.iter().any(|l| l.starts_with("ve-")), "{links:?}");
    assert!(!Path::new("/run/wharf/net/machines/nlvx.json").exists());
    // Bad names: one line, nothing started.
    let (code, _, err) = ns.run(&s, "nlvx", &["--network-veth-extra=a/b", "true"]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("--network-veth-extra=a/b") && err.contains("contains '/'"),
        "{err}"
    );
}
