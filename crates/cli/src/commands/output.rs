//! Where exports go: a file (written beside itself, renamed into place on success, removed on
//! failure) or standard output (never a terminal).

use std::fs::{self, File};
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use wharf_compression::Compression;

/// The export target (`None` = standard output) and its compression: `--format` when given,
/// else the file's suffix, else none.
pub fn export_target<'a>(
    file: Option<&'a str>,
    format: Option<&str>,
) -> Result<(Option<&'a str>, Compression)> {
    let target = file.filter(|f| *f != "-");
    let compression = match (format, target) {
        (Some(f), _) => wharf_compression::parse_format(f).map_err(|e| anyhow!(e))?,
        (None, Some(path)) => wharf_compression::from_file_name(path),
        (None, None) => Compression::None,
    };
    Ok((target, compression))
}

/// Run `write` with a writer for `file` (`None` or "-" = standard output).
pub fn with_output<T>(
    file: Option<&str>,
    write: impl FnOnce(Box<dyn Write + Send>) -> Result<T>,
) -> Result<T> {
    match file.filter(|f| *f != "-") {
        None => {
            if io::stdout().is_terminal() {
                bail!("refusing to write an image to a terminal; give FILE or redirect");
            }
            let t = write(Box::new(io::BufWriter::with_capacity(
                1 << 20,
                io::stdout(),
            )))?;
            io::stdout().flush()?;
            Ok(t)
        }
        Some(path) => with_file(Path::new(path), |tmp| {
            // Named for the user's path: the temporary beside it is an implementation detail.
            let f = File::create(tmp).with_context(|| format!("cannot create {path}"))?;
            write(Box::new(io::BufWriter::with_capacity(1 << 20, f)))
        }),
    }
}

/// Run `fill` on a temporary path beside `path`, then move it into place (or remove it).
/// Temporaries left beside `path` by killed earlier runs are removed first.
pub fn with_file<T>(path: &Path, fill: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    wharf_core::util::remove_stale_temps(path);
    let tmp = temp_beside(path);
    let result = fill(&tmp).and_then(|t| {
        File::open(&tmp)?.sync_all()?;
        fs::rename(&tmp, path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(t)
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn temp_beside(path: &Path) -> PathBuf {
    wharf_core::util::temp_beside(path)
}
