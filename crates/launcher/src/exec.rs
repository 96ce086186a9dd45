//! What PID 1 (or the payload) executes: the command searched in the container's `$PATH`, the
//! init system for `--boot`, or a login shell when no command is given (as nspawn).

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{anyhow, bail, Result};

use crate::{Config, StartMode};

/// Init systems tried by `--boot`, in order.
pub const INITS: &[&str] = &[
    "/usr/lib/systemd/systemd",
    "/lib/systemd/systemd",
    "/sbin/init",
];

/// The program to run: candidate paths (tried in order) and argv.
pub(crate) struct Program {
    pub candidates: Vec<OsString>,
    pub argv: Vec<OsString>,
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Decide inside the container (after pivot_root). `shell`: the user's login shell.
pub(crate) fn program(cfg: &Config, shell: Option<&str>, path_env: &str) -> Result<Program> {
    match cfg.mode {
        StartMode::Boot => {
            let init = INITS
                .iter()
                .find(|p| is_executable(Path::new(p)))
                .ok_or_else(|| {
                    anyhow!(
                        "no init system found in the image (tried {})",
                        INITS.join(", ")
                    )
                })?;
            let mut argv = vec![OsString::from(init)];
            argv.extend(cfg.command.iter().cloned());
            Ok(Program {
                candidates: vec![OsString::from(init)],
                argv,
            })
        }
        _ if cfg.command.is_empty() => {
            // A login shell: the user's, else bash, else sh; argv[0] prefixed with '-'.
            let shells = shell
                .into_iter()
                .chain(["/bin/bash", "/bin/sh"])
                .filter(|s| s.starts_with('/') && is_executable(Path::new(s)));
            let sh = shells
                .into_iter()
                .next()
                .ok_or_else(|| anyhow!("no shell found in the image (tried /bin/bash, /bin/sh)"))?;
            let base = Path::new(sh).file_name().unwrap_or(OsStr::new("sh"));
            let mut argv0 = OsString::from("-");
            argv0.push(base);
            Ok(Program {
                candidates: vec![OsString::from(sh)],
                argv: vec![argv0],
            })
        }
        _ => {
            let cmd = &cfg.command[0];
            let candidates = if cmd.as_bytes().contains(&b'/') {
                vec![cmd.clone()]
            } else {
                path_env
                    .split(':')
                    .filter(|d| !d.is_empty())
                    .map(|d| {
                        let mut p = OsString::from(d);
                        p.push("/");
                        p.push(cmd);
                        p
                    })
                    .collect()
            };
            Ok(Program {
                candidates,
                argv: cfg.command.clone(),
            })
        }
    }
}

fn cstr(s: impl Into<Vec<u8>>) -> Result<CString> {
    CString::new(s).map_err(|_| anyhow!("argument contains a NUL byte"))
}

/// Execute `prog` with `env` (execvpe semantics: the first candidate that exists wins; a
/// permission error is reported only when nothing else is found). Returns only on failure.
pub(crate) fn exec(prog: &Program, env: &[(String, String)]) -> anyhow::Error {
    let argv: Result<Vec<CString>> = prog
        .argv
        .iter()
        .map(|a| cstr(a.clone().into_vec()))
        .collect();
    let envp: Result<Vec<CString>> = env.iter().map(|(k, v)| cstr(format!("{k}={v}"))).collect();
    let (argv, envp) = match (argv, envp) {
        (Ok(a), Ok(e)) => (a, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let name = prog
        .argv
        .first()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_default();
    // ENOENT/ENOTDIR: try the next directory; EACCES: remember, keep looking; else stop.
    let mut last: Option<io::Error> = None;
    for c in &prog.candidates {
        let Ok(path) = cstr(c.clone().into_vec()) else {
            continue;
        };
        let e = wharf_sys::process::execve(&path, &argv, &envp);
        match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => {
                last.get_or_insert(e);
            }
            io::ErrorKind::PermissionDenied => last = Some(e),
            _ => return anyhow!("failed to execute {name}: {e}"),
        }
    }
    match last {
        Some(e) => anyhow!("failed to execute {name}: {e}"),
        None => anyhow!("failed to execute {name}: no such file"),
    }
}

/// Refuse images that cannot run the requested mode (nspawn's checks).
pub(crate) fn check_image(cfg: &Config, root: &std::fs::File) -> Result<()> {
    match cfg.mode {
        StartMode::Boot => {
            let has = ["etc/os-release", "usr/lib/os-release"]
                .iter()
                .any(|p| crate::identity::read_image_file(root, p, 1).is_some());
            if !has {
                bail!(
                    "{} does not look like an OS tree (no /etc/os-release or /usr/lib/os-release); cannot boot it",
                    cfg.root.display()
                );
            }
        }
        _ => {
            let usr = wharf_sys::fs::open_in_root_with(
                std::os::fd::AsFd::as_fd(root),
                Path::new("usr"),
                rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY,
            );
            if usr.is_err() {
                bail!(
                    "{} has no /usr directory; it does not look like an OS tree",
                    cfg.root.display()
                );
            }
        }
    }
    Ok(())
}
