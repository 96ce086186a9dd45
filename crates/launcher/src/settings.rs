//! `.nspawn` settings files for `wharf run`/`wharf boot`, as systemd-nspawn 252 applies them.
//!
//! - [`lookup`]: `/etc/systemd/nspawn/NAME.nspawn`, then `/run/systemd/nspawn/NAME.nspawn`
//!   (both trusted), then `NAME.nspawn` next to the image (untrusted). The trusted directories
//!   can be replaced for tests by `WHARF_NSPAWN_SETTINGS_DIRS` (a `:`-separated list; a test
//!   hook, not an interface).
//! - [`load`]: parse the file; in an untrusted file (unless `--settings=trusted`) the privileged
//!   keys are dropped, each with a warning.
//! - [`apply`]: merge the settings into a [`Config`] built from the command line. With the
//!   default `--settings=yes` an option given on the command line wins over the file for the
//!   settings group it belongs to ([`Given`], nspawn's settings mask); with `override` the file
//!   wins for every key it sets.
//!
//! Keys for features wharf does not have yet (`PrivateUsersDelegate=`, `[Network]`, `Port=`,
//! `PivotRoot=`, `AmbientCapability=`, `BindUser=`, …) give a "not supported yet" warning.
//! Networking: [`apply_network`] maps the `[Network]` keys (trusted files only: they are all
//! privileged) onto the launcher's network options.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use wharf_nspawn_settings::Settings;

use crate::{
    caps, limits, parse_signal, root, seccomp, Bind, Config, Id128, LinkJournal, Overlay,
    ResolvConf, StartMode, Timezone, Tmpfs, Volatile,
};

/// `--settings=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SettingsMode {
    /// Do not read any settings file.
    No,
    /// Read it; the command line wins (default).
    #[default]
    Yes,
    /// Read it and honour privileged keys wherever the file is.
    Trusted,
    /// Read it; the file wins over the command line for the keys it sets.
    Override,
}

impl SettingsMode {
    pub fn parse(s: &str) -> Result<SettingsMode> {
        Ok(match s {
            "no" | "false" | "off" | "0" | "n" | "f" => SettingsMode::No,
            "yes" | "true" | "on" | "1" | "y" | "t" => SettingsMode::Yes,
            "trusted" => SettingsMode::Trusted,
            "override" => SettingsMode::Override,
            other => bail!("invalid --settings={other:?}: use yes, no, trusted or override"),
        })
    }
}

/// The trusted settings directories, in lookup order.
pub const TRUSTED_DIRS: [&str; 2] = ["/etc/systemd/nspawn", "/run/systemd/nspawn"];

/// Test hook: replaces [`TRUSTED_DIRS`] (`:`-separated).
pub const DIRS_ENV: &str = "WHARF_NSPAWN_SETTINGS_DIRS";

/// A settings file found by [`lookup`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub path: PathBuf,
    /// In a trusted directory (not next to the image).
    pub trusted: bool,
}

/// Find `NAME.nspawn`: in the trusted directories (`trusted_dirs`, normally [`TRUSTED_DIRS`]),
/// then in `image_dir`.
pub fn lookup_in(trusted_dirs: &[PathBuf], image_dir: Option<&Path>, name: &str) -> Option<Found> {
    if name.is_empty() || name.contains('/') {
        return None;
    }
    let file = format!("{name}.nspawn");
    for d in trusted_dirs {
        let p = d.join(&file);
        if p.is_file() {
            return Some(Found {
                path: p,
                trusted: true,
            });
        }
    }
    let p = image_dir?.join(&file);
    p.is_file().then_some(Found {
        path: p,
        trusted: false,
    })
}

/// [`lookup_in`] with the real trusted directories (or those of [`DIRS_ENV`]).
pub fn lookup(image_dir: Option<&Path>, name: &str) -> Option<Found> {
    let dirs: Vec<PathBuf> = match std::env::var_os(DIRS_ENV) {
        Some(v) => std::env::split_paths(&v).collect(),
        None => TRUSTED_DIRS.iter().map(PathBuf::from).collect(),
    };
    lookup_in(&dirs, image_dir, name)
}

