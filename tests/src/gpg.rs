//! Real OpenPGP material made with the `gpg` tool in a throwaway GNUPGHOME. The tests need gpg
//! and fail loudly without it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

pub struct Gpg {
    home: TempDir,
    /// Fingerprint of the primary key.
    pub fpr: String,
}

impl Gpg {
    /// A fresh home with one ed25519 signing key.
    pub fn new(name: &str) -> Gpg {
        let home = tempfile::Builder::new()
            .prefix("wharf-gpg")
            .tempdir()
            .expect("temp GNUPGHOME");
        run_in(
            home.path(),
            &[
                "--passphrase",
                "",
                "--quick-gen-key",
                &format!("{name} <t@example.invalid>"),
                "ed25519",
                "sign",
                "never",
            ],
        );
        let fpr = fingerprints_in(home.path())
            .into_iter()
            .next()
            .expect("new key");
        Gpg { home, fpr }
    }

    /// Adds an ed25519 signing subkey and returns its fingerprint.
    pub fn add_signing_subkey(&self) -> String {
        let before = self.fingerprints();
        self.run(&[
            "--passphrase",
            "",
            "--quick-add-key",
            &self.fpr,
            "ed25519",
            "sign",
            "never",
        ]);
        self.fingerprints()
            .into_iter()
            .find(|f| !before.contains(f))
            .expect("new subkey")
    }

    /// Public keys, binary or armored.
    pub fn export(&self, armor: bool) -> Vec<u8> {
        let mut args = vec!["--export"];
        if armor {
            args.insert(0, "--armor");
        }
        self.run(&args).stdout
    }

    /// A keybox keyring made by `gpg --keyring <new file> --import`, as admins often do.
    pub fn keybox(&self, dir: &Path) -> PathBuf {
        let exported = dir.join("exported.gpg");
        std::fs::write(&exported, self.export(false)).unwrap();
        let ring = dir.join("import-pubring.gpg");
        let ring_arg = format!("--keyring={}", ring.display());
        self.run(&[
            "--no-default-keyring",
            &ring_arg,
            "--import",
            exported.to_str().unwrap(),
        ]);
        ring
    }

    /// A detached signature of `data` by the default key.
    pub fn sign(&self, data: &[u8], armor: bool) -> Vec<u8> {
        self.sign_with(None, data, armor)
    }

    /// A detached signature by `key` (a fingerprint; `!` forces that exact (sub)key).
    pub fn sign_with(&self, key: Option<&str>, data: &[u8], armor: bool) -> Vec<u8> {
        let input = self.home.path().join("to-sign");
        std::fs::write(&input, data).unwrap();
        let exact = key.map(|k| format!("{k}!"));
        let mut args = vec!["--passphrase", "", "--detach-sign", "--output", "-"];
        if armor {
            args.push("--armor");
        }
        if let Some(k) = &exact {
            args.extend(["--local-user", k]);
        }
        args.push(input.to_str().unwrap());
        self.run(&args).stdout
    }

    /// A cleartext-signed copy of `data` (openSUSE-style `.sha256`).
    pub fn clearsign(&self, data: &[u8]) -> Vec<u8> {
        let input = self.home.path().join("to-clearsign");
        std::fs::write(&input, data).unwrap();
        self.run(&[
            "--passphrase",
            "",
            "--clearsign",
            "--output",
            "-",
            input.to_str().unwrap(),
        ])
        .stdout
    }

    fn fingerprints(&self) -> Vec<String> {
        fingerprints_in(self.home.path())
    }

    fn run(&self, args: &[&str]) -> Output {
        run_in(self.home.path(), args)
    }
}

fn fingerprints_in(home: &Path) -> Vec<String> {
    let out = run_in(home, &["--with-colons", "--list-keys"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("fpr:"))
        .filter_map(|l| l.split(':').nth(9).map(str::to_string))
        .collect()
}

fn run_in(home: &Path, args: &[&str]) -> Output {
    let out = Command::new("gpg")
        .env("GNUPGHOME", home)
        .args(["--batch", "--yes", "--pinentry-mode", "loopback"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("these tests need the gpg tool (apt-get install gpg): cannot run gpg: {e}")
        });
    assert!(
        out.status.success(),
        "gpg {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl Drop for Gpg {
    fn drop(&mut self) {
        // gpg starts an agent for the secret keys; end it with the home.
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", self.home.path())
            .args(["--kill", "gpg-agent"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
