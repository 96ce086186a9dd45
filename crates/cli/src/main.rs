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
            eprintln!("wharf: {}", usage_line(&e.render().to_string()));
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
            eprintln!("wharf: {}", error_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// clap's usage error as one line: its first paragraph joined, so "the following required
/// arguments were not provided:" keeps the names that follow it on the next lines.
fn usage_line(text: &str) -> String {
    let para: Vec<&str> = text
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let line = para.join(" ");
    let line = line.trim_start_matches("error: ");
    if line.is_empty() {
        "invalid arguments".to_string()
    } else {
        line.to_string()
    }
}

/// An error and every cause on one line, separated by ": ". A cause that the text before it
/// already ends with is left out: library errors spell their source into their own message
/// (`read PATH: Is a directory`) and report it as their source too.
fn error_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if line.ends_with(&s) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&s);
    }
    line.replace('\n', " ")
}

#[cfg(test)]
mod main_tests {
    use super::*;

    #[test]
    fn usage_errors_keep_the_missing_argument_names() {
        let text = "error: the following required arguments were not provided:\n  <SOURCE>\n  <NAME>\n\nUsage: wharf clone <SOURCE> <NAME>\n";
        assert_eq!(
            usage_line(text),
            "the following required arguments were not provided: <SOURCE> <NAME>"
        );
        assert_eq!(usage_line(""), "invalid arguments");
    }

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let inner = wharf_core::Error::io("open", "/x", io);
        let e = anyhow::Error::new(inner).context("cannot import /x");
        assert_eq!(error_line(&e), "cannot import /x: open /x: gone");
        let e = anyhow::anyhow!("two\nlines");
        assert_eq!(error_line(&e), "two lines");
    }
}