/// Read and parse a settings file; privileged keys of an untrusted one are removed. Returns
/// the settings and the warnings (unknown keys, ignored privileged keys), each one line.
pub fn load(found: &Found, mode: SettingsMode) -> Result<(Settings, Vec<String>)> {
    let path = &found.path;
    let mut bytes = Vec::new();
    {
        use std::io::Read;
        let f = std::fs::File::open(path)
            .with_context(|| format!("cannot read settings file {}", path.display()))?;
        f.take(wharf_nspawn_settings::MAX_INPUT as u64 + 1)
            .read_to_end(&mut bytes)
            .with_context(|| format!("cannot read settings file {}", path.display()))?;
    }
    let (mut s, warns) = parse_named(&bytes, path)?;
    let mut out: Vec<String> = warns;
    if !found.trusted && mode != SettingsMode::Trusted {
        for key in s.strip_privileged() {
            out.push(format!(
                "ignoring {key}= in {}: the file is not trusted (use --settings=trusted, or put it in /etc/systemd/nspawn)",
                path.display()
            ));
        }
    }
    Ok((s, out))
}

/// Parse `bytes` read from `path`: errors and warnings name the file and line.
pub fn parse_named(bytes: &[u8], path: &Path) -> Result<(Settings, Vec<String>)> {
    let (s, warns) = wharf_nspawn_settings::parse(bytes).map_err(|e| {
        if e.line > 0 {
            let key = if e.key.is_empty() {
                String::new()
            } else {
                format!("{}=: ", e.key)
            };
            anyhow::anyhow!("{}:{}: {key}{}", path.display(), e.line, e.message)
        } else {
            anyhow::anyhow!("{}: {}", path.display(), e.message)
        }
    })?;
    let warns = warns
        .into_iter()
        .map(|w| format!("{}:{}: {}", path.display(), w.line, w.message))
        .collect();
    Ok((s, warns))
}

/// Which settings groups the command line set (nspawn's `arg_settings_mask`). With
/// `--settings=yes`/`trusted` the file does not touch these; with `override` it does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Given {
    /// `-b`, `-a` or a command.
    pub start_mode: bool,
    pub ephemeral: bool,
    pub environment: bool,
    pub user: bool,
    pub working_directory: bool,
    pub capability: bool,
    pub no_new_privileges: bool,
    pub kill_signal: bool,
    pub personality: bool,
    pub machine_id: bool,
    pub notify_ready: bool,
    pub syscall_filter: bool,
    /// Per resource: the `RLIMITS` index given with `--rlimit=`.
    pub rlimits: [bool; 16],
    pub oom_score_adjust: bool,
    pub cpu_affinity: bool,
    pub hostname: bool,
    pub resolv_conf: bool,
    pub timezone: bool,
    pub link_journal: bool,
    pub read_only: bool,
    pub volatile: bool,
    /// `--bind`, `--bind-ro`, `--tmpfs`, `--overlay*`, `--inaccessible`.
    pub custom_mounts: bool,
    /// Any networking option (`--private-network`, `-n`, bridge, zone, links, `-p`, netns path).
    pub network: bool,
    /// `-U`, `--private-users=`.
    pub private_users: bool,
    /// `-U`, `--private-users-ownership=`.
    pub private_users_ownership: bool,
}

impl Given {
    /// Every group given: the file changes nothing (used with `--settings=no`).
    pub fn all() -> Given {
        Given {
            start_mode: true,
            ephemeral: true,
            environment: true,
            user: true,
            working_directory: true,
            capability: true,
            no_new_privileges: true,
            kill_signal: true,
            personality: true,
            machine_id: true,
            notify_ready: true,
            syscall_filter: true,
            rlimits: [true; 16],
            oom_score_adjust: true,
            cpu_affinity: true,
            hostname: true,
            resolv_conf: true,
            timezone: true,
            link_journal: true,
            read_only: true,
            volatile: true,
            custom_mounts: true,
            network: true,
            private_users: true,
            private_users_ownership: true,
        }
    }
}

