//! The host's D-Bus system bus, for the one thing wharf asks of it: registering running
//! machines with systemd-machined (`machinectl list` shows them) when machined is there.
//! A small blocking client over the wire format of `wharf-dbus`: connect, authenticate
//! (EXTERNAL), `Hello`, method calls with bounded waits. Nothing here is needed to run a
//! machine: no bus, no machined, no registration.

mod bus;
pub mod machined;
pub mod systemd;

pub use bus::{Bus, CallError};
