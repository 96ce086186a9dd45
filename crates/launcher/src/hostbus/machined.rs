//! Registration with systemd-machined (`org.freedesktop.machine1`), as systemd-nspawn's
//! `--register=yes --keep-unit` does: `RegisterMachineWithNetwork` with the machine's name, ID,
//! PID 1 and host-side interfaces. machined finds the machine's unit from the cgroup of PID 1,
//! so the cgroup must belong to a unit systemd knows (`--keep-unit` in a service with
//! `Delegate=yes`, such as `wharf@.service`); `UnregisterMachine` when the machine stops.

use std::path::Path;

use anyhow::Result;
use wharf_dbus::{Message, Value};

use super::{Bus, CallError};

const DEST: &str = "org.freedesktop.machine1";
const PATH: &str = "/org/freedesktop/machine1";
const IFACE: &str = "org.freedesktop.machine1.Manager";

/// `--register=`: whether to register machines with systemd-machined.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Register {
    /// When machined is reachable on the system bus; a failure there is a warning.
    #[default]
    Auto,
    /// Always: no system bus, no machined or a refused registration is an error.
    Yes,
    No,
}

impl Register {
    pub fn parse(s: &str) -> Result<Register> {
        Ok(match s {
            "auto" => Register::Auto,
            "yes" | "true" | "on" | "1" => Register::Yes,
            "no" | "false" | "off" | "0" => Register::No,
            _ => anyhow::bail!("--register={s}: expected yes, no or auto"),
        })
    }
}

/// What to tell machined about a machine.
pub struct Machine<'a> {
    pub name: &'a str,
    pub id: Option<[u8; 16]>,
    pub leader: u32,
    pub root: &'a Path,
    /// Host-side interfaces of the machine (its veth), by index.
    pub ifindices: Vec<i32>,
}

/// A registered machine; unregister with [`Registration::unregister`].
pub struct Registration {
    bus: Bus,
    name: String,
}

/// Errors that mean "no machined here" rather than "machined refused".
fn absent(e: &CallError) -> bool {
    matches!(e, CallError::Remote { name, .. } if matches!(name.as_str(),
        "org.freedesktop.DBus.Error.ServiceUnknown"
        | "org.freedesktop.DBus.Error.NameHasNoOwner"
        | "org.freedesktop.DBus.Error.UnknownMethod"
        | "org.freedesktop.DBus.Error.Spawn.ServiceNotFound"))
}

/// Register `m`: `Ok(None)` when there is no system bus or no machined on it (and `Ok(None)`
/// at once with [`Register::No`]); an error when machined refused (or, with [`Register::Yes`],
/// was not there).
pub fn register(mode: Register, m: &Machine) -> Result<Option<Registration>> {
    if mode == Register::No {
        return Ok(None);
    }
    let bus = match Bus::system() {
        Ok(Some(b)) => b,
        Ok(None) if mode == Register::Auto => return Ok(None),
        Ok(None) => anyhow::bail!("no D-Bus system bus to reach systemd-machined"),
        Err(e) => return Err(e),
    };
    let mut bus = bus;
    let call = Message::method_call(
        DEST,
        PATH,
        IFACE,
        "RegisterMachineWithNetwork",
        vec![
            Value::Str(m.name.to_string()),
            Value::Array(
                "y".into(),
                m.id.map(|id| id.iter().map(|b| Value::Byte(*b)).collect())
                    .unwrap_or_default(),
            ),
            Value::Str("wharf".into()),
            Value::Str("container".into()),
            Value::U32(m.leader),
            Value::Str(m.root.display().to_string()),
            Value::Array(
                "i".into(),
                m.ifindices.iter().map(|i| Value::I32(*i)).collect(),
            ),
        ],
    );
    match bus.call(call) {
        Ok(_) => Ok(Some(Registration {
            bus,
            name: m.name.to_string(),
        })),
        Err(e) if absent(&e) && mode == Register::Auto => Ok(None),
        Err(e) => Err(anyhow::anyhow!("systemd-machined: {e}")),
    }
}

impl Registration {
    /// Tell machined the machine is gone (it would notice the unit ending, but not a PID 1
    /// that exited while wharf restarts the machine).
    pub fn unregister(mut self) -> Result<()> {
        let call = Message::method_call(
            DEST,
            PATH,
            IFACE,
            "UnregisterMachine",
            vec![Value::Str(self.name.clone())],
        );
        match self.bus.call(call) {
            Ok(_) => Ok(()),
            // Already gone (machined dropped it, or was restarted).
            Err(CallError::Remote { name, .. })
                if name == "org.freedesktop.machine1.NoSuchMachine" =>
            {
                Ok(())
            }
            Err(e) => Err(anyhow::anyhow!("systemd-machined: {e}")),
        }
    }
}
