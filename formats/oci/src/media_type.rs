//! OCI and Docker media types, parsed into an enum so callers match on meaning rather than on
//! strings. Unknown types are kept verbatim in [`MediaType::Other`] (an index may name types
//! this crate does not know; that is not an error there).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How a layer blob is compressed, as its media type declares it (callers should still sniff
/// the magic bytes: producers get this wrong).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LayerCompression {
    None,
    Gzip,
    Zstd,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MediaType {
    /// `application/vnd.oci.image.index.v1+json`
    OciIndex,
    /// `application/vnd.docker.distribution.manifest.list.v2+json`
    DockerManifestList,
    /// `application/vnd.oci.image.manifest.v1+json`
    OciManifest,
    /// `application/vnd.docker.distribution.manifest.v2+json`
    DockerManifest,
    /// `application/vnd.oci.image.config.v1+json`
    OciConfig,
    /// `application/vnd.docker.container.image.v1+json`
    DockerConfig,
    /// `application/vnd.oci.image.layer.v1.tar[+gzip|+zstd]`
    OciLayer(LayerCompression),
    /// `application/vnd.oci.image.layer.nondistributable.v1.tar[+gzip|+zstd]` (deprecated,
    /// still accepted)
    OciNondistributableLayer(LayerCompression),
    /// `application/vnd.docker.image.rootfs.diff.tar.gzip`
    DockerLayer,
    /// `application/vnd.docker.image.rootfs.foreign.diff.tar.gzip`
    DockerForeignLayer,
    /// `application/vnd.oci.empty.v1+json`
    OciEmpty,
    /// `application/vnd.oci.layout.header.v1+json`
    OciLayoutHeader,
    /// anything else, verbatim
    Other(String),
}

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
const OCI_ND_LAYER: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar";
const OCI_ND_LAYER_GZIP: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
const OCI_ND_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const DOCKER_FOREIGN_LAYER: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
const OCI_LAYOUT_HEADER: &str = "application/vnd.oci.layout.header.v1+json";

/// The media types to list in a registry `Accept:` header for manifest GETs: both manifest and
/// both index types (distribution 2.8 answers 404 for OCI content without OCI types here).
pub const MANIFEST_ACCEPT: &[&str] = &[
    OCI_INDEX,
    OCI_MANIFEST,
    DOCKER_MANIFEST_LIST,
    DOCKER_MANIFEST,
];

