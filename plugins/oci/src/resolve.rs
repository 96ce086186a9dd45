//! Finding the image in a layout: `index.json` (OCI layout, Docker ≥ 25 save) with nested
//! indexes, tags and platforms, or `manifest.json` (docker save v1.2 and skopeo's
//! docker-archive), down to the config and the ordered list of layers.

use std::io;

use wharf_core::{Error, Result};
use wharf_oci_format::{
    self as oci, Descriptor, Digest, ImageConfig, Index, Manifest, MediaType, Parsed, Platform,
};

use crate::source::Source;

/// How deep indexes may nest.
const MAX_NESTING: usize = 8;

/// One layer to apply.
#[derive(Debug, Clone)]
pub struct LayerRef {
    /// Path of the blob inside the source.
    pub path: String,
    /// Digest and size of the stored (possibly compressed) blob, when the format records them
    /// (OCI layouts); docker save's `layer.tar` files are identified by their DiffID only.
    pub digest: Option<Digest>,
    pub size: Option<u64>,
    pub media_type: Option<MediaType>,
    /// Digest of the uncompressed tar stream (from the config's `rootfs.diff_ids`).
    pub diff_id: Digest,
}

/// An image found in a layout.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Digest of the manifest (OCI layouts only).
    pub manifest_digest: Option<Digest>,
    /// The tag it was chosen by, if any.
    pub tag: Option<String>,
    pub config_digest: Option<Digest>,
    /// The config exactly as stored.
    pub config_bytes: Vec<u8>,
    pub config: ImageConfig,
    pub layers: Vec<LayerRef>,
}

/// What to pick from a layout.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    /// `--ref`: a tag (`org.opencontainers.image.ref.name`, or a docker save RepoTag, matched
    /// in full or by its tag part).
    pub tag: Option<String>,
    /// `--platform`; the host's platform when absent.
    pub platform: Option<Platform>,
}

impl Selector {
    fn platform(&self) -> Platform {
        self.platform.clone().unwrap_or_else(Platform::host)
    }
}

fn invalid(src: &dyn Source, what: impl std::fmt::Display) -> Error {
    Error::InvalidData(format!("{}: {what}", src.describe()))
}

fn read(src: &dyn Source, path: &str) -> Result<Vec<u8>> {
    src.read_small(path).map_err(|e| invalid(src, e))
}

/// Read a blob named by a descriptor (or its inline data) and check size and digest.
pub fn read_blob(src: &dyn Source, d: &Descriptor) -> Result<Vec<u8>> {
    if let Some(data) = d.verify_inline().map_err(|e| invalid(src, e))? {
        return Ok(data.to_vec());
    }
    let path = oci::blob_path(&d.digest);
    let bytes = read(src, &path)?;
    if bytes.len() as u64 != d.size {
        return Err(invalid(
            src,
            format!(
                "{path}: size {} differs from the descriptor's {}",
                bytes.len(),
                d.size
            ),
        ));
    }
    let got = Digest::sha256(&bytes);
    if d.digest.algorithm == got.algorithm && got != d.digest {
        return Err(invalid(
            src,
            format!("{path}: digest is {got}, expected {}", d.digest),
        ));
    }
    if d.digest.algorithm != got.algorithm {
        let mut h = d.digest.hasher();
        h.update(&bytes);
        let got = h.finish();
        if got != d.digest {
            return Err(invalid(
                src,
                format!("{path}: digest is {got}, expected {}", d.digest),
            ));
        }
    }
    Ok(bytes)
}

/// Find the image in `src` chosen by `sel`.
pub fn resolve(src: &dyn Source, sel: &Selector) -> Result<Resolved> {
    if src.exists("index.json") {
        if src.exists("oci-layout") {
            let header = read(src, "oci-layout")?;
            oci::check_oci_layout(&header).map_err(|e| invalid(src, e))?;
        }
        return resolve_index(src, sel);
    }
    if src.exists("manifest.json") {
        return resolve_docker_save(src, sel);
    }
    Err(invalid(
        src,
        "neither an OCI image layout (index.json) nor a docker save archive (manifest.json)",
    ))
}

