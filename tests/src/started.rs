//! A machine started in the background (`wharf start`) for the tests of the verbs that act on
//! running machines: a store holding the Debian image under the machine's name, a private
//! state directory (`WHARF_STATE_DIR`, never /run/wharf/machines), and a guard that terminates
//! the machine on drop (also when an assertion fails) and, failing that, kills its supervisor.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use tempfile::TempDir;

use crate::fixtures::{Fs, TestStore};
use crate::machine::store_named;
use crate::{ok, wharf, Run};

pub struct Started {
    pub name: String,
    pub store: TestStore,
    pub state: TempDir,
}

impl Started {
    /// The store and state directory; nothing is started yet.
    pub fn new(name: &str) -> Started {
        Started {
            name: name.into(),
            store: store_named(name),
            state: tempfile::tempdir().unwrap(),
        }
    }

    /// The same with the image imported from `tarball`.
    pub fn from_tarball(name: &str, tarball: &std::path::Path) -> Started {
        let store = TestStore::new(Fs::Host, 0);
        ok(
            &store.root,
            &["import-tar", tarball.to_str().unwrap(), name],
        );
        Started {
            name: name.into(),
            store,
            state: tempfile::tempdir().unwrap(),
        }
    }

    /// `wharf` with this store and state directory.
    pub fn cmd(&self) -> Command {
        let mut c = wharf(&self.store.root);
        c.env("WHARF_STATE_DIR", self.state.path());
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.cmd().args(args).output().expect("spawn wharf").into()
    }

    /// `wharf ARGS…`, required to succeed.
    pub fn ok(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert!(r.ok, "wharf {args:?} failed: {r:?}");
        r
    }

    /// `wharf ARGS…`, required to fail with one error line containing `needle`.
    pub fn fails(&self, args: &[&str], needle: &str) -> Run {
        let r = self.run(args);
        assert_eq!(r.code, Some(1), "wharf {args:?}: {r:?}");
        assert!(r.stderr.contains(needle), "wharf {args:?}: {r:?}");
        r
    }

    /// `wharf start NAME --timeout 120`.
    pub fn start(&self) {
        self.start_with(&[]);
    }

    /// `wharf start NAME --timeout 120 OPTS…`.
    pub fn start_with(&self, opts: &[&str]) {
        let mut args = vec!["start", &self.name, "--timeout", "120"];
        args.extend_from_slice(opts);
        self.ok(&args);
    }

    /// `wharf shell NAME ARGS…`, required to succeed; its trimmed stdout.
    pub fn sh(&self, args: &[&str]) -> String {
        let mut full = vec!["shell", &self.name];
        full.extend_from_slice(args);
        self.ok(&full).stdout.trim().to_string()
    }

    /// `wharf status NAME --json`.
    pub fn status(&self) -> Value {
        let r = self.ok(&["status", &self.name, "--json"]);
        serde_json::from_str(&r.stdout).expect("json")
    }

    /// `wharf list --json`.
    pub fn list(&self) -> Vec<Value> {
        let r = self.ok(&["list", "--json"]);
        serde_json::from_str::<Value>(&r.stdout)
            .expect("json")
            .as_array()
            .expect("array")
            .clone()
    }

    pub fn state_file(&self) -> PathBuf {
        self.state.path().join(&self.name).join("state.json")
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        let state = std::fs::read_to_string(self.state_file()).ok();
        let _ = self.run(&["terminate", &self.name]);
        if let Some(v) = state.and_then(|s| serde_json::from_str::<Value>(&s).ok()) {
            if let Some(p) = v["supervisor"].as_i64() {
                let alive = std::fs::read_to_string(format!("/proc/{p}/cmdline"))
                    .is_ok_and(|c| c.contains("__supervise"));
                if alive {
                    let _ = Command::new("kill").args(["-9", &p.to_string()]).status();
                }
            }
        }
    }
}
