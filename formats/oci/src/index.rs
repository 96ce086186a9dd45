//! Image indexes (OCI index, Docker manifest list, an OCI layout's index.json) and the choice
//! of the entry for a platform.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::descriptor::ANNOTATION_CONTAINERD_NAME;
use crate::error::{from_json, Error, ErrorKind};
use crate::{nullable, nullable_required, Descriptor, MediaType, Platform};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<MediaType>,
    /// required; `null` (moby#47210) reads as empty
    #[serde(deserialize_with = "nullable_required")]
    pub manifests: Vec<Descriptor>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
}

impl Index {
    /// an empty OCI index (schemaVersion 2, no mediaType, as umoci writes index.json)
    pub fn new() -> Index {
        Index {
            schema_version: 2,
            media_type: None,
            manifests: Vec::new(),
            annotations: BTreeMap::new(),
        }
    }

    /// parses an index: schemaVersion 2; a `mediaType`, if present, must be an index type.
    /// Entries of unknown media types are kept (the image-spec says they are not an error).
    pub fn parse(bytes: &[u8]) -> Result<Index, Error> {
        let index: Index = from_json("image index", bytes)?;
        if index.schema_version != 2 {
            return Err(Error::new(
                ErrorKind::UnsupportedSchema,
                format!(
                    "image index has schemaVersion {}, only 2 is supported",
                    index.schema_version
                ),
            ));
        }
        if let Some(mt) = &index.media_type {
            if !mt.is_index() {
                return Err(Error::new(
                    ErrorKind::UnsupportedMediaType,
                    format!("image index declares mediaType {mt}, which is not an index type"),
                ));
            }
        }
        Ok(index)
    }

    /// compact JSON, fields in spec order, maps sorted
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an index always serialises")
    }

    /// the manifest (or nested index) for `wanted`: attestations and entries that are neither
    /// manifests nor indexes are skipped; the first entry whose platform
    /// [matches](Platform::matches) wins; an entry without a platform is taken only when it is
    /// the only candidate. Otherwise NoMatchingPlatform, listing what there is.
    pub fn select(&self, wanted: &Platform) -> Result<&Descriptor, Error> {
        let candidates: Vec<&Descriptor> = self
            .manifests
            .iter()
            .filter(|d| {
                !d.is_attestation() && (d.media_type.is_manifest() || d.media_type.is_index())
            })
            .collect();
        if let [only] = candidates[..] {
            if only.platform.is_none() {
                return Ok(only);
            }
        }
        if let Some(d) = candidates
            .iter()
            .find(|d| d.platform.as_ref().is_some_and(|p| p.matches(wanted)))
        {
            return Ok(d);
        }
        let available: Vec<String> = candidates
            .iter()
            .map(|d| match &d.platform {
                Some(p) => p.to_string(),
                None => format!("{} without platform", d.digest),
            })
            .collect();
        let available = if available.is_empty() {
            "no image manifests at all".to_string()
        } else {
            format!("available: {}", available.join(", "))
        };
        Err(Error::new(
            ErrorKind::NoMatchingPlatform,
            format!("image index has no manifest for platform {wanted} ({available})"),
        ))
    }

    /// the entries tagged `tag`: `org.opencontainers.image.ref.name` equal to it, or (Docker
    /// ≥ 25, containerd) `io.containerd.image.name` equal to it as a full name.
    pub fn find_ref(&self, tag: &str) -> Vec<&Descriptor> {
        self.manifests
            .iter()
            .filter(|d| {
                d.ref_name() == Some(tag)
                    || d.annotations
                        .get(ANNOTATION_CONTAINERD_NAME)
                        .map(String::as_str)
                        == Some(tag)
            })
            .collect()
    }
}

