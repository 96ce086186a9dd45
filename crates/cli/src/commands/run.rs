//! `wharf run` and `wharf boot`: a command or an init system inside an image (see
//! wharf-launcher).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use wharf_core::store::{ImageLock, LockMode};
use wharf_core::ImageType;
use wharf_launcher::caps::{parse_list, CapOptions};
use wharf_launcher::limits::{self, ProcessLimits};
use wharf_launcher::machine;
use wharf_launcher::network::{AddressMode, Network, NetworkSpec, PortForward, VethExtra};
use wharf_launcher::seccomp::SyscallFilter;
use wharf_launcher::settings::{self, Given, SettingsMode};
use wharf_launcher::userns::{Ownership, PrivateUsers};
use wharf_launcher::{
    parse_setenv, parse_signal, Bind, Config, ConsoleMode, Id128, LinkJournal, OnReboot, Overlay,
    ResolvConf, StartHook, StartMode, Timezone, Tmpfs, Volatile,
};

use super::Ctx;
use crate::args::RunArgs;

pub fn run(ctx: &Ctx, a: RunArgs) -> Result<()> {
    let name = a.machine.clone();
    let syscall_filter = a.system_call_filter.clone();
    let mut cfg = config(ctx, a)?;
    for w in wharf_launcher::warnings(&cfg) {
        eprintln!("wharf: warning: {w}");
    }
    let lock = lock_image(ctx, name.as_deref(), &cfg)?;
    let entry = name
        .as_deref()
        .and_then(|n| listed(ctx, n, &mut cfg, syscall_filter));
    let status = wharf_launcher::run(&cfg, ctx.cancel.clone());
    if let Some((name, held)) = entry {
        ctx.machines.remove_state(&name);
        let _ = std::fs::remove_dir(ctx.machines.machine_dir(&name));
        drop(held);
    }
    drop(lock);
    std::process::exit(status?);
}

/// A machine of the store run in the foreground (`wharf run -M`, `wharf boot`, the wharf@
/// unit) gets an entry in the state directory like one of `wharf start`, with wharf itself as
/// its supervisor, so that `list`, `status`, `shell`, `poweroff` … see it. Only when no other
/// machine of that name has one (best effort: no entry is not an error).
fn listed(
    ctx: &Ctx,
    name: &str,
    cfg: &mut Config,
    syscall_filter: Vec<String>,
) -> Option<(String, std::fs::File)> {
    let reg = ctx.machines.clone();
    machine::check_name(name).ok()?;
    let held = reg.try_lock(name).ok()??;
    if let Ok(Some(old)) = reg.read_state(name) {
        reg.clean(&old);
    }
    std::fs::create_dir_all(reg.machine_dir(name)).ok()?;
    let me = std::process::id();
    let template = machine::State {
        name: name.to_string(),
        supervisor: me,
        supervisor_start: machine::start_time(me).unwrap_or(0),
        leader: 0,
        since: 0,
        image: cfg.root.clone(),
        cgroup: PathBuf::new(),
        console_log: PathBuf::new(),
        syscall_filter,
    };
    let warn = cfg.warn;
    cfg.on_start = StartHook(Some(Arc::new(move |leader: u32, cgroup: &Path| {
        let s = machine::State {
            leader,
            since: super::machines::now(),
            cgroup: cgroup.to_path_buf(),
            ..template.clone()
        };
        if let (Err(e), Some(w)) = (reg.write_state(&s), warn) {
            w(&format!("machine {}: not listed: {e:#}", s.name));
        }
    })));
    Some((name.to_string(), held))
}

/// While a machine runs from store image `name` (`-M`), hold the image's lock as nspawn does:
/// exclusive when the machine can write to it, shared when it cannot (read-only, `-x`,
/// `--volatile=`). So `remove`, `rename`, `import … --force` and a second writable run of the
/// same image fail as busy instead of pulling the tree from under a running machine.
pub fn lock_image(ctx: &Ctx, name: Option<&str>, cfg: &Config) -> Result<Option<ImageLock>> {
    let Some(name) = name else {
        return Ok(None);
    };
    let img = ctx.store.find(name)?;
    let writes = !cfg.read_only && !cfg.ephemeral && cfg.volatile == Volatile::No;
    let mode = if writes {
        LockMode::Exclusive
    } else {
        LockMode::Shared
    };
    match ctx.store.lock_name(&img.name, Some(&img), mode) {
        Ok(l) => Ok(Some(l)),
        Err(wharf_core::Error::Busy(_)) => bail!(
            "image {name} is in use (a machine runs from it, or another operation holds it); use -x or --read-only to run a second copy"
        ),
        Err(e) => Err(e.into()),
    }
}

