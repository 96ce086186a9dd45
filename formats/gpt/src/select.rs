//! Which partition systemd's image dissection uses for a designator.

use std::cmp::Ordering;

use crate::dps::{classify, Arch, Designator, LINUX_GENERIC};
use crate::partition::Partition;
use crate::table::Table;
use crate::version::version_compare;

/// whether dissection may use `p` automatically as a `designator` partition.
fn auto_usable(p: &Partition, designator: Designator) -> bool {
    match designator {
        // no-auto is not defined for these; UEFI's "no block I/O protocol" bit hides them.
        Designator::Esp | Designator::Xbootldr => !p.no_block_io_protocol(),
        _ => !p.no_auto(),
    }
}

/// among the usable partitions of exactly this designator and architecture: for root and
/// `/usr` the one whose label is the highest version (the first on ties), otherwise the first.
fn pick(table: &Table, designator: Designator, arch: Option<Arch>) -> Option<&Partition> {
    let versioned = matches!(designator, Designator::Root | Designator::Usr);
    let mut best: Option<&Partition> = None;
    let candidates = table.partitions.iter().filter(|p| {
        classify(&p.type_guid) == Some((designator, arch)) && auto_usable(p, designator)
    });
    for p in candidates {
        best = match best {
            None => Some(p),
            Some(b) if versioned && version_compare(&p.name, &b.name) == Ordering::Greater => {
                Some(p)
            }
            keep => keep,
        };
    }
    best
}

/// The partition systemd-dissect would use as `designator` on an `arch` host.
///
/// Partitions with the no-auto bit (63) are skipped (for the ESP and XBOOTLDR, bit 1 instead).
/// For per-architecture designators the native type wins; the secondary architecture's type
/// (x86 for x86-64, arm for arm64) is used only when no native one is usable. Among several
/// root or `/usr` partitions the label with the highest [`version_compare`] wins, the first
/// in the table on ties; for every other designator the first wins. `/var` is not matched
/// against the machine ID (as `systemd-dissect` relaxes that check for foreign images).
pub fn choose(table: &Table, designator: Designator, arch: Arch) -> Option<&Partition> {
    if !designator.is_per_arch() {
        return pick(table, designator, None);
    }
    pick(table, designator, Some(arch)).or_else(|| pick(table, designator, Some(arch.secondary()?)))
}

/// The root partition systemd-dissect would use for `arch`: see [`choose`]. `None` when the
/// image has no usable root partition of `arch` or its secondary architecture.
pub fn choose_root(table: &Table, arch: Arch) -> Option<&Partition> {
    choose(table, Designator::Root, arch)
}

/// [`choose_root`], then systemd's last resort: with no usable root and no usable `/usr`
/// partition, a single usable "Linux filesystem data" partition
/// (`0fc63daf-8483-4772-8e79-3d69d8477de4`) is the root; with two or more, none is.
pub fn choose_root_or_generic(table: &Table, arch: Arch) -> Option<&Partition> {
    if let Some(root) = choose_root(table, arch) {
        return Some(root);
    }
    if choose(table, Designator::Usr, arch).is_some() {
        return None;
    }
    let mut generic = table
        .partitions
        .iter()
        .filter(|p| p.type_guid == LINUX_GENERIC && !p.no_auto());
    match (generic.next(), generic.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}