/// Merge `s` into `cfg`. `given` says what the command line set; with `mode ==
/// SettingsMode::Override` it is ignored. `s` must already be stripped of the keys its
/// location does not allow ([`load`]). Returns warnings for keys wharf does not support yet.
pub fn apply(
    cfg: &mut Config,
    s: &Settings,
    given: &Given,
    mode: SettingsMode,
) -> Result<Vec<String>> {
    let mut warns = Vec::new();
    if mode == SettingsMode::No {
        return Ok(warns);
    }
    let g = if mode == SettingsMode::Override {
        Given::default()
    } else {
        *given
    };
    let ctx = |key: &str| format!("invalid {key}= in settings file");

    // Start mode and parameters.
    if !g.start_mode {
        if let Some(true) = s.boot {
            cfg.mode = StartMode::Boot;
        } else if let Some(true) = s.process_two {
            cfg.mode = StartMode::Pid2;
        } else if s.boot == Some(false) || s.process_two == Some(false) {
            cfg.mode = StartMode::Pid1;
        }
        if let Some(p) = &s.parameters {
            cfg.command = p.iter().map(Into::into).collect();
        }
    }
    if !g.ephemeral {
        if let Some(e) = s.ephemeral {
            cfg.ephemeral = e;
        }
    }
    if !g.environment && !s.environment.is_empty() {
        cfg.setenv = s.environment.clone();
    }
    if !g.user {
        if let Some(u) = &s.user {
            cfg.user = Some(u.clone());
        }
    }
    if !g.working_directory {
        if let Some(d) = &s.working_directory {
            cfg.chdir = Some(PathBuf::from(d));
        }
    }
    if !g.capability {
        for c in &s.capability {
            cfg.caps.add |= caps::parse_list(c).with_context(|| ctx("Capability"))?;
        }
        for c in &s.drop_capability {
            cfg.caps.drop |= caps::parse_list(c).with_context(|| ctx("DropCapability"))?;
        }
    }
    if !g.no_new_privileges {
        if let Some(b) = s.no_new_privileges {
            cfg.no_new_privileges = b;
        }
    }
    if !g.kill_signal {
        if let Some(k) = &s.kill_signal {
            cfg.kill_signal = Some(parse_signal(k).with_context(|| ctx("KillSignal"))?);
        }
    }
    if !g.personality {
        if let Some(p) = &s.personality {
            cfg.limits.personality =
                Some(limits::parse_personality(p).with_context(|| ctx("Personality"))?);
        }
    }
    if !g.machine_id {
        if let Some(m) = &s.machine_id {
            cfg.uuid = Some(Id128::parse(m).with_context(|| ctx("MachineID"))?);
        }
    }
    if !g.notify_ready {
        if let Some(b) = s.notify_ready {
            cfg.notify_ready = b;
        }
    }
    if !g.syscall_filter && !s.system_call_filter.is_empty() {
        let mut f = seccomp::SyscallFilter::default();
        for e in &s.system_call_filter {
            f.add(e).with_context(|| ctx("SystemCallFilter"))?;
        }
        cfg.syscall_filter = f;
    }
    for (r, (soft, hard)) in &s.limits {
        let name = r.key().trim_start_matches("Limit");
        let index = limits::rlimit_index(name).with_context(|| ctx(r.key()))?;
        if g.rlimits[index] {
            continue;
        }
        cfg.limits.rlimits.retain(|l| l.index != index);
        cfg.limits.rlimits.push(limits::Rlimit1 {
            index,
            soft: *soft,
            hard: *hard,
        });
    }
    if !g.oom_score_adjust {
        if let Some(o) = s.oom_score_adjust {
            cfg.limits.oom_score_adjust = Some(o);
        }
    }
    if !g.cpu_affinity {
        if let Some(c) = &s.cpu_affinity {
            cfg.limits.cpu_affinity = Some(c.iter().map(|&c| c as usize).collect());
        }
    }
    if !g.hostname {
        if let Some(h) = &s.hostname {
            cfg.hostname = Some(h.clone());
        }
    }
    if !g.resolv_conf {
        if let Some(r) = &s.resolv_conf {
            cfg.resolv_conf = ResolvConf::parse(r).with_context(|| ctx("ResolvConf"))?;
        }
    }
    if !g.timezone {
        if let Some(t) = &s.timezone {
            cfg.timezone = Timezone::parse(t).with_context(|| ctx("Timezone"))?;
        }
    }
    if !g.link_journal {
        if let Some(l) = &s.link_journal {
            cfg.link_journal = LinkJournal::parse(l).with_context(|| ctx("LinkJournal"))?;
        }
    }
    if !g.read_only {
        if let Some(b) = s.read_only {
            cfg.read_only = b;
        }
    }
    if !g.volatile {
        if let Some(v) = &s.volatile {
            cfg.volatile = Volatile::parse(v).with_context(|| ctx("Volatile"))?;
        }
    }
    let has_mounts = !s.bind.is_empty()
        || !s.bind_read_only.is_empty()
        || !s.temporary_file_system.is_empty()
        || !s.inaccessible.is_empty()
        || !s.overlay.is_empty()
        || !s.overlay_read_only.is_empty();
    if !g.custom_mounts && has_mounts {
        apply_mounts(cfg, s, &mut warns)?;
    }
    apply_userns(cfg, s, &g, &mut warns)?;
    unsupported(s, &mut warns);
    if !g.network {
        apply_network(cfg, s, &mut warns)?;
    }
    Ok(warns)
}