/// The launcher configuration for `a`.
pub fn config(ctx: &Ctx, a: RunArgs) -> Result<Config> {
    let (root, machine, image_ro, raw_image) = match (&a.directory, &a.image, &a.machine) {
        (Some(dir), _, _) => {
            let dir = std::path::absolute(dir)?;
            if !dir.is_dir() {
                bail!("{} is not a directory", dir.display());
            }
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "wharf".into());
            (dir, name, false, false)
        }
        (None, Some(file), _) => {
            let file = std::path::absolute(file)?;
            let md = std::fs::metadata(&file)
                .with_context(|| format!("cannot use image {}", file.display()))?;
            if !md.is_file() {
                bail!("{} is not a raw disk image file", file.display());
            }
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let name = name.strip_suffix(".raw").unwrap_or(&name).to_string();
            let name = if name.is_empty() {
                "wharf".into()
            } else {
                name
            };
            let ro = md.permissions().mode() & 0o222 == 0;
            (file, name, ro, true)
        }
        (None, None, Some(name)) => {
            let img = ctx.store.find(name)?;
            let raw = match img.kind {
                ImageType::Raw => true,
                k if k.is_tree() => false,
                k => bail!("image {name} is a {} image; only directory, subvolume and raw images can be run", k.as_str()),
            };
            (img.path.clone(), img.name.clone(), img.read_only, raw)
        }
        (None, None, None) => bail!("run needs an image: -M NAME, -D DIR or -i FILE.raw"),
    };
    let mut binds = Vec::new();
    for b in &a.bind {
        binds.push(Bind::parse(b, false)?);
    }
    for b in &a.bind_ro {
        binds.push(Bind::parse(b, true)?);
    }
    let tmpfs = a
        .tmpfs
        .iter()
        .map(|t| Tmpfs::parse(t))
        .collect::<Result<Vec<_>>>()?;
    let mut overlays = Vec::new();
    for o in &a.overlay {
        overlays.push(Overlay::parse(o, false)?);
    }
    for o in &a.overlay_ro {
        overlays.push(Overlay::parse(o, true)?);
    }
    let inaccessible = a
        .inaccessible
        .iter()
        .map(|p| wharf_launcher::root::options::parse_inaccessible(p))
        .collect::<Result<Vec<_>>>()?;
    let volatile = a
        .volatile
        .as_deref()
        .map(Volatile::parse)
        .transpose()?
        .unwrap_or_default();
    let setenv = a
        .setenv
        .iter()
        .map(|s| parse_setenv(s))
        .collect::<Result<Vec<_>>>()?;
    let mode = if a.boot {
        StartMode::Boot
    } else if a.as_pid2 {
        StartMode::Pid2
    } else {
        StartMode::Pid1
    };
    let on_reboot = match a.on_reboot.as_str() {
        "restart" => OnReboot::Restart,
        "exit" => OnReboot::Exit,
        other => bail!("invalid --on-reboot={other:?}: use restart or exit"),
    };
    let console = match (&a.console, a.pipe) {
        (_, true) => ConsoleMode::Pipe,
        (Some(c), _) => ConsoleMode::parse(c)?,
        (None, false) => ConsoleMode::Autopipe,
    };
    let link_journal = if a.j {
        LinkJournal::TryGuest
    } else {
        LinkJournal::parse(a.link_journal.as_deref().unwrap_or("auto"))?
    };
    let settings_mode = SettingsMode::parse(&a.settings)?;
    let given = given(&a);
    let mut caps = CapOptions::default();
    for c in &a.capability {
        caps.add |= parse_list(c).with_context(|| format!("invalid --capability={c}"))?;
    }
    for c in &a.drop_capability {
        caps.drop |= parse_list(c).with_context(|| format!("invalid --drop-capability={c}"))?;
    }
    let mut syscall_filter = SyscallFilter::default();
    for f in &a.system_call_filter {
        syscall_filter.add(f)?;
    }
    let network = network_options(&a)?;
    let private_users = match a.private_users.as_deref() {
        Some(p) => PrivateUsers::parse(p)?,
        None if a.u => PrivateUsers::Pick,
        None => PrivateUsers::No,
    };
    let private_users_ownership = match a.private_users_ownership.as_deref() {
        Some(o) => Some(Ownership::parse(o)?),
        None => a.u.then_some(Ownership::Auto),
    };
    let mut cfg = Config {
        root,
        machine,
        hostname: a.hostname,
        setenv,
        chdir: a.chdir,
        // Completed below, after the settings file.
        read_only: a.read_only,
        binds,
        tmpfs,
        command: a.command,
        mode,
        kill_signal: a.kill_signal.as_deref().map(parse_signal).transpose()?,
        on_reboot,
        console,
        uuid: a.uuid.as_deref().map(Id128::parse).transpose()?,
        user: a.user,
        notify_ready: a.notify_ready.unwrap_or(false),
        resolv_conf: ResolvConf::parse(a.resolv_conf.as_deref().unwrap_or("auto"))?,
        timezone: Timezone::parse(a.timezone.as_deref().unwrap_or("auto"))?,
        link_journal,
        raw_image,
        ephemeral: a.ephemeral,
        volatile,
        overlays,
        inaccessible,
        caps,
        network,
        private_users,
        private_users_ownership,
        syscall_filter,
        no_new_privileges: a.no_new_privileges.unwrap_or(false),
        register: wharf_launcher::hostbus::machined::Register::parse(&a.register)?,
        keep_unit: a.keep_unit,
        warn: Some(|m| eprintln!("wharf: warning: {m}")),
        on_start: StartHook::default(),
        properties: a
            .property
            .iter()
            .map(|p| limits::Property::parse(p))
            .collect::<Result<Vec<_>>>()?,
        limits: ProcessLimits {
            rlimits: a
                .rlimit
                .iter()
                .map(|r| limits::parse_rlimit(r))
                .collect::<Result<Vec<_>>>()?,
            oom_score_adjust: a.oom_score_adjust,
            cpu_affinity: a
                .cpu_affinity
                .as_deref()
                .map(limits::parse_cpu_list)
                .transpose()?,
            personality: a
                .personality
                .as_deref()
                .map(limits::parse_personality)
                .transpose()?,
        },
    };
    if settings_mode != SettingsMode::No {
        let image_dir = cfg.root.parent().map(|p| p.to_path_buf());
        if let Some(found) = settings::lookup(image_dir.as_deref(), &cfg.machine) {
            let (s, mut warns) = settings::load(&found, settings_mode)?;
            warns.extend(
                settings::apply(&mut cfg, &s, &given, settings_mode)
                    .with_context(|| format!("settings file {}", found.path.display()))?,
            );
            for w in warns {
                eprintln!("wharf: warning: {w}");
            }
        }
    }
    // An ephemeral copy of a read-only image is writable (as nspawn's).
    cfg.read_only |= image_ro && !cfg.ephemeral;
    Ok(cfg)
}

