//! Parsing of nspawn's mount options: `--volatile=`, `--overlay=`/`--overlay-ro=`, `--tmpfs=`,
//! `--inaccessible=`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

/// `--volatile=`: how much of the image the machine may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Volatile {
    /// The image as it is (writable unless read-only).
    #[default]
    No,
    /// A tmpfs root with only the image's `/usr` in it (read-only).
    Yes,
    /// The image read-only with a tmpfs on `/var`.
    State,
    /// An overlayfs root: the image as the lower layer, changes on a tmpfs.
    Overlay,
}

impl Volatile {
    /// `yes`/`no` (and the other boolean spellings), `state`, `overlay`.
    pub fn parse(s: &str) -> Result<Volatile> {
        Ok(match s {
            "yes" | "true" | "on" | "1" | "y" | "t" => Volatile::Yes,
            "no" | "false" | "off" | "0" | "n" | "f" => Volatile::No,
            "state" => Volatile::State,
            "overlay" => Volatile::Overlay,
            other => bail!("invalid --volatile={other:?}: use yes, no, state or overlay"),
        })
    }
}

/// Where an overlay source path lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A host path.
    Host(PathBuf),
    /// `+PATH`: relative to the machine's root.
    Image(PathBuf),
}

/// An `--overlay=`/`--overlay-ro=` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlay {
    /// Lower layers, lowest first.
    pub lowers: Vec<Source>,
    /// The writable top layer; `None` for `--overlay-ro`, `Some(None)` for an empty upper
    /// (a temporary directory on a tmpfs, gone with the machine).
    pub upper: Option<Option<Source>>,
    /// Mount point inside the machine.
    pub dst: PathBuf,
}

/// Split on `:` with `\:` and `\\` escapes (nspawn's syntax).
fn split_colons(spec: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = spec.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => cur.extend(chars.next()),
            ':' => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn source(p: &str, spec: &str) -> Result<Source> {
    let (image, path) = match p.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, p),
    };
    if !path.starts_with('/') {
        bail!("invalid overlay {spec:?}: paths must be absolute (or +/PATH inside the machine)");
    }
    Ok(if image {
        Source::Image(PathBuf::from(path))
    } else {
        Source::Host(PathBuf::from(path))
    })
}

impl Overlay {
    /// nspawn's `LOWER1[:LOWER2…]:UPPER:DEST` (writable) or `LOWER1:…:DEST` (read-only). With
    /// only two paths the second is both the top layer (a host path) and the destination. An
    /// empty upper layer means a temporary directory. Paths may start with `+` (inside the
    /// machine); `\:` escapes a colon.
    pub fn parse(spec: &str, read_only: bool) -> Result<Overlay> {
        let parts = split_colons(spec);
        if parts.len() < 2 {
            bail!("invalid overlay {spec:?}: at least two paths are needed");
        }
        let (dst, sources) = if parts.len() == 2 {
            let dst = parts[1].clone();
            (dst, parts.clone())
        } else {
            let (dst, rest) = parts.split_last().unwrap_or((&parts[0], &[]));
            (dst.clone(), rest.to_vec())
        };
        let dst = dst.strip_prefix('+').unwrap_or(&dst).to_string();
        if !dst.starts_with('/') {
            bail!("invalid overlay {spec:?}: the destination must be an absolute path");
        }
        let (lowers, upper) = if read_only {
            (sources.as_slice(), None)
        } else {
            let (top, lowers) = sources.split_last().unwrap_or((&sources[0], &[]));
            let upper = if top.is_empty() {
                None
            } else {
                Some(source(top, spec)?)
            };
            (lowers, Some(upper))
        };
        if lowers.is_empty() {
            bail!("invalid overlay {spec:?}: no lower layer");
        }
        let lowers = lowers
            .iter()
            .map(|l| {
                if l.is_empty() {
                    bail!("invalid overlay {spec:?}: an empty lower layer");
                }
                source(l, spec)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Overlay {
            lowers,
            upper,
            dst: PathBuf::from(dst),
        })
    }
}

/// A `--tmpfs=PATH[:OPTIONS]` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tmpfs {
    pub path: PathBuf,
    /// Mount options (default `mode=0755`).
    pub options: String,
}

