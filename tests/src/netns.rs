//! A network namespace that plays the host for the network tests: held by an
//! `unshare --net sleep` process, entered with `nsenter`, so the real host's links are never
//! touched and the kernel removes whatever a failed test left when the holder is killed (on
//! drop).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

pub struct HostNs {
    holder: Child,
}

impl HostNs {
    /// A new namespace with `lo` up.
    pub fn new() -> HostNs {
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
        ns.ok(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    /// `/proc/PID/ns/net` of the holder.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/ns/net", self.holder.id()))
    }

    /// `prog args…` inside the namespace.
    pub fn cmd(&self, prog: impl AsRef<OsStr>, args: &[&str]) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={}", self.path().display()))
            .arg("--")
            .arg(prog)
            .args(args);
        c
    }

    /// `wharf args…` inside the namespace, with image root `root` and the state directory
    /// beside it (as [`crate::wharf`]).
    pub fn wharf(&self, root: &Path, args: &[&str]) -> Command {
        let mut c = self.cmd(crate::wharf_bin(), args);
        crate::wharf_env(&mut c, root);
        c
    }

    /// A host tool (`args[0]`) run in the namespace.
    pub fn output(&self, args: &[&str]) -> Output {
        self.cmd(args[0], &args[1..])
            .output()
            .expect("nsenter (util-linux) is required")
    }

    /// The same, required to succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.output(args);
        assert!(o.status.success(), "{args:?}: {o:?}");
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

impl Default for HostNs {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for HostNs {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}
