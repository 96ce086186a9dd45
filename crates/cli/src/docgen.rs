//! Man pages and shell completions, generated from the clap definition the binary parses
//! (`args::command()`), so they can never describe other options than the binary has.
//! `scripts/gen-docs` writes them into docs/man and docs/completions.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use crate::args::{self, CompletionShell};

/// Where the long documentation lives, named in every page's SEE ALSO.
const DOCS_URL: &str = "docs/guide/README.md in the wharf source tree";

/// `wharf completions SHELL`: the script on standard output.
pub fn completions(shell: CompletionShell, out: &mut dyn Write) -> Result<()> {
    let mut cmd = args::command();
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
    let names: Vec<String> = verbs
        .iter()
        .map(|c| format!("wharf-{}", c.get_name()))
        .collect();
    write_page(dir, cmd, &see_also(&names))?;
    for verb in verbs {
        write_page(dir, verb, &see_also(&["wharf".to_string()]))?;
    }
    Ok(())
}

fn see_also(pages: &[String]) -> String {
    let refs: Vec<String> = pages
        .iter()
        .map(|p| format!("\\fB{}\\fR(1)", p.replace('-', "\\-")))
        .collect();
    format!(
        ".SH \"SEE ALSO\"\n{},\n\\fBsystemd\\-nspawn\\fR(1), \\fBmachinectl\\fR(1), \
         \\fBsystemd.nspawn\\fR(5); the user guide in {DOCS_URL}\n",
        refs.join(",\n")
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
    std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))
}
