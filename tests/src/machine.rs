//! Helpers for the `wharf run`/`wharf boot` tests: a temporary store holding the Debian image,
//! running commands in it, reading /proc status fields, and looking for leftovers on the host.

use std::fs;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::fixtures::{Fs, TestStore};
use crate::{debian, ok, run, Run};

/// A temporary store holding the Debian image "deb" (removed on drop, also on panic).
pub fn store() -> TestStore {
    store_named("deb")
}
/// A temporary store holding the Debian image as `name` (the machine name, so also the name of
/// its cgroup).
pub fn store_named(name: &str) -> TestStore {
    let s = TestStore::new(Fs::Host, 0);
    ok(
        &s.root,
        &["import-tar", debian::tarball().to_str().unwrap(), name],
    );
    s
}

/// `wharf run -M NAME <args…>`.
pub fn run_in(s: &TestStore, name: &str, args: &[&str]) -> Run {
    let mut full = vec!["run", "-M", name];
    full.extend_from_slice(args);
    run(&s.root, &full)
}

/// `wharf run -M deb <args…>`.
pub fn run_deb(s: &TestStore, args: &[&str]) -> Run {
    run_in(s, "deb", args)
}

/// `wharf run -M NAME <opts…> sh -c SCRIPT`, required to succeed; its stdout.
pub fn sh_in(s: &TestStore, name: &str, opts: &[&str], script: &str) -> String {
    let mut args = opts.to_vec();
    args.extend_from_slice(&["sh", "-c", script]);
    let r = run_in(s, name, &args);
    assert_eq!(r.code, Some(0), "{script}: {r:?}");
    r.stdout
}

/// `wharf run -M deb <opts…> sh -c SCRIPT`, required to succeed; its stdout.
pub fn sh_deb(s: &TestStore, opts: &[&str], script: &str) -> String {
    sh_in(s, "deb", opts, script)
}

/// Host mounts whose line mentions `needle`.
pub fn host_mounts_with(needle: &str) -> Vec<String> {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(needle))
        .map(String::from)
        .collect()
}

/// PIDs of host processes whose command line contains `needle`.
pub fn processes_with(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(cmd) = fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) {
                out.push(format!("{name}: {cmd}"));
            }
        }
    }
    out
}

/// A field of /proc/PID/status as hex (CapBnd:, CapEff:, …) or decimal (NoNewPrivs:, Seccomp:).
pub fn status_field(status: &str, key: &str) -> u64 {
    let line = status
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_else(|| panic!("{key} missing in {status}"));
    let v = line.split_whitespace().nth(1).unwrap();
    if key.starts_with("Cap") {
        u64::from_str_radix(v, 16).unwrap()
    } else {
        v.parse().unwrap()
    }
}
/// A running `wharf` in its own process group, killed (the whole group, SIGKILL) on drop
/// unless it was waited for: no machine outlives a failed test.
pub struct Running {
    pub child: Child,
    done: bool,
}

impl Running {
    /// Spawn `cmd` (a `wharf(...)` command) in a new process group.
    pub fn spawn(mut cmd: Command) -> Running {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        Running {
            child: cmd.spawn().expect("spawn wharf"),
            done: false,
        }
    }

    /// Send `sig` to wharf itself.
    pub fn signal(&self, sig: rustix::process::Signal) {
        rustix::process::kill_process(rustix::process::Pid::from_child(&self.child), sig)
            .expect("signal wharf");
    }

    /// Wait (at most `limit`, as [`Running::wait`]) and read what wharf wrote to its piped
    /// stdout and stderr: (exit code, stdout, stderr).
    pub fn finish(&mut self, limit: Duration) -> (Option<i32>, String, String) {
        use std::io::Read;
        let code = self.wait(limit);
        let (mut out, mut err) = (String::new(), String::new());
        if let Some(mut o) = self.child.stdout.take() {
            o.read_to_string(&mut out).expect("read wharf's stdout");
        }
        if let Some(mut e) = self.child.stderr.take() {
            e.read_to_string(&mut err).expect("read wharf's stderr");
        }
        (code, out, err)
    }

    /// Wait at most `limit` for wharf to end; its exit code (`None`: killed by a signal).
    /// Panics (after killing everything) when it does not end in time.
    pub fn wait(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(st) = self.child.try_wait().expect("wait for wharf") {
                self.done = true;
                return st.code();
            }
            if Instant::now() > deadline {
                self.kill();
                panic!("wharf did not end within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        let pgid = rustix::process::Pid::from_child(&self.child);
        let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
        let _ = self.child.wait();
        self.done = true;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.done {
            self.kill();
        }
    }
}

/// Wait (at most `limit`) until `path` exists.
pub fn wait_for_file(path: &Path, limit: Duration, r: &mut Running) {
    let deadline = Instant::now() + limit;
    while !path.exists() {
        if let Ok(Some(st)) = r.child.try_wait() {
            panic!("wharf ended ({st}) before {} appeared", path.display());
        }
        assert!(
            Instant::now() < deadline,
            "{} did not appear within {limit:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
