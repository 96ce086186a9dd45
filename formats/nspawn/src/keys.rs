//! One function per key: check the value and store it in [`Settings`].

use crate::syntax::{Assignment, Section};
use crate::values::{self, ARCHITECTURES};
use crate::words::{parse_boolean, split_colons, split_words};
use crate::{BindSpec, PortSpec, PrivateUsers, Protocol, Rlimit, Settings, Warning};

type Res = Result<(), String>;

/// Store one assignment; `Err` is the reason the value is invalid.
pub(crate) fn apply(s: &mut Settings, warnings: &mut Vec<Warning>, a: &Assignment) -> Res {
    let v = a.value.as_str();
    let warn = |warnings: &mut Vec<Warning>, message: String| {
        warnings.push(Warning {
            line: a.line,
            message,
        })
    };
    match (a.section, a.key.as_str()) {
        (Section::Exec, "Boot") => {
            set_bool(&mut s.boot, v)?;
            if s.boot == Some(true) && s.process_two == Some(true) {
                s.process_two = None;
                warn(
                    warnings,
                    "Boot=yes overrides the earlier ProcessTwo=yes".into(),
                );
            }
        }
        (Section::Exec, "ProcessTwo") => {
            set_bool(&mut s.process_two, v)?;
            if s.boot == Some(true) && s.process_two == Some(true) {
                s.boot = None;
                warn(
                    warnings,
                    "ProcessTwo=yes overrides the earlier Boot=yes".into(),
                );
            }
        }
        (Section::Exec, "Ephemeral") => set_bool(&mut s.ephemeral, v)?,
        (Section::Exec, "Parameters") => {
            if v.is_empty() {
                s.parameters = None;
            } else {
                let words = split_words(v)?;
                s.parameters.get_or_insert_with(Vec::new).extend(words);
            }
        }
        (Section::Exec, "Environment") => environment(s, v)?,
        (Section::Exec, "User") => set_checked(&mut s.user, v, values::user_name)?,
        (Section::Exec, "WorkingDirectory") => {
            set_checked(&mut s.working_directory, v, values::absolute_path)?
        }
        (Section::Exec, "PivotRoot") => set_checked(&mut s.pivot_root, v, pivot_root)?,
        (Section::Exec, "Capability") => capabilities(&mut s.capability, v, true)?,
        (Section::Exec, "DropCapability") => capabilities(&mut s.drop_capability, v, true)?,
        (Section::Exec, "AmbientCapability") => capabilities(&mut s.ambient_capability, v, false)?,
        (Section::Exec, "NoNewPrivileges") => set_bool(&mut s.no_new_privileges, v)?,
        (Section::Exec, "KillSignal") => set_checked(&mut s.kill_signal, v, |x| {
            values::signal_number(x)
                .map(|_| ())
                .ok_or_else(|| format!("unknown signal {x:?}"))
        })?,
        (Section::Exec, "Personality") => set_checked(&mut s.personality, v, |x| {
            one_of(x, &ARCHITECTURES, "architecture")
        })?,
        (Section::Exec, "MachineID") => {
            s.machine_id = if v.is_empty() {
                None
            } else {
                Some(values::machine_id(v)?)
            }
        }
        (Section::Exec, "PrivateUsers") => {
            s.private_users = if v.is_empty() {
                None
            } else {
                Some(private_users(v)?)
            }
        }
        (Section::Exec, "PrivateUsersDelegate") => {
            s.private_users_delegate = if v.is_empty() {
                None
            } else {
                Some(v.parse().map_err(|_| format!("{v:?} is not a count"))?)
            }
        }
        (Section::Exec, "NotifyReady") => set_bool(&mut s.notify_ready, v)?,
        (Section::Exec, "SystemCallFilter") => {
            negatable_list(&mut s.system_call_filter, v, values::syscall_name)?
        }
        (Section::Exec, "RestrictAddressFamilies") => {
            negatable_list(&mut s.restrict_address_families, v, address_family)?
        }
        (Section::Exec, "OOMScoreAdjust") => {
            s.oom_score_adjust = if v.is_empty() {
                None
            } else {
                let n: i32 = v.parse().map_err(|_| format!("{v:?} is not a number"))?;
                if !(-1000..=1000).contains(&n) {
                    return Err(format!("{n} is outside -1000…1000"));
                }
                Some(n)
            }
        }
        (Section::Exec, "CPUAffinity") => {
            // An empty set (`CPUAffinity=,`) resets like an empty assignment.
            s.cpu_affinity = Some(values::cpu_set(v)?).filter(|set| !set.is_empty())
        }
        (Section::Exec, "Hostname") => set_checked(&mut s.hostname, v, values::hostname)?,
        (Section::Exec, "ResolvConf") => {
            set_checked(&mut s.resolv_conf, v, |x| one_of(x, &RESOLV_CONF, "mode"))?
        }
        (Section::Exec, "Timezone") => set_checked(&mut s.timezone, v, |x| {
            one_of(
                x,
                &["off", "copy", "bind", "symlink", "delete", "auto"],
                "mode",
            )
        })?,
        (Section::Exec, "LinkJournal") => set_checked(&mut s.link_journal, v, |x| {
            one_of(
                x,
                &["no", "auto", "host", "try-host", "guest", "try-guest"],
                "mode",
            )
        })?,
        (Section::Exec, "SuppressSync") => set_bool(&mut s.suppress_sync, v)?,
        (Section::Exec, key) if key.starts_with("Limit") => {
            let Some(r) = Rlimit::ALL.into_iter().find(|r| r.key() == key) else {
                return unknown(warnings, a);
            };
            if v.is_empty() {
                s.limits.remove(&r);
            } else {
                s.limits.insert(r, limit(r, v)?);
            }
        }

        (Section::Files, "ReadOnly") => set_bool(&mut s.read_only, v)?,
        (Section::Files, "Volatile") => {
            s.volatile = match (v, parse_boolean(v)) {
                ("", _) => None,
                (_, Some(b)) => Some(if b { "yes" } else { "no" }.into()),
                ("state" | "overlay", None) => Some(v.into()),
                _ => return Err(format!("{v:?} is not a boolean, \"state\" or \"overlay\"")),
            }
        }
        (Section::Files, "Bind") => list(&mut s.bind, v, bind)?,
        (Section::Files, "BindReadOnly") => list(&mut s.bind_read_only, v, bind)?,
        (Section::Files, "BindUser") => {
            if v.is_empty() {
                s.bind_user.clear();
            }
            for user in split_words(v)? {
                values::user_name(&user)?;
                s.bind_user.push(user);
            }
        }
        (Section::Files, "BindUserShell") => {
            s.bind_user_shell = match (v, parse_boolean(v)) {
                ("", _) => None,
                (_, Some(b)) => Some(if b { "yes" } else { "no" }.into()),
                _ => {
                    values::absolute_path(v).map_err(|e| format!("not a boolean and {e}"))?;
                    Some(v.into())
                }
            }
        }
        (Section::Files, "TemporaryFileSystem") => list(&mut s.temporary_file_system, v, tmpfs)?,
        (Section::Files, "Inaccessible") => list(&mut s.inaccessible, v, |x| {
            values::absolute_path(x)?;
            Ok(x.to_string())
        })?,
        (Section::Files, "Overlay") => list(&mut s.overlay, v, overlay)?,
        (Section::Files, "OverlayReadOnly") => list(&mut s.overlay_read_only, v, overlay)?,
        (Section::Files, "PrivateUsersOwnership") => {
            set_checked(&mut s.private_users_ownership, v, |x| {
                one_of(x, &["off", "chown", "map", "auto", "foreign"], "mode")
            })?
        }
        (Section::Files, "PrivateUsersChown") => {
            set_bool(&mut s.private_users_chown, v)?;
            warn(
                warnings,
                "PrivateUsersChown= is a deprecated alias, use PrivateUsersOwnership=chown or off"
                    .into(),
            );
        }

        (Section::Network, "Private") => set_bool(&mut s.private, v)?,
        (Section::Network, "NamespacePath") => {
            set_checked(&mut s.namespace_path, v, values::absolute_path)?
        }
        (Section::Network, "VirtualEthernet") => set_bool(&mut s.virtual_ethernet, v)?,
        (Section::Network, "VirtualEthernetExtra") => {
            list(&mut s.virtual_ethernet_extra, v, |x| {
                interface_pair(x)?;
                Ok(x.to_string())
            })?
        }
        (Section::Network, "Interface") => interfaces(&mut s.interface, v, true)?,
        (Section::Network, "MACVLAN") => interfaces(&mut s.macvlan, v, false)?,
        (Section::Network, "IPVLAN") => interfaces(&mut s.ipvlan, v, false)?,
        (Section::Network, "Bridge") => set_checked(&mut s.bridge, v, values::ifname)?,
        (Section::Network, "Zone") => set_checked(&mut s.zone, v, |x| {
            values::ifname(&format!("vz-{x}")).map_err(|_| {
                format!("{x:?} is not a valid zone name (\"vz-\" + name must be an interface name)")
            })
        })?,
        (Section::Network, "Port") => {
            if v.is_empty() {
                s.port.clear();
            } else {
                let p = port(v)?;
                if s.port
                    .iter()
                    .any(|q| q.protocol == p.protocol && q.host == p.host)
                {
                    return Err(format!("host port {} is already forwarded", p.host));
                }
                s.port.push(p);
            }
        }
        _ => return unknown(warnings, a),
    }
    Ok(())
}

