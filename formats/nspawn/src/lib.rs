//! wharf-nspawn-settings: parser and writer for systemd.nspawn(5) settings files.
//!
//! [`parse`] reads the bytes of a `.nspawn` file (as systemd-nspawn v262 knows them; v252 has
//! all keys except `PrivateUsersDelegate=`, `RestrictAddressFamilies=`, `BindUserShell=` and
//! `NamespacePath=`) into [`Settings`]; [`Settings::to_text`] writes one back. No I/O: the
//! caller reads the file (and prefixes its name to errors).
//!
//! # Syntax (systemd's config parser)
//!
//! - Sections `[Exec]`, `[Files]`, `[Network]`; names are case-sensitive. Other sections and
//!   unknown keys give a [`Warning`] and are skipped; `X-` sections and keys are skipped quietly.
//! - Lines whose first non-blank character is `#` or `;` are comments, also between continued
//!   lines. A line ending in an odd number of backslashes continues on the next line (the
//!   backslash becomes a space); an empty line ends the continuation.
//! - Whitespace (space, tab, CR, LF: systemd's `WHITESPACE`, not other Unicode spaces) around
//!   the key and the value is trimmed. A line without `=`, an empty key and
//!   an assignment before any section give a warning (systemd ignores them too); a malformed
//!   section header is an error (systemd refuses the whole file).
//! - List keys accumulate over repeated lines and an empty assignment (`Bind=`) empties the
//!   list; scalar keys: the last assignment wins and an empty one unsets the key.
//! - Invalid values are a [`ParseError`] (systemd logs them and ignores the line; wharf refuses
//!   the file so that a typo is not silently dropped). Line numbers are those of the line where
//!   the (possibly continued) assignment starts.
//! - Input must be UTF-8 and at most [`MAX_INPUT`] bytes; a UTF-8 byte order mark is skipped;
//!   NUL bytes are refused. Line ends are `\n`, `\r\n` or `\r`.
//!
//! # Trusted-only keys
//!
//! systemd-nspawn applies these keys only from `/etc/systemd/nspawn/` and `/run/systemd/nspawn/`
//! (or with `--settings=trusted`); in a file next to the image they are ignored with a warning
//! and the rest applies. [`Settings::privileged_keys`] and [`Settings::strip_privileged`] follow
//! this table ("man" = privileged in systemd.nspawn(5); "code" = also ignored by nspawn's
//! `merge_settings()` when untrusted).
//!
//! | Section | Key | Why |
//! |---|---|---|
//! | Exec | `Ephemeral=` | code (260) |
//! | Exec | `Capability=`, `AmbientCapability=` | man |
//! | Exec | `MachineID=`, `PrivateUsers=` | man |
//! | Exec | `SystemCallFilter=` | code, allow-list entries only (`~` deny entries always apply) |
//! | Exec | `Limit*=` (all 16) | code |
//! | Exec | `OOMScoreAdjust=`, `CPUAffinity=`, `LinkJournal=` | code |
//! | Files | `Bind=`, `BindReadOnly=`, `BindUser=`, `BindUserShell=` | man |
//! | Files | `TemporaryFileSystem=`, `Inaccessible=`, `Overlay=`, `OverlayReadOnly=` | man |
//! | Files | `PrivateUsersOwnership=` (and its alias `PrivateUsersChown=`) | man |
//! | Network | every key: `Private=`, `NamespacePath=`, `VirtualEthernet=`, `VirtualEthernetExtra=`, `Interface=`, `MACVLAN=`, `IPVLAN=`, `Bridge=`, `Zone=`, `Port=` | man / code |
//!
//! Everything else (`Boot=`, `ProcessTwo=`, `Parameters=`, `Environment=`, `User=`,
//! `WorkingDirectory=`, `PivotRoot=`, `DropCapability=`, `NoNewPrivileges=`, `KillSignal=`,
//! `Personality=`, `PrivateUsersDelegate=`, `NotifyReady=`, `RestrictAddressFamilies=`,
//! `Hostname=`, `ResolvConf=`, `Timezone=`, `SuppressSync=`, `ReadOnly=`, `Volatile=`) applies
//! from any location.
//!
//! # Value choices
//!
//! - `Parameters=`, `Environment=` and the other word lists split like systemd: whitespace,
//!   `"…"`/`'…'` quotes, and **no** backslash escapes (see [`split_words`]).
//! - `Limit*=`: `SOFT[:HARD]`, one value sets both; `infinity` is `None`. Byte limits
//!   (`FSIZE DATA STACK CORE RSS AS MEMLOCK MSGQUEUE`) take `K M G T P E` suffixes (1024-based,
//!   fractions allowed); `LimitCPU=` takes a time span whose bare number is seconds and is
//!   stored in whole seconds (rounded up, as systemd does); `LimitRTTIME=` takes a time span
//!   whose bare number is microseconds and is stored in microseconds; `LimitNICE=` takes `+N`/
//!   `-N` nice values (stored as the raw rlimit `20 - N`) or a raw value 0–40.
//! - `SystemCallFilter=`: a line starting with `~` is a deny list; every entry is stored with
//!   its `~` (`~@clock`), allow entries without. `RestrictAddressFamilies=` likewise.
//! - `Capability=`, `DropCapability=`, `AmbientCapability=`: names in any case or numbers,
//!   stored as `CAP_…` upper case; `all` kept as `all` (not for `AmbientCapability=`).
//! - `MachineID=`: 32 hex digits or a dashed UUID, stored as 32 lower-case hex.
//! - `KillSignal=`, `Personality=`, `Volatile=` (booleans stored as `yes`/`no`),
//!   `ResolvConf=`, `Timezone=`, `LinkJournal=`, `PrivateUsersOwnership=`: checked against
//!   systemd's names and stored as written.

