//! The concrete plugins this binary ships, registered in one place.

use std::sync::Arc;

use wharf_core::Registry;

/// Every plugin wharf ships.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    r.register_storage(Arc::new(wharf_btrfs::Btrfs));
    r
}
