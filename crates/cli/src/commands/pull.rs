//! pull-tar and pull-raw: download, verify and import in one streaming pipeline.
//!
//! The name is checked and locked before anything is downloaded. The checksum list (and its
//! signature) is fetched and verified first; the image then streams through sha256, the
//! decompressor and the extractor (or sparse writer) into a staging entry, and the download's
//! checksum is checked at its end before anything is installed. With `--keep-download` the
//! pristine image is kept as a hidden read-only image named after the URL (as systemd does),
//! tagged with the archive's sha256, and reused by later pulls only when the freshly verified
//! checksum list still names that hash.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail, Result};
use wharf_core::store::{CloneOptions, Staging};
use wharf_core::{ImageType, NoProgress};
use wharf_http::{Client, Download, PullOptions, Verify};

use super::Ctx;
use crate::format;
use crate::progress::Bar;

/// xattr on a kept download recording the sha256 of the archive it came from.
const SHA_XATTR: &str = "user.wharf.sha256";

/// What kind of image a pull makes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tar,
    Raw,
}

impl Kind {
    fn cache_kind(self) -> &'static str {
        match self {
            Kind::Tar => "tar",
            Kind::Raw => "raw",
        }
    }
    fn image_type(self) -> ImageType {
        match self {
            Kind::Tar => ImageType::Directory,
            Kind::Raw => ImageType::Raw,
        }
    }
    /// Sidecars fetched next to the image, as systemd does per kind.
    fn sidecars(self) -> &'static [&'static str] {
        match self {
            Kind::Tar => &[".nspawn"],
            Kind::Raw => &[".nspawn", ".roothash", ".roothash.p7s", ".verity"],
        }
    }
}

pub struct PullArgs {
    pub kind: Kind,
    pub url: String,
    pub name: Option<String>,
    pub verify: String,
    pub keyring: Option<PathBuf>,
    pub keep_download: bool,
    pub force: bool,
    pub read_only: bool,
    pub size_max: Option<String>,
}

fn parse_verify(s: &str) -> Result<Verify> {
    s.parse::<Verify>().map_err(|_| {
        anyhow!("invalid --verify={s}: use no, checksum, signature or a sha256 in hex")
    })
}

/// The download, shared so that after extraction (which may stop before the end of the
/// stream) the rest can be drained and the checksum verified before anything is installed.
#[derive(Clone)]
struct Shared(Arc<Mutex<Download>>);

impl Read for Shared {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).read(buf)
    }
}

impl Shared {
    /// Read whatever the consumer left and check the checksum; the archive's sha256.
    fn finish(&self) -> Result<[u8; 32]> {
        let mut d = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Ok(d.drain_and_verify()?)
    }
}

pub fn pull(ctx: &Ctx, a: &PullArgs) -> Result<()> {
    let name = match &a.name {
        Some(n) => n.clone(),
        None => wharf_http::default_name(&a.url)
            .ok_or_else(|| anyhow!("cannot derive an image name from {}; give NAME", a.url))?,
    };
    let size_max = a
        .size_max
        .as_deref()
        .map(|s| format::parse_bytes(s).map_err(|e| anyhow!(e)))
        .transpose()?
        .flatten();
    let client = Client::new(PullOptions {
        verify: parse_verify(&a.verify)?,
        keyring: a.keyring.clone(),
        user_agent: format!("wharf/{}", env!("CARGO_PKG_VERSION")),
    })?;
    // The duplicate-name check (and the lock) come before any download.
    let mut staging = ctx.store.stage(&name, a.kind.image_type(), a.force)?;
    let plan = client.plan(&a.url)?;
    let mut sidecars = Vec::new();
    for suffix in a.kind.sidecars() {
        let limit = if *suffix == ".verity" {
            1 << 30
        } else {
            1 << 20
        };
        let url = wharf_http::sidecar_url(&a.url, suffix);
        if let Some(bytes) = client.fetch_sidecar(&plan, &url, limit)? {
            sidecars.push((*suffix, bytes));
        }
    }
    if a.keep_download {
        drop(staging);
        return pull_via_cache(ctx, a, &client, &plan, &name, size_max, sidecars);
    }
    fill_verified(
        ctx,
        a.kind,
        &a.url,
        client.open(&plan, 0)?,
        &staging,
        size_max,
    )?;
    let _temps = add_sidecars(&mut staging, sidecars)?;
    staging.commit(a.read_only)?;
    Ok(())
}

