//! import-tar and export-tar.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use anyhow::{anyhow, bail, Context, Result};
use wharf_tar::import::ImportOptions;

use super::Ctx;
use crate::format;
use crate::progress::Bar;

pub fn import(
    ctx: &Ctx,
    file: &str,
    name: Option<&str>,
    force: bool,
    read_only: bool,
    size_max: Option<&str>,
) -> Result<()> {
    let name = match name {
        Some(n) => n.to_string(),
        None if file == "-" => bail!("importing from standard input needs an image NAME"),
        None => default_name(file)?,
    };
    let size_max = size_max
        .map(|s| format::parse_bytes(s).map_err(|e| anyhow!(e)))
        .transpose()?
        .flatten();
    let (input, input_size) = open_input(file)?;
    let bar = Bar::new(ctx.quiet);
    let started = std::time::Instant::now();
    let opts = ImportOptions {
        force,
        read_only,
        size_max,
        cancel: Some(&ctx.cancel),
        input_size,
    };
    let result = wharf_tar::import::import_tar(&ctx.store, input, &name, &opts, &bar);
    if ctx.cancel.load(Ordering::Relaxed) {
        bail!("import of {file} interrupted; nothing was created");
    }
    let img = result.with_context(|| format!("cannot import {file}"))?;
    bar.summary(
        &format!("Imported {file} as {}", img.name),
        input_size,
        started,
    );
    Ok(())
}

/// The image name for archive `file`: its file name without the tar/compression suffixes.
/// `FILE` or standard input for "-", with its size when known (for the progress ETA).
pub(super) fn open_input(file: &str) -> Result<(Box<dyn io::Read + Send>, Option<u64>)> {
    if file == "-" {
        return Ok((Box::new(io::stdin()), None));
    }
    let f = File::open(file).with_context(|| format!("cannot open {file}"))?;
    let size = f.metadata().ok().map(|m| m.len());
    Ok((Box::new(f), size))
}

pub(super) fn default_name(file: &str) -> Result<String> {
    let base = Path::new(file)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| anyhow!("cannot derive an image name from {file}; give NAME"))?;
    Ok(wharf_compression::strip_tar_suffix(&base).to_string())
}

pub fn export(ctx: &Ctx, name: &str, file: Option<&str>, format: Option<&str>) -> Result<()> {
    let (target, compression) = super::output::export_target(file, format)?;
    let bar = Bar::new(ctx.quiet);
    let started = std::time::Instant::now();
    let stats = super::output::with_output(target, |out| {
        Ok(wharf_tar::export::export_tar(
            &ctx.store,
            name,
            out,
            compression,
            Some(&ctx.cancel),
            &bar,
        )?)
    })
    .with_context(|| format!("cannot export {name}"))?;
    warn_skipped(&stats.skipped_sockets);
    bar.summary(&format!("Exported {name}"), Some(stats.bytes), started);
    Ok(())
}

fn warn_skipped(sockets: &[PathBuf]) {
    for s in sockets {
        eprintln!(
            "wharf: warning: skipped socket /{} (tar cannot store sockets)",
            s.display()
        );
    }
}
