//! Command-line definitions (machinectl's verb and option spellings).

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

/// The clap command the binary parses: the single source of `--help`, the man pages
/// (`wharf generate-man`) and the shell completions (`wharf completions`).
pub fn command() -> clap::Command {
    Args::command()
}

#[derive(Debug, Parser)]
#[command(
    name = "wharf",
    version,
    about = "Import, export, convert, store and boot machine images",
    propagate_version = true
)]
pub struct Args {
    /// Use only this directory as the image store (default: the machine search path, writing to
    /// /var/lib/machines)
    #[arg(long, global = true, env = "WHARF_IMAGE_ROOT", value_name = "DIR")]
    pub image_root: Option<PathBuf>,

    /// Print machine-readable JSON (list-images, image-status, show-image, clean, list, status)
    #[arg(long, global = true)]
    pub json: bool,

    /// Suppress informational messages and progress
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Do not print the header and footer of tables
    #[arg(long, global = true)]
    pub no_legend: bool,

    /// Where running machines keep their state (start, list, status, shell, poweroff, …;
    /// default /run/wharf/machines)
    #[arg(long, global = true, env = "WHARF_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List images (name, type, read-only, usage, created, modified)
    #[command(visible_alias = "images")]
    ListImages {
        /// Include hidden images (names starting with ".")
        #[arg(short, long)]
        all: bool,
    },
    /// Show details of images, including the OS inside
    ImageStatus {
        /// Images to show
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Show image properties as key=value lines
    ShowImage {
        /// Images to show
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
        /// Show only these properties
        #[arg(short, long = "property", value_name = "NAME")]
        property: Vec<String>,
        /// Print only the values
        #[arg(long)]
        value: bool,
    },
    /// Clone an image (btrfs snapshot when possible, else a reflink or full copy)
    Clone {
        /// The image to clone
        source: String,
        /// Name of the new image (must not exist)
        destination: String,
        /// Make the clone read-only
        #[arg(long)]
        read_only: bool,
    },
    /// Rename an image (its sidecar files follow)
    Rename {
        /// The image's current name
        old: String,
        /// The new name (must not exist)
        new: String,
    },
    /// Remove images and their sidecar files
    Remove {
        /// Images to remove
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Mark an image read-only (default) or writable
    ReadOnly {
        /// The image
        name: String,
        /// yes or no (default yes)
        #[arg(value_name = "BOOL", value_parser = parse_bool, action = clap::ArgAction::Set, default_value = "yes")]
        value: bool,
    },
    /// Limit the disk space of an image (or the whole pool); btrfs subvolumes only
    SetLimit {
        /// Image name (omit for the pool)
        #[arg(value_name = "NAME")]
        first: String,
        /// Size such as 10G, or "-", "none", "infinity" for no limit
        #[arg(value_name = "BYTES")]
        second: Option<String>,
    },
    /// Make an image from a directory tree (snapshot or reflink where possible, else a copy)
    ImportFs {
        /// The directory tree (or btrfs subvolume) to import
        directory: std::path::PathBuf,
        /// Image name (default: the directory's name)
        name: Option<String>,
        /// Replace an existing image of that name
        #[arg(long)]
        force: bool,
        /// Make the image read-only
        #[arg(long)]
        read_only: bool,
    },
    /// Import a tar archive (gzip, xz, bzip2, zstd or plain, sniffed from its bytes) as an image
    ImportTar {
        /// The archive, or "-" for standard input
        file: String,
        /// Image name (default: the file name without .tar[.gz|.xz|.bz2|.zst]; required with -)
        name: Option<String>,
        /// Replace an existing image of that name
        #[arg(long)]
        force: bool,
        /// Make the image read-only
        #[arg(long)]
        read_only: bool,
        /// Refuse archives that unpack to more than this (e.g. 20G)
        #[arg(long, value_name = "BYTES")]
        size_max: Option<String>,
    },
    /// Import a container image from an OCI image layout (directory or tar) or a `docker save`
    /// archive: layers applied with whiteouts, settings from the image config in NAME.nspawn
    ImportOci {
        /// Layout directory, tar archive (plain or compressed), or "-" for standard input
        path: String,
        /// Image name (default: from --ref, else the file or directory name)
        name: Option<String>,
        /// The tag to import when the layout holds several images
        #[arg(long = "ref", value_name = "TAG")]
        reference: Option<String>,
        /// os/arch[/variant] to import from a multi-platform image (default: this host's)
        #[arg(long, value_name = "PLATFORM")]
        platform: Option<String>,
        /// Keep each layer as a read-only btrfs subvolume shared by the images built on it
        #[arg(long)]
        layered: bool,
        /// Replace an existing image of that name
        #[arg(long)]
        force: bool,
        /// Make the image read-only
        #[arg(long)]
        read_only: bool,
    },
    /// Pull a container image from a registry and import it as a machine (blobs are cached,
    /// so images sharing layers download them once)
    PullOci {
        /// [REGISTRY/]REPOSITORY[:TAG][@DIGEST] (registry default: docker.io)
        reference: String,
        /// Image name (default: the repository's last component)
        name: Option<String>,
        /// os/arch[/variant] to pull from a multi-platform image (default: this host's)
        #[arg(long, value_name = "PLATFORM")]
        platform: Option<String>,
        /// Keep each layer as a read-only btrfs subvolume shared by the images built on it
        #[arg(long)]
        layered: bool,
        /// Allow plain http and unverified TLS certificates (loopback registries need neither)
        #[arg(long)]
        insecure: bool,
        /// The blob cache, an OCI image layout [default: /var/cache/wharf/oci]
        #[arg(long, env = "WHARF_OCI_CACHE", value_name = "DIR")]
        cache_dir: Option<PathBuf>,
        /// Replace an existing image of that name
        #[arg(long)]
        force: bool,
        /// Make the image read-only
        #[arg(long)]
        read_only: bool,
    },
    /// Push a machine to a registry as a one-layer image (what export-oci writes)
    Push {
        /// The machine image to push
        name: String,
        /// [REGISTRY/]REPOSITORY[:TAG]
        reference: String,
        /// Allow plain http and unverified TLS certificates (loopback registries need neither)
        #[arg(long)]
        insecure: bool,
        /// Layer compression: gzip or zstd
        #[arg(long, default_value = "gzip")]
        format: String,
    },
    /// Export a machine as a one-layer OCI image into a layout directory or an OCI archive
    /// (PATH ending in .tar); the config comes from NAME.oci-config or NAME.nspawn
    ExportOci {
        /// The image to export
        name: String,
        /// Layout directory (created or added to), or an OCI archive when it ends in .tar
        path: std::path::PathBuf,
        /// The image's tag in the layout (default: latest)
        #[arg(long, default_value = "latest")]
        tag: String,
        /// Layer compression: gzip, zstd or uncompressed
        #[arg(long, default_value = "gzip")]
        format: String,
    },
    /// Import the flat tar of `docker export` / `podman export` as a machine
    ImportDocker {
        /// The archive (any compression), or "-" for standard input
        file: String,
        /// Image name (default: the file name without .tar[.gz|.xz|.bz2|.zst]; required with -)
        name: Option<String>,
        /// Replace an existing image of that name
        #[arg(long)]
        force: bool,
        /// Make the image read-only
        #[arg(long)]
        read_only: bool,
    },
    /// Export a directory or subvolume image as a tar archive
    ExportTar {
        /// The image to export (a directory or subvolume)
        name: String,
        /// Output file, or "-" / nothing for standard output
        file: Option<String>,
        /// uncompressed, gzip, xz, bzip2 or zstd (default: from the file suffix)
        #[arg(long)]
        format: Option<String>,
    },
    /// Download a tar archive over HTTP(S), verify it and import it as an image
    PullTar {
        /// HTTP(S) URL of the archive (SHA256SUMS and its signature are looked up beside it)
        url: String,
        /// Image name (default: the URL's file name without .tar[.gz|.xz|.bz2|.zst])
        name: Option<String>,
        /// no, checksum (SHA256SUMS) or signature (SHA256SUMS.gpg, the default)
        #[arg(long, default_value = "signature")]
        verify: String,
        /// OpenPGP keyring for --verify=signature (default: /etc/systemd/import-pubring.{pgp,gpg})
        #[arg(long, value_name = "FILE")]
        keyring: Option<std::path::PathBuf>,
        /// Keep the pristine download as a hidden read-only image and reuse it on the next pull
        #[arg(long, value_name = "BOOL", value_parser = parse_bool, action = clap::ArgAction::Set, default_value = "no")]
        keep_download: bool,
        /// Replace an existing image of that name
        #[arg(long)]
        force: bool,
        /// Make the image read-only
        #[arg(long)]
        read_only: bool,
        /// Refuse archives that unpack to more than this (e.g. 20G)
        #[arg(long, value_name = "BYTES")]
        size_max: Option<String>,
    },
    /// Import a raw disk image (plain, gzip, xz, bzip2, zstd; qcow2 is converted) as NAME.raw
    ImportRaw {
        /// The image file, or "-" for standard input
        file: String,
        /// Image name (default: the file name without .raw/.qcow2/.img and compression suffixes)
        name: Option<String>,
        /// Replace an existing image of that name
        #[arg(long)]
        force: bool,
        /// Make the image read-only
        #[arg(long)]
        read_only: bool,
        /// Allow a qcow2 backing file (resolved only inside the image's own directory)
        #[arg(long)]
        allow_backing_file: bool,
    },
    /// Download a raw or qcow2 disk image over HTTP(S), verify it and import it
    PullRaw {
        /// HTTP(S) URL of the image (SHA256SUMS and its signature are looked up beside it)
        url: String,
        /// Image name (default: the URL's file name without .raw/.qcow2/.img and compression
        /// suffixes)
        name: Option<String>,
        /// no, checksum (SHA256SUMS) or signature (SHA256SUMS.gpg, the default)
        #[arg(long, default_value = "signature")]
        verify: String,
        /// OpenPGP keyring for --verify=signature (default: /etc/systemd/import-pubring.{pgp,gpg})
        #[arg(long, value_name = "FILE")]
        keyring: Option<std::path::PathBuf>,
        /// Keep the pristine download as a hidden read-only image and reuse it on the next pull
        #[arg(long, value_name = "BOOL", value_parser = parse_bool, action = clap::ArgAction::Set, default_value = "no")]
        keep_download: bool,
        /// Replace an existing image of that name
        #[arg(long)]
        force: bool,
        /// Make the image read-only
        #[arg(long)]
        read_only: bool,
    },
    /// Export a raw image (optionally compressed)
    ExportRaw {
        /// The raw image to export
        name: String,
        /// Output file, or "-" / nothing for standard output
        file: Option<String>,
        /// uncompressed, gzip, xz, bzip2 or zstd (default: from the file suffix)
        #[arg(long)]
        format: Option<String>,
    },
    /// Convert a disk image file between qcow2 and raw
    Convert {
        /// The disk image to read (raw or qcow2, detected from its header)
        input: std::path::PathBuf,
        /// The file to write (must not exist)
        output: std::path::PathBuf,
        /// raw or qcow2 (default: from OUTPUT's suffix, else raw)
        #[arg(long)]
        format: Option<String>,
        /// Compress qcow2 clusters with zstd or zlib
        #[arg(long)]
        compress: Option<String>,
    },
    /// Remove hidden images and leftovers of interrupted operations (--all: every image)
    Clean {
        /// Remove every image, not only hidden ones and leftovers
        #[arg(long)]
        all: bool,
    },
    /// Run a command inside an image in new namespaces (systemd-nspawn style)
    Run(Box<RunArgs>),
    /// Boot an image's init system (= run -b -M NAME); extra arguments go to the init
    Boot {
        /// The image to boot
        name: String,
        /// Arguments for the init system (e.g. systemd.unit=rescue.target)
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "ARGS"
        )]
        args: Vec<std::ffi::OsString>,
    },
    /// Boot an image in the background under a wharf supervisor (run options may follow NAME)
    Start {
        /// The image to boot (also the machine's name)
        name: String,
        /// Seconds to wait for the machine to report READY=1
        #[arg(long, default_value_t = 90, value_name = "SECS")]
        timeout: u64,
        /// Options of `wharf run` for the machine (any but -D/-i/-M), and init arguments after --
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "RUN-OPTIONS"
        )]
        args: Vec<std::ffi::OsString>,
    },
    /// List running machines (name, leader PID, OS, since)
    List,
    /// Show a running machine: leader, cgroup, processes, uptime, last console lines
    Status {
        /// The running machine
        name: String,
    },
    /// Power machines off (SIGRTMIN+3 to PID 1) and wait for them to end
    Poweroff {
        /// Running machines
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
        /// Seconds to wait for each machine to end
        #[arg(long, default_value_t = 90, value_name = "SECS")]
        timeout: u64,
    },
    /// Reboot machines (SIGINT to PID 1, systemd's ctrl-alt-del)
    Reboot {
        /// Running machines
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Kill machines at once (every process of their cgroup)
    Terminate {
        /// Running machines
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Send a signal to machines' processes
    Kill {
        /// Running machines
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
        /// The signal (default SIGTERM)
        #[arg(short = 's', long, default_value = "SIGTERM", value_name = "SIG")]
        signal: String,
        /// leader (PID 1) or all (every process of the machine)
        #[arg(long, default_value = "all", value_name = "WHO")]
        kill_whom: String,
    },
    /// Run a command (default: a login shell) inside a running machine
    Shell {
        /// The running machine
        name: String,
        /// User (name or UID from the machine's /etc/passwd; default root)
        #[arg(short = 'u', long, visible_alias = "uid", value_name = "USER")]
        user: Option<String>,
        /// The command and its arguments, found on the machine's PATH (default: the user's
        /// login shell)
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "CMD"
        )]
        command: Vec<std::ffi::OsString>,
    },
    /// Log in to a running machine (its login(1) on a new pty; needs a terminal)
    Login {
        /// The running machine
        name: String,
    },
    /// Copy a host file or directory tree into a running machine (DST defaults to SRC)
    CopyTo {
        /// The running machine
        name: String,
        /// The file or directory on the host
        #[arg(value_name = "SRC")]
        source: PathBuf,
        /// Path inside the machine (a directory receives SRC's file name)
        #[arg(value_name = "DST")]
        destination: Option<PathBuf>,
    },
    /// Copy a file or directory tree out of a running machine (DST defaults to SRC)
    CopyFrom {
        /// The running machine
        name: String,
        /// The file or directory inside the machine
        #[arg(value_name = "SRC")]
        source: PathBuf,
        /// Path on the host (a directory receives SRC's file name)
        #[arg(value_name = "DST")]
        destination: Option<PathBuf>,
    },
    /// Print a shell completion script for wharf to standard output
    Completions {
        /// The shell: bash, zsh or fish
        #[arg(value_enum)]
        shell: CompletionShell,
    },
    /// Write the man pages (wharf.1 and wharf-VERB.1 for every verb) into DIR
    #[command(hide = true)]
    GenerateMan {
        /// The directory to write the pages into (created when missing)
        dir: PathBuf,
    },
    /// Mount a host path into a running machine (DST defaults to SRC)
    Bind {
        /// The running machine
        name: String,
        /// The host file or directory to mount
        #[arg(value_name = "SRC")]
        source: PathBuf,
        /// Where it appears inside the machine (absolute; defaults to SRC)
        #[arg(value_name = "DST")]
        destination: Option<PathBuf>,
        /// Mount it read-only (recursively)
        #[arg(long)]
        read_only: bool,
        /// Create DST (and missing parents) when it does not exist
        #[arg(long)]
        mkdir: bool,
    },
    /// Boot machines at startup with the host's systemd (installs wharf@.service)
    Enable {
        /// The machines (images in the store)
        #[arg(required = true)]
        names: Vec<String>,
        /// Install below DIR instead of / (DIR/etc/systemd/system; systemd is not reloaded)
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// Stop booting machines at startup (removes their wharf@NAME.service links)
    Disable {
        /// The machines (images in the store)
        #[arg(required = true)]
        names: Vec<String>,
        /// Act below DIR instead of / (systemd is not reloaded)
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// Internal: the supervisor of a started machine
    #[command(hide = true, name = "__supervise")]
    Supervise {
        name: String,
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "RUN-OPTIONS"
        )]
        args: Vec<std::ffi::OsString>,
    },
}

