//! `wharf enable`/`disable`: the `wharf@.service` template and its links (see
//! docs/machines.md); `systemctl daemon-reload` when systemd runs the host and no `--root` was
//! given.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use wharf_launcher::machine::unit::{self, Changes};

use super::Ctx;

/// systemd is the host's service manager (the test for `sd_booted()`).
fn systemd_running() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

fn report(ctx: &Ctx, c: &Changes) {
    if ctx.quiet {
        return;
    }
    for p in &c.written {
        eprintln!("Installed {}.", p.display());
    }
    for (l, t) in &c.linked {
        eprintln!("Created symlink {} → {}.", l.display(), t.display());
    }
    for p in &c.removed {
        eprintln!("Removed {}.", p.display());
    }
}

fn reload(root: &Option<PathBuf>) -> Result<()> {
    if root.is_some() || !systemd_running() {
        return Ok(());
    }
    let st = Command::new("systemctl")
        .arg("daemon-reload")
        .status()
        .context("run systemctl daemon-reload")?;
    if !st.success() {
        bail!("systemctl daemon-reload failed ({st})");
    }
    Ok(())
}

pub fn enable(ctx: &Ctx, names: &[String], root: Option<PathBuf>) -> Result<()> {
    let exe = std::env::current_exe().context("locate the wharf binary")?;
    let exe = exe.canonicalize().unwrap_or(exe);
    let base = root.clone().unwrap_or_else(|| PathBuf::from("/"));
    for n in names {
        let c = unit::enable(&base, n, &exe).with_context(|| format!("enable machine {n}"))?;
        report(ctx, &c);
    }
    reload(&root)
}

pub fn disable(ctx: &Ctx, names: &[String], root: Option<PathBuf>) -> Result<()> {
    let base = root.clone().unwrap_or_else(|| PathBuf::from("/"));
    for n in names {
        let c = unit::disable(&base, n)?;
        report(ctx, &c);
    }
    reload(&root)
}
