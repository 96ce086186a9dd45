//! import-oci and import-docker.

use std::fs::File;
use std::io;
use std::sync::atomic::Ordering;

use anyhow::{anyhow, bail, Context, Result};
use wharf_oci::OciImportOptions;
use wharf_oci_format::Platform;
use wharf_tar::import::ImportOptions;

use super::Ctx;
use crate::progress::Bar;

/// The image name a tag suggests: `docker.io/library/debian:12` → `debian`.
fn name_from_tag(tag: &str) -> String {
    let no_digest = tag.split('@').next().unwrap_or(tag);
    let last = no_digest.rsplit('/').next().unwrap_or(no_digest);
    last.split(':').next().unwrap_or(last).to_string()
}

pub fn import_oci(
    ctx: &Ctx,
    path: &str,
    name: Option<&str>,
    reference: Option<&str>,
    platform: Option<&str>,
    force: bool,
    read_only: bool,
) -> Result<()> {
    let name = match (name, reference) {
        (Some(n), _) => n.to_string(),
        (None, Some(r)) => name_from_tag(r),
        (None, None) if path == "-" => bail!("importing from standard input needs an image NAME"),
        (None, None) => super::tar::default_name(path.trim_end_matches('/'))?,
    };
    let platform = platform
        .map(|p| Platform::parse(p).map_err(|e| anyhow!("invalid --platform {p:?}: {e}")))
        .transpose()?;
    let started = std::time::Instant::now();
    let src = wharf_oci::open_source(path, ctx.store.import_root())
        .with_context(|| format!("cannot import {path}"))?;
    let bar = Bar::new(ctx.quiet);
    let opts = OciImportOptions {
        force,
        read_only,
        tag: reference.map(str::to_string),
        platform,
        cancel: Some(&ctx.cancel),
    };
    let result = wharf_oci::import_oci(&ctx.store, src.as_ref(), path, &name, &opts, &bar);
    if ctx.cancel.load(Ordering::Relaxed) {
        bail!("import of {path} interrupted; nothing was created");
    }
    let done = result.with_context(|| format!("cannot import {path}"))?;
    bar.summary(
        &format!(
            "Imported {path} as {} ({} layer{}, {} entries)",
            done.image.name,
            done.stats.layers,
            if done.stats.layers == 1 { "" } else { "s" },
            done.stats.entries
        ),
        Some(done.stats.stored_bytes),
        started,
    );
    Ok(())
}

pub fn import_docker(
    ctx: &Ctx,
    file: &str,
    name: Option<&str>,
    force: bool,
    read_only: bool,
) -> Result<()> {
    let name = match name {
        Some(n) => n.to_string(),
        None if file == "-" => bail!("importing from standard input needs an image NAME"),
        None => super::tar::default_name(file)?,
    };
    let (input, input_size): (Box<dyn io::Read + Send>, Option<u64>) = if file == "-" {
        (Box::new(io::stdin()), None)
    } else {
        let f = File::open(file).with_context(|| format!("cannot open {file}"))?;
        let size = f.metadata().ok().map(|m| m.len());
        (Box::new(f), size)
    };
    let bar = Bar::new(ctx.quiet);
    let started = std::time::Instant::now();
    let opts = ImportOptions {
        force,
        read_only,
        size_max: None,
        cancel: Some(&ctx.cancel),
        input_size,
    };
    let result = wharf_oci::docker_export::import_docker(&ctx.store, input, &name, &opts, &bar);
    if ctx.cancel.load(Ordering::Relaxed) {
        bail!("import of {file} interrupted; nothing was created");
    }
    let (img, _fixups) = result.with_context(|| format!("cannot import {file}"))?;
    bar.summary(
        &format!("Imported {file} as {}", img.name),
        input_size,
        started,
    );
    Ok(())
}

pub fn export_oci(
    ctx: &Ctx,
    name: &str,
    path: &std::path::Path,
    tag: &str,
    format: &str,
) -> Result<()> {
    let compression = wharf_compression::parse_format(format).map_err(|e| anyhow!(e))?;
    let bar = Bar::new(ctx.quiet);
    let started = std::time::Instant::now();
    let opts = wharf_oci::export::ExportOptions {
        compression,
        tag: tag.to_string(),
        cancel: Some(&ctx.cancel),
    };
    let result = wharf_oci::export::export_oci(&ctx.store, name, path, &opts, &bar);
    if ctx.cancel.load(Ordering::Relaxed) {
        bail!("export of {name} interrupted");
    }
    let done = result.with_context(|| format!("cannot export {name}"))?;
    bar.summary(
        &format!(
            "Exported {name} to {}:{tag} ({})",
            path.display(),
            done.manifest_digest
        ),
        Some(done.tar_size),
        started,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_suggest_names() {
        assert_eq!(name_from_tag("docker.io/library/debian:12"), "debian");
        assert_eq!(name_from_tag("localhost:5000/a/web@sha256:ab"), "web");
        assert_eq!(name_from_tag("alpine"), "alpine");
    }
}
