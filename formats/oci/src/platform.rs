//! Platforms (`os/architecture[/variant]`, GOOS/GOARCH names) and how an index entry is
//! matched against the one wanted.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind};
use crate::nullable;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    #[serde(
        rename = "os.features",
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub os_features: Vec<String>,
}

fn valid_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

impl Platform {
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        Platform {
            os: os.to_string(),
            architecture: architecture.to_string(),
            variant: variant.map(str::to_string),
            os_version: None,
            os_features: Vec::new(),
        }
    }

    /// parses `os/arch` or `os/arch/variant` (`linux/amd64`, `linux/arm/v7`, `linux/arm64/v8`).
    pub fn parse(s: &str) -> Result<Platform, Error> {
        let parts: Vec<&str> = s.split('/').collect();
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(|p| valid_part(p)) {
            let shown: String = s.chars().take(80).collect();
            return Err(Error::new(
                ErrorKind::InvalidReference,
                format!("invalid platform {shown:?}: expected OS/ARCH[/VARIANT]"),
            ));
        }
        Ok(Platform::new(parts[0], parts[1], parts.get(2).copied()))
    }

    /// the platform this program runs on, in GOOS/GOARCH terms (`linux/amd64`,
    /// `linux/arm64/v8`, …).
    pub fn host() -> Platform {
        let (arch, variant) = goarch(std::env::consts::ARCH);
        Platform::new(std::env::consts::OS, arch, variant)
    }

    /// whether an index entry for `self` serves `wanted`: same OS and architecture; when
    /// `wanted` names a variant the entry's must be equal (arm64 without a variant counts as
    /// v8, amd64 without one as v1); when `wanted` names none, any variant does. A wanted
    /// `os.version` must be equal too (Windows).
    pub fn matches(&self, wanted: &Platform) -> bool {
        if self.os != wanted.os || self.architecture != wanted.architecture {
            return false;
        }
        if let Some(v) = &wanted.os_version {
            if self.os_version.as_ref() != Some(v) {
                return false;
            }
        }
        match wanted.variant.as_deref() {
            None => true,
            Some(want) => {
                let default = default_variant(&self.architecture);
                self.variant.as_deref().or(default) == Some(want)
            }
        }
    }

    /// `unknown/unknown`, the platform BuildKit gives attestation manifests
    pub fn is_unknown(&self) -> bool {
        self.os == "unknown" && self.architecture == "unknown"
    }
}

fn default_variant(arch: &str) -> Option<&'static str> {
    match arch {
        "arm64" => Some("v8"),
        "amd64" => Some("v1"),
        _ => None,
    }
}

/// maps a Rust `std::env::consts::ARCH` to a GOARCH name and (for arm64) its variant.
pub fn goarch(arch: &str) -> (&str, Option<&'static str>) {
    match arch {
        "x86_64" => ("amd64", None),
        "aarch64" => ("arm64", Some("v8")),
        "arm" => ("arm", None),
        "x86" => ("386", None),
        "powerpc64" if cfg!(target_endian = "little") => ("ppc64le", None),
        "powerpc64" => ("ppc64", None),
        "powerpc" => ("ppc", None),
        "loongarch64" => ("loong64", None),
        "mips64" if cfg!(target_endian = "little") => ("mips64le", None),
        "mips" if cfg!(target_endian = "little") => ("mipsle", None),
        other => (other, None),
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        Platform::parse(s).unwrap()
    }

    #[test]
    fn parse_and_display() {
        for s in [
            "linux/amd64",
            "linux/arm/v7",
            "linux/arm64/v8",
            "windows/amd64",
        ] {
            assert_eq!(p(s).to_string(), s);
        }
        assert_eq!(p("linux/arm/v7").variant.as_deref(), Some("v7"));
        for bad in [
            "",
            "linux",
            "linux/",
            "/amd64",
            "linux/arm/v7/x",
            "linux/amd 64",
        ] {
            assert!(Platform::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn host_is_goarch() {
        let h = Platform::host();
        assert_eq!(h.os, "linux");
        #[cfg(target_arch = "x86_64")]
        assert_eq!(h.to_string(), "linux/amd64");
        #[cfg(target_arch = "aarch64")]
        assert_eq!(h.to_string(), "linux/arm64/v8");
        assert_eq!(goarch("x86"), ("386", None));
        assert_eq!(goarch("s390x"), ("s390x", None));
        assert_eq!(goarch("riscv64"), ("riscv64", None));
    }

    #[test]
    fn matching_rules() {
        // no wanted variant: any
        assert!(p("linux/arm/v7").matches(&p("linux/arm")));
        assert!(p("linux/arm64").matches(&p("linux/arm64")));
        // wanted variant must match
        assert!(p("linux/arm/v7").matches(&p("linux/arm/v7")));
        assert!(!p("linux/arm/v6").matches(&p("linux/arm/v7")));
        assert!(!p("linux/arm").matches(&p("linux/arm/v7")));
        // implied defaults
        assert!(p("linux/arm64").matches(&p("linux/arm64/v8")));
        assert!(!p("linux/arm64/v9").matches(&p("linux/arm64/v8")));
        assert!(p("linux/amd64").matches(&p("linux/amd64/v1")));
        assert!(!p("linux/amd64/v3").matches(&p("linux/amd64/v1")));
        assert!(p("linux/amd64/v3").matches(&p("linux/amd64")));
        // os and arch
        assert!(!p("windows/amd64").matches(&p("linux/amd64")));
        assert!(!p("linux/arm64").matches(&p("linux/amd64")));
        assert!(p("unknown/unknown").is_unknown());
    }

    #[test]
    fn json_names() {
        let mut pl = p("windows/amd64");
        pl.os_version = Some("10.0.17763.1040".into());
        pl.os_features = vec!["win32k".into()];
        let json = serde_json::to_string(&pl).unwrap();
        assert_eq!(
            json,
            r#"{"os":"windows","architecture":"amd64","os.version":"10.0.17763.1040","os.features":["win32k"]}"#
        );
        assert_eq!(serde_json::from_str::<Platform>(&json).unwrap(), pl);
        let nulls: Platform = serde_json::from_str(
            r#"{"os":"linux","architecture":"arm","variant":null,"os.features":null}"#,
        )
        .unwrap();
        assert_eq!(nulls, p("linux/arm"));
    }
}