fn unknown(warnings: &mut Vec<Warning>, a: &Assignment) -> Res {
    warnings.push(Warning {
        line: a.line,
        message: format!(
            "unknown key {}= in section [{:?}], ignoring it",
            a.key, a.section
        ),
    });
    Ok(())
}

fn set_bool(field: &mut Option<bool>, v: &str) -> Res {
    *field = if v.is_empty() {
        None
    } else {
        Some(parse_boolean(v).ok_or_else(|| format!("{v:?} is not a boolean"))?)
    };
    Ok(())
}

fn set_checked(field: &mut Option<String>, v: &str, check: impl Fn(&str) -> Res) -> Res {
    *field = if v.is_empty() {
        None
    } else {
        check(v)?;
        Some(v.to_string())
    };
    Ok(())
}

/// One entry per assignment; an empty assignment empties the list.
fn list<T>(field: &mut Vec<T>, v: &str, item: impl Fn(&str) -> Result<T, String>) -> Res {
    if v.is_empty() {
        field.clear();
    } else {
        field.push(item(v)?);
    }
    Ok(())
}

fn one_of(v: &str, names: &[&str], what: &str) -> Res {
    if names.contains(&v) {
        Ok(())
    } else {
        Err(format!(
            "unknown {what} {v:?} (expected one of {})",
            names.join(", ")
        ))
    }
}

