//! Image configs (OCI `application/vnd.oci.image.config.v1+json` and Docker
//! `application/vnd.docker.container.image.v1+json`): the fields wharf turns into a machine.
//! Unknown fields are dropped; callers keep the raw bytes when they need them.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use crate::error::{from_json, Error, ErrorKind};
use crate::{nullable, Digest, Platform};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub config: ExecConfig,
    pub rootfs: RootFs,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub history: Vec<History>,
}

/// The `config` object: how to run the image. Docker writes `null` for absent lists and maps;
/// those read as empty. Empty strings read as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecConfig {
    pub user: Option<String>,
    /// keys of `ExposedPorts` (`80/tcp`), sorted
    pub exposed_ports: Vec<String>,
    pub env: Vec<String>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    /// keys of `Volumes`, sorted
    pub volumes: Vec<String>,
    pub working_dir: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub stop_signal: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    /// must be `layers`
    #[serde(rename = "type")]
    pub kind: String,
    /// sha256 of each uncompressed layer, in application order
    #[serde(deserialize_with = "crate::nullable_required")]
    pub diff_ids: Vec<Digest>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub empty_layer: bool,
}

impl ImageConfig {
    /// parses a config: `architecture` and `os` present, `rootfs.type` = `layers`, valid
    /// diff_ids.
    pub fn parse(bytes: &[u8]) -> Result<ImageConfig, Error> {
        let c: ImageConfig = from_json("image config", bytes)?;
        if c.rootfs.kind != "layers" {
            let shown: String = c.rootfs.kind.chars().take(40).collect();
            return Err(Error::new(
                ErrorKind::UnsupportedSchema,
                format!("image config rootfs.type is {shown:?}, only \"layers\" is supported"),
            ));
        }
        Ok(c)
    }

    /// compact JSON with OCI/Docker field names; empty optionals omitted; `config` always
    /// present (umoci writes `"config":{}` too).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a config always serialises")
    }

    /// the config's os / architecture / variant
    pub fn platform(&self) -> Platform {
        Platform::new(&self.os, &self.architecture, self.variant.as_deref())
    }

    /// the history entries that produced a layer (not `empty_layer`), which should be as many
    /// as `rootfs.diff_ids`
    pub fn layer_history(&self) -> impl Iterator<Item = &History> {
        self.history.iter().filter(|h| !h.empty_layer)
    }
}

/// The chain ID of a layer stack (the identity of the filesystem after applying all of them):
/// ChainID(L0) = DiffID(L0); ChainID(L0..n) = sha256(ChainID(L0..n-1) + " " + DiffID(Ln)).
pub fn chain_id(diff_ids: &[Digest]) -> Option<Digest> {
    let (first, rest) = diff_ids.split_first()?;
    Some(rest.iter().fold(first.clone(), |chain, diff| {
        Digest::sha256(format!("{chain} {diff}").as_bytes())
    }))
}

/// JSON shape of `config`.
#[derive(Serialize, Deserialize, Default)]
struct ExecWire {
    #[serde(rename = "User", default, skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(
        rename = "ExposedPorts",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    exposed_ports: Option<BTreeMap<String, IgnoredOrEmpty>>,
    #[serde(rename = "Env", default, skip_serializing_if = "Option::is_none")]
    env: Option<Vec<String>>,
    #[serde(
        rename = "Entrypoint",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", default, skip_serializing_if = "Option::is_none")]
    cmd: Option<Vec<String>>,
    #[serde(rename = "Volumes", default, skip_serializing_if = "Option::is_none")]
    volumes: Option<BTreeMap<String, IgnoredOrEmpty>>,
    #[serde(
        rename = "WorkingDir",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    working_dir: Option<String>,
    #[serde(rename = "Labels", default, skip_serializing_if = "Option::is_none")]
    labels: Option<BTreeMap<String, String>>,
    #[serde(
        rename = "StopSignal",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    stop_signal: Option<String>,
}

/// `{}` when written; anything (Docker writes `{}`, some tools `null`) when read.
struct IgnoredOrEmpty;

impl Serialize for IgnoredOrEmpty {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        s.serialize_map(Some(0))?.end()
    }
}

impl<'de> Deserialize<'de> for IgnoredOrEmpty {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(d)?;
        Ok(IgnoredOrEmpty)
    }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

