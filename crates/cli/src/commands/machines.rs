//! Machines in the background without a daemon (see docs/machines.md): `start` (and the hidden
//! `__supervise` it runs), `list`, `status`, `poweroff`, `reboot`, `terminate`, `kill`.

use std::ffi::OsString;
use std::fs::{self, File};
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use serde_json::json;
use wharf_launcher::machine::{self, Entry, Registry, State};
use wharf_sys::process::Pid;

use super::Ctx;
use crate::args::RunArgs;

/// Parse `run` options for machine `name`, booted (`-b -M NAME`).
fn run_args(name: &str, args: Vec<OsString>) -> Result<RunArgs> {
    use clap::{Args as _, FromArgMatches as _};
    let mut full: Vec<OsString> = vec!["wharf".into(), "-b".into(), "-M".into(), name.into()];
    full.extend(args);
    let cmd = RunArgs::augment_args(clap::Command::new("wharf"));
    let m = cmd
        .try_get_matches_from(full)
        .map_err(super::run_options_error)?;
    let mut a = RunArgs::from_arg_matches(&m)?;
    if a.directory.is_some() || a.image.is_some() {
        bail!("start runs images of the store: -D/-i cannot be used");
    }
    a.boot = true;
    a.as_pid2 = false;
    // The console goes to the log (the supervisor's stdout); READY=1 when the machine says so.
    a.console = Some("read-only".into());
    a.pipe = false;
    a.notify_ready = Some(true);
    Ok(a)
}

pub(super) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn pid(p: u32) -> Option<Pid> {
    Pid::from_raw(i32::try_from(p).ok()?)
}

pub fn start(ctx: &Ctx, name: &str, timeout: u64, args: Vec<OsString>) -> Result<()> {
    machine::check_name(name)?;
    // Bad options and a missing image fail here, before anything runs.
    let a = run_args(name, args.clone())?;
    let syscall_filter = a.system_call_filter.clone();
    let image = ctx.store.find(name)?.path.clone();
    drop(super::run::config(ctx, a)?);
    let reg = &ctx.machines;
    let Some(lock) = reg.try_lock(name)? else {
        bail!("machine {name} is already running");
    };
    // Holding the lock: whatever an earlier run left is stale.
    if let Some(old) = reg.read_state(name)? {
        reg.clean(&old);
    }
    let dir = reg.machine_dir(name);
    fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let log_path = reg.console_path(name);
    let log = File::create(&log_path).with_context(|| format!("create {}", log_path.display()))?;
    let notify_path = reg.notify_path(name);
    let _ = fs::remove_file(&notify_path);
    let sock = UnixDatagram::bind(&notify_path)
        .with_context(|| format!("bind {}", notify_path.display()))?;
    sock.set_read_timeout(Some(Duration::from_millis(100)))?;

    let exe = std::env::current_exe().context("locate the wharf binary")?;
    let mut cmd = Command::new(exe);
    cmd.arg("__supervise").arg(name).args(&args);
    if let [root] = ctx.store.roots() {
        cmd.env("WHARF_IMAGE_ROOT", root);
    }
    cmd.env("WHARF_STATE_DIR", &reg.dir)
        .env("NOTIFY_SOCKET", &notify_path)
        // The lock travels as the supervisor's stdin: held for as long as it lives.
        .stdin(Stdio::from(lock.try_clone().context("duplicate the lock")?))
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log));
    let mut child = cmd.spawn().context("start the supervisor")?;
    let sup = child.id();
    let sup_start = machine::start_time(sup).unwrap_or(0);
    let unified = wharf_launcher::cgroup::Layout::detect()?.unified;
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let mut state: Option<State> = None;
    let mut buf = [0u8; 4096];
    let failure = loop {
        if state.is_none() {
            if let Some(leader) = machine::leader_of(sup) {
                if let Some(cg) = machine::machine_cgroup(leader, name, &unified) {
                    let s = State {
                        name: name.to_string(),
                        supervisor: sup,
                        supervisor_start: sup_start,
                        leader,
                        since: now(),
                        image: image.clone(),
                        cgroup: cg,
                        console_log: log_path.clone(),
                        syscall_filter: syscall_filter.clone(),
                    };
                    reg.write_state(&s)?;
                    state = Some(s);
                }
            }
        }
        if let Ok(n) = sock.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]);
            if state.is_some() && msg.lines().any(|l| l == "READY=1") {
                break None;
            }
        }
        if let Some(st) = child.try_wait()? {
            break Some(format!("its supervisor ended ({st})"));
        }
        if Instant::now() > deadline {
            break Some(format!("it did not report READY=1 within {timeout} s"));
        }
    };
    let Some(why) = failure else {
        let _ = fs::remove_file(&notify_path);
        if !ctx.quiet {
            eprintln!(
                "machine {name} started (leader PID {})",
                state.map(|s| s.leader).unwrap_or(0)
            );
        }
        return Ok(());
    };
    let _ = child.kill();
    let _ = child.wait();
    drop(lock);
    if let Some(s) = reg.read_state(name)? {
        reg.clean(&s);
    }
    let _ = fs::remove_file(&notify_path);
    let tail = machine::console_tail(&log_path, 10).join("\n  ");
    bail!("machine {name} failed to start: {why}; console:\n  {tail}");
}