fn resolve_index(src: &dyn Source, sel: &Selector) -> Result<Resolved> {
    let index = Index::parse(&read(src, "index.json")?).map_err(|e| invalid(src, e))?;
    let top = pick_tagged(src, &index, sel)?;
    let platform = sel.platform();
    let mut desc = top;
    for _ in 0..MAX_NESTING {
        if desc.media_type.is_index() {
            let bytes = read_blob(src, &desc)?;
            let nested = Index::parse(&bytes).map_err(|e| invalid(src, e))?;
            desc = nested
                .select(&platform)
                .map_err(|e| invalid(src, e))?
                .clone();
            continue;
        }
        let bytes = read_blob(src, &desc)?;
        let parsed = oci::parse_manifest_or_index(&bytes, Some(desc.media_type.as_str()))
            .map_err(|e| invalid(src, e))?;
        match parsed {
            Parsed::Index(nested) => {
                desc = nested
                    .select(&platform)
                    .map_err(|e| invalid(src, e))?
                    .clone();
            }
            Parsed::Manifest(m) => {
                return from_manifest(src, &m, desc.digest.clone(), sel);
            }
        }
    }
    Err(invalid(src, "indexes nest too deeply"))
}

/// The top-level descriptor: the one tagged `sel.tag`, else the only image, else the one for
/// the platform when the index lists platform manifests directly.
fn pick_tagged(src: &dyn Source, index: &Index, sel: &Selector) -> Result<Descriptor> {
    let candidates: Vec<&Descriptor> = index
        .manifests
        .iter()
        .filter(|d| !d.is_attestation())
        .collect();
    if let Some(tag) = &sel.tag {
        let found = index.find_ref(tag);
        return match found.as_slice() {
            [] => {
                let tags: Vec<&str> = candidates.iter().filter_map(|d| d.ref_name()).collect();
                Err(Error::NotFound(format!(
                    "{tag} in {} (tags: {})",
                    src.describe(),
                    if tags.is_empty() {
                        "none".to_string()
                    } else {
                        tags.join(", ")
                    }
                )))
            }
            [d] => Ok((*d).clone()),
            many => {
                // Several entries with one tag: one per platform.
                let list = Index {
                    manifests: many.iter().map(|d| (*d).clone()).collect(),
                    ..index.clone()
                };
                Ok(list
                    .select(&sel.platform())
                    .map_err(|e| invalid(src, e))?
                    .clone())
            }
        };
    }
    let tags: std::collections::BTreeSet<&str> =
        candidates.iter().filter_map(|d| d.ref_name()).collect();
    if tags.len() > 1 {
        return Err(Error::InvalidArgument(format!(
            "{} holds several images; choose one with --ref (tags: {})",
            src.describe(),
            tags.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    match candidates.as_slice() {
        [] => Err(invalid(src, "index.json lists no image")),
        [d] => Ok((*d).clone()),
        _ => Ok(index
            .select(&sel.platform())
            .map_err(|e| invalid(src, e))?
            .clone()),
    }
}

fn from_manifest(
    src: &dyn Source,
    m: &Manifest,
    manifest_digest: Digest,
    sel: &Selector,
) -> Result<Resolved> {
    let config_bytes = read_blob(src, &m.config)?;
    let config = ImageConfig::parse(&config_bytes).map_err(|e| invalid(src, e))?;
    check_platform(src, &config, sel)?;
    if config.rootfs.diff_ids.len() != m.layers.len() {
        return Err(invalid(
            src,
            format!(
                "the manifest lists {} layers but the config {} DiffIDs",
                m.layers.len(),
                config.rootfs.diff_ids.len()
            ),
        ));
    }
    let layers = m
        .layers
        .iter()
        .zip(&config.rootfs.diff_ids)
        .map(|(d, diff)| {
            if !d.media_type.is_layer() {
                return Err(invalid(
                    src,
                    format!("unsupported layer media type {}", d.media_type.as_str()),
                ));
            }
            Ok(LayerRef {
                path: oci::blob_path(&d.digest),
                digest: Some(d.digest.clone()),
                size: Some(d.size),
                media_type: Some(d.media_type.clone()),
                diff_id: diff.clone(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Resolved {
        manifest_digest: Some(manifest_digest),
        tag: sel.tag.clone(),
        config_digest: Some(m.config.digest.clone()),
        config_bytes,
        config,
        layers,
    })
}

/// The image must be for the requested (or the host's) platform.
fn check_platform(src: &dyn Source, config: &ImageConfig, sel: &Selector) -> Result<()> {
    let have = config.platform();
    let want = sel.platform();
    if !have.matches(&want) {
        return Err(Error::InvalidData(format!(
            "{}: the image is for {have}, not {want}{}",
            src.describe(),
            if sel.platform.is_none() {
                " (this host); choose another with --platform"
            } else {
                ""
            }
        )));
    }
    Ok(())
}

fn resolve_docker_save(src: &dyn Source, sel: &Selector) -> Result<Resolved> {
    let images = oci::parse_docker_archive_manifest(&read(src, "manifest.json")?)
        .map_err(|e| invalid(src, e))?;
    let image = match (&sel.tag, images.as_slice()) {
        (_, []) => return Err(invalid(src, "manifest.json lists no image")),
        (None, [one]) => one,
        (None, many) => {
            let tags: Vec<String> = many.iter().flat_map(|i| i.repo_tags.clone()).collect();
            return Err(Error::InvalidArgument(format!(
                "{} holds {} images; choose one with --ref (tags: {})",
                src.describe(),
                many.len(),
                tags.join(", ")
            )));
        }
        (Some(tag), many) => many
            .iter()
            .find(|i| i.repo_tags.iter().any(|t| tag_matches(t, tag)))
            .ok_or_else(|| Error::NotFound(format!("{tag} in {}", src.describe())))?,
    };
    let config_bytes = read(src, &image.config)?;
    let config = ImageConfig::parse(&config_bytes).map_err(|e| invalid(src, e))?;
    check_platform(src, &config, sel)?;
    if config.rootfs.diff_ids.len() != image.layers.len() {
        return Err(invalid(
            src,
            format!(
                "manifest.json lists {} layers but the config {} DiffIDs",
                image.layers.len(),
                config.rootfs.diff_ids.len()
            ),
        ));
    }
    let layers = image
        .layers
        .iter()
        .zip(&config.rootfs.diff_ids)
        .map(|(path, diff)| {
            // Docker ≥ 25 stores layers as OCI blobs: their name is their digest.
            let digest = path
                .strip_prefix("blobs/sha256/")
                .and_then(|hex| Digest::parse(&format!("sha256:{hex}")).ok());
            if let Some(foreign) = image.layer_sources.get(&diff.to_string()) {
                if !src.exists(path) {
                    return Err(invalid(
                        src,
                        format!(
                            "layer {diff} is a foreign layer ({}) that is not in the archive",
                            foreign.media_type.as_str()
                        ),
                    ));
                }
            }
            Ok(LayerRef {
                path: path.clone(),
                digest,
                size: None,
                media_type: None,
                diff_id: diff.clone(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    // The config's name is its digest in every docker save variant; check it when it is.
    let config_digest = config_digest_from_name(&image.config);
    if let Some(d) = &config_digest {
        let got = Digest::sha256(&config_bytes);
        if d.algorithm == got.algorithm && &got != d {
            return Err(invalid(
                src,
                format!("{}: digest is {got}, expected {d}", image.config),
            ));
        }
    }
    Ok(Resolved {
        manifest_digest: None,
        tag: sel.tag.clone().or_else(|| image.repo_tags.first().cloned()),
        config_digest,
        config_bytes,
        config,
        layers,
    })
}

fn config_digest_from_name(name: &str) -> Option<Digest> {
    let base = name.rsplit('/').next()?;
    let hex = base.strip_suffix(".json").unwrap_or(base);
    Digest::parse(&format!("sha256:{hex}")).ok()
}

/// `docker.io/library/debian:12` matches `debian:12`, `library/debian:12` and itself.
fn tag_matches(repo_tag: &str, wanted: &str) -> bool {
    repo_tag == wanted
        || repo_tag.ends_with(&format!("/{wanted}"))
        || repo_tag.rsplit_once(':').map(|(_, t)| t) == Some(wanted)
}

/// Convert an I/O error reading `what` into the core's error.
pub fn io_error(src: &dyn Source, what: &str, e: io::Error) -> Error {
    invalid(src, format!("{what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_tags_match_short_forms() {
        assert!(tag_matches("docker.io/library/debian:12", "debian:12"));
        assert!(tag_matches("docker.io/library/debian:12", "12"));
        assert!(tag_matches("debian:12", "debian:12"));
        assert!(!tag_matches("debian:12", "debian:11"));
    }

    #[test]
    fn config_names_carry_digests() {
        let hex = "a".repeat(64);
        assert!(config_digest_from_name(&format!("{hex}.json")).is_some());
        assert!(config_digest_from_name(&format!("blobs/sha256/{hex}")).is_some());
        assert!(config_digest_from_name("config.json").is_none());
    }
}
