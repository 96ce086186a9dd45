//! import-raw, export-raw, convert.

use std::path::Path;
use std::sync::atomic::Ordering;

use anyhow::{anyhow, bail, Context, Result};
use wharf_compression::Compression;
use wharf_raw::convert::Format;
use wharf_raw::import::{ImportOptions, Source};

use super::Ctx;
use crate::progress::Bar;

pub fn import(
    ctx: &Ctx,
    file: &str,
    name: Option<&str>,
    force: bool,
    read_only: bool,
    allow_backing_file: bool,
) -> Result<()> {
    let name = match name {
        Some(n) => n.to_string(),
        None if file == "-" => bail!("importing from standard input needs an image NAME"),
        None => Path::new(file)
            .file_name()
            .map(|n| wharf_compression::strip_tar_suffix(&n.to_string_lossy()).to_string())
            .ok_or_else(|| anyhow!("cannot derive an image name from {file}; give NAME"))?,
    };
    let (source, size) = if file == "-" {
        (Source::Stream(Box::new(std::io::stdin())), None)
    } else {
        let size = std::fs::metadata(file)
            .with_context(|| format!("cannot open {file}"))?
            .len();
        (Source::File(file.into()), Some(size))
    };
    let bar = Bar::new(ctx.quiet);
    let started = std::time::Instant::now();
    let opts = ImportOptions {
        force,
        read_only,
        allow_backing_file,
        cancel: Some(&ctx.cancel),
        input_size: size,
    };
    let result = wharf_raw::import::import_raw(&ctx.store, source, &name, &opts, &bar);
    if ctx.cancel.load(Ordering::Relaxed) {
        bail!("import of {file} interrupted; nothing was created");
    }
    let img = result.with_context(|| format!("cannot import {file}"))?;
    bar.summary(&format!("Imported {file} as {}", img.name), size, started);
    Ok(())
}

pub fn export(ctx: &Ctx, name: &str, file: Option<&str>, format: Option<&str>) -> Result<()> {
    let (target, compression) = super::output::export_target(file, format)?;
    let bar = Bar::new(ctx.quiet);
    if let (Compression::None, Some(path)) = (compression, target) {
        return super::output::with_file(Path::new(path), |tmp| {
            Ok(wharf_raw::export::export_raw_file(
                &ctx.store,
                name,
                tmp,
                Some(&ctx.cancel),
                &bar,
            )?)
        })
        .with_context(|| format!("cannot export {name}"));
    }
    super::output::with_output(target, |out| {
        Ok(wharf_raw::export::export_raw(
            &ctx.store,
            name,
            out,
            compression,
            Some(&ctx.cancel),
            &bar,
        )?)
    })
    .with_context(|| format!("cannot export {name}"))?;
    Ok(())
}

pub fn convert(
    ctx: &Ctx,
    input: &Path,
    output: &Path,
    format: Option<&str>,
    compress: Option<&str>,
) -> Result<()> {
    let format = match format {
        Some("raw") => Format::Raw,
        Some("qcow2") => Format::Qcow2,
        Some(other) => bail!("invalid --format={other}: use raw or qcow2"),
        None if output.extension().is_some_and(|e| e == "qcow2") => Format::Qcow2,
        None => Format::Raw,
    };
    let compress = match compress {
        None => None,
        Some("zstd") => Some(wharf_qcow2::CompressionType::Zstd),
        Some("zlib") => Some(wharf_qcow2::CompressionType::Zlib),
        Some(other) => bail!("invalid --compress={other}: use zstd or zlib"),
    };
    if compress.is_some() && format != Format::Qcow2 {
        bail!("--compress applies to qcow2 output only");
    }
    if output.exists() {
        bail!("{} already exists", output.display());
    }
    let bar = Bar::new(ctx.quiet);
    wharf_raw::convert::convert(input, output, format, compress, &bar)
        .with_context(|| format!("cannot convert {}", input.display()))?;
    Ok(())
}
