//! `--resolv-conf=`, `--timezone=` and `--link-journal=`: host files copied, bound or linked
//! into the image as nspawn does. The plan is made on the host (before the clone); it is
//! applied inside the container after pivot_root, so writes cannot leave the image.

use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use wharf_sys::mount::{self as m, Flags};

use crate::identity::Id128;
use crate::Config;

/// `--resolv-conf=` (nspawn's values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResolvConf {
    Off,
    CopyHost,
    CopyStatic,
    CopyUplink,
    CopyStub,
    ReplaceHost,
    ReplaceStatic,
    ReplaceUplink,
    ReplaceStub,
    BindHost,
    BindStatic,
    BindUplink,
    BindStub,
    Delete,
    #[default]
    Auto,
}

impl ResolvConf {
    pub fn parse(s: &str) -> Result<ResolvConf> {
        use ResolvConf::*;
        Ok(match s {
            "off" | "no" => Off,
            "copy-host" => CopyHost,
            "copy-static" => CopyStatic,
            "copy-uplink" => CopyUplink,
            "copy-stub" => CopyStub,
            "replace-host" => ReplaceHost,
            "replace-static" => ReplaceStatic,
            "replace-uplink" => ReplaceUplink,
            "replace-stub" => ReplaceStub,
            "bind-host" => BindHost,
            "bind-static" => BindStatic,
            "bind-uplink" => BindUplink,
            "bind-stub" => BindStub,
            "delete" => Delete,
            "auto" => Auto,
            _ => bail!("invalid --resolv-conf={s:?}: use off, copy-host, copy-static, copy-uplink, copy-stub, replace-*, bind-*, delete or auto"),
        })
    }
}

/// `--timezone=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Timezone {
    Off,
    Copy,
    Bind,
    Symlink,
    Delete,
    #[default]
    Auto,
}

impl Timezone {
    pub fn parse(s: &str) -> Result<Timezone> {
        Ok(match s {
            "off" | "no" => Timezone::Off,
            "copy" => Timezone::Copy,
            "bind" => Timezone::Bind,
            "symlink" => Timezone::Symlink,
            "delete" => Timezone::Delete,
            "auto" => Timezone::Auto,
            _ => bail!("invalid --timezone={s:?}: use off, copy, bind, symlink, delete or auto"),
        })
    }
}

/// `--link-journal=` (`-j` = try-guest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkJournal {
    No,
    Host,
    TryHost,
    Guest,
    TryGuest,
    #[default]
    Auto,
}

impl LinkJournal {
    pub fn parse(s: &str) -> Result<LinkJournal> {
        Ok(match s {
            "no" => LinkJournal::No,
            "host" => LinkJournal::Host,
            "try-host" => LinkJournal::TryHost,
            "guest" => LinkJournal::Guest,
            "try-guest" => LinkJournal::TryGuest,
            "auto" => LinkJournal::Auto,
            _ => bail!(
                "invalid --link-journal={s:?}: use no, host, try-host, guest, try-guest or auto"
            ),
        })
    }
}

/// What to do with one file of the image.
#[derive(Debug, Clone, Default)]
pub(crate) enum FileAction {
    #[default]
    Keep,
    /// Write `content`; `replace`: also over a symlink or other non-regular file.
    Copy {
        content: Vec<u8>,
        replace: bool,
    },
    /// Bind this host file read-only over the image's.
    Bind(PathBuf),
    Symlink(String),
    Delete,
}

/// Everything `apply` does inside the container.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    pub resolv: FileAction,
    pub localtime: FileAction,
    /// `/var/log/journal/<id>` inside; `Some(host dir)` to bind it from the host.
    pub journal_dir: Option<String>,
    pub journal_bind: Option<PathBuf>,
}

/// Host directory holding the journals (`/var/log/journal`).
const HOST_JOURNAL: &str = "/var/log/journal";
const MAX_FILE: u64 = 1 << 20;

/// Decide on the host. `root_ro`: the image root is mounted read-only.
pub(crate) fn plan(cfg: &Config, id: &Id128, root_ro: bool) -> Result<Plan> {
    Ok(Plan {
        resolv: resolv_action(cfg.resolv_conf, root_ro),
        localtime: timezone_action(cfg, root_ro),
        ..journal_plan(cfg, id)?
    })
}

fn read_small(p: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut v = Vec::new();
    fs::File::open(p)
        .ok()?
        .take(MAX_FILE)
        .read_to_end(&mut v)
        .ok()?;
    Some(v)
}

