//! wharf-sys: the only crate of wharf that contains `unsafe` code.
//!
//! Every raw syscall or ioctl that rustix does not expose safely lives here, wrapped in a safe
//! function whose `// SAFETY:` note says why the call is sound. Every other crate in the workspace
//! denies `unsafe_code`. ioctls go through `rustix::ioctl` with `#[repr(C)]` argument structs whose
//! sizes are asserted at compile time; `libc` is used only for `fcntl(F_OFD_SETLK)`, which rustix
//! does not expose.
//!
//! Modules:
//! - [`btrfs`]: subvolume create/snapshot/destroy, read-only flag, child subvolumes, qgroups.
//! - [`fsflags`]: inode flags (`FS_IOC_GETFLAGS`/`SETFLAGS`): immutable, NOCOW.
//! - [`lock`]: open-file-description (OFD) locks, compatible with systemd's image locks.
//! - [`blkdev`]: block device size and read-only flag.
//! - [`fs`]: small safe helpers (no-replace/exchange rename, confined open, syncfs, statfs magic).
//! - [`ns`]: namespaces (`clone` into new namespaces), hostname.
//! - [`mount`]: mount, bind, remount, propagation, `pivot_root`, detach, `mknod`.
//! - [`netns`]: network namespaces of one thread: open, enter (`setns`), create (`unshare`).
//! - [`caps`]: capability bounding set.
//! - [`process`]: waiting for children, signals, pipes.

pub mod blkdev;
pub mod btrfs;
pub mod caps;
pub mod fs;
pub mod fsflags;
pub mod lock;
pub mod mount;
pub mod netns;
pub mod ns;
pub mod process;
