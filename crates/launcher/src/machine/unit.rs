//! `wharf enable`/`disable`: booting machines with the host's systemd. A template unit
//! `wharf@.service` (modelled on `systemd-nspawn@.service`) runs `wharf run -b -M %i`; enabling
//! NAME links `wharf@NAME.service` into `machines.target.wants/`, and `machines.target` into
//! `multi-user.target.wants/`, as `systemctl enable` would. Only files below the unit
//! directory are written; reloading systemd is the caller's business.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The template's file name.
pub const TEMPLATE: &str = "wharf@.service";
/// First line of the template: marks it as ours (`disable` removes only such a file).
const MARKER: &str = "# Installed by `wharf enable`";
/// Where `machines.target` lives on Debian and most distributions.
const MACHINES_TARGET: &str = "/usr/lib/systemd/system/machines.target";
/// The unit directory inside the root.
pub const UNIT_DIR: &str = "etc/systemd/system";

/// The text of `wharf@.service` for the wharf binary at `wharf` (an absolute path).
///
/// - `--on-reboot=exit`: a reboot inside the machine ends wharf with status 133, which
///   `RestartForceExitStatus=133` turns into a restart of the unit (as systemd-nspawn@ does);
/// - `Type=notify`: wharf sends `READY=1` to `$NOTIFY_SOCKET` once the machine's systemd
///   reported ready (`--notify-ready=yes`); `NotifyAccess=all` as in systemd-nspawn@;
/// - `KillMode=mixed`: SIGTERM to wharf (which powers the machine off cleanly: SIGRTMIN+3 to
///   its PID 1), SIGKILL to whatever is left after the timeout;
/// - the console is read-only: its output goes to the journal.
pub fn unit_text(wharf: &Path) -> String {
    let exe = wharf.display().to_string();
    // systemd unquotes ExecStart= words; a path with spaces or quotes needs quoting.
    let exe = if exe.contains([' ', '"', '\'', '\\', '%', '$']) {
        format!(
            "\"{}\"",
            exe.replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('%', "%%")
                .replace('$', "$$")
        )
    } else {
        exe
    };
    format!(
        "{MARKER} (see docs/machines.md of wharf): the machine NAME of the
# store, booted by wharf at startup once `wharf enable NAME` linked wharf@NAME.service into
# machines.target.wants/.

[Unit]
Description=wharf machine %i
PartOf=machines.target
Before=machines.target
After=network.target
RequiresMountsFor=/var/lib/machines/%i

[Service]
ExecStart={exe} run -b -M %i --keep-unit --on-reboot=exit --console=read-only --notify-ready=yes
KillMode=mixed
Type=notify
NotifyAccess=all
RestartForceExitStatus=133
SuccessExitStatus=133
Slice=machine.slice
Delegate=yes
TasksMax=16384

[Install]
WantedBy=machines.target
"
    )
}

/// What [`enable`] or [`disable`] changed (paths relative to nothing: absolute, inside the root).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    pub written: Vec<PathBuf>,
    pub linked: Vec<(PathBuf, PathBuf)>,
    pub removed: Vec<PathBuf>,
}

fn instance(name: &str) -> String {
    format!("wharf@{name}.service")
}

fn link(link: &Path, target: &Path, changes: &mut Changes) -> Result<()> {
    if let Ok(old) = fs::read_link(link) {
        if old == target {
            return Ok(());
        }
        fs::remove_file(link).with_context(|| format!("remove {}", link.display()))?;
    } else if link.symlink_metadata().is_ok() {
        bail!("{}: exists and is not a symlink", link.display());
    }
    std::os::unix::fs::symlink(target, link)
        .with_context(|| format!("link {} to {}", link.display(), target.display()))?;
    changes
        .linked
        .push((link.to_path_buf(), target.to_path_buf()));
    Ok(())
}

