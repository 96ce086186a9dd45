//! Image manifests (OCI and Docker schema 2) and telling a manifest from an index.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use crate::error::{from_json, Error, ErrorKind};
use crate::{nullable, nullable_required, Descriptor, Index, MediaType};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<MediaType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    /// required; `null` reads as empty (an image without layers is valid: moby#47065)
    #[serde(deserialize_with = "nullable_required")]
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
}

impl Manifest {
    /// an OCI image manifest (with `mediaType` set, as skopeo writes it)
    pub fn new(config: Descriptor, layers: Vec<Descriptor>) -> Manifest {
        Manifest {
            schema_version: 2,
            media_type: Some(MediaType::OciManifest),
            artifact_type: None,
            config,
            layers,
            subject: None,
            annotations: BTreeMap::new(),
        }
    }

    /// parses an image manifest: schemaVersion 2; a `mediaType`, if present, must be a manifest
    /// type; the config must be an image config; every layer must be a known layer type
    /// (UnsupportedMediaType otherwise: a skipped layer would give a wrong rootfs).
    pub fn parse(bytes: &[u8]) -> Result<Manifest, Error> {
        let m: Manifest = from_json("image manifest", bytes)?;
        if m.schema_version != 2 {
            return Err(Error::new(
                ErrorKind::UnsupportedSchema,
                format!(
                    "image manifest has schemaVersion {}, only 2 is supported",
                    m.schema_version
                ),
            ));
        }
        if let Some(mt) = &m.media_type {
            if !mt.is_manifest() {
                return Err(Error::new(
                    ErrorKind::UnsupportedMediaType,
                    format!("image manifest declares mediaType {mt}, which is not a manifest type"),
                ));
            }
        }
        if !m.config.media_type.is_config() {
            let what = match &m.artifact_type {
                Some(a) => format!(" (an artifact of type {a}, not an image)"),
                None => String::new(),
            };
            return Err(Error::new(
                ErrorKind::UnsupportedMediaType,
                format!(
                    "image manifest config has media type {}, not an image config{what}",
                    m.config.media_type
                ),
            ));
        }
        if let Some((i, l)) = m
            .layers
            .iter()
            .enumerate()
            .find(|(_, l)| !l.media_type.is_layer())
        {
            return Err(Error::new(
                ErrorKind::UnsupportedMediaType,
                format!(
                    "image manifest layer {i} ({}) has unsupported media type {}",
                    l.digest, l.media_type
                ),
            ));
        }
        Ok(m)
    }

    /// compact JSON, fields in spec order, maps sorted
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a manifest always serialises")
    }
}

/// A manifest-or-index body, as returned by a registry manifest GET or found in a layout.
// Not boxed: one value per parse, and matching on `Parsed::Manifest(m)` stays simple.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Index(Index),
    Manifest(Manifest),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Shape {
    #[serde(default)]
    schema_version: Option<serde_json::Value>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<IgnoredAny>,
    #[serde(default)]
    config: Option<IgnoredAny>,
    #[serde(default)]
    fs_layers: Option<IgnoredAny>,
}

