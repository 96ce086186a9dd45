//! The seccomp filter: systemd-nspawn's default allow-list as a classic BPF program, built from
//! static syscall tables in microseconds (no libseccomp).
//!
//! Actions, as nspawn 252 has them:
//! - syscalls in the allow-list (and `--system-call-filter=` additions) → allowed;
//! - syscalls systemd knows (`@known`) but not allowed → `EPERM`;
//! - syscall numbers unknown to the table (newer than systemd 252) → `ENOSYS`, so callers fall
//!   back as on an older kernel;
//! - `socket(AF_NETLINK, *, NETLINK_AUDIT)` → `EAFNOSUPPORT` (audit userspace then treats audit as
//!   disabled), nspawn's second filter folded into the same program.
//!
//! ABIs: on x86-64 the program covers the x86-64 ABI and the i386 ABI (same allow-list by name,
//! so 32-bit images run, as with nspawn). x32 calls (the `__X32_SYSCALL_BIT` set on the x86-64
//! arch) get `ENOSYS`, as on a kernel built without x32 support. On aarch64 the program covers
//! aarch64; 32-bit ARM (compat) calls get `ENOSYS`. Any other `arch` value gets `ENOSYS`.

mod bpf;
mod table;
#[cfg(test)]
mod tests;

use anyhow::{bail, Result};
pub use bpf::{Action, ENOSYS, EPERM};
pub use wharf_sys::seccomp::SockFilter;

/// One row of the syscall table: the name and its number per ABI (-1 = not on that ABI).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Syscall {
    pub name: &'static str,
    pub x86_64: i32,
    pub i386: i32,
    pub aarch64: i32,
}

/// A syscall ABI the filter knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abi {
    X86_64,
    I386,
    Aarch64,
}

pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
pub const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
/// `__X32_SYSCALL_BIT`.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

impl Abi {
    pub fn audit_arch(self) -> u32 {
        match self {
            Abi::X86_64 => AUDIT_ARCH_X86_64,
            Abi::I386 => AUDIT_ARCH_I386,
            Abi::Aarch64 => AUDIT_ARCH_AARCH64,
        }
    }

    fn nr(self, s: &Syscall) -> i32 {
        match self {
            Abi::X86_64 => s.x86_64,
            Abi::I386 => s.i386,
            Abi::Aarch64 => s.aarch64,
        }
    }

    /// The ABIs the filter covers on the machine wharf was built for.
    pub fn native() -> &'static [Abi] {
        if cfg!(target_arch = "x86_64") {
            &[Abi::X86_64, Abi::I386]
        } else if cfg!(target_arch = "aarch64") {
            &[Abi::Aarch64]
        } else {
            &[]
        }
    }
}

// Capability numbers (capabilities(7)) gating parts of the allow-list.
const CAP_SYS_MODULE: u32 = 16;
const CAP_SYS_RAWIO: u32 = 17;
const CAP_SYS_PACCT: u32 = 20;
const CAP_SYS_PTRACE: u32 = 19;
const CAP_SYS_BOOT: u32 = 22;
const CAP_SYS_TIME: u32 = 25;
const CAP_SYS_TTY_CONFIG: u32 = 26;
const CAP_IPC_LOCK: u32 = 14;
const CAP_SYSLOG: u32 = 34;

/// nspawn's default allow-list: (capability that must be retained, name or @group).
/// Knowingly excluded, as in nspawn: @cpu-emulation, @keyring (not namespaced), @obsolete, @pkey,
/// @swap, bpf (bpffs not namespaced), fanotify_init, fanotify_mark, kexec_file_load, kexec_load,
/// lookup_dcookie, nfsservctl, open_by_handle_at, perf_event_open, quotactl.
const DEFAULT_ALLOW: &[(Option<u32>, &str)] = &[
    (None, "@aio"),
    (None, "@basic-io"),
    (None, "@chown"),
    (None, "@default"),
    (None, "@file-system"),
    (None, "@io-event"),
    (None, "@ipc"),
    (None, "@mount"),
    (None, "@network-io"),
    (None, "@process"),
    (None, "@resources"),
    (None, "@setuid"),
    (None, "@signal"),
    (None, "@sync"),
    (None, "@timer"),
    (Some(CAP_SYS_TIME), "@clock"),
    (Some(CAP_SYS_MODULE), "@module"),
    (Some(CAP_SYS_RAWIO), "@raw-io"),
    (Some(CAP_IPC_LOCK), "@memlock"),
    (None, "brk"),
    (None, "capget"),
    (None, "capset"),
    (None, "copy_file_range"),
    (None, "fadvise64"),
    (None, "fadvise64_64"),
    (None, "flock"),
    (None, "get_mempolicy"),
    (None, "getcpu"),
    (None, "getpriority"),
    (None, "getrandom"),
    (None, "ioctl"),
    (None, "ioprio_get"),
    (None, "kcmp"),
    (None, "madvise"),
    (None, "mincore"),
    (None, "mprotect"),
    (None, "mremap"),
    (None, "name_to_handle_at"),
    (None, "oldolduname"),
    (None, "olduname"),
    (None, "personality"),
    (None, "readahead"),
    (None, "readdir"),
    (None, "remap_file_pages"),
    (None, "sched_get_priority_max"),
    (None, "sched_get_priority_min"),
    (None, "sched_getaffinity"),
    (None, "sched_getattr"),
    (None, "sched_getparam"),
    (None, "sched_getscheduler"),
    (None, "sched_rr_get_interval"),
    (None, "sched_yield"),
    (None, "seccomp"),
    (None, "sendfile"),
    (None, "sendfile64"),
    (None, "setdomainname"),
    (None, "setfsgid"),
    (None, "setfsgid32"),
    (None, "setfsuid"),
    (None, "setfsuid32"),
    (None, "sethostname"),
    (None, "setpgid"),
    (None, "setsid"),
    (None, "splice"),
    (None, "sysinfo"),
    (None, "tee"),
    (None, "umask"),
    (None, "uname"),
    (None, "userfaultfd"),
    (None, "vmsplice"),
    (Some(CAP_SYS_PACCT), "acct"),
    (Some(CAP_SYS_PTRACE), "process_vm_readv"),
    (Some(CAP_SYS_PTRACE), "process_vm_writev"),
    (Some(CAP_SYS_PTRACE), "ptrace"),
    (Some(CAP_SYS_BOOT), "reboot"),
    (Some(CAP_SYSLOG), "syslog"),
    (Some(CAP_SYS_TTY_CONFIG), "vhangup"),
];

