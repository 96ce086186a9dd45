//! Port forwarding and masquerading through nftables, one table per machine.
//!
//! Each machine gets its own table `ip wharf-MACHINE` (nothing shared between machines, so
//! adding or removing one machine's rules is a single atomic `nft -f -` transaction and can
//! never disturb another's). The table carries a comment naming the machine and the owning wharf
//! process. Rules, for each forwarded port:
//!
//! ```text
//! chain prerouting  { type nat hook prerouting  priority dstnat; fib daddr type local tcp dport H dnat to M:P }
//! chain output      { type nat hook output      priority -100;   fib daddr type local tcp dport H dnat to M:P }
//! chain postrouting { type nat hook postrouting priority srcnat; ip saddr 127.0.0.0/8 ip daddr M masquerade }
//! ```
//!
//! `prerouting` serves other hosts and namespaces, `output` the host's own connections,
//! including those to 127.0.0.1 (unlike systemd-nspawn, systemd#6106). A packet from 127.0.0.1
//! leaving towards the machine is only routed when `route_localnet` is on for the interface
//! that leads to the machine (set per interface by the caller, not host-wide), and its source
//! is masqueraded to the host's address on that interface so the reply comes back. With
//! masquerading on, machine traffic leaving for elsewhere gets the host's address too.

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

/// Transport protocol of a forwarded port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// One `-p/--port=[tcp|udp:]HOST[:MACHINE]` (MACHINE defaults to HOST, protocol to tcp).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct PortForward {
    pub proto: Proto,
    pub host_port: u16,
    pub machine_port: u16,
}

impl std::str::FromStr for PortForward {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = |r: &str| Error::invalid("port", s, r);
        let (proto, rest) = match s.split_once(':') {
            Some(("tcp", r)) => (Proto::Tcp, r),
            Some(("udp", r)) => (Proto::Udp, r),
            _ => (Proto::Tcp, s),
        };
        let port = |p: &str| match p.parse::<u16>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(bad("ports are numbers 1-65535")),
        };
        let (host_port, machine_port) = match rest.split_once(':') {
            Some((h, m)) => (port(h)?, port(m)?),
            None => (port(rest)?, port(rest)?),
        };
        Ok(PortForward {
            proto,
            host_port,
            machine_port,
        })
    }
}

impl std::fmt::Display for PortForward {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.proto.as_str(),
            self.host_port,
            self.machine_port
        )
    }
}

/// Prefix of every table wharf creates.
pub const TABLE_PREFIX: &str = "wharf-";

/// The table of `machine` (machine names are already restricted to `[A-Za-z0-9._-]`, all valid
/// in an nft identifier after a letter).
pub fn table_name(machine: &str) -> String {
    format!("{TABLE_PREFIX}{machine}")
}

/// What one machine's table holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rules {
    pub table: String,
    /// Written into the table comment (machine name and owner pid).
    pub comment: String,
    pub machine_addr: Ipv4Addr,
    pub ports: Vec<PortForward>,
    /// Masquerade traffic from this subnet that leaves it (machine → elsewhere).
    pub masquerade: Option<(Ipv4Addr, u8)>,
}

/// The nft script that (re)creates the table atomically: create-if-missing, delete, define.
pub fn script(r: &Rules) -> String {
    let t = &r.table;
    let m = r.machine_addr;
    let mut dnat = String::new();
    for p in &r.ports {
        dnat.push_str(&format!(
            "\t\tfib daddr type local {} dport {} dnat to {m}:{}\n",
            p.proto.as_str(),
            p.host_port,
            p.machine_port
        ));
    }
    let mut post = String::new();
    if !r.ports.is_empty() {
        post.push_str(&format!(
            "\t\tip saddr 127.0.0.0/8 ip daddr {m} masquerade\n"
        ));
    }
    if let Some((net, prefix)) = r.masquerade {
        post.push_str(&format!(
            "\t\tip saddr {net}/{prefix} ip daddr != {net}/{prefix} masquerade\n"
        ));
    }
    let comment = r.comment.replace('"', "'");
    format!(
        "table ip {t}\ndelete table ip {t}\ntable ip {t} {{\n\
         \tcomment \"{comment}\"\n\
         \tchain prerouting {{\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n{dnat}\t}}\n\
         \tchain output {{\n\t\ttype nat hook output priority -100; policy accept;\n{dnat}\t}}\n\
         \tchain postrouting {{\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n{post}\t}}\n\
         }}\n"
    )
}