/// Shells `wharf completions` writes scripts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

/// `wharf run` options (systemd-nspawn spellings).
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Directory to use as the machine's root
    #[arg(short = 'D', long, value_name = "DIR", conflicts_with_all = ["machine", "image"])]
    pub directory: Option<PathBuf>,
    /// Raw disk image to run (GPT with DPS partitions, or a single filesystem)
    #[arg(short = 'i', long, value_name = "FILE", conflicts_with = "machine")]
    pub image: Option<PathBuf>,
    /// Image from the store to run
    #[arg(short = 'M', long, value_name = "NAME")]
    pub machine: Option<String>,
    /// Hostname inside the machine (default: the machine name)
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Set an environment variable for the command
    #[arg(short = 'E', long = "setenv", value_name = "VAR=VALUE")]
    pub setenv: Vec<String>,
    /// Working directory inside the machine
    #[arg(long, value_name = "DIR")]
    pub chdir: Option<PathBuf>,
    /// Mount the root read-only
    #[arg(long)]
    pub read_only: bool,
    /// Bind-mount a host path: SRC[:DST[:rbind|norbind|idmap]] (idmap: with -U)
    #[arg(long, value_name = "SRC[:DST[:OPTS]]")]
    pub bind: Vec<String>,
    /// Bind-mount a host path read-only (recursively): SRC[:DST[:rbind|norbind|idmap]]
    #[arg(long, value_name = "SRC[:DST[:OPTS]]")]
    pub bind_ro: Vec<String>,
    /// Mount a tmpfs on PATH (OPTIONS default: mode=0755)
    #[arg(long, value_name = "PATH[:OPTIONS]")]
    pub tmpfs: Vec<String>,
    /// Run on a throw-away snapshot (btrfs) or overlay of the image, removed on exit
    #[arg(short = 'x', long)]
    pub ephemeral: bool,
    /// yes: tmpfs root with the image's /usr; state: tmpfs /var; overlay: overlayfs root with
    /// changes on a tmpfs; no (default)
    #[arg(long, value_name = "MODE", num_args = 0..=1, require_equals = true, default_missing_value = "yes")]
    pub volatile: Option<String>,
    /// Overlay mount: LOWER1[:LOWER2…]:UPPER:DEST (+PATH = inside the machine; empty UPPER =
    /// a temporary directory)
    #[arg(long, value_name = "PATHS")]
    pub overlay: Vec<String>,
    /// Read-only overlay mount: LOWER1:LOWER2[:…]:DEST
    #[arg(long, value_name = "PATHS")]
    pub overlay_ro: Vec<String>,
    /// Make a path inside the machine inaccessible
    #[arg(long, value_name = "PATH")]
    pub inaccessible: Vec<String>,

    // --- Process flow, console and identity ---
    /// Boot the image's init system (/usr/lib/systemd/systemd, /lib/systemd/systemd or
    /// /sbin/init) as PID 1; the command line becomes its arguments
    #[arg(short = 'b', long, conflicts_with = "as_pid2")]
    pub boot: bool,
    /// Run a stub init as PID 1 and the command as PID 2
    #[arg(short = 'a', long)]
    pub as_pid2: bool,
    /// Run the command as this user (name or UID from the image's /etc/passwd)
    #[arg(short = 'u', long, visible_alias = "uid", value_name = "USER")]
    pub user: Option<String>,
    /// Machine ID (32 hex digits or a UUID) when the image has none
    #[arg(long, visible_alias = "machine-id", value_name = "ID")]
    pub uuid: Option<String>,
    /// Signal sent to PID 1 on the first SIGINT/SIGTERM (default: SIGRTMIN+3 with --boot;
    /// otherwise the machine is killed at once)
    #[arg(long, value_name = "SIGNAL")]
    pub kill_signal: Option<String>,
    /// What a reboot inside the machine does: restart it, or exit with status 133
    #[arg(long, value_name = "restart|exit", default_value = "restart")]
    pub on_reboot: String,
    /// Console: interactive, read-only, passive, pipe or autopipe (default: autopipe =
    /// interactive on a terminal, pipe otherwise)
    #[arg(long, value_name = "MODE")]
    pub console: Option<String>,
    /// Same as --console=pipe
    #[arg(short = 'P', long, conflicts_with = "console")]
    pub pipe: bool,
    /// Report readiness to the service manager only when the machine does (yes), or at once (no)
    #[arg(long, value_name = "BOOL", value_parser = parse_bool, action = clap::ArgAction::Set)]
    pub notify_ready: Option<bool>,
    /// Register the machine with systemd-machined: auto (when it is reachable on the system
    /// bus; a refusal is a warning), yes (a failure is an error) or no
    #[arg(long, value_name = "yes|no|auto", default_value = "auto")]
    pub register: String,
    /// Put the machine below wharf's own cgroup (the unit's, which must delegate its subtree,
    /// e.g. wharf@.service) instead of a cgroup of its own making
    #[arg(long)]
    pub keep_unit: bool,
    /// /etc/resolv.conf handling: off, copy-host, copy-static, copy-uplink, copy-stub,
    /// replace-*, bind-*, delete, auto
    #[arg(long, value_name = "MODE")]
    pub resolv_conf: Option<String>,
    /// /etc/localtime handling: off, copy, bind, symlink, delete, auto
    #[arg(long, value_name = "MODE")]
    pub timezone: Option<String>,
    /// Journal linking: no, host, try-host, guest, try-guest, auto
    #[arg(long, value_name = "MODE")]
    pub link_journal: Option<String>,
    /// Same as --link-journal=try-guest
    #[arg(short = 'j', conflicts_with = "link_journal")]
    pub j: bool,

    // --- Security and resources ---
    /// Keep these capabilities in addition to the default set (names or `all`)
    #[arg(long, value_name = "CAP[,CAP...]")]
    pub capability: Vec<String>,
    /// Drop these capabilities from the default set (names or `all`)
    #[arg(long, value_name = "CAP[,CAP...]")]
    pub drop_capability: Vec<String>,
    /// Add system calls or @groups to the seccomp allow-list; with a leading ~, remove them
    #[arg(long, value_name = "[~]NAME|@GROUP ...")]
    pub system_call_filter: Vec<String>,
    /// Set a cgroup limit: MemoryMax=BYTES, TasksMax=N, CPUQuota=N% (or infinity)
    #[arg(long, value_name = "NAME=VALUE")]
    pub property: Vec<String>,
    /// Set a resource limit: NAME=SOFT[:HARD] (e.g. NOFILE=4096:8192, CORE=infinity)
    #[arg(long, value_name = "NAME=SOFT[:HARD]")]
    pub rlimit: Vec<String>,
    /// OOM score adjustment of the payload (-1000…1000)
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(i32).range(-1000..=1000))]
    pub oom_score_adjust: Option<i32>,
    /// CPUs the payload may run on, e.g. 0,2-3
    #[arg(long, value_name = "LIST")]
    pub cpu_affinity: Option<String>,
    /// Execution domain: x86 or x86-64 (arm or arm64 on aarch64)
    #[arg(long, value_name = "ARCH")]
    pub personality: Option<String>,
    /// Set no_new_privs for the payload
    #[arg(long, value_name = "BOOL", value_parser = parse_bool, action = clap::ArgAction::Set)]
    pub no_new_privileges: Option<bool>,
    /// Same as --private-users=pick --private-users-ownership=auto (either option, given too,
    /// wins)
    #[arg(short = 'U')]
    pub u: bool,
    /// User namespace: no, yes (base from the root directory's owner), pick (a free 64K
    /// range), identity, or BASE[:COUNT]
    #[arg(long, value_name = "MODE", num_args = 0..=1, require_equals = true, default_missing_value = "yes")]
    pub private_users: Option<String>,
    /// How the image's files get the range's owners: off, chown (shift once), map (idmapped
    /// mount), auto (map, else chown)
    #[arg(long, value_name = "MODE")]
    pub private_users_ownership: Option<String>,

    /// Settings file NAME.nspawn (/etc/systemd/nspawn, /run/systemd/nspawn, then next to the
    /// image): yes (command line wins), no, trusted (honour privileged keys next to the image
    /// too), override (the file wins)
    #[arg(long, value_name = "MODE", default_value = "yes")]
    pub settings: String,

    // --- Network (docs/networking.md) ---
    /// Give the machine its own network namespace (only `lo` unless links are asked for)
    #[arg(long)]
    pub private_network: bool,
    /// A veth pair: ve-NAME on the host, host0 in the machine (implies --private-network)
    #[arg(short = 'n', long)]
    pub network_veth: bool,
    /// Attach the machine's veth (host side vb-NAME) to this existing bridge
    #[arg(long, value_name = "BRIDGE")]
    pub network_bridge: Option<String>,
    /// Attach the machine's veth to the bridge vz-ZONE, made on demand
    #[arg(long, value_name = "ZONE")]
    pub network_zone: Option<String>,
    /// Move a host interface into the machine (back when it stops)
    #[arg(long, value_name = "IF")]
    pub network_interface: Vec<String>,
    /// A macvlan mv-IF on host interface IF, inside the machine
    #[arg(long, value_name = "IF")]
    pub network_macvlan: Vec<String>,
    /// An ipvlan iv-IF on host interface IF, inside the machine
    #[arg(long, value_name = "IF")]
    pub network_ipvlan: Vec<String>,
    /// An extra veth pair: HOSTIF on the host, MACHINEIF (default HOSTIF) in the machine, both
    /// up, no addresses (implies --private-network)
    #[arg(long, value_name = "HOSTIF[:MACHINEIF]")]
    pub network_veth_extra: Vec<String>,
    /// Join this network namespace (e.g. /run/netns/NAME) instead of making one
    #[arg(long, value_name = "PATH")]
    pub network_namespace_path: Option<PathBuf>,
    /// Forward a host port to the machine: [tcp|udp:]HOST[:MACHINE] (needs a veth link)
    #[arg(short = 'p', long, value_name = "[PROTO:]HOST[:MACHINE]")]
    pub port: Vec<String>,
    /// Addresses of the veth pair: auto (wharf picks them), none (DHCP from the host's
    /// network manager), or HOST/PREFIX,MACHINE (default: none when systemd-networkd runs on
    /// the host, else auto)
    #[arg(long, value_name = "auto|none|HOST/PREFIX,MACHINE")]
    pub network_address: Option<String>,
    /// Masquerade the machine's outbound IPv4 traffic behind the host's address
    #[arg(long)]
    pub network_masquerade: bool,

    /// The command and its arguments (default: a login shell; with --boot: init arguments).
    /// Options go before it; an unknown option is an error, not a command (a command that
    /// starts with "-" follows "--")
    #[arg(trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<std::ffi::OsString>,
}

/// systemd's boolean spellings.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "yes" | "y" | "true" | "t" | "on" => Ok(true),
        "0" | "no" | "n" | "false" | "f" | "off" => Ok(false),
        _ => Err(format!("invalid boolean {s:?} (use yes or no)")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn command_line_definition_is_consistent() {
        super::command().debug_assert();
    }

    /// The man pages and completions are generated from these definitions: every visible verb,
    /// option and argument needs a help text.
    #[test]
    fn every_verb_and_argument_has_help() {
        let mut cmd = super::command();
        cmd.build();
        let mut missing = Vec::new();
        for verb in cmd.get_subcommands().filter(|c| !c.is_hide_set()) {
            if verb.get_about().is_none() {
                missing.push(verb.get_name().to_string());
            }
            for arg in verb.get_arguments().filter(|a| !a.is_hide_set()) {
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{} {}", verb.get_name(), arg.get_id()));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "no help text (add a /// line in args.rs): {missing:?}"
        );
    }
}
