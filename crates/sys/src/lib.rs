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
//! - [`ns`]: namespaces (`clone` into new namespaces, a new cgroup namespace), hostname,
//!   parent-death signal.
//! - [`mount`]: mount, bind, remount, propagation, `pivot_root`, detach, `mknod`.
//! - [`loopdev`]: loop devices over byte ranges of a file (autoclear).
//! - [`mountapi`]: a private mount namespace, recursive `mount_setattr`, detached overlayfs.
//! - [`caps`]: capability bounding set, the other capability sets.
//! - [`process`]: waiting for children, signals, pipes, fork/exec, user switch, reboot,
//!   rewriting the visible environment, personality.
//! - [`signal`]: signal masks, synchronous waits, names.
//! - [`pty`]: pseudo-terminals, raw mode, window size.
//! - [`socket`]: SCM_RIGHTS channel, sd_notify socket with credentials.
//! - [`seccomp`]: installing a seccomp BPF filter, `no_new_privs`.
//! - [`bpf`]: loading and attaching a cgroup device eBPF program.
//! - [`netns`]: network namespaces of one thread: open, enter (`setns`), create (`unshare`).

pub mod blkdev;
pub mod bpf;
pub mod btrfs;
pub mod caps;
pub mod fs;
pub mod fsflags;
pub mod lock;
pub mod loopdev;
pub mod mount;
pub mod mountapi;
pub mod netns;
pub mod ns;
pub mod process;
pub mod pty;
pub mod seccomp;
pub mod signal;
pub mod socket;