/// What the command line set, so that the settings file leaves it alone (nspawn's settings
/// mask).
fn given(a: &RunArgs) -> Given {
    let mut rlimits = [false; 16];
    for r in &a.rlimit {
        if let Ok(l) = limits::parse_rlimit(r) {
            rlimits[l.index] = true;
        }
    }
    Given {
        start_mode: a.boot || a.as_pid2 || !a.command.is_empty(),
        ephemeral: a.ephemeral,
        environment: !a.setenv.is_empty(),
        user: a.user.is_some(),
        working_directory: a.chdir.is_some(),
        capability: !a.capability.is_empty() || !a.drop_capability.is_empty(),
        no_new_privileges: a.no_new_privileges.is_some(),
        kill_signal: a.kill_signal.is_some(),
        personality: a.personality.is_some(),
        machine_id: a.uuid.is_some(),
        notify_ready: a.notify_ready.is_some(),
        syscall_filter: !a.system_call_filter.is_empty(),
        rlimits,
        oom_score_adjust: a.oom_score_adjust.is_some(),
        cpu_affinity: a.cpu_affinity.is_some(),
        hostname: a.hostname.is_some(),
        resolv_conf: a.resolv_conf.is_some(),
        timezone: a.timezone.is_some(),
        link_journal: a.link_journal.is_some() || a.j,
        read_only: a.read_only,
        volatile: a.volatile.is_some(),
        private_users: a.u || a.private_users.is_some(),
        private_users_ownership: a.u || a.private_users_ownership.is_some(),
        custom_mounts: !a.bind.is_empty()
            || !a.bind_ro.is_empty()
            || !a.tmpfs.is_empty()
            || !a.overlay.is_empty()
            || !a.overlay_ro.is_empty()
            || !a.inaccessible.is_empty(),
        network: a.private_network
            || a.network_veth
            || a.network_bridge.is_some()
            || a.network_zone.is_some()
            || !a.network_interface.is_empty()
            || !a.network_macvlan.is_empty()
            || !a.network_ipvlan.is_empty()
            || !a.network_veth_extra.is_empty()
            || a.network_namespace_path.is_some()
            || !a.port.is_empty(),
    }
}

/// The network options as a [`Network`]; every link option implies a private network.
fn network_options(a: &RunArgs) -> Result<Network> {
    let ports = a
        .port
        .iter()
        .map(|p| {
            p.parse::<PortForward>()
                .with_context(|| format!("invalid --port={p}"))
        })
        .collect::<Result<Vec<_>>>()?;
    let veth_extra = a
        .network_veth_extra
        .iter()
        .map(|x| {
            x.parse::<VethExtra>()
                .with_context(|| format!("invalid --network-veth-extra={x}"))
        })
        .collect::<Result<Vec<_>>>()?;
    let address = match &a.network_address {
        Some(s) => s
            .parse::<AddressMode>()
            .with_context(|| format!("invalid --network-address={s}"))?,
        None => AddressMode::host_default(),
    };
    let spec = NetworkSpec {
        veth: a.network_veth,
        bridge: a.network_bridge.clone(),
        zone: a.network_zone.clone(),
        interfaces: a.network_interface.clone(),
        macvlan: a.network_macvlan.clone(),
        ipvlan: a.network_ipvlan.clone(),
        veth_extra,
        ports,
        address,
        masquerade: a.network_masquerade,
    };
    Ok(Network {
        private: a.private_network,
        spec,
        namespace_path: a.network_namespace_path.clone(),
    })
}