/// `--system-call-filter=` settings: names and `@groups` added to the allow-list, and names and
/// groups removed from it (a `~`-prefixed list). Removal wins, as in nspawn.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyscallFilter {
    pub allow: Vec<String>,
    pub deny: Vec<String>,
}

impl SyscallFilter {
    /// Add one `--system-call-filter=` value: space-separated names and `@groups`, a leading `~`
    /// turning the whole list into removals. Unknown names or groups are an error.
    pub fn add(&mut self, spec: &str) -> Result<()> {
        let (deny, list) = match spec.trim_start().strip_prefix('~') {
            Some(rest) => (true, rest),
            None => (false, spec),
        };
        for word in list.split_whitespace() {
            if word.len() > 64 || !is_known_item(word) {
                bail!("invalid --system-call-filter: unknown system call or group {word:?}");
            }
            if deny {
                self.deny.push(word.to_string());
            } else {
                self.allow.push(word.to_string());
            }
        }
        Ok(())
    }
}

fn is_known_item(word: &str) -> bool {
    if word.starts_with('@') {
        group(word).is_some()
    } else {
        index_of(word).is_some()
    }
}

fn group(name: &str) -> Option<&'static [u16]> {
    table::GROUPS
        .iter()
        .find(|(g, _)| *g == name)
        .map(|(_, members)| *members)
}

fn index_of(name: &str) -> Option<usize> {
    table::SYSCALLS.binary_search_by(|s| s.name.cmp(name)).ok()
}

/// Set the entries of `item` (a name or a group) in `set`.
fn mark(item: &str, set: &mut [bool]) {
    if item.starts_with('@') {
        for &i in group(item).unwrap_or_default() {
            set[usize::from(i)] = true;
        }
    } else if let Some(i) = index_of(item) {
        set[i] = true;
    }
}

/// Which table entries are allowed, given the retained capabilities (bit n = capability n).
pub(crate) fn allowed(caps: u64, filter: &SyscallFilter) -> Vec<bool> {
    let n = table::SYSCALLS.len();
    let mut deny = vec![false; n];
    for d in &filter.deny {
        mark(d, &mut deny);
    }
    let mut allow = vec![false; n];
    for (cap, item) in DEFAULT_ALLOW {
        if cap.is_none_or(|c| caps & (1 << c) != 0) {
            mark(item, &mut allow);
        }
    }
    for a in &filter.allow {
        mark(a, &mut allow);
    }
    for (a, d) in allow.iter_mut().zip(&deny) {
        *a &= !*d;
    }
    allow
}

/// Whether the syscall `name` is allowed by the filter for `caps` (for tests and diagnostics).
pub fn is_allowed(name: &str, caps: u64, filter: &SyscallFilter) -> bool {
    index_of(name).is_some_and(|i| allowed(caps, filter)[i])
}

/// The number of `name` on `abi`, if it exists there.
pub fn number(abi: Abi, name: &str) -> Option<u32> {
    index_of(name)
        .map(|i| abi.nr(&table::SYSCALLS[i]))
        .and_then(|n| u32::try_from(n).ok())
}

/// The filter program for `abis` (normally [`Abi::native`]), given the capabilities the payload
/// keeps and the `--system-call-filter=` settings.
pub fn program(abis: &[Abi], caps: u64, filter: &SyscallFilter) -> Vec<SockFilter> {
    let allow = allowed(caps, filter);
    let per_abi: Vec<(Abi, Vec<(u32, Action)>)> = abis
        .iter()
        .map(|&abi| {
            let mut v: Vec<(u32, Action)> = table::SYSCALLS
                .iter()
                .zip(&allow)
                .filter_map(|(s, &ok)| {
                    let nr = u32::try_from(abi.nr(s)).ok()?;
                    Some((nr, if ok { Action::Allow } else { EPERM }))
                })
                .collect();
            v.sort_unstable_by_key(|&(nr, a)| (nr, a != Action::Allow));
            // Aliases of one number: the allowed one (sorted first) wins.
            v.dedup_by_key(|&mut (nr, _)| nr);
            (abi, v)
        })
        .collect();
    bpf::assemble(&per_abi)
}

/// Install `prog` on the calling thread and every other thread of the process.
pub fn install(prog: &[SockFilter]) -> std::io::Result<()> {
    wharf_sys::seccomp::install_filter(prog, true)
}
