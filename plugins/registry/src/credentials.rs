//! Registry credentials from the files docker, podman and skopeo write: `$REGISTRY_AUTH_FILE`,
//! else `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
//!
//! Format (`auths` map): keys are `host[:port]`, optionally with a scheme and a path
//! (`https://index.docker.io/v1/` is Docker Hub's key); values carry `auth` (base64 of
//! `user:password`), or `username` + `password`, or an `identitytoken` (an OAuth2 refresh
//! token, sent to the token server). Credential helpers (`credsStore`, `credHelpers`) are not
//! run.

use std::path::{Path, PathBuf};

use base64::Engine as _;

/// Largest auth file read (they hold a few entries).
const MAX_AUTH_FILE: u64 = 1 << 20;

/// Credentials for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    /// An OAuth2 refresh token (`identitytoken`); when set it is sent to the token server
    /// instead of Basic credentials.
    pub identity_token: Option<String>,
}

impl Credentials {
    pub fn new(username: &str, password: &str) -> Credentials {
        Credentials {
            username: username.to_string(),
            password: password.to_string(),
            identity_token: None,
        }
    }

    /// `Basic base64(user:password)`
    pub(crate) fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

impl std::fmt::Debug for Credentials {
    /// never shows the secret
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"…")
            .field("identity_token", &self.identity_token.as_ref().map(|_| "…"))
            .finish()
    }
}

/// The auth file consulted: `$REGISTRY_AUTH_FILE`, else `$DOCKER_CONFIG/config.json`, else
/// `$HOME/.docker/config.json`.
pub fn auth_file() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("REGISTRY_AUTH_FILE").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|p| !p.is_empty()) {
        return Some(Path::new(&d).join("config.json"));
    }
    let home = std::env::var_os("HOME").filter(|p| !p.is_empty())?;
    Some(Path::new(&home).join(".docker/config.json"))
}

/// Credentials for `registry` (a reference's registry part: `docker.io`, `host:port`) from the
/// [`auth_file`], or `None` (no file, unreadable or malformed file, no entry).
pub fn credentials_for(registry: &str) -> Option<Credentials> {
    let path = auth_file()?;
    let bytes = read_limited(&path)?;
    credentials_in(&bytes, registry)
}

fn read_limited(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read as _;
    let f = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    f.take(MAX_AUTH_FILE + 1).read_to_end(&mut bytes).ok()?;
    (bytes.len() as u64 <= MAX_AUTH_FILE).then_some(bytes)
}

/// Looks `registry` up in the `auths` of an auth file's bytes.
pub(crate) fn credentials_in(bytes: &[u8], registry: &str) -> Option<Credentials> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let auths = v.get("auths")?.as_object()?;
    let wanted = normalise_host(registry);
    // An exact key wins over a normalised match (`https://host/v2/` and `host` both present).
    let entry = auths.get(registry).or_else(|| {
        auths
            .iter()
            .find(|(k, _)| normalise_host(k) == wanted)
            .map(|(_, v)| v)
    })?;
    entry_credentials(entry)
}

fn entry_credentials(entry: &serde_json::Value) -> Option<Credentials> {
    let s = |k: &str| {
        entry
            .get(k)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
    };
    let identity_token = s("identitytoken").map(str::to_string);
    if let Some(auth) = s("auth") {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()?;
        let raw = String::from_utf8(raw).ok()?;
        let (user, pass) = raw.split_once(':')?;
        return Some(Credentials {
            username: user.to_string(),
            password: pass.trim_end_matches('\n').to_string(),
            identity_token,
        });
    }
    match (s("username"), s("password")) {
        (Some(u), Some(p)) => Some(Credentials {
            username: u.to_string(),
            password: p.to_string(),
            identity_token,
        }),
        _ => identity_token.map(|t| Credentials {
            username: "<token>".to_string(),
            password: String::new(),
            identity_token: Some(t),
        }),
    }
}

/// `https://index.docker.io/v1/` → `docker.io`; `http://host:5000/x` → `host:5000`; lowercase.
fn normalise_host(key: &str) -> String {
    let k = key.trim();
    let k = k
        .strip_prefix("https://")
        .or_else(|| k.strip_prefix("http://"))
        .unwrap_or(k);
    let host = k.split('/').next().unwrap_or("").to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".to_string()
        }
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_file_entries() {
        let file = br#"{"auths":{
            "https://index.docker.io/v1/":{"auth":"aHViOnNlY3JldA=="},
            "127.0.0.1:5000":{"username":"u","password":"p:w"},
            "http://reg.example:8080/v2/":{"auth":"YTpi"},
            "tok.example":{"identitytoken":"refresh"},
            "bad.example":{"auth":"not base64!"}
        }}"#;
        let hub = credentials_in(file, "docker.io").unwrap();
        assert_eq!(
            (hub.username.as_str(), hub.password.as_str()),
            ("hub", "secret")
        );
        let local = credentials_in(file, "127.0.0.1:5000").unwrap();
        assert_eq!(local.password, "p:w");
        let other = credentials_in(file, "REG.example:8080").unwrap();
        assert_eq!(
            (other.username.as_str(), other.password.as_str()),
            ("a", "b")
        );
        let tok = credentials_in(file, "tok.example").unwrap();
        assert_eq!(tok.identity_token.as_deref(), Some("refresh"));
        assert!(credentials_in(file, "bad.example").is_none());
        assert!(credentials_in(file, "127.0.0.1:5001").is_none());
        assert!(credentials_in(b"[]", "docker.io").is_none());
        assert!(credentials_in(b"{\"auths\":3}", "docker.io").is_none());
        assert!(!format!("{hub:?}").contains("secret"));
    }

    #[test]
    fn basic_header() {
        assert_eq!(Credentials::new("a", "b").basic_header(), "Basic YTpi");
    }
}
