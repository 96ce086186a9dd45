//! On-disk layouts: the OCI image layout (`oci-layout`, `blobs/<alg>/<hex>`) and the
//! `manifest.json` of a `docker save` / docker-archive tarball.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{from_json, from_json_array, Error, ErrorKind};
use crate::{nullable, nullable_required, Descriptor, Digest};

/// the `oci-layout` file wharf writes
pub const OCI_LAYOUT_JSON: &str = "{\"imageLayoutVersion\":\"1.0.0\"}";

/// The `oci-layout` file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayoutHeader {
    pub image_layout_version: String,
}

impl LayoutHeader {
    /// parses `oci-layout`; the version must be 1.x (`1.0.0` today).
    pub fn parse(bytes: &[u8]) -> Result<LayoutHeader, Error> {
        let h: LayoutHeader = from_json("oci-layout", bytes).map_err(|e| match e.kind {
            ErrorKind::TooLarge => e,
            _ => Error::new(ErrorKind::InvalidLayout, e.message()),
        })?;
        let v = &h.image_layout_version;
        let mut parts = v.split('.');
        let major_is_1 = parts.next() == Some("1");
        let rest_numeric = parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if !major_is_1 || !rest_numeric {
            let shown: String = v.chars().take(40).collect();
            return Err(Error::new(
                ErrorKind::InvalidLayout,
                format!("oci-layout has imageLayoutVersion {shown:?}, only 1.x is supported"),
            ));
        }
        Ok(h)
    }
}

/// checks an `oci-layout` file (imageLayoutVersion 1.x).
pub fn check_oci_layout(bytes: &[u8]) -> Result<(), Error> {
    LayoutHeader::parse(bytes).map(|_| ())
}

/// `blobs/<alg>/<hex>`, the path of a blob inside an OCI layout (safe: digests are validated)
pub fn blob_path(d: &Digest) -> String {
    format!("blobs/{}/{}", d.algorithm, d.hex)
}

/// One image of a docker-archive `manifest.json`. Paths are relative to the archive root and
/// checked: no leading `/`, no `..`, not empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerArchiveImage {
    /// the config file (`<hex>.json`, or `blobs/sha256/<hex>` from Docker ≥ 25)
    pub config: String,
    pub repo_tags: Vec<String>,
    /// the layer tars, first to apply first (`<id>/layer.tar`, `<hex>.tar`,
    /// `blobs/sha256/<hex>`); compression must be sniffed, not guessed from the name
    pub layers: Vec<String>,
    pub parent: Option<String>,
    /// DiffID (as written) → descriptor, for foreign layers and from Docker ≥ 25 for all
    pub layer_sources: BTreeMap<String, Descriptor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ArchiveWire {
    config: String,
    #[serde(default, deserialize_with = "nullable")]
    repo_tags: Vec<String>,
    #[serde(deserialize_with = "nullable_required")]
    layers: Vec<String>,
    #[serde(default)]
    parent: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    layer_sources: BTreeMap<String, Descriptor>,
}

/// checks a path named by `manifest.json` is relative and stays inside the archive.
pub fn check_archive_path(what: &str, path: &str) -> Result<(), Error> {
    let shown: String = path.chars().take(120).collect();
    let why = if path.is_empty() {
        Some("it is empty")
    } else if path.starts_with('/') {
        Some("it is absolute")
    } else if path.contains('\0') {
        Some("it contains a NUL byte")
    } else if path.split('/').any(|c| c == "..") {
        Some("it contains \"..\"")
    } else if path.split('/').all(|c| c.is_empty() || c == ".") {
        Some("it names the archive root")
    } else {
        None
    };
    match why {
        Some(why) => Err(Error::new(
            ErrorKind::InvalidLayout,
            format!("docker archive manifest.json: {what} path {shown:?} refused: {why}"),
        )),
        None => Ok(()),
    }
}

/// parses a docker-archive `manifest.json` (legacy `docker save`, skopeo, Docker ≥ 25): one
/// entry per image; every path checked with [`check_archive_path`]; `LayerSources` keys must
/// be digests. An empty list is refused.
pub fn parse_docker_archive_manifest(bytes: &[u8]) -> Result<Vec<DockerArchiveImage>, Error> {
    let wire: Vec<ArchiveWire> = from_json_array("docker archive manifest.json", bytes)?;
    if wire.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidLayout,
            "docker archive manifest.json lists no images",
        ));
    }
    wire.into_iter()
        .enumerate()
        .map(|(i, w)| {
            check_archive_path(&format!("image {i} config"), &w.config)?;
            for (n, l) in w.layers.iter().enumerate() {
                check_archive_path(&format!("image {i} layer {n}"), l)?;
            }
            for key in w.layer_sources.keys() {
                Digest::parse(key).map_err(|e| {
                    Error::new(
                        ErrorKind::InvalidLayout,
                        format!("docker archive manifest.json: image {i} LayerSources key: {e}"),
                    )
                })?;
            }
            Ok(DockerArchiveImage {
                config: w.config,
                repo_tags: w.repo_tags,
                layers: w.layers,
                parent: w.parent.filter(|p| !p.is_empty()),
                layer_sources: w.layer_sources,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_versions() {
        check_oci_layout(OCI_LAYOUT_JSON.as_bytes()).unwrap();
        check_oci_layout(br#"{"imageLayoutVersion":"1.1.0"}"#).unwrap();
        for bad in [
            &br#"{"imageLayoutVersion":"2.0.0"}"#[..],
            br#"{"imageLayoutVersion":"1.0.x"}"#,
            br#"{"imageLayoutVersion":"10.0.0"}"#,
            br#"{"imageLayoutVersion":""}"#,
            br#"{}"#,
            b"not json",
        ] {
            assert_eq!(
                check_oci_layout(bad).unwrap_err().kind,
                ErrorKind::InvalidLayout
            );
        }
    }

    #[test]
    fn blob_paths() {
        let d = Digest::sha256(b"");
        assert_eq!(
            blob_path(&d),
            "blobs/sha256/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn archive_paths_stay_inside() {
        for ok in [
            "a.json",
            "abc/layer.tar",
            "blobs/sha256/ab",
            "./x.tar",
            "a..b/c",
        ] {
            check_archive_path("layer", ok).unwrap();
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/..",
            ".",
            "./",
            "a\0b",
            "//x",
        ] {
            let e = check_archive_path("layer", bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidLayout, "{bad}");
        }
    }
}