/// Parses a manifest or an index, deciding by the body's `mediaType`, else by `content_type`
/// (a Content-Type header; parameters ignored; generic types like `application/json` carry no
/// information), else by shape (`manifests` vs `config`). A body `mediaType` and a
/// `content_type` that are both manifest/index types and disagree are refused.
pub fn parse_manifest_or_index(bytes: &[u8], content_type: Option<&str>) -> Result<Parsed, Error> {
    let shape: Shape = from_json("manifest or index", bytes)?;
    let body = shape.media_type.as_deref().map(MediaType::parse);
    let header = content_type
        .map(MediaType::parse)
        .filter(|t| t.is_index() || t.is_manifest());

    if let Some(ct) = content_type {
        if ct.contains("vnd.docker.distribution.manifest.v1") {
            return Err(schema1());
        }
    }
    if let (Some(b), Some(h)) = (&body, &header) {
        if b != h {
            return Err(Error::new(
                ErrorKind::UnsupportedMediaType,
                format!("manifest content type {h} disagrees with its body's mediaType {b}"),
            ));
        }
    }
    let decided = body.or(header);
    match decided {
        Some(t) if t.is_index() => return Index::parse(bytes).map(Parsed::Index),
        Some(t) if t.is_manifest() => return Manifest::parse(bytes).map(Parsed::Manifest),
        Some(t) => {
            return Err(Error::new(
                ErrorKind::UnsupportedMediaType,
                format!("expected an image manifest or index, found mediaType {t}"),
            ))
        }
        None => {}
    }
    if shape.fs_layers.is_some() || shape.schema_version == Some(serde_json::Value::from(1)) {
        return Err(schema1());
    }
    match (shape.manifests.is_some(), shape.config.is_some()) {
        (true, false) => Index::parse(bytes).map(Parsed::Index),
        (false, true) => Manifest::parse(bytes).map(Parsed::Manifest),
        (true, true) => Err(Error::new(
            ErrorKind::UnsupportedMediaType,
            "manifest without mediaType has both manifests and config: cannot tell an index \
             from a manifest",
        )),
        (false, false) => Err(Error::new(
            ErrorKind::UnsupportedMediaType,
            "manifest without mediaType has neither manifests nor config: not an image \
             manifest or index",
        )),
    }
}

