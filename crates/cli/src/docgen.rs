//! Man pages and shell completions, generated from the clap definition the binary parses
//! (`args::command()`), so they can never describe other options than the binary has.
//! `scripts/gen-docs` writes them into docs/man and docs/completions.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use crate::args::{self, CompletionShell};

/// `wharf completions SHELL`: the script on standard output.
pub fn completions(shell: CompletionShell, out: &mut dyn Write) -> Result<()> {
    let mut cmd = without_hidden_verbs(args::command());
    let shell = match shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "wharf", &mut buf);
    out.write_all(&buf)
        .context("writing the completion script")?;
    Ok(())
}

/// The command with only the verbs users see: clap_complete would offer hidden ones too
/// (`generate-man`, `__supervise`).
fn without_hidden_verbs(cmd: clap::Command) -> clap::Command {
    let mut out = clap::Command::new("wharf")
        .version(env!("CARGO_PKG_VERSION"))
        .propagate_version(cmd.is_propagate_version_set())
        .subcommand_required(cmd.is_subcommand_required_set());
    if let Some(about) = cmd.get_about() {
        out = out.about(about.clone());
    }
    for arg in cmd.get_arguments() {
        out = out.arg(arg.clone());
    }
    for verb in cmd.get_subcommands().filter(|c| !c.is_hide_set()) {
        out = out.subcommand(verb.clone());
    }
    out
}

/// `wharf generate-man DIR`: wharf.1 plus wharf-VERB.1 for every visible verb.
pub fn man_pages(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut cmd = args::command().disable_help_subcommand(true);
    cmd.build();
    let verbs: Vec<clap::Command> = cmd
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .cloned()
        .collect();
    let mut main_extra = exit_status("");
    main_extra.push_str(MAIN_SECTIONS);
    let mut pages: Vec<String> = verbs
        .iter()
        .map(|c| format!("wharf-{}", c.get_name()))
        .collect();
    pages.extend(SYSTEMD_PAGES.iter().map(|p| p.to_string()));
    main_extra.push_str(&see_also(&pages, "README.md"));
    write_page(dir, cmd, &main_extra)?;
    for verb in verbs {
        let name = verb.get_name().to_string();
        let mut extra = exit_status(&name);
        let mut pages = vec!["wharf".to_string()];
        pages.extend(SYSTEMD_PAGES.iter().map(|p| p.to_string()));
        extra.push_str(&see_also(&pages, guide_page(&name)));
        write_page(dir, verb, &extra)?;
    }
    Ok(())
}

const SYSTEMD_PAGES: [&str; 3] = ["systemd-nspawn", "machinectl", "systemd.nspawn(5)"];

/// The user guide page (docs/guide/) that explains a verb.
fn guide_page(verb: &str) -> &'static str {
    match verb {
        "list-images" | "image-status" | "show-image" | "clone" | "rename" | "remove"
        | "read-only" | "set-limit" | "import-fs" | "clean" => "store.md",
        "import-tar" | "export-tar" | "pull-tar" => "tar.md",
        "import-raw" | "export-raw" | "pull-raw" | "convert" => "disk.md",
        "import-oci" | "import-docker" | "export-oci" | "pull-oci" | "push" => "containers.md",
        "run" | "boot" => "run.md",
        "start" | "list" | "status" | "shell" | "login" | "copy-to" | "copy-from" | "kill"
        | "poweroff" | "reboot" | "terminate" | "bind" | "enable" | "disable" => "machines.md",
        _ => "README.md",
    }
}