impl Default for Index {
    fn default() -> Index {
        Index::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::descriptor::{ANNOTATION_DOCKER_REFERENCE_TYPE, ANNOTATION_REF_NAME};
    use crate::Digest;

    fn entry(mt: MediaType, platform: Option<&str>, seed: &str) -> Descriptor {
        let mut d = Descriptor::of(mt, seed.as_bytes());
        d.platform = platform.map(|p| Platform::parse(p).unwrap());
        d
    }

    fn p(s: &str) -> Platform {
        Platform::parse(s).unwrap()
    }

    fn docker_hub_like() -> Index {
        let mut att = entry(MediaType::OciManifest, Some("unknown/unknown"), "att");
        att.annotations.insert(
            ANNOTATION_DOCKER_REFERENCE_TYPE.into(),
            "attestation-manifest".into(),
        );
        let mut idx = Index::new();
        idx.media_type = Some(MediaType::OciIndex);
        idx.manifests = vec![
            att,
            entry(MediaType::OciManifest, Some("linux/amd64"), "amd64"),
            entry(MediaType::OciManifest, Some("linux/arm/v6"), "armv6"),
            entry(MediaType::OciManifest, Some("linux/arm/v7"), "armv7"),
            entry(MediaType::OciManifest, Some("linux/arm64/v8"), "arm64"),
            entry(MediaType::OciIndex, Some("linux/s390x"), "s390x-nested"),
            entry(
                MediaType::Other("application/x-sig".into()),
                Some("linux/ppc64le"),
                "sig",
            ),
        ];
        idx
    }

    #[test]
    fn select_by_platform() {
        let idx = docker_hub_like();
        let pick = |s: &str| idx.select(&p(s)).map(|d| d.digest.clone());
        assert_eq!(pick("linux/amd64").unwrap(), Digest::sha256(b"amd64"));
        assert_eq!(pick("linux/arm/v7").unwrap(), Digest::sha256(b"armv7"));
        assert_eq!(pick("linux/arm").unwrap(), Digest::sha256(b"armv6"));
        assert_eq!(pick("linux/arm64").unwrap(), Digest::sha256(b"arm64"));
        assert_eq!(pick("linux/arm64/v8").unwrap(), Digest::sha256(b"arm64"));
        assert_eq!(
            pick("linux/s390x").unwrap(),
            Digest::sha256(b"s390x-nested")
        );
        let err = pick("linux/ppc64le").unwrap_err();
        assert_eq!(err.kind, ErrorKind::NoMatchingPlatform);
        assert_eq!(
            err.to_string(),
            "image index has no manifest for platform linux/ppc64le (available: linux/amd64, \
             linux/arm/v6, linux/arm/v7, linux/arm64/v8, linux/s390x)"
        );
        assert!(
            pick("unknown/unknown").is_err(),
            "attestations are never chosen"
        );
        assert!(pick("linux/arm/v5").is_err());
    }

    #[test]
    fn entries_without_platform() {
        let mut idx = Index::new();
        idx.manifests = vec![entry(MediaType::OciManifest, None, "only")];
        assert_eq!(
            idx.select(&p("linux/riscv64")).unwrap().digest,
            Digest::sha256(b"only")
        );
        // an attestation next to it does not count
        let mut att = entry(MediaType::OciManifest, None, "att");
        att.annotations.insert(
            ANNOTATION_DOCKER_REFERENCE_TYPE.into(),
            "attestation-manifest".into(),
        );
        idx.manifests.push(att);
        assert_eq!(
            idx.select(&p("linux/riscv64")).unwrap().digest,
            Digest::sha256(b"only")
        );
        // two without platform: ambiguous
        idx.manifests
            .push(entry(MediaType::DockerManifest, None, "two"));
        let err = idx.select(&p("linux/amd64")).unwrap_err();
        assert!(err.to_string().contains("without platform"), "{err}");
        // empty index
        let err = Index::new().select(&p("linux/amd64")).unwrap_err();
        assert!(
            err.to_string().contains("no image manifests at all"),
            "{err}"
        );
    }

    #[test]
    fn find_ref_by_tag_or_containerd_name() {
        let mut idx = Index::new();
        let mut a = entry(MediaType::OciManifest, None, "a");
        a.annotations
            .insert(ANNOTATION_REF_NAME.into(), "latest".into());
        a.annotations.insert(
            ANNOTATION_CONTAINERD_NAME.into(),
            "docker.io/library/busybox:latest".into(),
        );
        let mut b = entry(MediaType::OciManifest, None, "b");
        b.annotations
            .insert(ANNOTATION_REF_NAME.into(), "v1".into());
        let mut c = a.clone();
        c.digest = Digest::sha256(b"c");
        idx.manifests = vec![a, b, c];
        assert_eq!(idx.find_ref("latest").len(), 2);
        assert_eq!(idx.find_ref("docker.io/library/busybox:latest").len(), 2);
        assert_eq!(idx.find_ref("v1")[0].digest, Digest::sha256(b"b"));
        assert!(idx.find_ref("v2").is_empty());
    }

    #[test]
    fn parse_checks_schema_and_type() {
        let idx = docker_hub_like();
        let json = idx.to_json();
        assert_eq!(Index::parse(&json).unwrap(), idx);
        assert!(std::str::from_utf8(&json)
            .unwrap()
            .starts_with(r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"#));

        let null = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":null}"#;
        assert!(Index::parse(null).unwrap().manifests.is_empty());
        assert_eq!(
            Index::new().to_json(),
            br#"{"schemaVersion":2,"manifests":[]}"#
        );

        let e = Index::parse(br#"{"schemaVersion":2}"#).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Json);
        assert!(
            e.to_string()
                .starts_with("invalid image index: missing field `manifests`"),
            "{e}"
        );
        let e = Index::parse(br#"{"schemaVersion":1,"manifests":[]}"#).unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnsupportedSchema);
        let e = Index::parse(
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","manifests":[]}"#,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnsupportedMediaType);
    }
}
