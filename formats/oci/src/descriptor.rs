//! Content descriptors: what a manifest or index points at.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, ErrorKind};
use crate::{nullable, Digest, MediaType, Platform};

/// annotation naming a tag in an OCI layout's index.json
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// annotation containerd/Docker ≥ 25 put on index.json entries: the full image name
pub const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";
/// annotation BuildKit puts on attestation manifests
pub const ANNOTATION_DOCKER_REFERENCE_TYPE: &str = "vnd.docker.reference.type";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: MediaType,
    pub digest: Digest,
    pub size: u64,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub urls: Vec<String>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// the decoded base64 `data` field (inline content)
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_data",
        deserialize_with = "de_data"
    )]
    pub data: Option<Vec<u8>>,
}

fn ser_data<S: Serializer>(data: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match data {
        Some(d) => s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(d)),
        None => s.serialize_none(),
    }
}

fn de_data<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
    let Some(s) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    base64::engine::general_purpose::STANDARD
        .decode(s.as_bytes())
        .map(Some)
        .map_err(|e| serde::de::Error::custom(format!("descriptor data is not base64: {e}")))
}

impl Descriptor {
    /// a descriptor with only the three required fields set
    pub fn new(media_type: MediaType, digest: Digest, size: u64) -> Descriptor {
        Descriptor {
            media_type,
            digest,
            size,
            urls: Vec::new(),
            annotations: BTreeMap::new(),
            platform: None,
            artifact_type: None,
            data: None,
        }
    }

    /// the descriptor of `bytes` (sha256)
    pub fn of(media_type: MediaType, bytes: &[u8]) -> Descriptor {
        Descriptor::new(media_type, Digest::sha256(bytes), bytes.len() as u64)
    }

    /// the `org.opencontainers.image.ref.name` annotation (the tag, in an OCI layout)
    pub fn ref_name(&self) -> Option<&str> {
        self.annotations
            .get(ANNOTATION_REF_NAME)
            .map(String::as_str)
    }

    /// attestation / provenance manifests (BuildKit): platform `unknown/unknown` or a
    /// `vnd.docker.reference.type` annotation. Never an image to run.
    pub fn is_attestation(&self) -> bool {
        self.platform.as_ref().is_some_and(Platform::is_unknown)
            || self
                .annotations
                .contains_key(ANNOTATION_DOCKER_REFERENCE_TYPE)
    }

    /// checks `content` against this descriptor: size first, then digest.
    pub fn verify(&self, content: &[u8]) -> Result<(), Error> {
        if content.len() as u64 != self.size {
            return Err(Error::new(
                ErrorKind::SizeMismatch,
                format!(
                    "content of {} is {} bytes, descriptor says {}",
                    self.digest,
                    content.len(),
                    self.size
                ),
            ));
        }
        self.digest.verify(content)
    }

    /// the inline `data`, checked against size and digest; `None` when there is none.
    pub fn verify_inline(&self) -> Result<Option<&[u8]>, Error> {
        match &self.data {
            None => Ok(None),
            Some(data) => {
                self.verify(data)
                    .map_err(|e| Error::new(e.kind, format!("inline data: {}", e.message())))?;
                Ok(Some(data))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_and_field_names() {
        let mut d = Descriptor::of(MediaType::OciConfig, b"{}");
        d.data = Some(b"{}".to_vec());
        d.annotations.insert(ANNOTATION_REF_NAME.into(), "t".into());
        d.urls.push("https://example.com/x".into());
        d.platform = Some(Platform::parse("linux/arm64/v8").unwrap());
        d.artifact_type = Some("application/vnd.example".into());
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(
            json,
            r#"{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"urls":["https://example.com/x"],"annotations":{"org.opencontainers.image.ref.name":"t"},"platform":{"os":"linux","architecture":"arm64","variant":"v8"},"artifactType":"application/vnd.example","data":"e30="}"#
        );
        assert_eq!(serde_json::from_str::<Descriptor>(&json).unwrap(), d);
        assert_eq!(d.ref_name(), Some("t"));
        assert_eq!(d.verify_inline().unwrap(), Some(&b"{}"[..]));

        let minimal = Descriptor::of(MediaType::OciEmpty, b"{}");
        assert_eq!(
            serde_json::to_string(&minimal).unwrap(),
            r#"{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}"#
        );
    }

    #[test]
    fn inline_data_is_verified() {
        let mut d = Descriptor::of(MediaType::OciConfig, b"{}");
        assert_eq!(d.verify_inline().unwrap(), None);
        d.data = Some(b"{ }".to_vec());
        assert_eq!(d.verify_inline().unwrap_err().kind, ErrorKind::SizeMismatch);
        d.data = Some(b"[]".to_vec());
        let err = d.verify_inline().unwrap_err();
        assert_eq!(err.kind, ErrorKind::DigestMismatch);
        assert!(
            err.to_string()
                .starts_with("inline data: content digest is"),
            "{err}"
        );
    }

    #[test]
    fn bad_descriptors_are_json_errors() {
        let digest = Digest::sha256(b"").to_string();
        for bad in [
            format!(r#"{{"digest":"{digest}","size":0}}"#),
            format!(r#"{{"mediaType":"x","digest":"{digest}","size":-1}}"#),
            format!(r#"{{"mediaType":"x","digest":"{digest}","size":1.5}}"#),
            r#"{"mediaType":"x","digest":"sha256:00","size":0}"#.to_string(),
            format!(r#"{{"mediaType":"x","digest":"{digest}","size":0,"data":"***"}}"#),
            format!(r#"{{"mediaType":"x","digest":"{digest}","size":0,"urls":"u"}}"#),
        ] {
            assert!(serde_json::from_str::<Descriptor>(&bad).is_err(), "{bad}");
        }
        let nulls = format!(
            r#"{{"mediaType":"x","digest":"{digest}","size":0,"urls":null,"annotations":null,"platform":null,"data":null}}"#
        );
        let d: Descriptor = serde_json::from_str(&nulls).unwrap();
        assert!(d.urls.is_empty() && d.annotations.is_empty() && d.data.is_none());
    }

    #[test]
    fn attestations() {
        let mut d = Descriptor::of(MediaType::OciManifest, b"x");
        assert!(!d.is_attestation());
        d.platform = Some(Platform::parse("unknown/unknown").unwrap());
        assert!(d.is_attestation());
        d.platform = None;
        d.annotations.insert(
            ANNOTATION_DOCKER_REFERENCE_TYPE.into(),
            "attestation-manifest".into(),
        );
        assert!(d.is_attestation());
    }
}