/// The EXIT STATUS section of a verb's page ("" = wharf.1).
fn exit_status(verb: &str) -> String {
    let specific = match verb {
        "run" | "boot" => {
            "The exit status of the machine's PID 1 (133 becomes 1); 255 when PID 1 was killed \
             by a signal; 0 after a poweroff or halt inside the machine; 133 after a reboot \
             inside with --on-reboot=exit; 128+N when wharf killed the machine after signal N; \
             1 when the setup failed (one line on standard error); 2 for a command-line mistake."
        }
        "shell" => {
            "The command's exit status; 128+N when it was killed by signal N; 127 when it cannot \
             be executed; 1 when wharf failed (the machine is not running, an unknown user), \
             with one line on standard error; 2 for a command-line mistake."
        }
        "start" => {
            "0 once the machine reported READY=1; 1 when it could not be started, ended early \
             or was not ready within --timeout (what was started is killed and the last \
             console lines are printed); 2 for a command-line mistake."
        }
        "" => {
            "0 on success; 1 when the operation failed, with one line on standard error \
             (\"wharf: ...\"), leaving the store as it was; 2 for a command-line mistake. \
             run and boot pass on the machine's exit status, shell the command's (see their \
             pages)."
        }
        _ => {
            "0 on success; 1 when the operation failed, with one line on standard error \
             (\"wharf: ...\"), leaving the store as it was; 2 for a command-line mistake."
        }
    };
    format!(".SH \"EXIT STATUS\"\n{}\n", roff_text(specific))
}

/// ENVIRONMENT and FILES of wharf.1.
const MAIN_SECTIONS: &str = r#".SH ENVIRONMENT
.TP
\fBWHARF_IMAGE_ROOT\fR
Use only this directory as the image store (\fB\-\-image\-root\fR).
.TP
\fBWHARF_STATE_DIR\fR
Where running machines keep their state (\fB\-\-state\-dir\fR).
.TP
\fBWHARF_OCI_CACHE\fR
The blob cache of pull\-oci (\fB\-\-cache\-dir\fR).
.TP
\fBREGISTRY_AUTH_FILE\fR, \fBDOCKER_CONFIG\fR
Registry credentials (else \fI~/.docker/config.json\fR).
.TP
\fBHTTP_PROXY\fR, \fBHTTPS_PROXY\fR, \fBNO_PROXY\fR
Proxies for downloads.
.SH FILES
.TP
\fI/var/lib/machines\fR
Where new images are written; searched together with \fI/etc/machines\fR, \fI/run/machines\fR,
\fI/usr/local/lib/machines\fR and \fI/usr/lib/machines\fR.
.TP
\fI/etc/systemd/nspawn/NAME.nspawn\fR, \fI/run/systemd/nspawn/NAME.nspawn\fR
Trusted settings files; \fINAME.nspawn\fR next to an image is untrusted.
.TP
\fI/run/wharf/machines\fR
State of running machines.
.TP
\fI/var/cache/wharf/oci\fR
The blob cache of pull\-oci.
.TP
\fI/etc/systemd/import\-pubring.pgp\fR
Keys that verify pull\-tar and pull\-raw downloads.
"#;

/// Plain text as one roff paragraph.
fn roff_text(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    match escaped.chars().next() {
        Some('.' | '\'') => format!("\\&{escaped}"),
        _ => escaped,
    }
}

fn see_also(pages: &[String], guide: &str) -> String {
    let refs: Vec<String> = pages
        .iter()
        .map(|p| {
            let (name, section) = match p.strip_suffix(')').and_then(|p| p.split_once('(')) {
                Some((n, s)) => (n.to_string(), s.to_string()),
                None => (p.clone(), "1".to_string()),
            };
            format!("\\fB{}\\fR({section})", name.replace('-', "\\-"))
        })
        .collect();
    format!(
        ".SH \"SEE ALSO\"\n{}\n.PP\nThe user guide: \\fIdocs/guide/{}\\fR in the wharf source tree.\n",
        refs.join(",\n"),
        guide.replace('-', "\\-")
    )
}

fn write_page(dir: &Path, cmd: clap::Command, extra: &str) -> Result<()> {
    let man = clap_mangen::Man::new(cmd)
        .source(format!("wharf {}", env!("CARGO_PKG_VERSION")))
        .manual("wharf manual");
    let path = dir.join(man.get_filename());
    let mut page = Vec::new();
    man.render(&mut page)
        .with_context(|| format!("rendering {}", path.display()))?;
    page.extend_from_slice(extra.as_bytes());
    let page = ascii_roff(&String::from_utf8_lossy(&page));
    std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))
}

/// Non-ASCII characters (the help texts' "…") as groff's `\[uXXXX]` escapes, which
/// groff and mandoc read whatever the input encoding.
fn ascii_roff(page: &str) -> String {
    let mut out = String::with_capacity(page.len());
    for c in page.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            out.push_str(&format!("\\[u{:04X}]", c as u32));
        }
    }
    out
}
