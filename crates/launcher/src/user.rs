//! `-u/--user`: look a user up in the image's own `/etc/passwd` and `/etc/group`.

use anyhow::{bail, Result};

/// A resolved user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups: the primary group plus every group listing the user.
    pub groups: Vec<u32>,
    pub home: String,
    pub shell: String,
}

/// Largest passwd/group file read (bounds memory on hostile images).
pub const MAX_DB: u64 = 16 << 20;

/// Find `spec` (a name or a numeric UID) in `passwd`, and its groups in `group`.
pub fn resolve(spec: &str, passwd: &str, group: &str) -> Result<User> {
    if spec.is_empty() || spec.contains(['\0', ':', '\n']) {
        bail!("invalid user name {spec:?}");
    }
    let numeric = spec.parse::<u32>().ok();
    let entry = passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 7 {
            return None;
        }
        let uid = f[2].parse::<u32>().ok()?;
        let gid = f[3].parse::<u32>().ok()?;
        (f[0] == spec || numeric == Some(uid)).then(|| (f[0], uid, gid, f[5], f[6]))
    });
    let Some((name, uid, gid, home, shell)) = entry else {
        bail!("user {spec:?} not found in the image's /etc/passwd");
    };
    let mut groups = vec![gid];
    for l in group.lines() {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 4 {
            continue;
        }
        let Ok(g) = f[2].parse::<u32>() else { continue };
        if f[3].split(',').any(|m| m.trim() == name) && !groups.contains(&g) {
            groups.push(g);
        }
    }
    Ok(User {
        name: name.to_string(),
        uid,
        gid,
        groups,
        home: if home.is_empty() {
            "/".into()
        } else {
            home.into()
        },
        shell: shell.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
        broken line\n\
        nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n\
        al:x:1000:1000::/home/al:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nadm:x:4:al,bob\naudio:x:29:bob\nal:x:1000:\nx:y\n";

    #[test]
    fn lookup() {
        let al = resolve("al", PASSWD, GROUP).unwrap();
        assert_eq!(
            (al.uid, al.gid, al.groups.clone()),
            (1000, 1000, vec![1000, 4])
        );
        assert_eq!(al.home, "/home/al");
        assert_eq!(resolve("1000", PASSWD, GROUP).unwrap(), al);
        let n = resolve("nobody", PASSWD, GROUP).unwrap();
        assert_eq!((n.uid, n.home.as_str()), (65534, "/nonexistent"));
        assert!(resolve("bob", PASSWD, GROUP)
            .unwrap_err()
            .to_string()
            .contains("not found"));
        assert!(resolve("a:b", PASSWD, GROUP).is_err());
        assert!(resolve("", PASSWD, GROUP).is_err());
    }
}
