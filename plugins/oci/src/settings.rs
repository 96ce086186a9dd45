//! Image config → `NAME.nspawn`: how the container image wants to be run, in the settings
//! systemd-nspawn and `wharf run` read.
//!
//! | config | .nspawn |
//! |---|---|
//! | no Entrypoint, Cmd empty / an init / a bare shell, and the tree has an init | `Boot=yes` (Cmd's arguments after an init become `Parameters=`) |
//! | Entrypoint + Cmd otherwise | `ProcessTwo=yes`, `Parameters=` (each word quoted; none when both are empty: `wharf run` then starts a shell) |
//! | Env | `Environment=`, one line each, in order |
//! | WorkingDir (not `/`) | `WorkingDirectory=` |
//! | User | `User=`: a name as given once found in the image's `/etc/passwd`; a number as given; `user:group` keeps the user (nspawn has no group setting) — an unknown user is an error |
//! | StopSignal | `KillSignal=` |
//! | ExposedPorts | `Port=PROTO:PORT:PORT` in `[Network]` (effective with private networking) |
//! | Volumes | no setting: the directory is created in the tree so the data stays with the machine (a comment records it) |
//!
//! The raw config is kept as `NAME.oci-config` for export.

use std::fs::File;
use std::io::Read;
use std::os::fd::AsFd;
use std::path::Path;

use wharf_core::{Error, Result};
use wharf_oci_format::ImageConfig;

/// Where an init can be found in a tree, in systemd-nspawn's order.
pub const INIT_PATHS: &[&str] = &[
    "/usr/lib/systemd/systemd",
    "/lib/systemd/systemd",
    "/sbin/init",
];
const INIT_ALIASES: &[&str] = &[
    "/usr/lib/systemd/systemd",
    "/lib/systemd/systemd",
    "/sbin/init",
    "/usr/sbin/init",
    "init",
];
const SHELLS: &[&str] = &[
    "sh",
    "bash",
    "/bin/sh",
    "/bin/bash",
    "/usr/bin/bash",
    "/usr/bin/sh",
];

/// The settings derived from an image config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineSettings {
    pub boot: bool,
    pub parameters: Vec<String>,
    pub environment: Vec<String>,
    pub working_directory: Option<String>,
    pub user: Option<String>,
    pub kill_signal: Option<String>,
    pub ports: Vec<(String, u16)>,
    pub volumes: Vec<String>,
}

/// Derive the settings for the tree at `root` (already unpacked; read for the init and the
/// user database, confined to it).
pub fn from_config(config: &ImageConfig, root: &Path) -> Result<MachineSettings> {
    let c = &config.config;
    let entrypoint = c.entrypoint.clone().unwrap_or_default();
    let cmd = c.cmd.clone().unwrap_or_default();
    let has_init = INIT_PATHS.iter().any(|p| exists_in(root, p));
    let (boot, parameters) = if entrypoint.is_empty() && has_init {
        match cmd.first().map(String::as_str) {
            None => (true, Vec::new()),
            Some(first) if INIT_ALIASES.contains(&first) => (true, cmd[1..].to_vec()),
            Some(first) if SHELLS.contains(&first) && cmd.len() == 1 => (true, Vec::new()),
            Some(_) => (false, cmd.clone()),
        }
    } else {
        let mut args = entrypoint;
        args.extend(cmd);
        (false, args)
    };
    let user = match c.user.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(u) => resolve_user(root, u)?,
    };
    let mut ports = Vec::new();
    for p in &c.exposed_ports {
        let (num, proto) = p.split_once('/').unwrap_or((p.as_str(), "tcp"));
        let port: u16 = num
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| Error::InvalidData(format!("invalid exposed port {p:?}")))?;
        let proto = match proto {
            "tcp" | "udp" => proto.to_string(),
            other => {
                return Err(Error::InvalidData(format!(
                    "exposed port {p:?}: protocol {other:?} is not tcp or udp"
                )))
            }
        };
        ports.push((proto, port));
    }
    Ok(MachineSettings {
        boot,
        parameters,
        environment: c.env.clone(),
        working_directory: c.working_dir.clone().filter(|w| !w.is_empty() && w != "/"),
        user,
        kill_signal: c.stop_signal.clone().filter(|s| !s.is_empty()),
        ports,
        volumes: c.volumes.clone(),
    })
}

