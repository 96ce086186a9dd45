//! Verbs that change the store: clone, rename, remove, read-only, set-limit, clean.

use std::sync::atomic::Ordering;

use anyhow::{anyhow, Result};
use wharf_core::store::CloneOptions;

use super::Ctx;
use crate::format;
use crate::progress::Bar;

pub fn clone(ctx: &Ctx, src: &str, dst: &str, read_only: bool) -> Result<()> {
    let bar = Bar::new(ctx.quiet);
    let opts = CloneOptions {
        read_only,
        force: false,
        cancel: Some(&ctx.cancel),
    };
    let result = ctx.store.clone_image(src, dst, &opts, &bar);
    if ctx.cancel.load(Ordering::Relaxed) {
        return Err(anyhow!(
            "clone of {src} to {dst} interrupted; nothing was created"
        ));
    }
    result.map_err(|e| io_context(e, || format!("cannot clone {src} to {dst}")))?;
    Ok(())
}

/// I/O failures (a full disk, a read error) get the verb and its operands in front; the store's
/// own errors ("image x is busy") already name what they concern.
fn io_context(e: wharf_core::Error, what: impl FnOnce() -> String) -> anyhow::Error {
    match e.kind() {
        wharf_core::ErrorKind::Io => anyhow::Error::new(e).context(what()),
        _ => e.into(),
    }
}

pub fn import_fs(
    ctx: &Ctx,
    dir: &std::path::Path,
    name: Option<&str>,
    force: bool,
    read_only: bool,
) -> Result<()> {
    let name = match name {
        Some(n) => n.to_string(),
        None => dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .ok_or_else(|| {
                anyhow!(
                    "cannot derive an image name from {}; give NAME",
                    dir.display()
                )
            })?,
    };
    let bar = Bar::new(ctx.quiet);
    let opts = CloneOptions {
        read_only,
        force,
        cancel: Some(&ctx.cancel),
    };
    let result = ctx.store.import_fs(dir, &name, &opts, &bar);
    if ctx.cancel.load(Ordering::Relaxed) {
        return Err(anyhow!(
            "import of {} interrupted; nothing was created",
            dir.display()
        ));
    }
    result.map_err(|e| io_context(e, || format!("cannot import {}", dir.display())))?;
    Ok(())
}

pub fn rename(ctx: &Ctx, old: &str, new: &str) -> Result<()> {
    ctx.store.rename(old, new)?;
    Ok(())
}

pub fn remove(ctx: &Ctx, names: &[String]) -> Result<()> {
    // Resolve every name first, so a typo removes nothing.
    for name in names {
        ctx.store.find(name)?;
    }
    for name in names {
        ctx.store.remove(name)?;
    }
    Ok(())
}

pub fn read_only(ctx: &Ctx, name: &str, value: bool) -> Result<()> {
    ctx.store.set_read_only(name, value)?;
    Ok(())
}

/// `set-limit BYTES` (pool) or `set-limit NAME BYTES`.
pub fn set_limit(ctx: &Ctx, first: &str, second: Option<&str>) -> Result<()> {
    let (name, size) = match second {
        Some(size) => (Some(first), size),
        None => (None, first),
    };
    let bytes = format::parse_bytes(size).map_err(|e| anyhow!(e))?;
    ctx.store.set_limit(name, bytes)?;
    Ok(())
}

pub fn clean(ctx: &Ctx, all: bool) -> Result<()> {
    let cleaned = ctx.store.clean(all)?;
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(&cleaned)?);
        return Ok(());
    }
    if ctx.quiet {
        return Ok(());
    }
    for c in &cleaned {
        match c.freed {
            Some(b) => println!("Removed {} (freed {}).", c.name, format::bytes(b)),
            None => println!("Removed {}.", c.name),
        }
    }
    if cleaned.is_empty() {
        println!("Nothing to clean.");
    }
    Ok(())
}