const RESOLV_CONF: [&str; 15] = [
    "off",
    "copy-host",
    "copy-static",
    "copy-uplink",
    "copy-stub",
    "replace-host",
    "replace-static",
    "replace-uplink",
    "replace-stub",
    "bind-host",
    "bind-static",
    "bind-uplink",
    "bind-stub",
    "delete",
    "auto",
];

fn environment(s: &mut Settings, v: &str) -> Res {
    if v.is_empty() {
        s.environment.clear();
        return Ok(());
    }
    for word in split_words(v)? {
        let (name, value) = word
            .split_once('=')
            .ok_or_else(|| format!("{word:?} is not a NAME=VALUE assignment"))?;
        if name.is_empty() || name.chars().any(|c| c.is_control()) {
            return Err(format!("{name:?} is not a valid variable name"));
        }
        s.environment.retain(|(n, _)| n != name);
        s.environment.push((name.to_string(), value.to_string()));
    }
    Ok(())
}

fn pivot_root(v: &str) -> Res {
    let (a, b) = v.split_once(':').unwrap_or((v, "/"));
    values::absolute_path(a)?;
    values::absolute_path(b)
}

fn capabilities(field: &mut Vec<String>, v: &str, allow_all: bool) -> Res {
    if v.is_empty() {
        field.clear();
    }
    for word in split_words(v)? {
        let cap = if word.eq_ignore_ascii_case("all") {
            if !allow_all {
                return Err("\"all\" is not supported here".into());
            }
            "all".to_string()
        } else {
            values::capability(&word)?
        };
        if !field.contains(&cap) {
            field.push(cap);
        }
    }
    Ok(())
}

