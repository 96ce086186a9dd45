//! The machine's root file system and custom mounts: raw disk images (DPS partitions through
//! loop devices), `--ephemeral`, `--volatile=`, `--read-only` (recursive), and the custom
//! mounts `--bind`/`--bind-ro`/`--tmpfs`/`--overlay`/`--overlay-ro`/`--inaccessible`.
//!
//! - [`stage`]: wharf's side, once per run (its own mount namespace, loop devices, snapshot);
//! - [`enter`]: the machine's side, on every start (bind/read-only/volatile root);
//! - [`custom`]: custom mounts around `pivot_root`;
//! - [`dissect`], [`fstype`]: which filesystem goes where; [`ephemeral`]: btrfs snapshots;
//!   [`options`]: parsing.

pub(crate) mod custom;
mod dissect;
mod enter;
pub mod ephemeral;
mod fstype;
pub mod options;
mod stage;

pub(crate) use enter::enter;
pub use options::{Overlay, Source, Tmpfs, Volatile};
pub(crate) use stage::{ChildPlan, Stage};
