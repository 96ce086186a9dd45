//! `wharf enable`/`disable` with `--root` (a temporary directory: the host's /etc is never
//! touched): the `wharf@.service` template checked by `systemd-analyze verify`, and the links
//! `systemctl enable` would make.

use std::path::Path;
use std::process::Command;

use wharf_tests::{wharf_bin, Run};

fn wharf(args: &[&str]) -> Run {
    Command::new(wharf_bin())
        .args(args)
        .output()
        .expect("spawn wharf")
        .into()
}

/// `systemd-analyze verify UNIT-FILE`: (success, output).
fn verify(unit: &Path) -> (bool, String) {
    let o = Command::new("systemd-analyze")
        .arg("verify")
        .arg(unit)
        .output()
        .expect("systemd-analyze (Debian package systemd) is required");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.success(), text)
}

#[test]
fn enable_verify_disable() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path().to_str().unwrap();
    let dir = root.path().join("etc/systemd/system");
    let r1 = wharf(&["enable", "deb", "other", "--root", r]);
    assert!(r1.ok, "{r1:?}");
    let template = dir.join("wharf@.service");
    let text = std::fs::read_to_string(&template).unwrap();
    let exe = wharf_bin().canonicalize().unwrap();
    let exec = format!(
        "ExecStart={} run -b -M %i --keep-unit --on-reboot=exit",
        exe.display()
    );
    assert!(text.contains(&exec), "{text}");
    for line in [
        "KillMode=mixed",
        "RestartForceExitStatus=133",
        "Type=notify",
        "NotifyAccess=all",
        "Delegate=yes",
        "Slice=machine.slice",
        "WantedBy=machines.target",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing: {text}");
    }
    for n in ["deb", "other"] {
        let link = dir.join(format!("machines.target.wants/wharf@{n}.service"));
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            Path::new("/etc/systemd/system/wharf@.service")
        );
    }
    assert_eq!(
        std::fs::read_link(dir.join("multi-user.target.wants/machines.target")).unwrap(),
        Path::new("/usr/lib/systemd/system/machines.target")
    );
    // systemd accepts the instance (template, keys, executable).
    let (ok, out) = verify(&dir.join("wharf@deb.service"));
    assert!(ok, "{out}");
    assert!(!out.contains("Unknown key"), "{out}");
    // … and the check can fail: the same unit with a missing binary is refused.
    let bad = tempfile::tempdir().unwrap();
    std::fs::write(
        bad.path().join("wharf@.service"),
        text.replace(&exe.display().to_string(), "/nonexistent/wharf"),
    )
    .unwrap();
    let (ok, out) = verify(&bad.path().join("wharf@deb.service"));
    assert!(!ok, "{out}");

    // Enabling again changes nothing.
    let again = wharf(&["enable", "deb", "--root", r]);
    assert!(again.ok && again.stderr.is_empty(), "{again:?}");
    // Disable: the links go; the template stays while a machine is enabled.
    let d = wharf(&["disable", "deb", "--root", r]);
    assert!(d.ok, "{d:?}");
    assert!(!dir.join("machines.target.wants/wharf@deb.service").exists());
    assert!(template.exists());
    let d = wharf(&["disable", "other", "--root", r]);
    assert!(d.ok, "{d:?}");
    assert!(!template.exists());
    let d = wharf(&["disable", "other", "--root", r]);
    assert_eq!(d.code, Some(1), "{d:?}");
    assert!(d.stderr.contains("machine other is not enabled"), "{d:?}");
    let bad = wharf(&["enable", "../x", "--root", r]);
    assert_eq!(bad.code, Some(1), "{bad:?}");
    assert!(bad.stderr.contains("invalid machine name"), "{bad:?}");
}
