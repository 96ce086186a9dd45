//! wharf-net: private networking for wharf machines (docs/networking.md).
//!
//! The launcher calls [`NetContext::setup`] with the machine's network namespace and a
//! [`NetworkSpec`] (the nspawn `[Network]` settings), keeps the returned [`MachineNetwork`]
//! while the machine runs and calls [`MachineNetwork::teardown`] after it stopped. Leftovers of
//! a SIGKILLed wharf are removed by the next `setup` (or [`NetContext::sweep_stale`]).
//!
//! Modules: [`rtnl`] (synchronous rtnetlink: links, addresses, routes), [`names`] (nspawn's
//! interface names), [`mac`] (nspawn's stable MAC addresses), [`addr`] (address pools),
//! [`nft`] (port forwarding tables), [`state`] (state files and lock), [`sysctl`].

pub mod addr;
pub mod error;
pub mod mac;
mod machine;
pub mod names;
pub mod nft;
pub mod rtnl;
mod setup;
pub mod state;
pub mod sysctl;

pub use error::{Error, Result};
pub use machine::{AddressMode, MachineNetwork, NetContext, NetworkSpec, VethExtra};
pub use nft::{PortForward, Proto};