/// A whitespace list where a leading `~` on the value makes every entry a deny entry.
fn negatable_list(field: &mut Vec<String>, v: &str, check: impl Fn(&str) -> Res) -> Res {
    if v.is_empty() {
        field.clear();
        return Ok(());
    }
    let (deny, rest) = match v.strip_prefix('~') {
        Some(rest) => (true, rest),
        None => (false, v),
    };
    for word in split_words(rest)? {
        check(&word)?;
        field.push(if deny { format!("~{word}") } else { word });
    }
    Ok(())
}

fn address_family(v: &str) -> Res {
    let ok = v == "none"
        || v.strip_prefix("AF_").is_some_and(|n| {
            !n.is_empty()
                && n.len() <= 16
                && n.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        });
    if ok {
        Ok(())
    } else {
        Err(format!("{v:?} is not an address family (AF_…)"))
    }
}

fn private_users(v: &str) -> Result<PrivateUsers, String> {
    if let Some(b) = parse_boolean(v) {
        return Ok(if b {
            PrivateUsers::Yes
        } else {
            PrivateUsers::No
        });
    }
    match v {
        "pick" => return Ok(PrivateUsers::Pick),
        "identity" => return Ok(PrivateUsers::Identity),
        "managed" => return Ok(PrivateUsers::Managed),
        _ => {}
    }
    let (a, b) = v.split_once(':').unwrap_or((v, "65536"));
    let bad = || format!("{v:?} is not no, yes, pick, identity, managed or UID[:COUNT]");
    let start: u32 = a.parse().map_err(|_| bad())?;
    let count: u32 = b.parse().map_err(|_| bad())?;
    let valid_uid = |u: u32| u != u32::MAX && u != 65535;
    let last = start.checked_add(count.wrapping_sub(1));
    match last {
        Some(last) if count > 0 && valid_uid(start) && valid_uid(last) => {
            Ok(PrivateUsers::Range { start, count })
        }
        _ => Err(format!("UID range {v:?} is invalid")),
    }
}

fn limit_value(r: Rlimit, v: &str) -> Result<Option<u64>, String> {
    if v == "infinity" {
        return Ok(None);
    }
    let n = if r.is_bytes() {
        values::size(v)?
    } else if r == Rlimit::Cpu {
        values::time_usec(v, 1_000_000)?.div_ceil(1_000_000)
    } else if r == Rlimit::Rttime {
        values::time_usec(v, 1)?
    } else if r == Rlimit::Nice && v.starts_with(['+', '-']) {
        let nice: i64 = v
            .parse()
            .map_err(|_| format!("{v:?} is not a nice value"))?;
        if !(-20..=19).contains(&nice) {
            return Err(format!("nice value {nice} is outside -20…19"));
        }
        (20 - nice) as u64
    } else {
        let n: u64 = v.parse().map_err(|_| format!("{v:?} is not a number"))?;
        if r == Rlimit::Nice && n > 40 {
            return Err(format!("raw nice limit {n} is above 40"));
        }
        n
    };
    // u64::MAX is RLIM_INFINITY; a number that large means infinity anyway.
    Ok((n != u64::MAX).then_some(n))
}

