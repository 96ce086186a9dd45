//! wharf-oci: Docker and OCI container images turned into machines.
//!
//! - [`source`]: an OCI layout directory or tarball, or `docker save` output (legacy v1.2,
//!   skopeo's writer with symlinked `layer.tar`, Docker ≥ 25's OCI-in-tar), read confined.
//! - [`resolve`]: index → (nested index, platform, tag) → manifest → config and layers; or
//!   `manifest.json` of docker save.
//! - [`apply`]: every layer verified twice (stored digest and size; DiffID of the uncompressed
//!   tar), compression sniffed from bytes, applied with OCI whiteout rules by
//!   `wharf_tar::apply_layer` straight into the final tree.
//! - [`settings`]: the image config → `NAME.nspawn`.
//! - [`import`]: `import-oci`; [`docker_export`]: `import-docker` for `docker export` tars;
//!   [`export`]: `export-oci`, a machine as a one-layer OCI image.

pub mod apply;
pub mod docker_export;
pub mod export;
pub mod import;
pub mod layered;
pub mod resolve;
pub mod settings;
pub mod source;

pub use import::{import_oci, open_source, Imported, OciImportOptions};
