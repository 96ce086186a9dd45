//! Test scaffolding: every test runs on its own thread inside a fresh network namespace that
//! plays "the host", and creates further namespaces for its "machines". Namespaces are held by
//! file descriptors only (no /run/netns mounts, no processes): when a test ends, even by a panic
//! or a killed test binary, the kernel destroys them with every link, address, route and
//! nftables table in them. Nothing is ever created in the real host's namespace.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::process::{Command, Output};
use std::time::Duration;

use std::io::{Read, Write};

use wharf_net::rtnl::Rtnl;

/// Runs `f` on a new thread whose network namespace is new and empty except for an up
/// loopback. Processes spawned by `f` (ping, nft, ip) run in that namespace too. The real
/// host's `ip link` and `nft list ruleset` are compared before and after.
pub fn in_fresh_host<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            wharf_sys::netns::unshare_netns().expect("unshare(CLONE_NEWNET)");
            let mut rtnl = Rtnl::open().unwrap();
            let lo = rtnl.index("lo").unwrap();
            rtnl.set_up(lo).unwrap();
            f()
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

/// A network namespace held open by an fd (a test "machine" or "outside world").
pub struct Netns {
    fd: OwnedFd,
}

impl Netns {
    /// A new namespace with its loopback up.
    pub fn new() -> Netns {
        let fd = std::thread::scope(|s| {
            s.spawn(|| {
                wharf_sys::netns::unshare_netns().unwrap();
                let mut rtnl = Rtnl::open().unwrap();
                let lo = rtnl.index("lo").unwrap();
                rtnl.set_up(lo).unwrap();
                wharf_sys::netns::open_current_netns().unwrap()
            })
            .join()
            .unwrap()
        });
        Netns { fd }
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// A path naming this namespace for `nsenter --net=`.
    pub fn path(&self) -> String {
        format!("/proc/{}/fd/{}", std::process::id(), self.fd.as_raw_fd())
    }

    pub fn rtnl(&self) -> Rtnl {
        Rtnl::open_in(self.fd()).unwrap()
    }

    /// A command run inside this namespace.
    pub fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={}", self.path()))
            .arg("--")
            .arg(program);
        c
    }

    /// Runs `f` on a thread inside this namespace (sockets it makes stay in it).
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|s| {
            s.spawn(|| {
                wharf_sys::netns::enter_netns(self.fd()).unwrap();
                f()
            })
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
        })
    }
}

pub fn output(c: &mut Command) -> Output {
    c.output()
        .unwrap_or_else(|e| panic!("cannot run {c:?}: {e} (scripts/install-test-deps)"))
}

/// `ping -c1 -W2 ADDR` from the current namespace (`ns` None) or from `ns`.
pub fn ping(ns: Option<&Netns>, addr: Ipv4Addr) -> bool {
    let mut c = match ns {
        Some(n) => n.cmd("ping"),
        None => Command::new("ping"),
    };
    c.args(["-n", "-c1", "-W2", &addr.to_string()]);
    let o = output(&mut c);
    if !o.status.success() {
        eprintln!(
            "ping {addr} failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    o.status.success()
}

/// A TCP listener (bound in the calling thread's namespace) answering each connection with
/// `reply` followed by the peer address it saw, on a background thread.
pub fn serve(bind: SocketAddrV4, reply: &'static str) -> std::thread::JoinHandle<()> {
    let l = TcpListener::bind(bind).unwrap_or_else(|e| panic!("bind {bind}: {e}"));
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            let peer = s
                .peer_addr()
                .map(|p| p.ip().to_string())
                .unwrap_or_default();
            let _ = s.write_all(format!("{reply} {peer}").as_bytes());
            if reply == "last" {
                return;
            }
        }
    })
}

/// Connects to `to` (bounded waits) and returns what the server said, or None.
pub fn fetch(to: SocketAddrV4) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&to.into(), Duration::from_secs(3)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// `ip -o link` and `nft list ruleset` of the current namespace, with nothing volatile in them.
pub fn snapshot() -> String {
    let link = output(Command::new("ip").args(["-o", "link"]));
    let nft = output(Command::new("nft").args(["list", "ruleset"]));
    assert!(nft.status.success(), "nft list ruleset failed: {nft:?}");
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&link.stdout),
        String::from_utf8_lossy(&nft.stdout)
    )
}

/// A wharf-net context with its state in a temporary directory.
pub struct Ctx {
    pub dir: tempfile::TempDir,
    pub ctx: wharf_net::NetContext,
}

impl Ctx {
    pub fn new() -> Ctx {
        let dir = tempfile::tempdir().unwrap();
        let ctx = wharf_net::NetContext::new(dir.path());
        Ctx { dir, ctx }
    }

    /// Number of state files left.
    pub fn states(&self) -> usize {
        self.ctx.state_dir().all().unwrap().len()
    }
}

/// Names of the links in the current namespace.
pub fn link_names(r: &mut Rtnl) -> Vec<String> {
    r.links().unwrap().into_iter().map(|l| l.name).collect()
}

/// `ip wharf-*` tables in the current namespace.
pub fn wharf_tables() -> Vec<String> {
    wharf_net::nft::wharf_tables().unwrap()
}

/// An "outside" namespace wired to the host by a veth `up0` (192.0.2.1/24 on the host,
/// 192.0.2.2/24 outside, default route via the host).
pub fn outside() -> Netns {
    let o = Netns::new();
    let mut host = Rtnl::open().unwrap();
    host.create_veth(
        "up0",
        wharf_net::mac::Mac([2, 0, 0, 0, 0, 1]),
        "eth0",
        wharf_net::mac::Mac([2, 0, 0, 0, 0, 2]),
        o.fd(),
    )
    .unwrap();
    let up = host.index("up0").unwrap();
    host.add_address(up, Ipv4Addr::new(192, 0, 2, 1), 24)
        .unwrap();
    host.set_up(up).unwrap();
    let mut r = o.rtnl();
    let e = r.index("eth0").unwrap();
    r.add_address(e, Ipv4Addr::new(192, 0, 2, 2), 24).unwrap();
    r.set_up(e).unwrap();
    r.add_default_route(Ipv4Addr::new(192, 0, 2, 1)).unwrap();
    o
}

/// Removes what [`outside`] added on the host side.
pub fn remove_outside() {
    let mut host = Rtnl::open().unwrap();
    if let Ok(i) = host.index("up0") {
        host.delete_link(i).unwrap();
    }
}