mod keys;
mod syntax;
mod text;
mod trust;
mod values;
mod words;

use std::collections::BTreeMap;
use std::fmt;

pub use trust::all_privileged_keys;
pub use values::{signal_number, ARCHITECTURES, CAPABILITIES, MAX_CPU};
pub use words::{parse_boolean, quote_word, split_words};

/// Largest accepted input (systemd's own line limit is 1 MiB as well).
pub const MAX_INPUT: usize = 1 << 20;

/// The settings of one `.nspawn` file. Every field is `None` / empty when its key is absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    // [Exec]
    pub boot: Option<bool>,
    pub ephemeral: Option<bool>,
    pub process_two: Option<bool>,
    /// `None` also after an empty `Parameters=` (systemd then uses the command line's).
    pub parameters: Option<Vec<String>>,
    /// In order; a later assignment of the same name replaces the earlier one.
    pub environment: Vec<(String, String)>,
    pub user: Option<String>,
    pub working_directory: Option<String>,
    /// `PATH` or `PATH:PATH`, as written.
    pub pivot_root: Option<String>,
    pub capability: Vec<String>,
    pub drop_capability: Vec<String>,
    pub ambient_capability: Vec<String>,
    pub no_new_privileges: Option<bool>,
    pub kill_signal: Option<String>,
    pub personality: Option<String>,
    pub machine_id: Option<String>,
    pub private_users: Option<PrivateUsers>,
    pub private_users_delegate: Option<u32>,
    pub notify_ready: Option<bool>,
    pub system_call_filter: Vec<String>,
    pub restrict_address_families: Vec<String>,
    pub limits: BTreeMap<Rlimit, (Option<u64>, Option<u64>)>,
    pub oom_score_adjust: Option<i32>,
    pub cpu_affinity: Option<Vec<u32>>,
    pub hostname: Option<String>,
    pub resolv_conf: Option<String>,
    pub timezone: Option<String>,
    pub link_journal: Option<String>,
    pub suppress_sync: Option<bool>,
    // [Files]
    pub read_only: Option<bool>,
    /// `yes`, `no`, `state` or `overlay`.
    pub volatile: Option<String>,
    pub bind: Vec<BindSpec>,
    pub bind_read_only: Vec<BindSpec>,
    pub bind_user: Vec<String>,
    /// `yes`, `no` or an absolute path.
    pub bind_user_shell: Option<String>,
    /// (path, mount options).
    pub temporary_file_system: Vec<(String, Option<String>)>,
    pub inaccessible: Vec<String>,
    /// Each entry as written: colon-separated paths (`\:` escapes), the last is the mount point.
    pub overlay: Vec<String>,
    pub overlay_read_only: Vec<String>,
    /// `off`, `chown`, `map`, `auto` or `foreign`.
    pub private_users_ownership: Option<String>,
    /// The undocumented alias `PrivateUsersChown=` (yes = `chown`, no = `off`). nspawn keeps
    /// one setting for both keys; prefer `private_users_ownership` when both are set.
    pub private_users_chown: Option<bool>,
    // [Network]
    pub private: Option<bool>,
    pub namespace_path: Option<String>,
    pub virtual_ethernet: Option<bool>,
    /// `HOST[:CONTAINER]` interface name pairs.
    pub virtual_ethernet_extra: Vec<String>,
    pub interface: Vec<String>,
    pub macvlan: Vec<String>,
    pub ipvlan: Vec<String>,
    pub bridge: Option<String>,
    pub zone: Option<String>,
    pub port: Vec<PortSpec>,
}

