//! wharf-fsops: filesystem tree operations for machine images.
//!
//! - [`copy_tree`] / [`copy_file`]: faithful copies (reflink per file when possible, holes,
//!   xattrs incl. ACLs and file capabilities, hardlinks, device nodes, fifos, sockets, owners,
//!   modes, nanosecond times), never following symlinks or crossing mounts.
//! - [`remove_tree`] / [`remove_tree_at`]: `rm -rf` that clears immutable/append-only flags and stays on one mount.
//! - [`tree_usage`]: disk usage with hardlinks counted once.
//!
//! All walks are iterative and work relative to directory fds; only the innermost 64
//! directory levels keep their fds open (outer levels are reopened through `..` and checked
//! by inode on the way back), so depth is bounded by neither the stack nor the fd limit.
//!
//! Every operation here needs the privileges of the trees it touches; the integration tests
//! are a root tier (chown, mknod, `trusted.*`/`security.*` xattrs, inode flags, mount).

mod copy;
mod error;
mod flags;
mod remove;
mod usage;
mod walk;

pub use copy::{copy_file, copy_tree, CopyOptions, CopyStats, Progress};
pub use error::FsError;
pub use remove::{remove_tree, remove_tree_at};
pub use usage::{tree_usage, TreeUsage};