/// The `[Files]` mount keys replace the command line's custom mounts (as nspawn's).
fn apply_mounts(cfg: &mut Config, s: &Settings, warns: &mut Vec<String>) -> Result<()> {
    let mut binds = Vec::new();
    for (list, ro, key) in [
        (&s.bind, false, "Bind"),
        (&s.bind_read_only, true, "BindReadOnly"),
    ] {
        for b in list {
            if b.source.is_empty() {
                warns.push(format!(
                    "ignoring {key}= with an empty source (a temporary directory): not supported yet"
                ));
                continue;
            }
            if b.ignore_missing && !Path::new(&b.source).exists() {
                continue;
            }
            let spec = format!("{}:{}:{}", b.source, b.dest, b.options.join(","));
            binds.push(
                Bind::parse(&spec, ro)
                    .with_context(|| format!("invalid {key}= in settings file"))?,
            );
        }
    }
    let tmpfs = s
        .temporary_file_system
        .iter()
        .map(|(p, o)| match o {
            Some(o) => Tmpfs::parse(&format!("{p}:{o}")),
            None => Tmpfs::parse(p),
        })
        .collect::<Result<Vec<_>>>()
        .context("invalid TemporaryFileSystem= in settings file")?;
    let mut overlays = Vec::new();
    for o in &s.overlay {
        overlays.push(Overlay::parse(o, false).context("invalid Overlay= in settings file")?);
    }
    for o in &s.overlay_read_only {
        overlays
            .push(Overlay::parse(o, true).context("invalid OverlayReadOnly= in settings file")?);
    }
    let inaccessible = s
        .inaccessible
        .iter()
        .map(|p| root::options::parse_inaccessible(p))
        .collect::<Result<Vec<_>>>()
        .context("invalid Inaccessible= in settings file")?;
    cfg.binds = binds;
    cfg.tmpfs = tmpfs;
    cfg.overlays = overlays;
    cfg.inaccessible = inaccessible;
    Ok(())
}

