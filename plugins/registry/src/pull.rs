//! `pull`: reference → platform manifest → blobs in the cache layout → tagged in index.json.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use reqwest::header::{HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use wharf_core::Progress;
use wharf_oci_format::{
    parse_manifest_or_index, Descriptor, Digest, ImageConfig, Manifest, MediaType, Parsed,
    Platform, Reference, MANIFEST_ACCEPT, MAX_MANIFEST_SIZE,
};

use crate::blob::{self, Fetched, Job};
use crate::client::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::layout;

/// Nested indexes followed at most.
const MAX_INDEX_DEPTH: usize = 4;
/// Layers accepted in one manifest (systemd's limit).
const MAX_LAYERS: usize = 4096;

/// What a pull produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    /// The cache directory: an OCI image layout holding the image.
    pub layout: PathBuf,
    /// The `org.opencontainers.image.ref.name` of this image in the layout's index.json:
    /// `REGISTRY/REPOSITORY@DIGEST` (unique per manifest, so concurrent pulls never clash).
    pub tag: String,
    /// Digest of the platform manifest (not of an index it was chosen from).
    pub manifest_digest: Digest,
    /// The digest the reference resolved to: the index's when it named one, else the manifest's.
    pub resolved_digest: Digest,
    /// Media type of the platform manifest (OCI or Docker).
    pub media_type: MediaType,
    /// Bytes received over the network for blobs.
    pub downloaded_bytes: u64,
    /// Blobs (config and layers) found complete in the cache.
    pub reused_blobs: usize,
    /// Blobs (config and layers) downloaded (fully or by resuming).
    pub downloaded_blobs: usize,
}

/// A manifest or index body as served, verified against the digest it was asked by.
pub(crate) struct FetchedManifest {
    pub bytes: Vec<u8>,
    pub digest: Digest,
    pub parsed: Parsed,
    pub media_type: MediaType,
}

/// `Accept:` for manifest GETs: the four manifest and index types.
pub(crate) fn accept_header() -> HeaderValue {
    HeaderValue::from_str(&MANIFEST_ACCEPT.join(", ")).expect("ascii media types")
}

/// GETs `/v2/<repo>/manifests/<reference>`; `expected` (a digest reference or descriptor) is
/// checked against the body, and so is `Docker-Content-Digest` when sent.
pub(crate) fn get_manifest(
    client: &Client,
    repository: &str,
    reference: &str,
    expected: Option<&Descriptor>,
    scope: &str,
) -> Result<FetchedManifest> {
    let what = format!("manifest {repository}:{reference}");
    let url = client.url(&format!("{repository}/manifests/{reference}"))?;
    let resp = client.request(Method::GET, &url, Some(scope), &|rb| {
        Ok(rb.header(ACCEPT, accept_header()))
    })?;
    if resp.status() != StatusCode::OK {
        return Err(client.status_error(resp, &what));
    }
    let content_type = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let header_digest = resp
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if resp.content_length().unwrap_or(0) > MAX_MANIFEST_SIZE as u64 {
        return Err(client.err(
            ErrorKind::InvalidData,
            format!("{what}: larger than {MAX_MANIFEST_SIZE} bytes"),
        ));
    }
    let mut bytes = Vec::new();
    resp.take(MAX_MANIFEST_SIZE as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| client.err(ErrorKind::Network, format!("{what}: {e}")))?;
    if bytes.len() > MAX_MANIFEST_SIZE {
        return Err(client.err(
            ErrorKind::InvalidData,
            format!("{what}: larger than {MAX_MANIFEST_SIZE} bytes"),
        ));
    }
    let bad = |m: String| client.err(ErrorKind::InvalidData, format!("{what}: {m}"));
    if let Some(want) = expected {
        want.verify(&bytes)
            .map_err(|e| bad(e.message().to_string()))?;
    }
    let digest = match expected {
        Some(d) => d.digest.clone(),
        None => Digest::sha256(&bytes),
    };
    if let Some(h) = header_digest {
        let claimed = Digest::parse(h.trim())
            .map_err(|e| bad(format!("invalid Docker-Content-Digest: {}", e.message())))?;
        claimed.verify(&bytes).map_err(|e| {
            bad(format!(
                "Docker-Content-Digest does not match the body ({})",
                e.message()
            ))
        })?;
    }
    // Content-Type against the body's mediaType (and the descriptor's, when fetched by one).
    let parsed = parse_manifest_or_index(&bytes, content_type.as_deref())
        .map_err(|e| bad(e.message().to_string()))?;
    let media_type = match &parsed {
        Parsed::Index(i) => i.media_type.clone().unwrap_or(MediaType::OciIndex),
        Parsed::Manifest(m) => m.media_type.clone().unwrap_or(MediaType::OciManifest),
    };
    if let Some(want) = expected {
        if (want.media_type.is_index() || want.media_type.is_manifest())
            && want.media_type.is_index() != media_type.is_index()
        {
            return Err(bad(format!(
                "descriptor says {} but the registry served {}",
                want.media_type.as_str(),
                media_type.as_str()
            )));
        }
    }
    Ok(FetchedManifest {
        bytes,
        digest,
        parsed,
        media_type,
    })
}