fn limit(r: Rlimit, v: &str) -> Result<(Option<u64>, Option<u64>), String> {
    let (soft, hard) = match v.split_once(':') {
        Some((a, b)) => (limit_value(r, a)?, limit_value(r, b)?),
        None => {
            let x = limit_value(r, v)?;
            (x, x)
        }
    };
    let above = |x: Option<u64>, y: Option<u64>| match (x, y) {
        (None, Some(_)) => true,
        (Some(a), Some(b)) => a > b,
        _ => false,
    };
    if above(soft, hard) {
        return Err("the soft limit is above the hard limit".into());
    }
    Ok((soft, hard))
}

fn bind(v: &str) -> Result<BindSpec, String> {
    let fields = split_colons(v, 3)?;
    let raw_source = fields[0].as_str();
    let (ignore_missing, source) = match raw_source.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, raw_source),
    };
    let dest = match fields.get(1) {
        Some(d) if !d.is_empty() => d.as_str(),
        _ => source,
    };
    if !source.is_empty() {
        values::absolute_path(source)?;
    }
    values::absolute_path(dest)?;
    let mut options = Vec::new();
    if let Some(opts) = fields.get(2) {
        for o in opts.split(',').filter(|o| !o.is_empty()) {
            one_of(o, &BIND_OPTIONS, "bind option")?;
            options.push(o.to_string());
        }
    }
    Ok(BindSpec {
        source: source.to_string(),
        dest: dest.to_string(),
        options,
        ignore_missing,
    })
}

pub(crate) const BIND_OPTIONS: [&str; 6] = [
    "rbind",
    "norbind",
    "idmap",
    "noidmap",
    "rootidmap",
    "owneridmap",
];

fn tmpfs(v: &str) -> Result<(String, Option<String>), String> {
    let fields = split_colons(v, 2)?;
    values::absolute_path(&fields[0])?;
    let opts = fields.get(1).filter(|o| !o.is_empty()).cloned();
    if let Some(o) = &opts {
        if o.contains(['\n', '\r', '\0']) {
            return Err("mount options contain a control character".into());
        }
    }
    Ok((fields[0].clone(), opts))
}

fn overlay(v: &str) -> Result<String, String> {
    let fields = split_colons(v, usize::MAX)?;
    if fields.len() < 2 {
        return Err("an overlay needs at least two colon-separated paths".into());
    }
    for (i, f) in fields.iter().enumerate() {
        // Empty upper directory: a temporary one; `+` paths are relative to the container.
        let inner = f.strip_prefix('+').map(|p| format!("/{p}"));
        let is_upper = i + 2 == fields.len();
        if !(f.is_empty() && is_upper) {
            values::absolute_path(inner.as_deref().unwrap_or(f))?;
        }
    }
    Ok(v.to_string())
}

fn interface_pair(v: &str) -> Res {
    let (host, container) = v.split_once(':').unwrap_or((v, v));
    values::ifname(host)?;
    values::ifname(container)
}

fn interfaces(field: &mut Vec<String>, v: &str, pairs: bool) -> Res {
    if v.is_empty() {
        field.clear();
    }
    for word in split_words(v)? {
        if pairs {
            interface_pair(&word)?;
        } else {
            values::ifname(&word)?;
        }
        field.push(word);
    }
    Ok(())
}

fn port(v: &str) -> Result<PortSpec, String> {
    let (protocol, rest) = if let Some(r) = v.strip_prefix("tcp:") {
        (Protocol::Tcp, r)
    } else if let Some(r) = v.strip_prefix("udp:") {
        (Protocol::Udp, r)
    } else {
        (Protocol::Tcp, v)
    };
    let number = |p: &str| -> Result<u16, String> {
        match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
            _ => Err(format!("{p:?} is not a port number (1…65535)")),
        }
    };
    let (host, machine) = match rest.split_once(':') {
        Some((h, m)) => (number(h)?, number(m)?),
        None => {
            let p = number(rest)?;
            (p, p)
        }
    };
    Ok(PortSpec {
        protocol,
        host,
        machine,
    })
}
