//! Progress reporting for long operations. Library code never prints: it reports through this
//! trait, and the binary decides how to render it (a bar on a TTY, nothing otherwise).

/// Receiver of progress events. All methods have no-op defaults.
pub trait Progress: Sync {
    /// Whether the receiver shows totals; when false, callers skip the work of measuring them.
    fn wants_total(&self) -> bool {
        false
    }
    /// A phase starts; `total` is its size in bytes when known.
    fn begin(&self, _what: &str, _total: Option<u64>) {}
    /// `bytes` more bytes are done.
    fn advance(&self, _bytes: u64) {}
    /// The phase ended.
    fn finish(&self) {}
}

/// A [`Progress`] that shows nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}