/// `PrivateUsers=` and `PrivateUsersOwnership=` (or its alias `PrivateUsersChown=`).
fn apply_userns(cfg: &mut Config, s: &Settings, g: &Given, warns: &mut Vec<String>) -> Result<()> {
    use crate::userns::{Ownership, PrivateUsers as P};
    use wharf_nspawn_settings::PrivateUsers as S;
    if !g.private_users {
        match s.private_users {
            None => {}
            Some(S::No) => cfg.private_users = P::No,
            Some(S::Yes) => cfg.private_users = P::Yes,
            Some(S::Pick) => cfg.private_users = P::Pick,
            Some(S::Identity) => cfg.private_users = P::Identity,
            Some(S::Range { start, count }) => {
                cfg.private_users = P::parse(&format!("{start}:{count}"))
                    .context("invalid PrivateUsers= in settings file")?
            }
            Some(S::Managed) => warns.push(
                "ignoring PrivateUsers=managed from the settings file: not supported (use pick)"
                    .into(),
            ),
        }
    }
    if !g.private_users_ownership {
        if let Some(o) = &s.private_users_ownership {
            cfg.private_users_ownership = Some(
                Ownership::parse(o).context("invalid PrivateUsersOwnership= in settings file")?,
            );
        } else if let Some(c) = s.private_users_chown {
            cfg.private_users_ownership = Some(if c { Ownership::Chown } else { Ownership::Off });
        }
    }
    Ok(())
}

/// Keys of features wharf does not have yet (networking excluded: [`apply_network`]).
fn unsupported(s: &Settings, warns: &mut Vec<String>) {
    let mut not_yet = |key: &str, set: bool| {
        if set {
            warns.push(format!(
                "ignoring {key}= from the settings file: not supported yet"
            ));
        }
    };
    not_yet("PivotRoot", s.pivot_root.is_some());
    not_yet("AmbientCapability", !s.ambient_capability.is_empty());
    not_yet("PrivateUsersDelegate", s.private_users_delegate.is_some());
    not_yet(
        "RestrictAddressFamilies",
        !s.restrict_address_families.is_empty(),
    );
    not_yet("SuppressSync", s.suppress_sync == Some(true));
    not_yet("BindUser", !s.bind_user.is_empty());
    not_yet("BindUserShell", s.bind_user_shell.is_some());
}

/// The `[Network]` keys onto `Config` (as the matching `wharf run` options; every link key
/// implies a private network). `_warns` is kept for keys that may need a warning again.
pub fn apply_network(cfg: &mut Config, s: &Settings, _warns: &mut Vec<String>) -> Result<()> {
    use wharf_nspawn_settings::Protocol;
    let n = &mut cfg.network;
    if s.private == Some(true) {
        n.private = true;
    }
    if let Some(p) = &s.namespace_path {
        n.namespace_path = Some(PathBuf::from(p));
    }
    if s.virtual_ethernet == Some(true) {
        n.spec.veth = true;
    }
    for x in &s.virtual_ethernet_extra {
        let v: crate::network::VethExtra = x
            .parse()
            .map_err(|e| anyhow::anyhow!("VirtualEthernetExtra={x}: {e}"))?;
        n.spec.veth_extra.push(v);
    }
    n.spec.interfaces.extend(s.interface.iter().cloned());
    n.spec.macvlan.extend(s.macvlan.iter().cloned());
    n.spec.ipvlan.extend(s.ipvlan.iter().cloned());
    if let Some(b) = &s.bridge {
        n.spec.bridge = Some(b.clone());
    }
    if let Some(z) = &s.zone {
        n.spec.zone = Some(z.clone());
    }
    for p in &s.port {
        let proto = match p.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        };
        let fwd: crate::network::PortForward = format!("{proto}:{}:{}", p.host, p.machine)
            .parse()
            .map_err(|e| anyhow::anyhow!("Port={proto}:{}:{}: {e}", p.host, p.machine))?;
        n.spec.ports.push(fwd);
    }
    // Every link option implies a private network, as on the command line.
    let links = n.spec.veth
        || n.spec.bridge.is_some()
        || n.spec.zone.is_some()
        || !n.spec.interfaces.is_empty()
        || !n.spec.macvlan.is_empty()
        || !n.spec.ipvlan.is_empty()
        || !n.spec.veth_extra.is_empty();
    if links {
        n.private = true;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