fn keys(m: Option<BTreeMap<String, IgnoredOrEmpty>>) -> Vec<String> {
    m.map(|m| m.into_keys().collect()).unwrap_or_default()
}

fn as_map(keys: &[String]) -> Option<BTreeMap<String, IgnoredOrEmpty>> {
    (!keys.is_empty()).then(|| keys.iter().map(|k| (k.clone(), IgnoredOrEmpty)).collect())
}

impl Serialize for ExecConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ExecWire {
            user: self.user.clone(),
            exposed_ports: as_map(&self.exposed_ports),
            env: (!self.env.is_empty()).then(|| self.env.clone()),
            entrypoint: self.entrypoint.clone(),
            cmd: self.cmd.clone(),
            volumes: as_map(&self.volumes),
            working_dir: self.working_dir.clone(),
            labels: (!self.labels.is_empty()).then(|| self.labels.clone()),
            stop_signal: self.stop_signal.clone(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for ExecConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = ExecWire::deserialize(d)?;
        Ok(ExecConfig {
            user: non_empty(w.user),
            exposed_ports: keys(w.exposed_ports),
            env: w.env.unwrap_or_default(),
            entrypoint: w.entrypoint,
            cmd: w.cmd,
            volumes: keys(w.volumes),
            working_dir: non_empty(w.working_dir),
            labels: w.labels.unwrap_or_default(),
            stop_signal: non_empty(w.stop_signal),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_id_known_values() {
        assert_eq!(chain_id(&[]), None);
        let a = Digest::sha256(b"a");
        let b = Digest::sha256(b"b");
        assert_eq!(chain_id(std::slice::from_ref(&a)), Some(a.clone()));
        // printf "sha256:$(printf a | sha256sum) sha256:$(printf b | sha256sum)" | sha256sum
        assert_eq!(
            chain_id(&[a.clone(), b.clone()]).unwrap().to_string(),
            "sha256:51c0c8ace48498d6f5fee6b0592cc06f2da0f3cbe09c5a34a97dce85c3889676"
        );
        let c = Digest::sha256(b"c");
        let ab = chain_id(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(
            chain_id(&[a, b, c.clone()]),
            Some(Digest::sha256(format!("{ab} {c}").as_bytes()))
        );
    }

    #[test]
    fn docker_nulls_and_empty_strings() {
        let json = br#"{"architecture":"arm64","variant":"v8","os":"linux","config":{"User":"","ExposedPorts":null,"Env":null,"Entrypoint":null,"Cmd":["bash"],"Volumes":null,"WorkingDir":"","Labels":null,"OnBuild":null,"ArgsEscaped":true},"rootfs":{"type":"layers","diff_ids":null},"history":null}"#;
        let c = ImageConfig::parse(json).unwrap();
        assert_eq!(c.config.user, None);
        assert_eq!(c.config.cmd, Some(vec!["bash".to_string()]));
        assert_eq!(c.config.entrypoint, None);
        assert!(c.config.env.is_empty() && c.rootfs.diff_ids.is_empty());
        assert_eq!(c.platform().to_string(), "linux/arm64/v8");
        assert_eq!(
            String::from_utf8(c.to_json()).unwrap(),
            r#"{"architecture":"arm64","os":"linux","variant":"v8","config":{"Cmd":["bash"]},"rootfs":{"type":"layers","diff_ids":[]}}"#
        );
        let nullconfig = br#"{"architecture":"amd64","os":"linux","config":null,"rootfs":{"type":"layers","diff_ids":[]}}"#;
        assert_eq!(
            ImageConfig::parse(nullconfig).unwrap().config,
            ExecConfig::default()
        );
    }

    #[test]
    fn refusals() {
        for (bad, kind) in [
            (&br#"{"os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#[..], ErrorKind::Json),
            (br#"{"architecture":"amd64","os":"linux"}"#, ErrorKind::Json),
            (br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers"}}"#, ErrorKind::Json),
            (br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:00"]}}"#, ErrorKind::Json),
            (br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{"Cmd":"sh"}}"#, ErrorKind::Json),
            (br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"tarball","diff_ids":[]}}"#, ErrorKind::UnsupportedSchema),
        ] {
            let e = ImageConfig::parse(bad).unwrap_err();
            assert_eq!(e.kind, kind, "{e}");
        }
    }
}
