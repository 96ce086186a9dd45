//! Image references: `[host[:port]/]name[:tag][@digest]`, normalised like Docker does
//! (`alpine` → `docker.io/library/alpine`), validated by hand against the distribution
//! grammar.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, ErrorKind};
use crate::Digest;

pub const DOCKER_HUB: &str = "docker.io";
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// longest repository path (the distribution spec's limit on a name)
pub const MAX_NAME_LEN: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// `host[:port]` as written (`index.docker.io` becomes `docker.io`)
    pub registry: String,
    /// path components, e.g. `library/alpine`
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

fn invalid(s: &str, why: &str) -> Error {
    let shown: String = s.chars().take(120).collect();
    Error::new(
        ErrorKind::InvalidReference,
        format!("invalid image reference {shown:?}: {why}"),
    )
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_lower_alnum(b[0]) || !is_lower_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_lower_alnum(b[i]) {
            i += 1;
            continue;
        }
        // a separator run, then an alnum must follow (guaranteed by the last-byte check)
        let start = i;
        while i < b.len() && !is_lower_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`
fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|&x| x.is_ascii_alphanumeric() || matches!(x, b'_' | b'.' | b'-'))
}

/// `host[:port]`: DNS labels (letters, digits, inner `-`) joined by `.`, or `[IPv6]`.
fn valid_registry(r: &str) -> bool {
    let (host_ok, port) = if let Some(rest) = r.strip_prefix('[') {
        let Some((inner, after)) = rest.split_once(']') else {
            return false;
        };
        let ok = !inner.is_empty()
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        match after {
            "" => (ok, None),
            a => match a.strip_prefix(':') {
                Some(p) => (ok, Some(p)),
                None => return false,
            },
        }
    } else {
        match r.split_once(':') {
            Some((h, p)) => (valid_hostname(h), Some(p)),
            None => (valid_hostname(r), None),
        }
    };
    host_ok
        && match port {
            None => true,
            Some(p) => !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()),
        }
}

fn valid_hostname(h: &str) -> bool {
    !h.is_empty()
        && h.split('.').all(|l| {
            let b = l.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'-')
        })
}

impl Reference {
    /// parses a reference. No registry → `docker.io`; a Docker Hub name of one component gets
    /// `library/`; the first component is the registry when it contains `.` or `:` or is
    /// `localhost`. A `docker://` prefix is accepted. Repository names must be lowercase.
    pub fn parse(input: &str) -> Result<Reference, Error> {
        let s = input.strip_prefix("docker://").unwrap_or(input);
        if s.is_empty() {
            return Err(invalid(input, "it is empty"));
        }
        if s.len() > 4096 {
            return Err(invalid(input, "it is too long"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (
                r,
                Some(Digest::parse(d).map_err(|e| invalid(input, e.message()))?),
            ),
            None => (s, None),
        };
        // the tag follows the last ':' after the last '/'
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let at = last_slash + i;
                (&rest[..at], Some(&rest[at + 1..]))
            }
            None => (rest, None),
        };
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(invalid(
                    input,
                    "the tag must be 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'",
                ));
            }
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                if !valid_registry(first) {
                    return Err(invalid(input, &format!("bad registry host {first:?}")));
                }
                (first, path)
            }
            _ => (DOCKER_HUB, name),
        };
        let registry = match registry {
            "index.docker.io" => DOCKER_HUB,
            r => r,
        };
        if path.is_empty() {
            return Err(invalid(input, "the repository name is empty"));
        }
        if path.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(invalid(input, "repository names must be lowercase"));
        }
        if let Some(c) = path.split('/').find(|c| !valid_component(c)) {
            return Err(invalid(
                input,
                &format!(
                    "bad repository component {c:?} (lowercase letters and digits, separated \
                     by '.', '_', '__' or '-')"
                ),
            ));
        }
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_string()
        };
        if registry.len() + 1 + repository.len() > MAX_NAME_LEN {
            return Err(invalid(
                input,
                &format!("the name is longer than {MAX_NAME_LEN} characters"),
            ));
        }
        Ok(Reference {
            registry: registry.to_string(),
            repository,
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// the host to send API requests to (`registry-1.docker.io` for Docker Hub)
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// what goes after `/manifests/`: the digest if any, else the tag, else `latest`
    pub fn reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_string(),
        }
    }

    /// the registry is this machine: `localhost`, `127.*`, `[::1]` (any port)
    pub fn is_loopback(&self) -> bool {
        let host = if self.registry.starts_with('[') {
            self.registry
                .split_once(']')
                .map_or(self.registry.as_str(), |(h, _)| h)
                .trim_start_matches('[')
        } else {
            self.registry.split(':').next().unwrap_or("")
        };
        host == "localhost"
            || host == "::1"
            || host.strip_prefix("127.").is_some_and(|rest| {
                rest.split('.').count() == 3 && rest.split('.').all(|o| o.parse::<u8>().is_ok())
            })
    }

    /// the `scope` for a pull token: `repository:<name>:pull`
    pub fn pull_scope(&self) -> String {
        format!("repository:{}:pull", self.repository)
    }
}

/// canonical `registry/repository:tag@digest`; `:latest` when neither tag nor digest is set
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        match (&self.tag, &self.digest) {
            (None, None) => write!(f, ":latest"),
            (tag, digest) => {
                if let Some(t) = tag {
                    write!(f, ":{t}")?;
                }
                if let Some(d) = digest {
                    write!(f, "@{d}")?;
                }
                Ok(())
            }
        }
    }
}