/// `PrivateUsers=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivateUsers {
    No,
    /// A 64K range starting at the owner of the image's root directory.
    Yes,
    Pick,
    Identity,
    /// Allocated through systemd-nsresourced (newer than 252).
    Managed,
    Range {
        start: u32,
        count: u32,
    },
}

/// A `Bind=`/`BindReadOnly=` entry: `[-]SRC[:DST[:OPTIONS]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindSpec {
    /// Empty: a temporary directory on the host.
    pub source: String,
    pub dest: String,
    /// `rbind`, `norbind`, `idmap`, `noidmap`, `rootidmap`, `owneridmap`.
    pub options: Vec<String>,
    /// A leading `-` on the source: skip the mount when the source does not exist.
    pub ignore_missing: bool,
}

/// A `Port=` entry: `[tcp|udp:]HOST[:CONTAINER]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortSpec {
    pub protocol: Protocol,
    pub host: u16,
    pub machine: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
}

/// The resource of a `Limit*=` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rlimit {
    Cpu,
    Fsize,
    Data,
    Stack,
    Core,
    Rss,
    Nofile,
    As,
    Nproc,
    Memlock,
    Locks,
    Sigpending,
    Msgqueue,
    Nice,
    Rtprio,
    Rttime,
}

impl Rlimit {
    pub const ALL: [Rlimit; 16] = [
        Rlimit::Cpu,
        Rlimit::Fsize,
        Rlimit::Data,
        Rlimit::Stack,
        Rlimit::Core,
        Rlimit::Rss,
        Rlimit::Nofile,
        Rlimit::As,
        Rlimit::Nproc,
        Rlimit::Memlock,
        Rlimit::Locks,
        Rlimit::Sigpending,
        Rlimit::Msgqueue,
        Rlimit::Nice,
        Rlimit::Rtprio,
        Rlimit::Rttime,
    ];