fn exists_in(root: &Path, path: &str) -> bool {
    let Ok(dir) = File::open(root) else {
        return false;
    };
    wharf_sys::fs::open_in_root(dir.as_fd(), Path::new(path)).is_ok()
}

fn read_in(root: &Path, path: &str) -> Option<String> {
    let dir = File::open(root).ok()?;
    let fd = wharf_sys::fs::open_in_root(dir.as_fd(), Path::new(path)).ok()?;
    let mut s = String::new();
    File::from(fd).take(16 << 20).read_to_string(&mut s).ok()?;
    Some(s)
}

/// Resolve the config's `User` against the image's own `/etc/passwd`.
fn resolve_user(root: &Path, spec: &str) -> Result<Option<String>> {
    let user = spec.split_once(':').map(|(u, _)| u).unwrap_or(spec);
    if user == "root" || user == "0" {
        return Ok(None);
    }
    let passwd = read_in(root, "/etc/passwd").unwrap_or_default();
    let entries: Vec<(&str, &str)> = passwd
        .lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            Some((f.next()?, f.nth(1)?))
        })
        .collect();
    if user.bytes().all(|b| b.is_ascii_digit()) {
        // nspawn resolves User= inside the machine; a name is what it resolves best.
        return Ok(Some(
            entries
                .iter()
                .find(|(_, uid)| *uid == user)
                .map(|(name, _)| name.to_string())
                .unwrap_or_else(|| user.to_string()),
        ));
    }
    if entries.iter().any(|(name, _)| *name == user) {
        Ok(Some(user.to_string()))
    } else {
        Err(Error::InvalidData(format!(
            "the image config runs as user {user:?}, which the image's /etc/passwd does not define"
        )))
    }
}

/// Quote `word` for a whitespace-separated `.nspawn` list value, as systemd-nspawn splits it
/// (quotes group, backslashes are literal).
pub fn quote(word: &str) -> String {
    wharf_nspawn_settings::quote_word(word)
}