fn resolv_action(mode: ResolvConf, root_ro: bool) -> FileAction {
    use ResolvConf::*;
    let (src, how) = match mode {
        Off => return FileAction::Keep,
        Delete => return FileAction::Delete,
        Auto => {
            // Host networking and no systemd-resolved here: the host's file, copied when the
            // image is writable, bound otherwise (with resolved: its static file, as nspawn).
            let src = if Path::new("/run/systemd/resolve/stub-resolv.conf").exists() {
                "/usr/lib/systemd/resolv.conf"
            } else {
                "/etc/resolv.conf"
            };
            (src, if root_ro { 'b' } else { 'c' })
        }
        CopyHost => ("/etc/resolv.conf", 'c'),
        CopyStatic => ("/usr/lib/systemd/resolv.conf", 'c'),
        CopyUplink => ("/run/systemd/resolve/resolv.conf", 'c'),
        CopyStub => ("/run/systemd/resolve/stub-resolv.conf", 'c'),
        ReplaceHost => ("/etc/resolv.conf", 'r'),
        ReplaceStatic => ("/usr/lib/systemd/resolv.conf", 'r'),
        ReplaceUplink => ("/run/systemd/resolve/resolv.conf", 'r'),
        ReplaceStub => ("/run/systemd/resolve/stub-resolv.conf", 'r'),
        BindHost => ("/etc/resolv.conf", 'b'),
        BindStatic => ("/usr/lib/systemd/resolv.conf", 'b'),
        BindUplink => ("/run/systemd/resolve/resolv.conf", 'b'),
        BindStub => ("/run/systemd/resolve/stub-resolv.conf", 'b'),
    };
    file_action(Path::new(src), how)
}

fn file_action(src: &Path, how: char) -> FileAction {
    match how {
        'b' => match fs::canonicalize(src) {
            Ok(p) if p.is_file() => FileAction::Bind(p),
            _ => FileAction::Keep,
        },
        _ => match read_small(src) {
            Some(content) => FileAction::Copy {
                content,
                replace: how == 'r',
            },
            None => FileAction::Keep,
        },
    }
}

/// The host's zone name from its /etc/localtime symlink (`Europe/Berlin`).
fn host_zone() -> Option<String> {
    let t = fs::read_link("/etc/localtime").ok()?;
    let t = t.to_str()?;
    let i = t.find("zoneinfo/")?;
    let z = &t[i + "zoneinfo/".len()..];
    (!z.is_empty() && !z.split('/').any(|c| c == ".." || c.is_empty())).then(|| z.to_string())
}

fn timezone_action(cfg: &Config, root_ro: bool) -> FileAction {
    let zone = host_zone();
    let image_has_zone = |z: &str| -> bool {
        let Ok(root) = crate::identity::open_root(&cfg.root) else {
            return false;
        };
        crate::identity::read_image_file(&root, &format!("usr/share/zoneinfo/{z}"), 4).is_some()
    };
    match cfg.timezone {
        Timezone::Off => FileAction::Keep,
        Timezone::Delete => FileAction::Delete,
        Timezone::Copy => file_action(Path::new("/etc/localtime"), 'r'),
        Timezone::Bind => file_action(Path::new("/etc/localtime"), 'b'),
        Timezone::Symlink => match zone {
            Some(z) => FileAction::Symlink(format!("../usr/share/zoneinfo/{z}")),
            None => FileAction::Keep,
        },
        Timezone::Auto => {
            if root_ro {
                file_action(Path::new("/etc/localtime"), 'b')
            } else if let Some(z) = zone.filter(|z| image_has_zone(z)) {
                FileAction::Symlink(format!("../usr/share/zoneinfo/{z}"))
            } else {
                file_action(Path::new("/etc/localtime"), 'r')
            }
        }
    }
}

fn host_machine_id() -> Option<String> {
    fs::read_to_string("/etc/machine-id")
        .ok()
        .map(|s| s.trim().to_string())
}

fn journal_plan(cfg: &Config, id: &Id128) -> Result<Plan> {
    let mode = cfg.link_journal;
    if mode == LinkJournal::No {
        return Ok(Plan::default());
    }
    let strict = matches!(mode, LinkJournal::Host | LinkJournal::Guest);
    let fail = |msg: String| -> Result<Plan> {
        if strict {
            bail!("{msg}")
        } else {
            Ok(Plan::default())
        }
    };
    let hex = id.hex();
    if host_machine_id().as_deref() == Some(hex.as_str()) {
        return fail(format!(
            "cannot link the journal: the machine ID {hex} is the host's"
        ));
    }
    let host_dir = Path::new(HOST_JOURNAL).join(&hex);
    let inside = format!("/var/log/journal/{hex}");
    match mode {
        LinkJournal::Auto => {
            let is_dir = fs::symlink_metadata(&host_dir).is_ok_and(|m| m.is_dir());
            Ok(if is_dir {
                Plan {
                    journal_dir: Some(inside),
                    journal_bind: Some(host_dir),
                    ..Plan::default()
                }
            } else {
                Plan::default()
            })
        }
        LinkJournal::Host | LinkJournal::TryHost => {
            if fs::symlink_metadata(&host_dir).is_ok_and(|m| m.file_type().is_symlink()) {
                return fail(format!(
                    "cannot link the journal: {} is a symlink (a guest journal)",
                    host_dir.display()
                ));
            }
            if let Err(e) = fs::create_dir_all(&host_dir) {
                return fail(format!("cannot create {}: {e}", host_dir.display()));
            }
            Ok(Plan {
                journal_dir: Some(inside),
                journal_bind: Some(host_dir),
                ..Plan::default()
            })
        }
        LinkJournal::Guest | LinkJournal::TryGuest => {
            // The journal lives in the image; the host gets a symlink to it.
            let target = cfg.root.join("var/log/journal").join(&hex);
            match fs::symlink_metadata(&host_dir) {
                Ok(md) if md.file_type().is_symlink() => {
                    if fs::read_link(&host_dir).ok().as_deref() != Some(target.as_path()) {
                        return fail(format!(
                            "cannot link the journal: {} points elsewhere",
                            host_dir.display()
                        ));
                    }
                }
                Ok(_) => {
                    return fail(format!(
                        "cannot link the journal: {} exists on the host",
                        host_dir.display()
                    ))
                }
                Err(_) => {
                    if let Err(e) =
                        fs::create_dir_all(HOST_JOURNAL).and_then(|()| symlink(&target, &host_dir))
                    {
                        return fail(format!("cannot create {}: {e}", host_dir.display()));
                    }
                }
            }
            Ok(Plan {
                journal_dir: Some(inside),
                journal_bind: None,
                ..Plan::default()
            })
        }
        LinkJournal::No => Ok(Plan::default()),
    }
}