/// The supervisor: a session of its own, the launcher in the foreground, the state removed at
/// the end.
pub fn supervise(ctx: &Ctx, name: &str, args: Vec<OsString>) -> Result<()> {
    let _ = rustix::process::setsid();
    let a = run_args(name, args)?;
    let cfg = super::run::config(ctx, a)?;
    let lock = super::run::lock_image(ctx, Some(name), &cfg)?;
    let status = wharf_launcher::run(&cfg, ctx.cancel.clone());
    drop(lock);
    ctx.machines.remove_state(name);
    match status {
        Ok(s) => {
            eprintln!("wharf: machine {name} ended with status {s}");
            std::process::exit(s)
        }
        Err(e) => Err(e),
    }
}

/// The running machine `name`, or an error naming why not.
fn running(reg: &Registry, name: &str) -> Result<State> {
    machine::check_name(name)?;
    match reg.check(name)? {
        Some(Entry::Running(s)) => Ok(s),
        Some(Entry::Gone(_)) => {
            bail!("machine {name} is not running (its supervisor is gone; entry cleaned)")
        }
        None => bail!("machine {name} is not running"),
    }
}

fn leader(s: &State) -> u32 {
    machine::leader_of(s.supervisor).unwrap_or(s.leader)
}

/// The machine's addresses (`None`: it has no private network, or they cannot be read).
fn addresses(leader: u32) -> Option<Vec<std::net::IpAddr>> {
    machine::netinfo::addresses(leader).ok().flatten()
}

/// The first address for a table cell ("…" when there are more; "-" when none).
fn address_cell(a: &Option<Vec<std::net::IpAddr>>) -> String {
    match a.as_deref() {
        Some([first, rest @ ..]) => {
            format!("{first}{}", if rest.is_empty() { "" } else { "…" })
        }
        _ => "-".into(),
    }
}