impl MachineSettings {
    /// The `.nspawn` file.
    pub fn to_nspawn(&self, origin: &str) -> String {
        let mut s = format!("# Settings from the image config of {origin}, written by wharf.\n");
        s.push_str("[Exec]\n");
        if self.boot {
            s.push_str("Boot=yes\n");
        } else {
            s.push_str("ProcessTwo=yes\n");
        }
        if !self.boot && self.parameters.is_empty() {
            s.push_str(
                "# The image config names no command: wharf run starts a shell unless given one.\n",
            );
        }
        if !self.parameters.is_empty() {
            let words: Vec<String> = self.parameters.iter().map(|p| quote(p)).collect();
            s.push_str(&format!("Parameters={}\n", words.join(" ")));
        }
        for e in &self.environment {
            s.push_str(&format!("Environment={}\n", quote(e)));
        }
        if let Some(w) = &self.working_directory {
            s.push_str(&format!("WorkingDirectory={w}\n"));
        }
        if let Some(u) = &self.user {
            s.push_str(&format!("User={u}\n"));
        }
        if let Some(k) = &self.kill_signal {
            s.push_str(&format!("KillSignal={k}\n"));
        }
        if !self.volumes.is_empty() {
            s.push_str("\n[Files]\n");
            for v in &self.volumes {
                s.push_str(&format!(
                    "# Volume {v}: kept in the machine's own tree (add Bind= to use a host directory)\n"
                ));
            }
        }
        if !self.ports.is_empty() {
            s.push_str("\n[Network]\n");
            for (proto, port) in &self.ports {
                s.push_str(&format!("Port={proto}:{port}:{port}\n"));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> ImageConfig {
        ImageConfig::parse(json.as_bytes()).unwrap()
    }

    fn tree(with_init: bool, passwd: &str) -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("etc")).unwrap();
        std::fs::write(t.path().join("etc/passwd"), passwd).unwrap();
        if with_init {
            std::fs::create_dir_all(t.path().join("usr/lib/systemd")).unwrap();
            std::fs::write(t.path().join("usr/lib/systemd/systemd"), "").unwrap();
        }
        t
    }

    const BASE: &str =
        r#""architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}"#;

    #[test]
    fn entrypoint_and_cmd_become_parameters() {
        let t = tree(
            true,
            "root:x:0:0::/root:/bin/sh\nweb:x:33:33::/var/www:/bin/false\n",
        );
        let c = config(&format!(
            r#"{{{BASE},"config":{{"Entrypoint":["/bin/server","--a b"],"Cmd":["x"],"Env":["PATH=/usr/bin","Q=a \"b\""],"WorkingDir":"/srv","User":"web","StopSignal":"SIGQUIT","ExposedPorts":{{"80/tcp":{{}},"53/udp":{{}}}},"Volumes":{{"/data":{{}}}}}}}}"#
        ));
        let s = from_config(&c, t.path()).unwrap();
        assert!(!s.boot);
        let text = s.to_nspawn("test");
        assert!(text.contains("ProcessTwo=yes\n"), "{text}");
        assert!(
            text.contains("Parameters=/bin/server \"--a b\" x\n"),
            "{text}"
        );
        let (parsed, _) = wharf_nspawn_settings::parse(text.as_bytes()).unwrap();
        assert_eq!(
            parsed.environment,
            vec![
                ("PATH".into(), "/usr/bin".into()),
                ("Q".into(), "a \"b\"".into())
            ]
        );
        assert_eq!(
            parsed.parameters.unwrap(),
            vec!["/bin/server", "--a b", "x"]
        );
        assert!(text.contains("WorkingDirectory=/srv\nUser=web\nKillSignal=SIGQUIT\n"));
        assert!(text.contains("Port=tcp:80:80\n") && text.contains("Port=udp:53:53\n"));
        assert!(text.contains("# Volume /data"));
    }

    #[test]
    fn images_with_an_init_boot() {
        let t = tree(true, "");
        for cmd in [r#"null"#, r#"["/bin/bash"]"#, r#"["/sbin/init"]"#] {
            let c = config(&format!(r#"{{{BASE},"config":{{"Cmd":{cmd}}}}}"#));
            let s = from_config(&c, t.path()).unwrap();
            assert!(s.boot, "{cmd}");
            assert!(s.to_nspawn("x").contains("Boot=yes\n"));
        }
        let c = config(&format!(
            r#"{{{BASE},"config":{{"Cmd":["/lib/systemd/systemd","--log-level=debug"]}}}}"#
        ));
        assert_eq!(
            from_config(&c, t.path()).unwrap().parameters,
            vec!["--log-level=debug"]
        );
        let c = config(&format!(
            r#"{{{BASE},"config":{{"Entrypoint":["/bin/sh"]}}}}"#
        ));
        assert!(!from_config(&c, t.path()).unwrap().boot);
    }

    #[test]
    fn users_resolve_against_the_image() {
        let t = tree(
            false,
            "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
        );
        let run = |u: &str| {
            let c = config(&format!(
                r#"{{{BASE},"config":{{"Cmd":["/x"],"User":"{u}"}}}}"#
            ));
            from_config(&c, t.path()).map(|s| s.user)
        };
        assert_eq!(run("app").unwrap().as_deref(), Some("app"));
        assert_eq!(run("1000").unwrap().as_deref(), Some("app"));
        assert_eq!(run("1000:1000").unwrap().as_deref(), Some("app"));
        assert_eq!(run("4242").unwrap().as_deref(), Some("4242"));
        assert_eq!(run("root").unwrap(), None);
        assert!(run("nobody").unwrap_err().to_string().contains("nobody"));
    }

    #[test]
    fn no_command_and_no_init_leaves_the_command_to_the_user() {
        let t = tree(false, "");
        let c = config(&format!(r#"{{{BASE},"config":{{}}}}"#));
        let s = from_config(&c, t.path()).unwrap();
        assert!(!s.boot && s.parameters.is_empty());
        assert!(!s.to_nspawn("x").contains("Parameters="));
    }

    #[test]
    fn quoted_words_split_back() {
        for w in ["plain", "", "a b", "a\\b", "say \"hi\"", "it's"] {
            let q = quote(w);
            assert_eq!(
                wharf_nspawn_settings::split_words(&q).unwrap(),
                vec![w.to_string()],
                "{q}"
            );
        }
    }
}
