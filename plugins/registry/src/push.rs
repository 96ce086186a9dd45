//! `push`: an image tagged in an OCI layout → a registry. Blobs first (HEAD to skip what the
//! registry has, else POST + PUT for small blobs or POST + PATCH chunks + PUT), then manifests
//! (an index's children by digest before the index), each PUT with its own media type and the
//! exact bytes of the layout, so digests do not change.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION};
use reqwest::{Method, StatusCode};
use url::Url;
use wharf_core::Progress;
use wharf_oci_format::{Descriptor, Digest, MediaType, Reference, MAX_MANIFEST_SIZE};

use crate::blob::blob_file;
use crate::client::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::layout;

/// Blobs up to this size go in one PUT; larger ones in PATCH chunks of this size.
const CHUNK: u64 = 16 << 20;

/// Pushes the image tagged `tag` in the OCI layout `layout` to `reference` (its tag, else its
/// digest, else `latest`). Returns the digest of the pushed manifest or index.
pub fn push(
    client: &Client,
    layout_dir: &Path,
    tag: &str,
    reference: &Reference,
    progress: &dyn Progress,
) -> Result<Digest> {
    client.check_reference(reference)?;
    let index = layout::read_index(layout_dir)?.ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "{}: no index.json (not an OCI layout)",
                layout_dir.display()
            ),
        )
    })?;
    let found = index.find_ref(tag);
    let desc = match found[..] {
        [d] => d.clone(),
        [] => {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("{}: no image tagged {tag:?}", layout_dir.display()),
            ))
        }
        _ => {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("{}: several images tagged {tag:?}", layout_dir.display()),
            ))
        }
    };
    if let Some(d) = &reference.digest {
        if d != &desc.digest {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "{reference}: the image tagged {tag:?} has digest {}",
                    desc.digest
                ),
            ));
        }
    }
    let target = match (&reference.tag, &reference.digest) {
        (Some(t), _) => t.clone(),
        (None, Some(d)) => d.to_string(),
        (None, None) => "latest".to_string(),
    };
    let p = Pusher {
        client,
        layout: layout_dir,
        repository: &reference.repository,
        scope: format!("repository:{}:pull,push", reference.repository),
        progress,
    };
    progress.begin(&format!("push {reference}"), None);
    let r = p.push_manifest(&desc, &target, 0);
    progress.finish();
    r?;
    Ok(desc.digest)
}

struct Pusher<'a> {
    client: &'a Client,
    layout: &'a Path,
    repository: &'a str,
    scope: String,
    progress: &'a dyn Progress,
}

