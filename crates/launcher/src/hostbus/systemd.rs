//! A transient scope from the host's systemd (`org.freedesktop.systemd1`
//! `StartTransientUnit`), for a machine started outside any unit on a systemd host: wharf asks
//! for `machine.slice/wharf-NAME.scope` with `Delegate=yes` and itself as its process, then
//! manages the subtree below it exactly as with `--keep-unit`. The scope is a unit systemd
//! knows (so `systemctl status` shows the machine and systemd-machined accepts its
//! registration); it ends when its last process does.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use wharf_dbus::{Message, Value};

use super::{Bus, CallError};

/// How long systemd may take to move wharf into the new scope.
const MOVE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for a scope of the same name that is still stopping.
const UNIT_EXISTS_WAIT: Duration = Duration::from_secs(5);

fn prop(name: &str, v: Value) -> Value {
    Value::Struct(vec![Value::Str(name.into()), Value::Variant(Box::new(v))])
}

/// Ask systemd for scope `unit` (e.g. `wharf-deb.scope`) in `slice`, holding this process,
/// with its subtree delegated; return once this process sits in it. `Ok(false)`: no system bus
/// or no systemd on it (nothing changed).
pub fn start_scope(unit: &str, slice: &str, description: &str) -> Result<bool> {
    let Some(mut bus) = Bus::system()? else {
        return Ok(false);
    };
    let me = std::process::id();
    let call = Message::method_call(
        "org.freedesktop.systemd1",
        "/org/freedesktop/systemd1",
        "org.freedesktop.systemd1.Manager",
        "StartTransientUnit",
        vec![
            Value::Str(unit.into()),
            Value::Str("fail".into()),
            Value::Array(
                "(sv)".into(),
                vec![
                    prop("Description", Value::Str(description.into())),
                    prop("Slice", Value::Str(slice.into())),
                    prop("Delegate", Value::Bool(true)),
                    prop("PIDs", Value::Array("u".into(), vec![Value::U32(me)])),
                    prop("CollectMode", Value::Str("inactive-or-failed".into())),
                    prop("TasksMax", Value::U64(16384)),
                ],
            ),
            Value::Array("(sa(sv))".into(), vec![]),
        ],
    );
    // A scope of that name may still be stopping (the previous machine of this name just
    // ended and systemd has not noticed its cgroup is empty yet): wait for it, bounded.
    let deadline = Instant::now() + UNIT_EXISTS_WAIT;
    loop {
        match bus.call(call.clone()) {
            Ok(_) => break,
            Err(CallError::Remote { name, .. })
                if matches!(
                    name.as_str(),
                    "org.freedesktop.DBus.Error.ServiceUnknown"
                        | "org.freedesktop.DBus.Error.NameHasNoOwner"
                ) =>
            {
                return Ok(false)
            }
            Err(CallError::Remote { name, .. })
                if name == "org.freedesktop.systemd1.UnitExists" && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => bail!("systemd: create {unit}: {e}"),
        }
    }
    // The job moves us once it runs; wait until /proc/self/cgroup says so.
    let deadline = Instant::now() + MOVE_TIMEOUT;
    loop {
        let own = std::fs::read_to_string("/proc/self/cgroup").context("read /proc/self/cgroup")?;
        let inside = own
            .lines()
            .filter_map(|l| l.strip_prefix("0::"))
            .any(|p| p.trim_end().ends_with(&format!("/{unit}")));
        if inside {
            return Ok(true);
        }
        if Instant::now() > deadline {
            bail!("systemd: {unit} was created but wharf was not moved into it");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