/// Pulls `reference` for `platform` into the OCI layout `cache_dir` (created if missing; shared
/// by pulls: blobs already present and valid are not downloaded again) and tags the platform
/// manifest in its index.json.
pub fn pull(
    client: &Client,
    reference: &Reference,
    platform: &Platform,
    cache_dir: &Path,
    progress: &dyn Progress,
) -> Result<Pulled> {
    client.check_reference(reference)?;
    let repository = reference.repository.as_str();
    let scope = reference.pull_scope();
    let top = get_manifest(client, repository, &reference.reference(), None, &scope)?;
    // Pulled by digest: the body must have it (its size is not known in advance).
    if let Some(want) = &reference.digest {
        want.verify(&top.bytes).map_err(|e| {
            client.err(
                ErrorKind::InvalidData,
                format!("manifest {reference}: {}", e.message()),
            )
        })?;
    }
    let resolved_digest = match &reference.digest {
        Some(d) => d.clone(),
        None => top.digest.clone(),
    };

    // Walk indexes down to the platform's manifest.
    let mut current = top;
    let mut chosen_platform = None;
    let mut depth = 0;
    let manifest: Manifest = loop {
        match current.parsed {
            Parsed::Manifest(m) => break m,
            Parsed::Index(index) => {
                depth += 1;
                if depth > MAX_INDEX_DEPTH {
                    return Err(client.err(
                        ErrorKind::InvalidData,
                        format!("{reference}: indexes nested deeper than {MAX_INDEX_DEPTH}"),
                    ));
                }
                let entry = index
                    .select(platform)
                    .map_err(|e| {
                        client.err(ErrorKind::NotFound, format!("{reference}: {}", e.message()))
                    })?
                    .clone();
                if entry.platform.is_some() {
                    chosen_platform = entry.platform.clone();
                }
                let digest = entry.digest.to_string();
                current = get_manifest(client, repository, &digest, Some(&entry), &scope)?;
            }
        }
    };
    let manifest_digest = current.digest.clone();
    let manifest_bytes = current.bytes;
    let media_type = current.media_type;
    check_manifest(client, reference, &manifest)?;

    layout::ensure(cache_dir)?;
    let mut blobs: Vec<Descriptor> = Vec::with_capacity(manifest.layers.len() + 1);
    let config = manifest.config.clone();
    for d in std::iter::once(&config).chain(&manifest.layers) {
        if !blobs.iter().any(|b| b.digest == d.digest) {
            blobs.push(d.clone());
        }
    }
    // A config carried inline needs no download.
    if let Ok(Some(data)) = config.verify_inline() {
        blob::store_bytes(cache_dir, &config, data)?;
    }
    let total: u64 = blobs.iter().map(|b| b.size).sum();
    progress.begin(&format!("pull {reference}"), Some(total));
    let outcome = download_all(client, repository, &scope, cache_dir, &blobs, progress);
    progress.finish();
    let (received, reused, downloaded) = outcome?;

    // The config decides the platform recorded (and must fit the one asked for).
    let config_path = blob::blob_file(cache_dir, &config.digest);
    let config_bytes = read_small(&config_path)?;
    let image_config = ImageConfig::parse(&config_bytes).map_err(|e| {
        client.err(
            ErrorKind::InvalidData,
            format!("{reference}: image config: {}", e.message()),
        )
    })?;
    let mut image_platform = image_config.platform();
    if let Some(p) = &chosen_platform {
        image_platform.variant = image_platform.variant.or(p.variant.clone());
        image_platform.os_version = p.os_version.clone();
    }
    if !image_platform.matches(platform) {
        return Err(client.err(
            ErrorKind::NotFound,
            format!("{reference} is an image for {image_platform}, not for {platform}"),
        ));
    }

    let manifest_desc = {
        let mut d = Descriptor::new(
            media_type.clone(),
            manifest_digest.clone(),
            manifest_bytes.len() as u64,
        );
        d.platform = Some(chosen_platform.unwrap_or(image_platform));
        d
    };
    blob::store_bytes(cache_dir, &manifest_desc, &manifest_bytes)?;
    let tag = format!(
        "{}/{}@{}",
        reference.registry, reference.repository, manifest_digest
    );
    layout::tag(cache_dir, &tag, &manifest_desc)?;
    Ok(Pulled {
        layout: cache_dir.to_path_buf(),
        tag,
        manifest_digest,
        resolved_digest,
        media_type,
        downloaded_bytes: received,
        reused_blobs: reused,
        downloaded_blobs: downloaded,
    })
}