impl Pusher<'_> {
    fn blob_path(&self, d: &Descriptor) -> Result<std::path::PathBuf> {
        let path = blob_file(self.layout, &d.digest);
        let meta = std::fs::metadata(&path).map_err(|e| Error::io("stat", &path, e))?;
        if meta.len() != d.size {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!(
                    "{}: {} bytes, descriptor says {}",
                    path.display(),
                    meta.len(),
                    d.size
                ),
            ));
        }
        Ok(path)
    }

    fn push_manifest(&self, desc: &Descriptor, target: &str, depth: usize) -> Result<()> {
        if depth > 4 {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!("{}: indexes nested too deep", self.layout.display()),
            ));
        }
        if !(desc.media_type.is_index() || desc.media_type.is_manifest()) {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!(
                    "{}: {} is a {}, not an image manifest or index",
                    self.layout.display(),
                    desc.digest,
                    desc.media_type.as_str()
                ),
            ));
        }
        if desc.size > MAX_MANIFEST_SIZE as u64 {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!(
                    "{}: manifest {} too large",
                    self.layout.display(),
                    desc.digest
                ),
            ));
        }
        let path = self.blob_path(desc)?;
        let bytes = std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
        let bad = |m: &str| Error::new(ErrorKind::InvalidData, format!("{}: {m}", path.display()));
        desc.verify(&bytes).map_err(|e| bad(e.message()))?;
        // Read leniently: artifacts (attestations, signatures) are pushed as they are, whatever
        // their layer types; only the references matter here.
        let refs = references(&bytes, desc.media_type.is_index()).map_err(|m| bad(&m))?;
        for child in &refs {
            if desc.media_type.is_index() {
                if child.media_type.is_index() || child.media_type.is_manifest() {
                    self.push_manifest(child, &child.digest.to_string(), depth + 1)?;
                }
            } else if !child.media_type.is_nondistributable() {
                // Nondistributable layers are not uploaded (image-spec: SHOULD NOT).
                self.push_blob(child)?;
            }
        }
        let url = self
            .client
            .url(&format!("{}/manifests/{target}", self.repository))?;
        let media_type = desc.media_type.as_str().to_string();
        let resp = self
            .client
            .request(Method::PUT, &url, Some(&self.scope), &|rb| {
                Ok(rb
                    .header(CONTENT_TYPE, media_type.as_str())
                    .body(bytes.clone()))
            })?;
        let what = format!("put manifest {}:{target}", self.repository);
        if !resp.status().is_success() {
            return Err(self.client.status_error(resp, &what));
        }
        if let Some(h) = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
        {
            if h.trim() != desc.digest.to_string() {
                return Err(self.client.err(
                    ErrorKind::InvalidData,
                    format!(
                        "{what}: registry stored digest {h}, expected {}",
                        desc.digest
                    ),
                ));
            }
        }
        Ok(())
    }

    fn push_blob(&self, d: &Descriptor) -> Result<()> {
        let client = self.client;
        self.client.check_cancel()?;
        let what = format!("blob {}", d.digest);
        let path = self.blob_path(d)?;
        let url = client.url(&format!("{}/blobs/{}", self.repository, d.digest))?;
        let resp = client.request(Method::HEAD, &url, Some(&self.scope), &|rb| Ok(rb))?;
        if resp.status() == StatusCode::OK {
            self.progress.advance(d.size);
            return Ok(());
        }
        if resp.status() != StatusCode::NOT_FOUND {
            return Err(client.status_error(resp, &format!("head {what}")));
        }
        let start = client.url(&format!("{}/blobs/uploads/", self.repository))?;
        let resp = client.request(Method::POST, &start, Some(&self.scope), &|rb| {
            Ok(rb.header(CONTENT_LENGTH, "0"))
        })?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(client.status_error(resp, &format!("start upload of {what}")));
        }
        let mut location = self.location(&start, &resp, &what)?;
        let mut file = File::open(&path).map_err(|e| Error::io("open", &path, e))?;
        let mut offset = 0u64;
        // Chunks for big blobs (progress between them); small ones go with the final PUT.
        while d.size - offset > CHUNK {
            client.check_cancel()?;
            let chunk = read_chunk(&mut file, &path, offset, CHUNK)?;
            let end = offset + chunk.len() as u64 - 1;
            let resp = client.request(Method::PATCH, &location, Some(&self.scope), &|rb| {
                Ok(rb
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .header(CONTENT_RANGE, format!("{offset}-{end}"))
                    .body(chunk.clone()))
            })?;
            if resp.status() != StatusCode::ACCEPTED {
                return Err(client.status_error(resp, &format!("upload {what}")));
            }
            location = self.location(&location, &resp, &what)?;
            offset = end + 1;
            self.progress.advance(chunk.len() as u64);
        }
        let rest = read_chunk(&mut file, &path, offset, d.size - offset)?;
        let mut put = location.clone();
        put.query_pairs_mut()
            .append_pair("digest", &d.digest.to_string());
        let resp = client.request(Method::PUT, &put, Some(&self.scope), &|rb| {
            Ok(rb
                .header(CONTENT_TYPE, "application/octet-stream")
                .body(rest.clone()))
        })?;
        if resp.status() != StatusCode::CREATED {
            return Err(client.status_error(resp, &format!("upload {what}")));
        }
        self.progress.advance(rest.len() as u64);
        Ok(())
    }

    /// The upload URL from a `Location:` header (relative to `base`).
    fn location(&self, base: &Url, resp: &reqwest::blocking::Response, what: &str) -> Result<Url> {
        resp.headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| base.join(l).ok())
            .ok_or_else(|| {
                self.client.err(
                    ErrorKind::InvalidData,
                    format!("upload of {what}: answer without a valid Location"),
                )
            })
    }
}

fn read_chunk(file: &mut File, path: &Path, offset: u64, len: u64) -> Result<Vec<u8>> {
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| Error::io("seek", path, e))?;
    let mut buf = Vec::with_capacity(len as usize);
    file.by_ref()
        .take(len)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io("read", path, e))?;
    if buf.len() as u64 != len {
        return Err(Error::new(
            ErrorKind::Io,
            format!("{}: shorter than its descriptor", path.display()),
        ));
    }
    Ok(buf)
}

/// The descriptors a manifest (config + layers) or an index (manifests) refers to: media type,
/// digest and size of each, nothing else checked.
fn references(bytes: &[u8], is_index: bool) -> std::result::Result<Vec<Descriptor>, String> {
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("invalid manifest: {e}"))?;
    let list: Vec<&serde_json::Value> = if is_index {
        v.get("manifests")
            .and_then(|m| m.as_array())
            .map(|a| a.iter().collect())
            .unwrap_or_default()
    } else {
        let layers = v.get("layers").and_then(|m| m.as_array());
        std::iter::once(v.get("config").ok_or("manifest without config")?)
            .chain(layers.into_iter().flatten())
            .collect()
    };
    list.into_iter()
        .map(|d| {
            let media_type =
                MediaType::parse(d.get("mediaType").and_then(|m| m.as_str()).unwrap_or(""));
            let digest = d
                .get("digest")
                .and_then(|m| m.as_str())
                .and_then(|s| Digest::parse(s).ok())
                .ok_or("descriptor without a valid digest")?;
            let size = d
                .get("size")
                .and_then(|m| m.as_u64())
                .ok_or("descriptor without a valid size")?;
            Ok(Descriptor::new(media_type, digest, size))
        })
        .collect()
}