impl FromStr for Reference {
    type Err = Error;
    fn from_str(s: &str) -> Result<Reference, Error> {
        Reference::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// input, registry, repository, tag, has a digest, canonical form
    type Row = (
        String,
        &'static str,
        &'static str,
        Option<&'static str>,
        bool,
        &'static str,
    );

    #[test]
    fn parse_table() {
        let d = format!("sha256:{HEX}");
        let table: Vec<Row> = vec![
            // input, registry, repository, tag, digest?, canonical
            (
                "alpine".into(),
                "docker.io",
                "library/alpine",
                None,
                false,
                "docker.io/library/alpine:latest",
            ),
            (
                "alpine:3.19".into(),
                "docker.io",
                "library/alpine",
                Some("3.19"),
                false,
                "docker.io/library/alpine:3.19",
            ),
            (
                "docker.io/alpine".into(),
                "docker.io",
                "library/alpine",
                None,
                false,
                "docker.io/library/alpine:latest",
            ),
            (
                "index.docker.io/library/alpine".into(),
                "docker.io",
                "library/alpine",
                None,
                false,
                "docker.io/library/alpine:latest",
            ),
            (
                "docker://debian:bookworm".into(),
                "docker.io",
                "library/debian",
                Some("bookworm"),
                false,
                "docker.io/library/debian:bookworm",
            ),
            (
                "user/app".into(),
                "docker.io",
                "user/app",
                None,
                false,
                "docker.io/user/app:latest",
            ),
            (
                "localhost/a".into(),
                "localhost",
                "a",
                None,
                false,
                "localhost/a:latest",
            ),
            (
                "localhost:5000/a/b:t".into(),
                "localhost:5000",
                "a/b",
                Some("t"),
                false,
                "localhost:5000/a/b:t",
            ),
            (
                "127.0.0.1:5000/x".into(),
                "127.0.0.1:5000",
                "x",
                None,
                false,
                "127.0.0.1:5000/x:latest",
            ),
            (
                "[::1]:5000/x:1".into(),
                "[::1]:5000",
                "x",
                Some("1"),
                false,
                "[::1]:5000/x:1",
            ),
            (
                "ghcr.io/o/r/deep/er:v1.2_3-x".into(),
                "ghcr.io",
                "o/r/deep/er",
                Some("v1.2_3-x"),
                false,
                "ghcr.io/o/r/deep/er:v1.2_3-x",
            ),
            (
                "Quay.IO/a".into(),
                "Quay.IO",
                "a",
                None,
                false,
                "Quay.IO/a:latest",
            ),
            (
                "x/a__b.c-d---e".into(),
                "docker.io",
                "x/a__b.c-d---e",
                None,
                false,
                "docker.io/x/a__b.c-d---e:latest",
            ),
            // a first component with '.' is a registry
            ("a.b/c".into(), "a.b", "c", None, false, "a.b/c:latest"),
            (
                format!("alpine@{d}"),
                "docker.io",
                "library/alpine",
                None,
                true,
                &*format!("docker.io/library/alpine@{d}").leak(),
            ),
            (
                format!("r.io:443/a:t@{d}"),
                "r.io:443",
                "a",
                Some("t"),
                true,
                &*format!("r.io:443/a:t@{d}").leak(),
            ),
        ];
        for (input, registry, repository, tag, has_digest, canonical) in table {
            let r = Reference::parse(&input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.registry, registry, "{input}");
            assert_eq!(r.repository, repository, "{input}");
            assert_eq!(r.tag.as_deref(), tag, "{input}");
            assert_eq!(r.digest.is_some(), has_digest, "{input}");
            assert_eq!(r.to_string(), canonical, "{input}");
            assert_eq!(Reference::parse(canonical).unwrap().to_string(), canonical);
        }
    }

    #[test]
    fn refusals() {
        let long = format!("a/{}", "b".repeat(300));
        for bad in [
            "",
            "docker://",
            "Alpine",
            "docker.io/Library/alpine",
            "alpine:",
            "alpine:.x",
            "alpine:-x",
            "alpine:a b",
            &*format!("alpine:{}", "t".repeat(129)),
            "alpine@sha256:abc",
            "alpine@",
            "a//b",
            "/a",
            "a/",
            "-a",
            "a-",
            "a..b",
            "a___b",
            "a.-b",
            "ex ample.com/a",
            "bad_host.com/a",
            "host.com:/a",
            "host.com:99999x/a",
            "-host.com/a",
            "[::1/a",
            "localhost:5000/",
            &long,
        ] {
            let e = Reference::parse(bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidReference, "{bad}");
            assert!(e.to_string().starts_with("invalid image reference"), "{e}");
        }
        // one component: what follows ':' is a tag, not a port (as Docker reads it)
        let r = Reference::parse("localhost:5000").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/localhost:5000");
    }

    #[test]
    fn hosts_and_references() {
        let r = Reference::parse("alpine").unwrap();
        assert_eq!(r.api_host(), "registry-1.docker.io");
        assert_eq!(r.reference(), "latest");
        assert_eq!(r.pull_scope(), "repository:library/alpine:pull");
        assert!(!r.is_loopback());
        let r = Reference::parse(&format!("quay.io/a:t@sha256:{HEX}")).unwrap();
        assert_eq!(r.api_host(), "quay.io");
        assert_eq!(r.reference(), format!("sha256:{HEX}"));
        assert_eq!(Reference::parse("quay.io/a:t").unwrap().reference(), "t");
        for lo in [
            "localhost/a",
            "localhost:5000/a",
            "127.0.0.1:5000/a",
            "127.1.2.3/a",
            "[::1]:5000/a",
            "[::1]/a",
        ] {
            assert!(Reference::parse(lo).unwrap().is_loopback(), "{lo}");
        }
        for remote in [
            "127.example.com/a",
            "10.0.0.1:5000/a",
            "[::2]:5000/a",
            "localhost.example/a",
        ] {
            assert!(!Reference::parse(remote).unwrap().is_loopback(), "{remote}");
        }
    }
}
