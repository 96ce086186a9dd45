//! wharf-core: the image model, the machine store and the trait seams plugins implement.
//!
//! - [`name`]: image name rules.
//! - [`image`]: what an image is ([`Image`], [`ImageType`]) and how an entry of a store directory is
//!   recognised.
//! - [`store`]: the machine store: discovery over the search path, locks, staging and atomic
//!   install, and the machinectl image verbs (clone, rename, remove, read-only, set-limit, clean).
//! - [`backend`], [`plugin`]: the seams for storage backends, importers and exporters;
//!   [`registry`] holds the plugins the binary registered.
//! - [`progress`]: how long-running work reports progress without printing.
//!
//! This crate has no `unsafe` and names no concrete plugin; syscalls go through `wharf-sys` and
//! tree copies through `wharf-fsops`.

pub mod backend;
pub mod error;
pub mod image;
pub mod name;
pub mod pipe;
pub mod plugin;
pub mod progress;
pub mod registry;
pub mod store;
pub mod util;

pub use backend::{BackendError, StorageBackend, TreeKind, Usage};
pub use error::{Error, ErrorKind, Result};
pub use image::{Image, ImageType};
pub use progress::{NoProgress, Progress};
pub use registry::Registry;
pub use store::Store;
