//! import-tar and export-tar.

use std::fs::{self, File};
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use anyhow::{anyhow, bail, Context, Result};
use wharf_compression::Compression;
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
fn default_name(file: &str) -> Result<String> {
    let base = Path::new(file)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| anyhow!("cannot derive an image name from {file}; give NAME"))?;
    Ok(wharf_compression::strip_tar_suffix(&base).to_string())
}

pub fn export(ctx: &Ctx, name: &str, file: Option<&str>, format: Option<&str>) -> Result<()> {
    let target = file.filter(|f| *f != "-");
    let compression = match (format, target) {
        (Some(f), _) => wharf_compression::parse_format(f).map_err(|e| anyhow!(e))?,
        (None, Some(path)) => wharf_compression::from_file_name(path),
        (None, None) => Compression::None,
    };
    // A file target is written beside itself and renamed into place afterwards, so a failed
    // export leaves nothing.
    let (out, tmp): (Box<dyn Write + Send>, Option<(PathBuf, PathBuf)>) = match target {
        None => {
            if io::stdout().is_terminal() {
                bail!("refusing to write a tar archive to a terminal; give FILE or redirect");
            }
            (
                Box::new(io::BufWriter::with_capacity(1 << 20, io::stdout())),
                None,
            )
        }
        Some(path) => {
            let path = PathBuf::from(path);
            let tmp = temp_beside(&path);
            let f =
                File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
            (
                Box::new(io::BufWriter::with_capacity(1 << 20, f)),
                Some((tmp, path)),
            )
        }
    };
    let bar = Bar::new(ctx.quiet);
    let started = std::time::Instant::now();
    let result =
        wharf_tar::export::export_tar(&ctx.store, name, out, compression, Some(&ctx.cancel), &bar)
            .map_err(anyhow::Error::from)
            .and_then(|stats| {
                if let Some((tmp, path)) = &tmp {
                    File::open(tmp)?.sync_all()?;
                    fs::rename(tmp, path)?;
                }
                Ok(stats)
            });
    match result {
        Ok(stats) => {
            warn_skipped(&stats.skipped_sockets);
            bar.summary(&format!("Exported {name}"), Some(stats.bytes), started);
        }
        Err(e) => {
            if let Some((tmp, _)) = &tmp {
                let _ = fs::remove_file(tmp);
            }
            return Err(e.context(format!("cannot export {name}")));
        }
    }
    let _ = io::stdout().flush();
    Ok(())
}

fn temp_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nonce = std::process::id();
    path.with_file_name(format!(".#{name}.{nonce}.part"))
}

fn warn_skipped(sockets: &[PathBuf]) {
    for s in sockets {
        eprintln!(
            "wharf: warning: skipped socket /{} (tar cannot store sockets)",
            s.display()
        );
    }
}