/// Install (or refresh) `wharf@.service` for binary `wharf` in `ROOT/etc/systemd/system` and
/// enable machine `name`. Symlink targets are absolute paths as seen from inside the root.
pub fn enable(root: &Path, name: &str, wharf: &Path) -> Result<Changes> {
    super::check_name(name)?;
    if !wharf.is_absolute() {
        bail!(
            "{}: the wharf binary must be an absolute path",
            wharf.display()
        );
    }
    let mut changes = Changes::default();
    let dir = root.join(UNIT_DIR);
    let wants = dir.join("machines.target.wants");
    let multi = dir.join("multi-user.target.wants");
    for d in [&dir, &wants, &multi] {
        fs::create_dir_all(d).with_context(|| format!("create {}", d.display()))?;
    }
    let path = dir.join(TEMPLATE);
    let text = unit_text(wharf);
    if fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
        let tmp = dir.join(format!(".{TEMPLATE}.tmp"));
        let mut f = fs::File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .with_context(|| format!("write {}", tmp.display()))?;
        fs::rename(&tmp, &path).with_context(|| format!("install {}", path.display()))?;
        changes.written.push(path);
    }
    let in_root = Path::new("/").join(UNIT_DIR).join(TEMPLATE);
    link(&wants.join(instance(name)), &in_root, &mut changes)?;
    link(
        &multi.join("machines.target"),
        Path::new(MACHINES_TARGET),
        &mut changes,
    )?;
    Ok(changes)
}

/// Disable machine `name`: remove its link from `machines.target.wants/`; the template goes
/// too once no machine is enabled (and only when wharf installed it). `machines.target` stays
/// enabled, as with machinectl.
pub fn disable(root: &Path, name: &str) -> Result<Changes> {
    super::check_name(name)?;
    let mut changes = Changes::default();
    let dir = root.join(UNIT_DIR);
    let wants = dir.join("machines.target.wants");
    let l = wants.join(instance(name));
    if l.symlink_metadata().is_err() {
        bail!(
            "machine {name} is not enabled ({} does not exist)",
            l.display()
        );
    }
    fs::remove_file(&l).with_context(|| format!("remove {}", l.display()))?;
    changes.removed.push(l);
    let others = fs::read_dir(&wants)
        .map(|rd| {
            rd.flatten().any(|e| {
                let n = e.file_name();
                let n = n.to_string_lossy();
                n.starts_with("wharf@") && n.ends_with(".service")
            })
        })
        .unwrap_or(false);
    let template = dir.join(TEMPLATE);
    let ours = fs::read_to_string(&template).is_ok_and(|t| t.starts_with(MARKER));
    if !others && ours {
        fs::remove_file(&template).with_context(|| format!("remove {}", template.display()))?;
        changes.removed.push(template);
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enable_disable() {
        let t = tempfile::tempdir().unwrap();
        let bin = Path::new("/usr/bin/wharf");
        let c = enable(t.path(), "a", bin).unwrap();
        assert_eq!(c.written.len(), 1);
        let dir = t.path().join(UNIT_DIR);
        let text = fs::read_to_string(dir.join(TEMPLATE)).unwrap();
        assert!(text.contains("ExecStart=/usr/bin/wharf run -b -M %i --keep-unit --on-reboot=exit"));
        assert_eq!(
            fs::read_link(dir.join("machines.target.wants/wharf@a.service")).unwrap(),
            Path::new("/etc/systemd/system/wharf@.service")
        );
        // Again: nothing to do.
        assert_eq!(enable(t.path(), "a", bin).unwrap(), Changes::default());
        enable(t.path(), "b", bin).unwrap();
        disable(t.path(), "a").unwrap();
        assert!(dir.join(TEMPLATE).exists());
        disable(t.path(), "b").unwrap();
        assert!(!dir.join(TEMPLATE).exists());
        assert!(dir
            .join("multi-user.target.wants/machines.target")
            .symlink_metadata()
            .is_ok());
        let e = disable(t.path(), "b").unwrap_err();
        assert!(e.to_string().contains("machine b is not enabled"), "{e}");
    }

    #[test]
    fn quoting() {
        let t = unit_text(Path::new("/opt/my wharf/wharf"));
        assert!(t.contains("ExecStart=\"/opt/my wharf/wharf\" run"), "{t}");
    }
}