/// Bind sources captured before pivot_root: (resolv.conf, localtime, journal dir).
pub(crate) struct Trees {
    resolv: Option<OwnedFd>,
    localtime: Option<OwnedFd>,
    journal: Option<OwnedFd>,
}

/// Before pivot_root: open the host files that will be bound.
pub(crate) fn capture(plan: &Plan) -> Result<Trees> {
    let tree = |a: &FileAction| -> Result<Option<OwnedFd>> {
        match a {
            FileAction::Bind(p) => Ok(Some(
                m::clone_tree(p, false).with_context(|| format!("open {}", p.display()))?,
            )),
            _ => Ok(None),
        }
    };
    Ok(Trees {
        resolv: tree(&plan.resolv)?,
        localtime: tree(&plan.localtime)?,
        journal: match &plan.journal_bind {
            Some(p) => {
                Some(m::clone_tree(p, false).with_context(|| format!("open {}", p.display()))?)
            }
            None => None,
        },
    })
}

/// Inside the container. Like nspawn, failures to adjust resolv.conf and localtime (say, on a
/// read-only image) are not fatal; journal linking is, for `host`/`guest`.
pub(crate) fn apply(plan: &Plan, trees: Trees, strict_journal: bool) -> Result<()> {
    let _ = apply_file(Path::new("/etc/resolv.conf"), &plan.resolv, trees.resolv);
    let _ = apply_file(
        Path::new("/etc/localtime"),
        &plan.localtime,
        trees.localtime,
    );
    if let Some(dir) = &plan.journal_dir {
        let r = (|| -> Result<()> {
            let dir = Path::new(dir);
            fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
            if let Some(t) = trees.journal {
                m::attach_tree(&t, dir)
                    .with_context(|| format!("bind the journal on {}", dir.display()))?;
            }
            Ok(())
        })();
        if strict_journal {
            r?;
        }
    }
    Ok(())
}

fn apply_file(dst: &Path, action: &FileAction, tree: Option<OwnedFd>) -> Result<()> {
    let md = fs::symlink_metadata(dst).ok();
    let is_reg = md.as_ref().is_some_and(|m| m.is_file());
    match action {
        FileAction::Keep => {}
        FileAction::Delete => {
            if md.is_some() {
                fs::remove_file(dst)?;
            }
        }
        FileAction::Copy { content, replace } => {
            if md.is_some() && !is_reg {
                if !replace {
                    return Ok(());
                }
                fs::remove_file(dst)?;
            }
            fs::write(dst, content)?;
        }
        FileAction::Symlink(target) => {
            if md.is_some() {
                fs::remove_file(dst)?;
            }
            symlink(target, dst)?;
        }
        FileAction::Bind(_) => {
            if md.is_some() && !is_reg {
                return Ok(());
            }
            if md.is_none() {
                fs::write(dst, b"")?;
            }
            if let Some(t) = tree {
                m::attach_tree(&t, dst)?;
                m::remount_bind(
                    dst,
                    Flags {
                        read_only: true,
                        nosuid: true,
                        nodev: true,
                        noexec: true,
                        strictatime: false,
                    },
                )?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_values() {
        assert_eq!(
            ResolvConf::parse("copy-host").unwrap(),
            ResolvConf::CopyHost
        );
        assert_eq!(
            ResolvConf::parse("bind-static").unwrap(),
            ResolvConf::BindStatic
        );
        assert!(ResolvConf::parse("copy").is_err());
        assert_eq!(Timezone::parse("symlink").unwrap(), Timezone::Symlink);
        assert!(Timezone::parse("x").is_err());
        assert_eq!(
            LinkJournal::parse("try-guest").unwrap(),
            LinkJournal::TryGuest
        );
        assert!(LinkJournal::parse("yes").is_err());
    }
}