fn schema1() -> Error {
    Error::new(
        ErrorKind::UnsupportedSchema,
        "docker schema 1 manifests are not supported (re-push the image with a current client)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LayerCompression;

    fn manifest() -> Manifest {
        let config = Descriptor::of(MediaType::OciConfig, b"{}");
        let layers = vec![
            Descriptor::of(MediaType::OciLayer(LayerCompression::Gzip), b"l0"),
            Descriptor::of(MediaType::OciLayer(LayerCompression::Zstd), b"l1"),
            Descriptor::of(MediaType::OciLayer(LayerCompression::None), b"l2"),
        ];
        Manifest::new(config, layers)
    }

    #[test]
    fn round_trip_and_order() {
        let mut m = manifest();
        m.annotations.insert("b".into(), "2".into());
        m.annotations.insert("a".into(), "1".into());
        m.subject = Some(Descriptor::of(MediaType::OciManifest, b"s"));
        let json = m.to_json();
        assert_eq!(Manifest::parse(&json).unwrap(), m);
        let s = String::from_utf8(json).unwrap();
        assert!(s.starts_with(r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","#), "{s}");
        assert!(s.ends_with(r#""annotations":{"a":"1","b":"2"}}"#), "{s}");
    }

    #[test]
    fn refuses_what_cannot_be_imported() {
        let mut m = manifest();
        m.layers.push(Descriptor::of(
            MediaType::Other("application/x-foo".into()),
            b"x",
        ));
        let e = Manifest::parse(&m.to_json()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnsupportedMediaType);
        assert!(e.to_string().contains("layer 3"), "{e}");
        assert!(e.to_string().contains("application/x-foo"), "{e}");

        let mut m = manifest();
        m.config.media_type = MediaType::OciEmpty;
        m.artifact_type = Some("application/vnd.example.sbom".into());
        let e = Manifest::parse(&m.to_json()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnsupportedMediaType);
        assert!(e.to_string().contains("artifact"), "{e}");

        let mut m = manifest();
        m.media_type = Some(MediaType::OciIndex);
        assert_eq!(
            Manifest::parse(&m.to_json()).unwrap_err().kind,
            ErrorKind::UnsupportedMediaType
        );
        let mut m = manifest();
        m.schema_version = 1;
        assert_eq!(
            Manifest::parse(&m.to_json()).unwrap_err().kind,
            ErrorKind::UnsupportedSchema
        );
        let e = Manifest::parse(br#"{"schemaVersion":2,"layers":[]}"#).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Json);
    }

    #[test]
    fn every_layer_type_is_accepted() {
        use LayerCompression::*;
        let mut m = manifest();
        m.media_type = Option::None;
        m.layers = [
            MediaType::OciLayer(None),
            MediaType::OciLayer(Gzip),
            MediaType::OciLayer(Zstd),
            MediaType::OciNondistributableLayer(None),
            MediaType::OciNondistributableLayer(Gzip),
            MediaType::OciNondistributableLayer(Zstd),
            MediaType::DockerLayer,
            MediaType::DockerForeignLayer,
        ]
        .into_iter()
        .map(|t| Descriptor::of(t, b"x"))
        .collect();
        m.layers[7].urls = vec!["https://example.com/layer".into()];
        assert_eq!(Manifest::parse(&m.to_json()).unwrap(), m);
    }

    #[test]
    fn manifest_or_index_decision() {
        let m = manifest();
        let mj = m.to_json();
        let oci_m = Some("application/vnd.oci.image.manifest.v1+json");
        let oci_i = Some("application/vnd.oci.image.index.v1+json");
        assert_eq!(
            parse_manifest_or_index(&mj, None).unwrap(),
            Parsed::Manifest(m.clone())
        );
        assert_eq!(
            parse_manifest_or_index(&mj, oci_m).unwrap(),
            Parsed::Manifest(m.clone())
        );
        assert_eq!(
            parse_manifest_or_index(&mj, Some("application/json; charset=utf-8")).unwrap(),
            Parsed::Manifest(m.clone())
        );
        let e = parse_manifest_or_index(&mj, oci_i).unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnsupportedMediaType);
        assert!(e.to_string().contains("disagrees"), "{e}");

        // without a body mediaType: the header decides, else the shape
        let mut bare = m.clone();
        bare.media_type = None;
        let bj = bare.to_json();
        assert!(matches!(
            parse_manifest_or_index(&bj, None),
            Ok(Parsed::Manifest(_))
        ));
        assert!(matches!(
            parse_manifest_or_index(&bj, oci_m),
            Ok(Parsed::Manifest(_))
        ));
        assert!(parse_manifest_or_index(&bj, oci_i).is_err());

        let mut idx = Index::new();
        idx.manifests
            .push(Descriptor::of(MediaType::OciManifest, &mj));
        let ij = idx.to_json();
        assert!(matches!(
            parse_manifest_or_index(&ij, None),
            Ok(Parsed::Index(_))
        ));
        assert!(matches!(
            parse_manifest_or_index(&ij, oci_i),
            Ok(Parsed::Index(_))
        ));
        assert!(matches!(
            parse_manifest_or_index(
                &ij,
                Some("application/vnd.docker.distribution.manifest.list.v2+json")
            ),
            Ok(Parsed::Index(_))
        ));

        for (body, kind) in [
            (
                &br#"{"schemaVersion":2}"#[..],
                ErrorKind::UnsupportedMediaType,
            ),
            (
                br#"{"schemaVersion":2,"manifests":[],"config":{}}"#,
                ErrorKind::UnsupportedMediaType,
            ),
            (
                br#"{"schemaVersion":1,"name":"x","tag":"t","fsLayers":[]}"#,
                ErrorKind::UnsupportedSchema,
            ),
            (
                br#"{"mediaType":"application/vnd.oci.image.config.v1+json"}"#,
                ErrorKind::UnsupportedMediaType,
            ),
            (b"[]", ErrorKind::Json),
            (b"", ErrorKind::Json),
        ] {
            let e = parse_manifest_or_index(body, None).unwrap_err();
            assert_eq!(e.kind, kind, "{e}");
        }
        let e = parse_manifest_or_index(
            b"{}",
            Some("application/vnd.docker.distribution.manifest.v1+prettyjws"),
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnsupportedSchema);
    }
}
