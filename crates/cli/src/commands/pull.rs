//! pull-tar: download, verify and import in one streaming pipeline.
//!
//! The name is checked and locked before anything is downloaded. The checksum list (and its
//! signature) is fetched and verified first; the image then streams through sha256, the
//! decompressor and the extractor into a staging directory, and the download's checksum is
//! checked at its end before anything is installed. With `--keep-download` the pristine tree is
//! kept as a hidden read-only image named after the URL (as systemd does), tagged with the
//! archive's sha256, and reused by later pulls only when the freshly verified SHA256SUMS still
//! lists that hash.

use std::fs;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail, Result};
use wharf_core::store::CloneOptions;
use wharf_core::{ImageType, NoProgress};
use wharf_http::{Client, Download, PullOptions, Verify};
use wharf_tar::import::ImportOptions;

use super::Ctx;
use crate::format;
use crate::progress::Bar;

/// xattr on a kept download recording the sha256 of the archive it came from.
const SHA_XATTR: &str = "user.wharf.sha256";

pub struct PullArgs {
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
    /// Read whatever the extractor left and check the checksum; the archive's sha256.
    fn finish(&self) -> Result<[u8; 32]> {
        let mut d = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Ok(d.drain_and_verify()?)
    }
}

/// Extract `download` into `staging` and verify it completely.
fn unpack_verified(
    ctx: &Ctx,
    url: &str,
    download: Download,
    staging: &wharf_core::store::Staging<'_>,
    opts: &ImportOptions,
) -> Result<[u8; 32]> {
    let size = download.content_length();
    let shared = Shared(Arc::new(Mutex::new(download)));
    let bar = Bar::new(ctx.quiet);
    let started = std::time::Instant::now();
    staging.create_tree()?;
    let unpacked =
        wharf_tar::import::unpack_stream(Box::new(shared.clone()), staging.path(), opts, &bar);
    if ctx.cancel.load(Ordering::Relaxed) {
        bail!("pull of {url} interrupted; nothing was created");
    }
    // A checksum failure surfaces as a read error inside extraction; prefer its own message.
    let sha = shared.finish();
    let sha = match (unpacked, sha) {
        (_, Err(e)) => return Err(e),
        (Err(e), _) => return Err(anyhow::Error::from(e).context(format!("cannot import {url}"))),
        (Ok(_), Ok(sha)) => sha,
    };
    wharf_tar::unpack::hoist_single_os_dir(staging.path())?;
    bar.summary(&format!("Downloaded and verified {url}"), size, started);
    Ok(sha)
}

pub fn pull_tar(ctx: &Ctx, a: &PullArgs) -> Result<()> {
    let name = match &a.name {
        Some(n) => n.clone(),
        None => wharf_http::default_name(&a.url)
            .ok_or_else(|| anyhow!("cannot derive an image name from {}; give NAME", a.url))?,
    };
    let verify = parse_verify(&a.verify)?;
    let size_max = a
        .size_max
        .as_deref()
        .map(|s| format::parse_bytes(s).map_err(|e| anyhow!(e)))
        .transpose()?
        .flatten();
    let client = Client::new(PullOptions {
        verify,
        keyring: a.keyring.clone(),
        user_agent: format!("wharf/{}", env!("CARGO_PKG_VERSION")),
    })?;
    // The duplicate-name check (and the lock) come before any download.
    let staging = ctx.store.stage(&name, ImageType::Directory, a.force)?;
    let plan = client.plan(&a.url)?;
    let settings =
        client.fetch_sidecar(&plan, &wharf_http::sidecar_url(&a.url, ".nspawn"), 1 << 20)?;

    if a.keep_download {
        drop(staging);
        return pull_via_cache(ctx, a, &client, &plan, &name, size_max, settings);
    }

    let download = client.open(&plan, 0)?;
    let opts = ImportOptions {
        force: a.force,
        read_only: a.read_only,
        size_max,
        cancel: Some(&ctx.cancel),
        input_size: download.content_length(),
    };
    unpack_verified(ctx, &a.url, download, &staging, &opts)?;
    let mut staging = staging;
    let _settings_file = add_settings(&mut staging, settings)?;
    staging.commit(a.read_only)?;
    Ok(())
}