/// Config and layer media types this client knows how to store for an importer; anything else
/// (artifacts, unknown layer types) is refused, never skipped.
fn check_manifest(client: &Client, reference: &Reference, m: &Manifest) -> Result<()> {
    let bad = |msg: String| client.err(ErrorKind::InvalidData, format!("{reference}: {msg}"));
    if !m.config.media_type.is_config() {
        return Err(bad(format!(
            "not a container image: config media type {}",
            m.config.media_type.as_str()
        )));
    }
    if m.layers.len() > MAX_LAYERS {
        return Err(bad(format!(
            "{} layers, more than {MAX_LAYERS}",
            m.layers.len()
        )));
    }
    if let Some(l) = m.layers.iter().find(|l| !l.media_type.is_layer()) {
        return Err(bad(format!(
            "unsupported layer media type {} ({})",
            l.media_type.as_str(),
            l.digest
        )));
    }
    Ok(())
}

/// Downloads `blobs` with `client.opts.parallel` threads; the first failure stops the others.
/// Returns (bytes received, blobs reused, blobs downloaded).
fn download_all(
    client: &Client,
    repository: &str,
    scope: &str,
    cache: &Path,
    blobs: &[Descriptor],
    progress: &dyn Progress,
) -> Result<(u64, usize, usize)> {
    let abort = AtomicBool::new(false);
    let received = AtomicU64::new(0);
    let job = Job {
        client,
        repository,
        scope,
        cache,
        progress,
        abort: &abort,
        received: &received,
    };
    let next = AtomicU64::new(0);
    let results: Mutex<Vec<Result<Fetched>>> = Mutex::new(Vec::new());
    let workers = client.opts.parallel.clamp(1, 16).min(blobs.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(desc) = blobs.get(i) else { break };
                if abort.load(Ordering::Relaxed) {
                    break;
                }
                let r = blob::fetch(&job, desc);
                if r.is_err() {
                    abort.store(true, Ordering::Relaxed);
                }
                results.lock().unwrap_or_else(|p| p.into_inner()).push(r);
            });
        }
    });
    let mut reused = 0;
    let mut downloaded = 0;
    let mut first_err: Option<Error> = None;
    for r in results.into_inner().unwrap_or_else(|p| p.into_inner()) {
        match r {
            Ok(Fetched::Reused) => reused += 1,
            Ok(Fetched::Downloaded(_)) => downloaded += 1,
            // Prefer the real cause over the "cancelled" of the threads it stopped.
            Err(e) => {
                let replace = match &first_err {
                    None => true,
                    Some(f) => f.kind == ErrorKind::Cancelled,
                };
                if replace {
                    first_err = Some(e);
                }
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    Ok((received.load(Ordering::Relaxed), reused, downloaded))
}

/// Reads a small file (a config) with the manifest size limit.
fn read_small(path: &Path) -> Result<Vec<u8>> {
    let f = std::fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut bytes = Vec::new();
    f.take(MAX_MANIFEST_SIZE as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("read", path, e))?;
    if bytes.len() > MAX_MANIFEST_SIZE {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("{}: larger than {MAX_MANIFEST_SIZE} bytes", path.display()),
        ));
    }
    Ok(bytes)
}