pub fn list(ctx: &Ctx) -> Result<()> {
    let mut rows = Vec::new();
    for name in ctx.machines.names()? {
        match ctx.machines.check(&name)? {
            Some(Entry::Running(s)) => rows.push(s),
            Some(Entry::Gone(_)) => {
                eprintln!("wharf: machine {name}: supervisor gone, stale entry cleaned")
            }
            None => {}
        }
    }
    if ctx.json {
        let v: Vec<_> = rows
            .iter()
            .map(|s| {
                let addrs = addresses(leader(s));
                json!({
                    "name": s.name,
                    "leader": leader(s),
                    "addresses": addrs.clone().unwrap_or_default(),
                    "private_network": addrs.is_some(),
                    "supervisor": s.supervisor,
                    "os": machine::os_name(&s.image),
                    "since": s.since,
                    "image": s.image,
                    "cgroup": s.cgroup,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    if ctx.legend {
        println!(
            "{:<20} {:>8} {:<32} {:<18} SINCE",
            "MACHINE", "LEADER", "OS", "ADDRESS"
        );
    }
    for s in &rows {
        let lead = leader(s);
        println!(
            "{:<20} {:>8} {:<32} {:<18} {}",
            s.name,
            lead,
            machine::os_name(&s.image).unwrap_or_else(|| "-".into()),
            address_cell(&addresses(lead)),
            crate::format::timestamp(s.since * 1_000_000)
        );
    }
    if ctx.legend {
        println!("\n{} machines listed.", rows.len());
    }
    Ok(())
}

fn comm(pid: u32) -> String {
    let cmd = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmd: String = String::from_utf8_lossy(&cmd[..cmd.len().min(200)])
        .trim_end_matches('\0')
        .replace('\0', " ");
    if cmd.is_empty() {
        fs::read_to_string(format!("/proc/{pid}/comm"))
            .unwrap_or_default()
            .trim()
            .to_string()
    } else {
        cmd
    }
}

pub fn status(ctx: &Ctx, name: &str) -> Result<()> {
    let s = running(&ctx.machines, name)?;
    let lead = leader(&s);
    let procs = machine::cgroup_procs(&s.cgroup);
    let uptime = now().saturating_sub(s.since);
    let console = machine::console_tail(&s.console_log, 10);
    let addrs = addresses(lead);
    if ctx.json {
        let v = json!({
            "name": s.name,
            "leader": lead,
            "addresses": addrs.clone().unwrap_or_default(),
            "private_network": addrs.is_some(),
            "supervisor": s.supervisor,
            "cgroup": s.cgroup,
            "image": s.image,
            "os": machine::os_name(&s.image),
            "since": s.since,
            "uptime": uptime,
            "processes": procs.iter().map(|p| json!({"pid": p, "command": comm(*p)})).collect::<Vec<_>>(),
            "console": console,
            "console_log": s.console_log,
            "uid_range": machine::uid_range(lead).map(|(base, count)| json!({"base": base, "count": count})),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("{name}");
    println!(
        "       Since: {} ({uptime} s ago)",
        crate::format::timestamp(s.since * 1_000_000)
    );
    println!("      Leader: {lead} ({})", comm(lead));
    println!("  Supervisor: {}", s.supervisor);
    println!("       Image: {}", s.image.display());
    if let Some(os) = machine::os_name(&s.image) {
        println!("          OS: {os}");
    }
    match addrs.as_deref() {
        Some([first, rest @ ..]) => {
            println!("     Address: {first}");
            for a in rest {
                println!("              {a}");
            }
        }
        _ => println!("     Address: -"),
    }
    if let Some((base, count)) = machine::uid_range(lead) {
        println!(
            "   UID range: {base}…{} (user namespace, {count} IDs)",
            u64::from(base) + u64::from(count) - 1
        );
    }
    println!("      CGroup: {}", s.cgroup.display());
    for p in &procs {
        println!("              {p} {}", comm(*p));
    }
    if s.console_log.as_os_str().is_empty() {
        // Run in the foreground (`wharf run -M`, `boot`, the wharf@ unit): the console is
        // wharf's own terminal or the journal.
        println!("     Console: - (wharf's own, run in the foreground)");
    } else {
        println!("     Console: {}", s.console_log.display());
    }
    for l in &console {
        println!("              {l}");
    }
    Ok(())
}

fn signal(p: u32, sig: i32) -> Result<()> {
    let Some(pid) = pid(p) else {
        bail!("invalid PID {p}");
    };
    wharf_sys::process::kill(pid, sig).with_context(|| format!("signal PID {p}"))
}

/// Wait (at most `limit`) for the supervisor of `s` to end, then clean what it left.
fn wait_gone(reg: &Registry, s: &State, limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    while machine::start_time(s.supervisor) == Some(s.supervisor_start) {
        if Instant::now() > deadline {
            bail!(
                "machine {} did not end within {} s",
                s.name,
                limit.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Normally the supervisor removed the state; after a crash this cleans up.
    let _ = reg.check(&s.name)?;
    Ok(())
}

pub fn poweroff(ctx: &Ctx, names: &[String], timeout: u64) -> Result<()> {
    let sig = wharf_sys::signal::sigrtmin() + 3;
    let states = names
        .iter()
        .map(|n| running(&ctx.machines, n))
        .collect::<Result<Vec<_>>>()?;
    for s in &states {
        signal(leader(s), sig)?;
    }
    for s in &states {
        wait_gone(&ctx.machines, s, Duration::from_secs(timeout))?;
    }
    Ok(())
}

pub fn reboot(ctx: &Ctx, names: &[String]) -> Result<()> {
    for n in names {
        let s = running(&ctx.machines, n)?;
        signal(leader(&s), 2)?; // SIGINT: systemd's ctrl-alt-del
    }
    Ok(())
}

pub fn terminate(ctx: &Ctx, names: &[String]) -> Result<()> {
    for n in names {
        let s = running(&ctx.machines, n)?;
        machine::kill_cgroup(&s.cgroup)?;
        wait_gone(&ctx.machines, &s, Duration::from_secs(30))?;
    }
    Ok(())
}

pub fn kill(ctx: &Ctx, names: &[String], sig: &str, whom: &str) -> Result<()> {
    let sig = wharf_launcher::parse_signal(sig)?;
    for n in names {
        let s = running(&ctx.machines, n)?;
        match whom {
            "leader" => signal(leader(&s), sig)?,
            "all" => {
                for p in machine::cgroup_procs(&s.cgroup) {
                    let _ = signal(p, sig);
                }
            }
            other => bail!("invalid --kill-whom={other:?}: use leader or all"),
        }
    }
    Ok(())
}

pub fn shell(ctx: &Ctx, name: &str, user: Option<String>, command: Vec<OsString>) -> Result<()> {
    let s = running(&ctx.machines, name)?;
    use std::io::IsTerminal;
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let term = tty.then(|| std::env::var("TERM").ok()).flatten();
    let mut syscall_filter = wharf_launcher::seccomp::SyscallFilter::default();
    for f in &s.syscall_filter {
        syscall_filter.add(f)?;
    }
    let req = machine::shell::ShellRequest {
        user,
        command,
        term,
        syscall_filter,
        pty: tty,
    };
    let code = machine::shell::run(leader(&s), &req)?;
    std::process::exit(code);
}

pub fn copy(
    ctx: &Ctx,
    name: &str,
    to: bool,
    src: &std::path::Path,
    dst: Option<&std::path::Path>,
) -> Result<()> {
    let s = running(&ctx.machines, name)?;
    let l = leader(&s);
    if to {
        machine::copy::copy_to(l, src, dst)?;
    } else {
        machine::copy::copy_from(l, src, dst)?;
    }
    Ok(())
}

pub fn login(ctx: &Ctx, name: &str) -> Result<()> {
    use std::io::IsTerminal;
    if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        bail!("login needs a terminal on stdin and stdout (use shell for commands)");
    }
    shell(ctx, name, None, vec!["login".into()])
}

pub fn bind(
    ctx: &Ctx,
    name: &str,
    source: std::path::PathBuf,
    destination: Option<std::path::PathBuf>,
    read_only: bool,
    mkdir: bool,
) -> Result<()> {
    let s = running(&ctx.machines, name)?;
    let req = machine::bind::BindRequest {
        target: destination.unwrap_or_else(|| source.clone()),
        source,
        read_only,
        mkdir,
    };
    machine::bind::bind(name, leader(&s), &req)
}
