//! wharf-registry: a distribution-spec v1.1 client that pulls container images into a local
//! blob cache which is itself an OCI image layout, and pushes images from OCI layouts.
//!
//! `wharf pull-oci REF` = [`pull`] into the cache, then the OCI importer reads the image from
//! that layout by the returned [`Pulled::tag`]. This crate never touches the machine store.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use wharf_oci_format::{Platform, Reference};
//! use wharf_registry::{credentials_for, pull, Client, ClientOptions};
//! let reference = Reference::parse("127.0.0.1:5000/debian:12")?;
//! let opts = ClientOptions {
//!     credentials: credentials_for(&reference.registry),
//!     ..ClientOptions::default()
//! };
//! let client = Client::new(&reference.registry, opts)?;
//! let cache = std::path::Path::new("/var/cache/wharf/oci");
//! let pulled = pull(&client, &reference, &Platform::host(), cache, &wharf_core::NoProgress)?;
//! // import from the layout `pulled.layout`, image tagged `pulled.tag`
//! # Ok(()) }
//! ```
//!
//! What it does, per the distribution spec and the Docker token spec:
//! - manifests are asked for with all four manifest and index types in `Accept:`; the body's
//!   `mediaType` must agree with `Content-Type`; the body is checked against the digest it was
//!   asked by and against `Docker-Content-Digest`; indexes (nested ones too) are resolved for
//!   the platform (variant included, attestation entries skipped);
//! - unknown config or layer media types are an error (never skipped);
//! - authentication: the `/v2/` ping's challenge; Bearer tokens from the realm (`token` or
//!   `access_token`, `expires_in`, default 60 s) cached per scope and renewed before they
//!   expire, a new one after a 401 mid-pull; Basic credentials go to the token server or, for
//!   htpasswd registries, to the registry; identity tokens are exchanged with the OAuth2
//!   refresh-token grant;
//! - transport: https; plain http only for loopback registries (after https failed) or with
//!   [`ClientOptions::insecure`] (which also accepts any certificate); redirects are followed
//!   by hand and `Authorization` is only ever sent to the registry's own origin; 15 s connect
//!   and 60 s read timeouts; transient failures (network, 5xx, 408, 429) retried
//!   [`MAX_ATTEMPTS`] times with backoff; errors from the JSON error body in one line;
//! - blobs: [`ClientOptions::parallel`] downloads at once, each streamed into
//!   `blobs/sha256/.tmp-<hex>` with size and digest checks, then renamed; a broken transfer or
//!   a `.tmp-` left by an earlier pull is resumed with `Range` after re-hashing what is kept;
//!   blobs already in the cache are verified and reused.

mod auth;
mod blob;
mod client;
mod credentials;
mod error;
mod layout;
mod pull;
mod push;

pub use client::{Client, ClientOptions, MAX_ATTEMPTS};
pub use credentials::{auth_file, credentials_for, Credentials};
pub use error::{Error, ErrorKind, Result};
pub use pull::{pull, Pulled};
pub use push::push;
