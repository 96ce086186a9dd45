//! `--layered` imports on btrfs: every layer prefix of an image becomes a read-only subvolume
//! `.oci-layer-<ChainID hex>` (a hidden image), each made by snapshotting the one below and
//! applying one layer; the machine is a writable snapshot of the top one. Images that share a
//! base share its subvolumes, so their storage and the work of applying it: the second import
//! of a Debian-based image applies only the layers that differ.
//!
//! The ChainID (image-spec: `ChainID(L0..n) = sha256(ChainID(L0..n−1) + " " + DiffID(Ln))`)
//! names the whole stack below and including a layer, so equal names mean equal trees. Layer
//! subvolumes are committed only after their layer was verified; they are hidden images, so
//! `list-images -a` shows them and `clean` removes them like other hidden images.

use std::sync::atomic::AtomicBool;

use wharf_core::{Error, ErrorKind, Image, ImageType, Progress, Result, Store, TreeKind};
use wharf_oci_format::{chain_id, Digest};

use crate::apply::{apply_layers, ApplyStats};
use crate::resolve::Resolved;
use crate::source::Source;

/// The hidden image holding the layers up to the one with this ChainID.
pub fn layer_image_name(chain: &Digest) -> String {
    format!(".oci-layer-{}", chain.hex)
}

/// What [`build_chain`] did.
#[derive(Debug, Default)]
pub struct Chain {
    /// The subvolume of the whole stack (`None` for an image without layers).
    pub top: Option<Image>,
    /// Layers found already applied.
    pub reused: usize,
    pub stats: ApplyStats,
}

fn not_btrfs() -> Error {
    Error::Unsupported {
        op: "--layered",
        why: "layer subvolumes need a store on btrfs".into(),
    }
}

/// Make sure a read-only subvolume exists for every layer prefix of `r`, applying only the
/// layers above the longest prefix already in the store.
pub fn build_chain(
    store: &Store,
    src: &dyn Source,
    r: &Resolved,
    cancel: Option<&AtomicBool>,
    progress: &dyn Progress,
) -> Result<Chain> {
    let diff_ids: Vec<Digest> = r.layers.iter().map(|l| l.diff_id.clone()).collect();
    let names: Vec<String> = (1..=diff_ids.len())
        .map(|k| layer_image_name(&chain_id(&diff_ids[..k]).expect("k ≥ 1")))
        .collect();
    let mut chain = Chain::default();
    for (k, name) in names.iter().enumerate().rev() {
        match store.find(name) {
            Ok(img) if img.kind == ImageType::Subvolume => {
                chain.reused = k + 1;
                chain.top = Some(img);
                break;
            }
            Ok(_) => return Err(not_btrfs()),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    for (k, name) in names.iter().enumerate().skip(chain.reused) {
        let staging = store.stage(name, ImageType::Directory, false)?;
        let native = match &chain.top {
            None => staging.create_tree()? == TreeKind::Subvolume,
            Some(below) => staging.create_tree_as_snapshot(&below.path)?,
        };
        if !native {
            return Err(not_btrfs());
        }
        let s = apply_layers(src, &r.layers[k..=k], staging.path(), cancel, progress)?;
        chain.stats.layers += s.layers;
        chain.stats.stored_bytes += s.stored_bytes;
        chain.stats.tar_bytes += s.tar_bytes;
        chain.stats.entries += s.entries;
        chain.stats.whiteouts += s.whiteouts;
        chain.top = Some(staging.commit(true)?);
    }
    Ok(chain)
}