/// Stream `download` into `staging` (extracting or writing sparse) and verify it completely.
fn fill_verified(
    ctx: &Ctx,
    kind: Kind,
    url: &str,
    download: Download,
    staging: &Staging<'_>,
    size_max: Option<u64>,
) -> Result<[u8; 32]> {
    let size = download.content_length();
    let shared = Shared(Arc::new(Mutex::new(download)));
    let bar = Bar::new(ctx.quiet);
    let started = std::time::Instant::now();
    let input = Box::new(shared.clone());
    let filled: Result<()> = match kind {
        Kind::Tar => {
            let opts = wharf_tar::import::ImportOptions {
                size_max,
                cancel: Some(&ctx.cancel),
                input_size: size,
                ..Default::default()
            };
            staging.create_tree()?;
            wharf_tar::import::unpack_stream(input, staging.path(), &opts, &bar)
                .map(|_| ())
                .map_err(Into::into)
        }
        Kind::Raw => {
            let opts = wharf_raw::import::ImportOptions {
                cancel: Some(&ctx.cancel),
                input_size: size,
                ..Default::default()
            };
            let source = wharf_raw::import::Source::Stream(input);
            wharf_raw::import::fill_raw(&ctx.store, source, staging.path(), &opts, &bar)
                .map_err(Into::into)
        }
    };
    if ctx.cancel.load(Ordering::Relaxed) {
        bail!("pull of {url} interrupted; nothing was created");
    }
    // A checksum failure surfaces as a read error inside extraction; prefer its own message.
    let sha = match (filled, shared.finish()) {
        (_, Err(e)) => return Err(e),
        (Err(e), _) => return Err(e.context(format!("cannot import {url}"))),
        (Ok(()), Ok(sha)) => sha,
    };
    if kind == Kind::Tar {
        wharf_tar::unpack::hoist_single_os_dir(staging.path())?;
    }
    bar.summary(&format!("Downloaded and verified {url}"), size, started);
    Ok(sha)
}

/// Stage downloaded sidecars; the temporary files live until commit.
fn add_sidecars(
    staging: &mut Staging<'_>,
    sidecars: Vec<(&'static str, Vec<u8>)>,
) -> Result<Vec<tempfile::NamedTempFile>> {
    let mut temps = Vec::new();
    for (suffix, bytes) in sidecars {
        let tmp = tempfile::NamedTempFile::new()?;
        fs::write(tmp.path(), bytes)?;
        staging.add_sidecar(tmp.path(), suffix)?;
        temps.push(tmp);
    }
    Ok(temps)
}

/// `--keep-download`: fill (or reuse) the hidden cache image, then clone it to `name`.
fn pull_via_cache(
    ctx: &Ctx,
    a: &PullArgs,
    client: &Client,
    plan: &wharf_http::Plan,
    name: &str,
    size_max: Option<u64>,
    sidecars: Vec<(&'static str, Vec<u8>)>,
) -> Result<()> {
    let root = ctx.store.import_root();
    let cache_image = |file: String| match a.kind {
        Kind::Raw => file
            .strip_suffix(".raw")
            .map(str::to_string)
            .unwrap_or(file),
        Kind::Tar => file,
    };
    let expected = plan.expected_sha256.map(hex);
    let prefix = cache_image(wharf_http::cache_name_in(
        root,
        a.kind.cache_kind(),
        &a.url,
        None,
    ));
    // Reuse only a cache entry whose recorded archive hash is the one the verified list names.
    let reusable = ctx.store.list(true)?.into_iter().find(|img| {
        img.name.starts_with(&prefix)
            && expected.is_some()
            && read_sha_xattr(&img.path).as_deref() == expected.as_deref()
    });
    let cache = match reusable {
        Some(img) => img.name,
        None => {
            let download = client.open(plan, 0)?;
            let cache = cache_image(wharf_http::cache_name_in(
                root,
                a.kind.cache_kind(),
                &a.url,
                download.etag(),
            ));
            let staging = ctx.store.stage(&cache, a.kind.image_type(), true)?;
            let sha = hex(fill_verified(
                ctx, a.kind, &a.url, download, &staging, size_max,
            )?);
            set_sha_xattr(staging.path(), &sha)?;
            staging.commit(true)?;
            cache
        }
    };
    let opts = CloneOptions {
        read_only: false,
        force: a.force,
        cancel: Some(&ctx.cancel),
    };
    let img = ctx.store.clone_image(&cache, name, &opts, &NoProgress)?;
    // The hash tag belongs to the kept download only, not to the machine made from it.
    match rustix::fs::removexattr(&img.path, SHA_XATTR) {
        Ok(()) | Err(rustix::io::Errno::NODATA) => {}
        Err(e) => bail!("cannot untag {}: {e}", img.path.display()),
    }
    if a.read_only {
        ctx.store.set_read_only(name, true)?;
    }
    for (suffix, bytes) in sidecars {
        fs::write(img.dir().join(format!("{name}{suffix}")), bytes)?;
    }
    Ok(())
}

fn set_sha_xattr(path: &Path, sha: &str) -> Result<()> {
    rustix::fs::setxattr(
        path,
        SHA_XATTR,
        sha.as_bytes(),
        rustix::fs::XattrFlags::empty(),
    )
    .map_err(|e| anyhow!("cannot tag {}: {e}", path.display()))
}

fn read_sha_xattr(path: &Path) -> Option<String> {
    let mut buf = [0u8; 128];
    let n = rustix::fs::getxattr(path, SHA_XATTR, &mut buf).ok()?;
    String::from_utf8(buf[..n].to_vec()).ok()
}

fn hex(b: [u8; 32]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
