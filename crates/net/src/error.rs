//! The one error type of wharf-net: what was being done, on what, and why it failed.

use std::io;
use std::path::PathBuf;

/// Everything that can fail while setting up or tearing down a machine's network.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A name or option given by the user is not acceptable.
    #[error("invalid {what} {value:?}: {reason}")]
    Invalid {
        what: &'static str,
        value: String,
        reason: String,
    },
    /// An rtnetlink request failed.
    #[error("{op}: {source}")]
    Netlink {
        op: String,
        #[source]
        source: io::Error,
    },
    /// Reading or writing a state, lock or sysctl file failed.
    #[error("{op} {path}: {source}")]
    File {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The `nft` tool failed or could not be run.
    #[error("nft {op}: {reason}")]
    Nft { op: String, reason: String },
    /// The machine already has a network set up by a live wharf process.
    #[error("machine {machine} already has a network set up by wharf process {pid}")]
    Busy { machine: String, pid: u32 },
    /// No free address was found in the pool.
    #[error("no free address for {what} in {pool}")]
    Exhausted { what: String, pool: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn invalid(what: &'static str, value: &str, reason: impl Into<String>) -> Self {
        Error::Invalid {
            what,
            value: value.to_owned(),
            reason: reason.into(),
        }
    }

    pub(crate) fn netlink(op: impl Into<String>, source: io::Error) -> Self {
        Error::Netlink {
            op: op.into(),
            source,
        }
    }

    pub(crate) fn file(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::File {
            op,
            path: path.into(),
            source,
        }
    }
}