impl Tmpfs {
    pub fn parse(spec: &str) -> Result<Tmpfs> {
        let (path, options) = match spec.split_once(':') {
            Some((p, o)) => (p, o.to_string()),
            None => (spec, "mode=0755".to_string()),
        };
        if !path.starts_with('/') {
            bail!("invalid --tmpfs={spec:?}: the path must be absolute");
        }
        Ok(Tmpfs {
            path: PathBuf::from(path),
            options,
        })
    }
}

/// `--inaccessible=PATH`: must be absolute.
pub fn parse_inaccessible(spec: &str) -> Result<PathBuf> {
    if !spec.starts_with('/') {
        bail!("invalid --inaccessible={spec:?}: the path must be absolute");
    }
    Ok(PathBuf::from(spec))
}

/// `path` inside the machine, as a relative path below its root (`..` refused).
pub(crate) fn relative(path: &Path) -> Result<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::Normal(n) => out.push(n),
            std::path::Component::RootDir | std::path::Component::CurDir => {}
            _ => bail!("invalid path {}: \"..\" is not allowed", path.display()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(p: &str) -> Source {
        Source::Host(p.into())
    }

    #[test]
    fn volatile_values() {
        assert_eq!(Volatile::parse("yes").unwrap(), Volatile::Yes);
        assert_eq!(Volatile::parse("no").unwrap(), Volatile::No);
        assert_eq!(Volatile::parse("state").unwrap(), Volatile::State);
        assert_eq!(Volatile::parse("overlay").unwrap(), Volatile::Overlay);
        assert!(Volatile::parse("maybe").is_err());
    }

    #[test]
    fn overlay_specs() {
        let o = Overlay::parse("/a:/b:/c:/dst", false).unwrap();
        assert_eq!(o.lowers, [host("/a"), host("/b")]);
        assert_eq!(o.upper, Some(Some(host("/c"))));
        assert_eq!(o.dst, Path::new("/dst"));
        // Two paths: the second is the upper layer and the destination.
        let o = Overlay::parse("/a:/b", false).unwrap();
        assert_eq!(o.lowers, [host("/a")]);
        assert_eq!(o.upper, Some(Some(host("/b"))));
        assert_eq!(o.dst, Path::new("/b"));
        // An empty upper: a temporary directory.
        let o = Overlay::parse("+/var::/var", false).unwrap();
        assert_eq!(o.lowers, [Source::Image("/var".into())]);
        assert_eq!(o.upper, Some(None));
        // Read-only: every path but the destination is a lower layer.
        let o = Overlay::parse("/a:/b:/dst", true).unwrap();
        assert_eq!(o.lowers, [host("/a"), host("/b")]);
        assert_eq!(o.upper, None);
        let o = Overlay::parse("/a:/b", true).unwrap();
        assert_eq!(o.lowers, [host("/a"), host("/b")]);
        assert_eq!(o.dst, Path::new("/b"));
        // Escaped colons.
        let o = Overlay::parse("/a\\:x:/b:/c", false).unwrap();
        assert_eq!(o.lowers, [host("/a:x")]);
        for bad in ["/a", "a:/b", "/a:b", "/a::", ":/b:/c"] {
            assert!(Overlay::parse(bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn tmpfs_specs() {
        assert_eq!(
            Tmpfs::parse("/x").unwrap(),
            Tmpfs {
                path: "/x".into(),
                options: "mode=0755".into()
            }
        );
        assert_eq!(
            Tmpfs::parse("/x:mode=0700,size=1M").unwrap().options,
            "mode=0700,size=1M"
        );
        assert!(Tmpfs::parse("x").is_err());
        assert!(parse_inaccessible("rel").is_err());
    }

    #[test]
    fn relative_paths() {
        assert_eq!(relative(Path::new("/a/b")).unwrap(), Path::new("a/b"));
        assert_eq!(relative(Path::new("/")).unwrap(), Path::new(""));
        assert!(relative(Path::new("/a/../b")).is_err());
    }
}