fn nft_binary() -> &'static str {
    ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or("nft")
}

/// Runs `nft -f -` with `script` on stdin.
pub fn run_script(op: &str, script: &str) -> Result<()> {
    let err = |reason: String| Error::Nft {
        op: op.to_owned(),
        reason,
    };
    let mut child = Command::new(nft_binary())
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| err(format!("cannot run nft (Debian package nftables): {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .map_err(|e| err(e.to_string()))?;
    }
    let out = child.wait_with_output().map_err(|e| err(e.to_string()))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr);
        return Err(err(msg.lines().next().unwrap_or("failed").to_owned()));
    }
    Ok(())
}

/// Creates or replaces the machine's table.
pub fn apply(r: &Rules) -> Result<()> {
    run_script(&format!("apply table {}", r.table), &script(r))
}

/// Deletes a table if it exists.
pub fn delete_table(table: &str) -> Result<()> {
    run_script(
        &format!("delete table {table}"),
        &format!("table ip {table}\ndelete table ip {table}\n"),
    )
}

/// Names of the `ip` tables that start with `wharf-`.
pub fn wharf_tables() -> Result<Vec<String>> {
    let out = Command::new(nft_binary())
        .args(["list", "tables", "ip"])
        .output()
        .map_err(|e| Error::Nft {
            op: "list tables".into(),
            reason: format!("cannot run nft (Debian package nftables): {e}"),
        })?;
    if !out.status.success() {
        return Err(Error::Nft {
            op: "list tables".into(),
            reason: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("table ip "))
        .filter(|t| t.starts_with(TABLE_PREFIX))
        .map(str::to_owned)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_syntax() {
        let p = |s: &str| s.parse::<PortForward>();
        assert_eq!(
            p("8080").unwrap(),
            PortForward {
                proto: Proto::Tcp,
                host_port: 8080,
                machine_port: 8080
            }
        );
        assert_eq!(
            p("udp:53:5353").unwrap(),
            PortForward {
                proto: Proto::Udp,
                host_port: 53,
                machine_port: 5353
            }
        );
        assert_eq!(p("tcp:80").unwrap().machine_port, 80);
        assert_eq!(p("2222:22").unwrap().machine_port, 22);
        for bad in ["", "0", "65536", "sctp:1", "tcp:", "1:2:3", "x", "tcp:1:"] {
            assert!(p(bad).is_err(), "{bad}");
        }
        assert_eq!(p("udp:1:2").unwrap().to_string(), "udp:1:2");
    }

    #[test]
    fn script_shape() {
        let s = script(&Rules {
            table: table_name("web"),
            comment: "wharf machine web \"x\"".into(),
            machine_addr: Ipv4Addr::new(10, 231, 0, 1),
            ports: vec!["8080:80".parse().unwrap(), "udp:53".parse().unwrap()],
            masquerade: Some((Ipv4Addr::new(10, 231, 0, 0), 31)),
        });
        assert!(s.starts_with("table ip wharf-web\ndelete table ip wharf-web\n"));
        assert_eq!(s.matches("tcp dport 8080 dnat to 10.231.0.1:80").count(), 2);
        assert_eq!(s.matches("udp dport 53 dnat to 10.231.0.1:53").count(), 2);
        assert!(s.contains("ip saddr 127.0.0.0/8 ip daddr 10.231.0.1 masquerade"));
        assert!(s.contains("ip saddr 10.231.0.0/31 ip daddr != 10.231.0.0/31 masquerade"));
        assert!(s.contains("comment \"wharf machine web 'x'\""));
    }
}