    /// The key name: `LimitNOFILE`.
    pub fn key(self) -> &'static str {
        match self {
            Rlimit::Cpu => "LimitCPU",
            Rlimit::Fsize => "LimitFSIZE",
            Rlimit::Data => "LimitDATA",
            Rlimit::Stack => "LimitSTACK",
            Rlimit::Core => "LimitCORE",
            Rlimit::Rss => "LimitRSS",
            Rlimit::Nofile => "LimitNOFILE",
            Rlimit::As => "LimitAS",
            Rlimit::Nproc => "LimitNPROC",
            Rlimit::Memlock => "LimitMEMLOCK",
            Rlimit::Locks => "LimitLOCKS",
            Rlimit::Sigpending => "LimitSIGPENDING",
            Rlimit::Msgqueue => "LimitMSGQUEUE",
            Rlimit::Nice => "LimitNICE",
            Rlimit::Rtprio => "LimitRTPRIO",
            Rlimit::Rttime => "LimitRTTIME",
        }
    }

    /// The `RLIMIT_*` resource number on Linux (generic numbering: x86, arm, arm64, riscv).
    pub fn resource(self) -> u32 {
        match self {
            Rlimit::Cpu => 0,
            Rlimit::Fsize => 1,
            Rlimit::Data => 2,
            Rlimit::Stack => 3,
            Rlimit::Core => 4,
            Rlimit::Rss => 5,
            Rlimit::Nproc => 6,
            Rlimit::Nofile => 7,
            Rlimit::Memlock => 8,
            Rlimit::As => 9,
            Rlimit::Locks => 10,
            Rlimit::Sigpending => 11,
            Rlimit::Msgqueue => 12,
            Rlimit::Nice => 13,
            Rlimit::Rtprio => 14,
            Rlimit::Rttime => 15,
        }
    }

    /// Whether values are byte counts (take size suffixes).
    pub fn is_bytes(self) -> bool {
        matches!(
            self,
            Rlimit::Fsize
                | Rlimit::Data
                | Rlimit::Stack
                | Rlimit::Core
                | Rlimit::Rss
                | Rlimit::As
                | Rlimit::Memlock
                | Rlimit::Msgqueue
        )
    }
}

/// Something systemd-nspawn would skip with a log message: an unknown section or key, a line
/// without `=`, a deprecated spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Why a file was refused. `line` is 0 and `key` empty for whole-file problems (size).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(*.line, .key, .message))]
pub struct ParseError {
    pub line: usize,
    pub key: String,
    pub message: String,
}

fn render(line: usize, key: &str, message: &str) -> String {
    let mut out = String::new();
    if line > 0 {
        out.push_str(&format!("line {line}: "));
    }
    if !key.is_empty() {
        out.push_str(&format!("{key}=: "));
    }
    out.push_str(message);
    out
}

/// Parse a `.nspawn` file. Unknown sections and keys are warnings; an invalid value, a
/// malformed section header, non-UTF-8 input, a NUL byte or more than [`MAX_INPUT`] bytes are
/// errors. Never panics.
pub fn parse(text: &[u8]) -> Result<(Settings, Vec<Warning>), ParseError> {
    let mut settings = Settings::default();
    let mut warnings = Vec::new();
    for a in syntax::assignments(text, &mut warnings)? {
        keys::apply(&mut settings, &mut warnings, &a).map_err(|message| ParseError {
            line: a.line,
            key: a.key.clone(),
            message,
        })?;
    }
    // Syntax warnings are collected before key warnings: report them in file order.
    warnings.sort_by_key(|w| w.line);
    Ok((settings, warnings))
}

impl Settings {
    /// Keys honoured only from trusted locations (`/etc/systemd/nspawn`, `/run/systemd/nspawn`)
    /// that are set here, by key name without `=` (`"Capability"`, `"LimitNOFILE"`), in
    /// the order of the table in the crate docs.
    pub fn privileged_keys(&self) -> Vec<&'static str> {
        trust::privileged_keys(self)
    }

    /// Clear the privileged keys (for a file in an untrusted location, next to the image) and
    /// return their names for warnings. `SystemCallFilter=` keeps its `~` deny entries.
    pub fn strip_privileged(&mut self) -> Vec<&'static str> {
        trust::strip_privileged(self)
    }

    /// Serialise in canonical systemd.nspawn syntax: sections only when non-empty, keys in
    /// man-page order, list values quoted so that [`parse`] gives the same `Settings` back.
    /// Values containing line breaks (impossible in parsed settings) cannot be represented.
    pub fn to_text(&self) -> String {
        text::to_text(self)
    }
}
