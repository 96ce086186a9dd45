//! Renders core progress events: a bar with rate and ETA on a TTY, nothing otherwise.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use wharf_core::Progress;

/// A progress bar on stderr, shown only when stderr is a terminal and not `--quiet`.
pub struct Bar {
    bar: Option<ProgressBar>,
}

impl Bar {
    pub fn new(quiet: bool) -> Self {
        let show = !quiet && std::io::stderr().is_terminal();
        Bar {
            bar: show.then(|| ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())),
        }
    }
}

impl Bar {
    /// Whether progress (and so the closing summary line) is shown.
    pub fn shown(&self) -> bool {
        self.bar.is_some()
    }

    /// One closing line on the terminal: what was done, how much, how fast.
    pub fn summary(&self, what: &str, bytes: Option<u64>, started: std::time::Instant) {
        if !self.shown() {
            return;
        }
        let secs = started.elapsed().as_secs_f64();
        match bytes {
            Some(b) if secs > 0.0 => eprintln!(
                "{what}: {} in {secs:.1} s ({}/s).",
                crate::format::bytes(b),
                crate::format::bytes((b as f64 / secs) as u64)
            ),
            _ => eprintln!("{what} in {secs:.1} s."),
        }
    }
}

impl Progress for Bar {
    fn wants_total(&self) -> bool {
        self.bar.is_some()
    }

    fn begin(&self, what: &str, total: Option<u64>) {
        let Some(bar) = &self.bar else { return };
        let style = match total {
            Some(t) => {
                bar.set_length(t);
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta}",
                )
            }
            None => ProgressStyle::with_template("{msg} {binary_bytes} {binary_bytes_per_sec}"),
        };
        if let Ok(s) = style {
            bar.set_style(s.progress_chars("=> "));
        }
        bar.set_message(what.to_string());
        bar.set_position(0);
    }

    fn advance(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