/// pull-raw: like pull-tar, for raw and qcow2 disk images; sidecars `.nspawn`, `.roothash`,
/// `.roothash.p7s` and `.verity` are fetched when present.
pub fn pull_raw(
    ctx: &Ctx,
    url: &str,
    name: Option<&str>,
    verify: &str,
    keyring: Option<PathBuf>,
    force: bool,
    read_only: bool,
) -> Result<()> {
    let name = match name {
        Some(n) => n.to_string(),
        None => wharf_http::default_name(url)
            .ok_or_else(|| anyhow!("cannot derive an image name from {url}; give NAME"))?,
    };
    let client = Client::new(PullOptions {
        verify: parse_verify(verify)?,
        keyring,
        user_agent: format!("wharf/{}", env!("CARGO_PKG_VERSION")),
    })?;
    let mut staging = ctx.store.stage(&name, ImageType::Raw, force)?;
    let plan = client.plan(url)?;
    let mut sidecars = Vec::new();
    for suffix in [".nspawn", ".roothash", ".roothash.p7s", ".verity"] {
        let limit = if suffix == ".verity" {
            1 << 30
        } else {
            1 << 20
        };
        if let Some(bytes) =
            client.fetch_sidecar(&plan, &wharf_http::sidecar_url(url, suffix), limit)?
        {
            sidecars.push((suffix, bytes));
        }
    }
    let download = client.open(&plan, 0)?;
    let size = download.content_length();
    let shared = Shared(Arc::new(Mutex::new(download)));
    let bar = Bar::new(ctx.quiet);
    let started = std::time::Instant::now();
    let opts = wharf_raw::import::ImportOptions {
        force,
        read_only,
        allow_backing_file: false,
        cancel: Some(&ctx.cancel),
        input_size: size,
    };
    let filled = wharf_raw::import::fill_raw(
        &ctx.store,
        wharf_raw::import::Source::Stream(Box::new(shared.clone())),
        staging.path(),
        &opts,
        &bar,
    );
    if ctx.cancel.load(Ordering::Relaxed) {
        bail!("pull of {url} interrupted; nothing was created");
    }
    let verified = shared.finish();
    match (filled, verified) {
        (_, Err(e)) => return Err(e),
        (Err(e), _) => return Err(anyhow::Error::from(e).context(format!("cannot import {url}"))),
        _ => {}
    }
    let mut keep = Vec::new();
    for (suffix, bytes) in sidecars {
        let tmp = tempfile::NamedTempFile::new()?;
        fs::write(tmp.path(), bytes)?;
        staging.add_sidecar(tmp.path(), suffix)?;
        keep.push(tmp);
    }
    staging.commit(read_only)?;
    bar.summary(&format!("Downloaded and verified {url}"), size, started);
    Ok(())
}

/// Stage the downloaded `.nspawn` settings as a sidecar; the temp file lives until commit.
fn add_settings(
    staging: &mut wharf_core::store::Staging<'_>,
    settings: Option<Vec<u8>>,
) -> Result<Option<tempfile::NamedTempFile>> {
    let Some(bytes) = settings else {
        return Ok(None);
    };
    let tmp = tempfile::NamedTempFile::new()?;
    fs::write(tmp.path(), bytes)?;
    staging.add_sidecar(tmp.path(), ".nspawn")?;
    Ok(Some(tmp))
}

/// `--keep-download`: unpack into (or reuse) the hidden cache image, then clone it to `name`.
fn pull_via_cache(
    ctx: &Ctx,
    a: &PullArgs,
    client: &Client,
    plan: &wharf_http::Plan,
    name: &str,
    size_max: Option<u64>,
    settings: Option<Vec<u8>>,
) -> Result<()> {
    let expected = plan.expected_sha256.map(hex);
    let prefix = wharf_http::cache_name("tar", &a.url, None);
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
            let cache = wharf_http::cache_name("tar", &a.url, download.etag());
            let staging = ctx.store.stage(&cache, ImageType::Directory, true)?;
            let opts = ImportOptions {
                force: true,
                read_only: true,
                size_max,
                cancel: Some(&ctx.cancel),
                input_size: download.content_length(),
            };
            let sha = hex(unpack_verified(ctx, &a.url, download, &staging, &opts)?);
            rustix::fs::setxattr(
                staging.path(),
                SHA_XATTR,
                sha.as_bytes(),
                rustix::fs::XattrFlags::empty(),
            )
            .map_err(|e| anyhow!("cannot tag {}: {e}", staging.path().display()))?;
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
    if let Some(bytes) = settings {
        let img = ctx.store.find(name)?;
        fs::write(img.dir().join(format!("{name}.nspawn")), bytes)?;
    }
    Ok(())
}

fn read_sha_xattr(path: &std::path::Path) -> Option<String> {
    let mut buf = [0u8; 128];
    let n = rustix::fs::getxattr(path, SHA_XATTR, &mut buf).ok()?;
    String::from_utf8(buf[..n].to_vec()).ok()
}

fn hex(b: [u8; 32]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
