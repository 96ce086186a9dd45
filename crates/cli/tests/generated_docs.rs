//! The committed man pages (docs/man) and shell completions (docs/completions) must be exactly
//! what the binary generates from its clap definitions today, so they can never go stale.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const FIX: &str = "run scripts/gen-docs and commit the result";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn wharf(args: &[&str]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(args)
        .env_remove("WHARF_IMAGE_ROOT")
        .env_remove("WHARF_STATE_DIR")
        .output()
        .expect("run wharf");
    assert!(
        out.status.success(),
        "wharf {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn files_in(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}; {FIX}", dir.display())) {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        files.insert(name, fs::read(entry.path()).unwrap());
    }
    files
}

#[test]
fn man_pages_are_up_to_date() {
    let tmp = tempfile::tempdir().unwrap();
    wharf(&["generate-man", tmp.path().to_str().unwrap()]);
    let fresh = files_in(tmp.path());
    let committed = files_in(&repo().join("docs/man"));
    assert!(fresh.contains_key("wharf.1") && fresh.contains_key("wharf-run.1"));
    let fresh_names: Vec<_> = fresh.keys().collect();
    let committed_names: Vec<_> = committed.keys().collect();
    assert_eq!(
        fresh_names, committed_names,
        "docs/man holds other pages than wharf generates; {FIX}"
    );
    for (name, text) in &fresh {
        assert!(
            committed[name] == *text,
            "docs/man/{name} differs from what wharf generates; {FIX}"
        );
    }
}

#[test]
fn completions_are_up_to_date() {
    for (shell, file) in [
        ("bash", "wharf.bash"),
        ("zsh", "_wharf"),
        ("fish", "wharf.fish"),
    ] {
        let fresh = wharf(&["completions", shell]);
        let path = repo().join("docs/completions").join(file);
        let committed =
            fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; {FIX}", path.display()));
        assert!(
            committed == fresh,
            "docs/completions/{file} differs from `wharf completions {shell}`; {FIX}"
        );
    }
}

#[test]
fn bash_completion_parses_and_completes_verbs() {
    let script = repo().join("docs/completions/wharf.bash");
    // Load the script, then ask for completions of `wharf imp` as bash would.
    let probe = format!(
        "source {}; COMP_WORDS=(wharf imp); COMP_CWORD=1; COMP_LINE='wharf imp'; \
         COMP_POINT=9; _wharf wharf imp wharf; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let out = Command::new("bash")
        .args(["--norc", "-c", &probe])
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bash: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for verb in [
        "import-fs",
        "import-tar",
        "import-raw",
        "import-oci",
        "import-docker",
    ] {
        assert!(
            stdout.lines().any(|l| l == verb),
            "`wharf imp<TAB>` does not offer {verb}: {stdout:?}"
        );
    }
    assert!(
        !stdout.lines().any(|l| l == "list"),
        "offered a verb not starting with imp"
    );
    // Hidden verbs are not offered.
    for file in ["wharf.bash", "_wharf", "wharf.fish"] {
        let text = fs::read_to_string(repo().join("docs/completions").join(file)).unwrap();
        assert!(
            !text.contains("generate-man") && !text.contains("__supervise"),
            "{file} offers a hidden verb"
        );
    }
}

#[test]
fn completions_rejects_unknown_shell() {
    let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["completions", "tcsh"])
        .output()
        .expect("run wharf");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tcsh"));
}

#[test]
fn man_pages_name_guide_pages_that_exist() {
    let tmp = tempfile::tempdir().unwrap();
    wharf(&["generate-man", tmp.path().to_str().unwrap()]);
    for (name, text) in files_in(tmp.path()) {
        let text = String::from_utf8(text).unwrap().replace("\\-", "-");
        let guide = text
            .split("\\fIdocs/guide/")
            .nth(1)
            .and_then(|rest| rest.split("\\fR").next())
            .unwrap_or_else(|| panic!("{name} names no guide page"));
        assert!(
            repo().join("docs/guide").join(guide).is_file(),
            "{name} names docs/guide/{guide}, which does not exist"
        );
    }
}
