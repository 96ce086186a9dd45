//! The `wharf` command. This is the only crate that names concrete plugins: it builds the
//! [`Registry`](wharf_core::Registry), opens the store and dispatches to a verb.

mod args;
mod commands;
mod docgen;
mod format;
mod plugins;
mod progress;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    wharf_sys::signal::default_sigpipe();
    // Descriptors inherited without close-on-exec never reach a machine (docs/security.md).
    if let Err(e) = wharf_sys::process::cloexec_from(3) {
        eprintln!("wharf: cannot mark inherited file descriptors close-on-exec: {e}");
        return ExitCode::FAILURE;
    }
    let args = match args::Args::try_parse() {
        Ok(a) => a,
        Err(e) if e.use_stderr() => {
            // Usage errors: one line naming the problem, exit status 2.
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            eprintln!("wharf: {}", first.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
        Err(e) => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    match commands::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the outermost context and every cause, separated by ": ".
            eprintln!("wharf: {e:#}");
            ExitCode::FAILURE
        }
    }
}
