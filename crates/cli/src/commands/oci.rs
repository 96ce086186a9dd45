//! import-oci and import-docker.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use wharf_oci::OciImportOptions;
use wharf_oci_format::{Platform, Reference};
use wharf_tar::import::ImportOptions;

use super::Ctx;
use crate::progress::Bar;

/// The image name a tag suggests: `docker.io/library/debian:12` → `debian`.
fn name_from_tag(tag: &str) -> String {
    let no_digest = tag.split('@').next().unwrap_or(tag);
    let last = no_digest.rsplit('/').next().unwrap_or(no_digest);
    last.split(':').next().unwrap_or(last).to_string()
}

/// Where and how an image is installed: the options import-oci and pull-oci share.
pub struct Target<'a> {
    pub platform: Option<&'a str>,
    pub layered: bool,
    pub force: bool,
    pub read_only: bool,
}

impl Target<'_> {
    fn platform(&self) -> Result<Option<Platform>> {
        self.platform
            .map(|p| Platform::parse(p).map_err(|e| anyhow!("invalid --platform {p:?}: {e}")))
            .transpose()
    }
}

pub fn import_oci(
    ctx: &Ctx,
    path: &str,
    name: Option<&str>,
    reference: Option<&str>,
    target: Target,
) -> Result<()> {
    let name = match (name, reference) {
        (Some(n), _) => n.to_string(),
        (None, Some(r)) => name_from_tag(r),
        (None, None) if path == "-" => bail!("importing from standard input needs an image NAME"),
        (None, None) => super::tar::default_name(path.trim_end_matches('/'))?,
    };
    let platform = target.platform()?;
    let started = std::time::Instant::now();
    let src = wharf_oci::open_source(path, ctx.store.import_root())
        .with_context(|| format!("cannot import {path}"))?;
    let bar = Bar::new(ctx.quiet);
    let opts = OciImportOptions {
        force: target.force,
        read_only: target.read_only,
        tag: reference.map(str::to_string),
        platform,
        cancel: Some(&ctx.cancel),
        layered: target.layered,
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
    let (input, input_size) = super::tar::open_input(file)?;
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

/// Where pulled blobs are kept unless `--cache-dir`/`WHARF_OCI_CACHE` say otherwise.
const DEFAULT_CACHE: &str = "/var/cache/wharf/oci";

fn client(ctx: &Ctx, reference: &Reference, insecure: bool) -> Result<wharf_registry::Client> {
    let opts = wharf_registry::ClientOptions {
        insecure,
        credentials: wharf_registry::credentials_for(&reference.registry),
        cancel: Some(Arc::clone(&ctx.cancel)),
        ..wharf_registry::ClientOptions::default()
    };
    Ok(wharf_registry::Client::new(&reference.registry, opts)?)
}

pub fn pull_oci(
    ctx: &Ctx,
    reference: &str,
    name: Option<&str>,
    insecure: bool,
    cache_dir: Option<PathBuf>,
    target: Target,
) -> Result<()> {
    let r = Reference::parse(reference).map_err(|e| anyhow!("{}", e.message()))?;
    let name = match name {
        Some(n) => n.to_string(),
        None => r
            .repository
            .rsplit('/')
            .next()
            .unwrap_or(&r.repository)
            .to_string(),
    };
    // Check the name (and that it is free) before downloading anything.
    wharf_core::name::validate(&name)?;
    if !target.force {
        match ctx.store.find(&name) {
            Ok(_) => bail!("image {name} already exists"),
            Err(e) if e.kind() == wharf_core::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    let wanted = target.platform()?;
    let cache = cache_dir.unwrap_or_else(|| PathBuf::from(DEFAULT_CACHE));
    let started = std::time::Instant::now();
    let bar = Bar::new(ctx.quiet);
    let client = client(ctx, &r, insecure)?;
    let pulled = wharf_registry::pull(
        &client,
        &r,
        wanted.as_ref().unwrap_or(&Platform::host()),
        &cache,
        &bar,
    );
    if ctx.cancel.load(Ordering::Relaxed) {
        bail!("pull of {reference} interrupted; nothing was created");
    }
    let pulled = pulled.with_context(|| format!("cannot pull {reference}"))?;
    let src = wharf_oci::source::DirSource::open(&pulled.layout)
        .with_context(|| format!("cannot open the cache {}", pulled.layout.display()))?;
    let opts = OciImportOptions {
        force: target.force,
        read_only: target.read_only,
        tag: Some(pulled.tag.clone()),
        platform: wanted,
        cancel: Some(&ctx.cancel),
        layered: target.layered,
    };
    let origin = r.to_string();
    let result = wharf_oci::import_oci(&ctx.store, &src, &origin, &name, &opts, &bar);
    if ctx.cancel.load(Ordering::Relaxed) {
        bail!("pull of {reference} interrupted; nothing was created");
    }
    let done = result.with_context(|| format!("cannot import {reference}"))?;
    bar.summary(
        &format!(
            "Pulled {origin} as {} ({} blobs downloaded, {} reused)",
            done.image.name, pulled.downloaded_blobs, pulled.reused_blobs
        ),
        Some(pulled.downloaded_bytes),
        started,
    );
    Ok(())
}

pub fn push(ctx: &Ctx, name: &str, reference: &str, insecure: bool, format: &str) -> Result<()> {
    let r = Reference::parse(reference).map_err(|e| anyhow!("{}", e.message()))?;
    if r.digest.is_some() {
        bail!("push needs a tag, not a digest: {reference}");
    }
    let compression = wharf_compression::parse_format(format).map_err(|e| anyhow!(e))?;
    let img = ctx.store.find(name)?;
    let started = std::time::Instant::now();
    let bar = Bar::new(ctx.quiet);
    let client = client(ctx, &r, insecure)?;
    // The one-layer image is written to a temporary layout beside the store, then uploaded.
    let tmp = tempfile::Builder::new()
        .prefix(".#push-")
        .tempdir_in(ctx.store.import_root())
        .with_context(|| {
            format!(
                "cannot create a temporary directory in {}",
                ctx.store.import_root().display()
            )
        })?;
    let tag = "push";
    let opts = wharf_oci::export::ExportOptions {
        compression,
        tag: tag.to_string(),
        cancel: Some(&ctx.cancel),
    };
    let exported = wharf_oci::export::export_oci(&ctx.store, &img.name, tmp.path(), &opts, &bar)
        .with_context(|| format!("cannot export {name}"))?;
    let digest = wharf_registry::push(&client, tmp.path(), tag, &r, &bar);
    if ctx.cancel.load(Ordering::Relaxed) {
        bail!("push of {name} interrupted");
    }
    let digest = digest.with_context(|| format!("cannot push {name} to {reference}"))?;
    bar.summary(
        &format!("Pushed {name} to {r} ({digest})"),
        Some(exported.layer_size),
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