impl MediaType {
    /// parses a media type. Parameters (`; charset=utf-8`, as in some Content-Type headers) and
    /// surrounding blanks are ignored for the known types; unknown types are kept verbatim.
    pub fn parse(s: &str) -> MediaType {
        let essence = s.split(';').next().unwrap_or("").trim();
        use LayerCompression::*;
        match essence {
            OCI_INDEX => MediaType::OciIndex,
            DOCKER_MANIFEST_LIST => MediaType::DockerManifestList,
            OCI_MANIFEST => MediaType::OciManifest,
            DOCKER_MANIFEST => MediaType::DockerManifest,
            OCI_CONFIG => MediaType::OciConfig,
            DOCKER_CONFIG => MediaType::DockerConfig,
            OCI_LAYER => MediaType::OciLayer(None),
            OCI_LAYER_GZIP => MediaType::OciLayer(Gzip),
            OCI_LAYER_ZSTD => MediaType::OciLayer(Zstd),
            OCI_ND_LAYER => MediaType::OciNondistributableLayer(None),
            OCI_ND_LAYER_GZIP => MediaType::OciNondistributableLayer(Gzip),
            OCI_ND_LAYER_ZSTD => MediaType::OciNondistributableLayer(Zstd),
            DOCKER_LAYER => MediaType::DockerLayer,
            DOCKER_FOREIGN_LAYER => MediaType::DockerForeignLayer,
            OCI_EMPTY => MediaType::OciEmpty,
            OCI_LAYOUT_HEADER => MediaType::OciLayoutHeader,
            _ => MediaType::Other(s.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        use LayerCompression::*;
        match self {
            MediaType::OciIndex => OCI_INDEX,
            MediaType::DockerManifestList => DOCKER_MANIFEST_LIST,
            MediaType::OciManifest => OCI_MANIFEST,
            MediaType::DockerManifest => DOCKER_MANIFEST,
            MediaType::OciConfig => OCI_CONFIG,
            MediaType::DockerConfig => DOCKER_CONFIG,
            MediaType::OciLayer(None) => OCI_LAYER,
            MediaType::OciLayer(Gzip) => OCI_LAYER_GZIP,
            MediaType::OciLayer(Zstd) => OCI_LAYER_ZSTD,
            MediaType::OciNondistributableLayer(None) => OCI_ND_LAYER,
            MediaType::OciNondistributableLayer(Gzip) => OCI_ND_LAYER_GZIP,
            MediaType::OciNondistributableLayer(Zstd) => OCI_ND_LAYER_ZSTD,
            MediaType::DockerLayer => DOCKER_LAYER,
            MediaType::DockerForeignLayer => DOCKER_FOREIGN_LAYER,
            MediaType::OciEmpty => OCI_EMPTY,
            MediaType::OciLayoutHeader => OCI_LAYOUT_HEADER,
            MediaType::Other(s) => s,
        }
    }

    /// an OCI index or a Docker manifest list
    pub fn is_index(&self) -> bool {
        matches!(self, MediaType::OciIndex | MediaType::DockerManifestList)
    }

    /// an OCI or Docker schema 2 image manifest
    pub fn is_manifest(&self) -> bool {
        matches!(self, MediaType::OciManifest | MediaType::DockerManifest)
    }

    /// an OCI or Docker image config
    pub fn is_config(&self) -> bool {
        matches!(self, MediaType::OciConfig | MediaType::DockerConfig)
    }

    /// any layer type this crate knows (OCI, nondistributable, Docker, Docker foreign)
    pub fn is_layer(&self) -> bool {
        self.layer_compression().is_some()
    }

    /// the compression a layer type declares (Docker layers are gzip); `None` for non-layers.
    pub fn layer_compression(&self) -> Option<LayerCompression> {
        match self {
            MediaType::OciLayer(c) | MediaType::OciNondistributableLayer(c) => Some(*c),
            MediaType::DockerLayer | MediaType::DockerForeignLayer => Some(LayerCompression::Gzip),
            _ => None,
        }
    }

    /// true for the Docker flavours (manifest list, manifest, config, layers), which umoci 0.4.7
    /// refuses inside an OCI layout.
    pub fn is_docker(&self) -> bool {
        matches!(
            self,
            MediaType::DockerManifestList
                | MediaType::DockerManifest
                | MediaType::DockerConfig
                | MediaType::DockerLayer
                | MediaType::DockerForeignLayer
        )
    }

    /// nondistributable (foreign) layers: `urls[]` may name where to fetch them.
    pub fn is_nondistributable(&self) -> bool {
        matches!(
            self,
            MediaType::OciNondistributableLayer(_) | MediaType::DockerForeignLayer
        )
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for MediaType {
    fn from(s: &str) -> MediaType {
        MediaType::parse(s)
    }
}

impl Serialize for MediaType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for MediaType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<MediaType, D::Error> {
        let s = String::deserialize(d)?;
        Ok(MediaType::parse(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LayerCompression::*;

    fn all() -> Vec<MediaType> {
        vec![
            MediaType::OciIndex,
            MediaType::DockerManifestList,
            MediaType::OciManifest,
            MediaType::DockerManifest,
            MediaType::OciConfig,
            MediaType::DockerConfig,
            MediaType::OciLayer(None),
            MediaType::OciLayer(Gzip),
            MediaType::OciLayer(Zstd),
            MediaType::OciNondistributableLayer(None),
            MediaType::OciNondistributableLayer(Gzip),
            MediaType::OciNondistributableLayer(Zstd),
            MediaType::DockerLayer,
            MediaType::DockerForeignLayer,
            MediaType::OciEmpty,
            MediaType::OciLayoutHeader,
            MediaType::Other("application/vnd.example+json".into()),
        ]
    }

    #[test]
    fn every_type_round_trips_as_string_and_json() {
        let mut seen = std::collections::HashSet::new();
        for t in all() {
            assert!(seen.insert(t.as_str().to_string()), "duplicate string {t}");
            assert_eq!(MediaType::parse(t.as_str()), t);
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
            assert_eq!(serde_json::from_str::<MediaType>(&json).unwrap(), t);
        }
    }

    #[test]
    fn classification() {
        for t in all() {
            let kinds = [t.is_index(), t.is_manifest(), t.is_config(), t.is_layer()];
            assert!(kinds.iter().filter(|k| **k).count() <= 1, "{t}");
        }
        assert!(MediaType::DockerManifestList.is_index());
        assert!(MediaType::DockerManifest.is_manifest());
        assert!(MediaType::DockerConfig.is_config());
        assert_eq!(MediaType::DockerLayer.layer_compression(), Some(Gzip));
        assert_eq!(
            MediaType::DockerForeignLayer.layer_compression(),
            Some(Gzip)
        );
        assert_eq!(MediaType::OciLayer(Zstd).layer_compression(), Some(Zstd));
        assert_eq!(
            MediaType::OciNondistributableLayer(None).layer_compression(),
            Some(None)
        );
        assert_eq!(MediaType::OciEmpty.layer_compression(), Option::None);
        assert!(!MediaType::Other("x".into()).is_layer());
        assert!(MediaType::DockerForeignLayer.is_nondistributable());
        assert!(MediaType::DockerLayer.is_docker());
        assert!(!MediaType::OciLayer(Gzip).is_docker());
    }

    #[test]
    fn parameters_and_blanks_are_ignored_for_known_types() {
        assert_eq!(
            MediaType::parse("application/vnd.oci.image.manifest.v1+json; charset=utf-8"),
            MediaType::OciManifest
        );
        assert_eq!(
            MediaType::parse(" application/vnd.oci.image.index.v1+json "),
            MediaType::OciIndex
        );
        // case matters: OCI compares media types as exact strings
        assert!(matches!(
            MediaType::parse("application/VND.oci.image.manifest.v1+json"),
            MediaType::Other(_)
        ));
        assert_eq!(MediaType::parse("").as_str(), "");
    }
}
