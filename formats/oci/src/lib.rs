//! OCI and Docker image formats as pure codecs over caller-provided bytes: media types,
//! digests, descriptors, indexes and manifests (with platform selection), image configs,
//! the OCI image layout and docker-archive `manifest.json`, image references, and the
//! registry's auth header / token / error bodies. No I/O, no syscalls.
//!
//! Every parser refuses input larger than [`MAX_MANIFEST_SIZE`] and never panics;
//! serialisers (`to_json`) write compact JSON with the spec's field names in a fixed order,
//! omitting empty optional fields, as skopeo and umoci accept it.

use serde::Deserialize as _;

mod auth;
mod config;
mod descriptor;
mod digest;
mod error;
mod index;
mod layout;
mod manifest;
mod media_type;
mod platform;
mod reference;

pub use auth::{
    parse_registry_errors, parse_token_response, parse_www_authenticate, AuthScheme, Challenge,
    RegistryError, TokenResponse,
};
pub use config::{chain_id, ExecConfig, History, ImageConfig, RootFs};
pub use descriptor::{
    Descriptor, ANNOTATION_CONTAINERD_NAME, ANNOTATION_DOCKER_REFERENCE_TYPE, ANNOTATION_REF_NAME,
};
pub use digest::{Algorithm, Digest, DigestHasher};
pub use error::{Error, ErrorKind};
pub use index::Index;
pub use layout::{
    blob_path, check_archive_path, check_oci_layout, parse_docker_archive_manifest,
    DockerArchiveImage, LayoutHeader, OCI_LAYOUT_JSON,
};
pub use manifest::{parse_manifest_or_index, Manifest, Parsed};
pub use media_type::{LayerCompression, MediaType, MANIFEST_ACCEPT};
pub use platform::{goarch, Platform};
pub use reference::{Reference, DOCKER_HUB, DOCKER_HUB_API};

/// Largest manifest, index, config, layout or archive manifest the parsers accept (4 MiB, as
/// distribution and containerd limit manifests).
pub const MAX_MANIFEST_SIZE: usize = 4 << 20;

/// serde helper: `null` reads as `T::default()` (Docker writes null for absent lists/maps);
/// with `#[serde(default)]` the field may also be missing.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// like [`nullable`] but for fields that must be present (no `#[serde(default)]`).
pub(crate) fn nullable_required<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de> + Default,
{
    nullable(d)
}
