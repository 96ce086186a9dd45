//! The few IPv4 sysctls wharf-net sets, in the calling thread's network namespace.
//!
//! - `net.ipv4.conf.IF.route_localnet=1` on the interface leading to a machine with forwarded
//!   ports (ve-NAME, vz-ZONE or the bridge), so connections to 127.0.0.1 can be forwarded; it
//!   goes away with the interface. `conf.all` is never touched.
//! - `net.ipv4.ip_forward=1` when ports are forwarded or masquerading is on (needed for traffic
//!   from other hosts to reach the machine and for the machine to reach them). It is never
//!   turned back off: other software may rely on it by then.

use std::path::PathBuf;

use crate::error::{Error, Result};

fn write(path: PathBuf, value: &str) -> Result<()> {
    if std::fs::read_to_string(&path).is_ok_and(|v| v.trim() == value) {
        return Ok(());
    }
    std::fs::write(&path, value).map_err(|e| Error::file("write", path, e))
}

/// `net.ipv4.ip_forward=1`.
pub fn enable_ip_forward() -> Result<()> {
    write("/proc/sys/net/ipv4/ip_forward".into(), "1")
}

/// `net.ipv4.conf.IFNAME.route_localnet=1`.
pub fn enable_route_localnet(ifname: &str) -> Result<()> {
    write(
        PathBuf::from(format!("/proc/sys/net/ipv4/conf/{ifname}/route_localnet")),
        "1",
    )
}
