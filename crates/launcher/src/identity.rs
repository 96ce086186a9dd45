//! Machine identity and the environment of PID 1: machine ID / container UUID, boot ID, and
//! the variables nspawn passes (`container=wharf` instead of `systemd-nspawn`).

use std::io::Read;
use std::os::fd::AsFd;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::{Config, StartMode};

/// The PATH every payload starts with (nspawn's compatible default).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A 128-bit ID (machine ID, container UUID, boot ID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Id128(pub [u8; 16]);

impl Id128 {
    /// A random v4 UUID, as systemd's `sd_id128_randomize`.
    pub fn random() -> Result<Id128> {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("random id: {e}"))?;
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        Ok(Id128(b))
    }

    /// Parse 32 hex digits, or the 36-character UUID form with dashes. All-zero is refused.
    pub fn parse(s: &str) -> Result<Id128> {
        let s = s.trim();
        let hex: String = if s.len() == 36 {
            let dashes = [8, 13, 18, 23];
            if !dashes.iter().all(|&i| s.as_bytes()[i] == b'-') {
                bail!("invalid machine ID {s:?}: expected 32 hex digits or a UUID");
            }
            s.chars().filter(|&c| c != '-').collect()
        } else {
            s.to_string()
        };
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("invalid machine ID {s:?}: expected 32 hex digits or a UUID");
        }
        let mut b = [0u8; 16];
        for (i, byte) in b.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)?;
        }
        if b == [0; 16] {
            bail!("invalid machine ID {s:?}: must not be all zeros");
        }
        Ok(Id128(b))
    }

    /// 32 lowercase hex digits (`/etc/machine-id` form).
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// 8-4-4-4-12 UUID form (`$container_uuid`, boot_id form).
    pub fn uuid(&self) -> String {
        let h = self.hex();
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }
}

/// The machine ID as nspawn chooses it: the image's `/etc/machine-id` when it holds a valid ID,
/// else `--uuid=`, else random.
pub(crate) fn machine_id(cfg: &Config, root: &std::fs::File) -> Result<Id128> {
    if let Some(id) = image_machine_id(root) {
        return Ok(id);
    }
    match cfg.uuid {
        Some(id) => Ok(id),
        None => Id128::random(),
    }
}

fn image_machine_id(root: &std::fs::File) -> Option<Id128> {
    let fd = wharf_sys::fs::open_in_root(root.as_fd(), Path::new("etc/machine-id")).ok()?;
    let mut s = String::new();
    std::fs::File::from(fd)
        .take(64)
        .read_to_string(&mut s)
        .ok()?;
    let s = s.trim();
    (s.len() == 32).then(|| Id128::parse(s).ok()).flatten()
}

/// Parse a `-E VAR=VALUE` assignment.
pub fn parse_setenv(s: &str) -> Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() && !k.contains('\0') && !v.contains('\0') => {
            Ok((k.to_string(), v.to_string()))
        }
        _ => bail!("invalid environment assignment {s:?}: expected VAR=VALUE"),
    }
}

/// Who the payload runs as, for HOME/USER/LOGNAME.
#[derive(Debug, Clone)]
pub(crate) struct Login {
    pub name: String,
    pub home: String,
}

impl Default for Login {
    fn default() -> Self {
        Login {
            name: "root".into(),
            home: "/root".into(),
        }
    }
}

/// PID 1's environment, in nspawn's order: `PATH`, `container=wharf`, `container_uuid`, `TERM`
/// (only when the console is a pty), `HOME`, `USER`, `LOGNAME`, `NOTIFY_SOCKET`, `LANG=C.UTF-8`
/// (not when booting), then the `-E` values (which replace earlier ones). Nothing of the
/// caller's environment except `TERM`.
pub(crate) fn environment(
    cfg: &Config,
    id: &Id128,
    term: Option<&str>,
    login: &Login,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), DEFAULT_PATH.into()),
        ("container".into(), "wharf".into()),
        ("container_uuid".into(), id.uuid()),
    ];
    if let Some(t) = term {
        env.push(("TERM".into(), t.into()));
    }
    env.push(("HOME".into(), login.home.clone()));
    env.push(("USER".into(), login.name.clone()));
    env.push(("LOGNAME".into(), login.name.clone()));
    env.push(("NOTIFY_SOCKET".into(), crate::runhost::NOTIFY_PATH.into()));
    if cfg.mode != StartMode::Boot {
        env.push(("LANG".into(), "C.UTF-8".into()));
    }
    for (k, v) in &cfg.setenv {
        env.retain(|(ek, _)| ek != k);
        env.push((k.clone(), v.clone()));
    }
    env
}

/// The value of `TERM` for a pty console: the caller's, else `vt220` (as nspawn).
pub(crate) fn term_for_pty() -> String {
    std::env::var("TERM")
        .ok()
        .filter(|t| !t.is_empty() && !t.contains('\0'))
        .unwrap_or_else(|| "vt220".into())
}

/// Read an image file through `root` without leaving it (absolute symlinks resolve inside).
pub(crate) fn read_image_file(root: &std::fs::File, path: &str, max: u64) -> Option<Vec<u8>> {
    let fd = wharf_sys::fs::open_in_root(root.as_fd(), Path::new(path)).ok()?;
    let mut v = Vec::new();
    std::fs::File::from(fd).take(max).read_to_end(&mut v).ok()?;
    Some(v)
}

/// Open the image root directory (for confined lookups).
pub(crate) fn open_root(root: &Path) -> Result<std::fs::File> {
    std::fs::File::open(root).with_context(|| format!("open {}", root.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        let id = Id128::parse("0123456789abcdef0123456789ABCDEF").unwrap();
        assert_eq!(id.hex(), "0123456789abcdef0123456789abcdef");
        assert_eq!(id.uuid(), "01234567-89ab-cdef-0123-456789abcdef");
        assert_eq!(Id128::parse(&id.uuid()).unwrap(), id);
        for bad in [
            "",
            "xyz",
            "0123456789abcdef0123456789abcde",
            "00000000000000000000000000000000",
        ] {
            assert!(Id128::parse(bad).is_err(), "{bad}");
        }
        let r = Id128::random().unwrap();
        assert_eq!(r.uuid().as_bytes()[14], b'4');
        assert_ne!(r, Id128::random().unwrap());
    }

    #[test]
    fn env_order_and_overrides() {
        let cfg = Config {
            setenv: vec![
                parse_setenv("PATH=/x").unwrap(),
                parse_setenv("A=b=c").unwrap(),
            ],
            ..Config::default()
        };
        let id = Id128([1; 16]);
        let env = environment(&cfg, &id, None, &Login::default());
        let keys: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "container",
                "container_uuid",
                "HOME",
                "USER",
                "LOGNAME",
                "NOTIFY_SOCKET",
                "LANG",
                "PATH",
                "A"
            ]
        );
        assert!(env.contains(&("PATH".into(), "/x".into())));
        assert!(env.contains(&("A".into(), "b=c".into())));
        assert!(parse_setenv("novalue").is_err());
        let boot = Config {
            mode: StartMode::Boot,
            ..Config::default()
        };
        let env = environment(&boot, &id, Some("xterm"), &Login::default());
        assert!(env.iter().all(|(k, _)| k != "LANG"));
        assert!(env.contains(&("TERM".into(), "xterm".into())));
    }
}
