//! Registry HTTP bits that are pure parsing: `WWW-Authenticate` challenges (RFC 7235), token
//! endpoint answers (Docker token spec) and the distribution-spec error body.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::{from_json, Error, ErrorKind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthScheme {
    Bearer,
    Basic,
    /// any other scheme, as written
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: AuthScheme,
    /// parameters with lowercase names: `realm`, `service`, `scope`, `error`, …
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// cap on what one header may produce (a header is attacker-controlled)
const MAX_CHALLENGES: usize = 16;
const MAX_PARAMS: usize = 32;

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Lexer<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn skip_ws_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.i += 1;
        }
    }

    fn token(&mut self) -> &'a str {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        // tchars are ASCII, so this slice is on char boundaries
        std::str::from_utf8(&self.s[start..self.i]).unwrap_or("")
    }

    /// after the opening quote: up to the closing one, `\x` → `x`
    fn quoted(&mut self) -> String {
        let mut out = Vec::new();
        while let Some(b) = self.peek() {
            self.i += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    if let Some(n) = self.peek() {
                        out.push(n);
                        self.i += 1;
                    }
                }
                _ => out.push(b),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// skips anything up to the next comma (garbage recovery)
    fn skip_to_comma(&mut self) {
        while let Some(b) = self.peek() {
            if b == b',' {
                break;
            }
            if b == b'"' {
                self.i += 1;
                self.quoted();
            } else {
                self.i += 1;
            }
        }
    }

    /// true if a `token BWS "="` (an auth-param, not a token68 or a new scheme) starts here
    fn at_param(&self) -> bool {
        let mut j = self.i;
        if !self.s.get(j).copied().is_some_and(is_tchar) {
            return false;
        }
        while self.s.get(j).copied().is_some_and(is_tchar) {
            j += 1;
        }
        while matches!(self.s.get(j), Some(b' ' | b'\t')) {
            j += 1;
        }
        self.s.get(j) == Some(&b'=')
    }
}

/// Parses a `WWW-Authenticate` header value into its challenges (several may share one
/// header; commas separate both challenges and parameters; quoted values may hold commas and
/// backslash escapes). Scheme names are case-insensitive; parameter names are lowercased.
/// Malformed parts are skipped; never fails.
pub fn parse_www_authenticate(header: &str) -> Vec<Challenge> {
    let mut lx = Lexer {
        s: header.as_bytes(),
        i: 0,
    };
    let mut out = Vec::new();
    loop {
        lx.skip_ws_commas();
        if lx.peek().is_none() || out.len() >= MAX_CHALLENGES {
            break;
        }
        let scheme = lx.token();
        if scheme.is_empty() {
            // not a token: skip this piece (the current byte is not a comma, so this advances)
            lx.skip_to_comma();
            continue;
        }
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "bearer" => AuthScheme::Bearer,
            "basic" => AuthScheme::Basic,
            _ => AuthScheme::Other(scheme.to_string()),
        };
        let mut params = BTreeMap::new();
        lx.skip_ws();
        if !lx.at_param() && lx.peek().is_some_and(|b| b != b',') {
            // token68 (e.g. `Negotiate abc==`): no parameters to keep
            lx.skip_to_comma();
        }
        loop {
            let save = lx.i;
            lx.skip_ws_commas();
            match lx.peek() {
                None => break,
                Some(_) if lx.at_param() => {}
                // the next challenge's scheme
                Some(b) if is_tchar(b) => {
                    lx.i = save;
                    break;
                }
                // garbage: skip this element
                Some(_) => {
                    lx.skip_to_comma();
                    continue;
                }
            }
            let name = lx.token().to_ascii_lowercase();
            lx.skip_ws();
            lx.i += 1; // the '=' at_param saw
            lx.skip_ws();
            let value = if lx.peek() == Some(b'"') {
                lx.i += 1;
                lx.quoted()
            } else {
                lx.token().to_string()
            };
            lx.skip_ws();
            if lx.peek().is_some_and(|b| b != b',') {
                lx.skip_to_comma();
            }
            if params.len() < MAX_PARAMS {
                params.entry(name).or_insert(value);
            }
        }
        out.push(Challenge { scheme, params });
    }
    out
}

/// A token endpoint's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenResponse {
    /// `token`, else `access_token`
    pub token: String,
    /// seconds; the spec's default when absent is 60
    pub expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct TokenWire {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

/// parses a token endpoint response: `token` or `access_token` (non-empty), optional
/// `expires_in` (ignored unless a non-negative integer).
pub fn parse_token_response(bytes: &[u8]) -> Result<TokenResponse, Error> {
    let w: TokenWire = from_json("token response", bytes)?;
    let token = [w.token, w.access_token]
        .into_iter()
        .flatten()
        .find(|t| !t.is_empty())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Json,
                "invalid token response: neither token nor access_token is set",
            )
        })?;
    Ok(TokenResponse {
        token,
        expires_in: w.expires_in.and_then(|v| v.as_u64()),
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryError {
    /// `MANIFEST_UNKNOWN`, `UNAUTHORIZED`, `DENIED`, `TOOMANYREQUESTS`, …
    pub code: String,
    pub message: String,
}

#[derive(Deserialize)]
struct ErrorsWire {
    #[serde(default)]
    errors: Option<Vec<ErrorWire>>,
}

#[derive(Deserialize)]
struct ErrorWire {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// the `errors` of a distribution-spec error body; empty when the body is not one (HTML error
/// pages, empty bodies, oversized input).
pub fn parse_registry_errors(bytes: &[u8]) -> Vec<RegistryError> {
    if bytes.len() > crate::MAX_MANIFEST_SIZE {
        return Vec::new();
    }
    let Ok(w) = serde_json::from_slice::<ErrorsWire>(bytes) else {
        return Vec::new();
    };
    w.errors
        .unwrap_or_default()
        .into_iter()
        .take(64)
        .map(|e| RegistryError {
            code: e.code.unwrap_or_default(),
            message: e.message.unwrap_or_default(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(c: &Challenge) -> Vec<(&str, &str)> {
        c.params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn docker_hub_and_distribution_challenges() {
        let c = parse_www_authenticate(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, AuthScheme::Bearer);
        assert_eq!(
            params(&c[0]),
            vec![
                ("realm", "https://auth.docker.io/token"),
                ("scope", "repository:library/alpine:pull"),
                ("service", "registry.docker.io"),
            ]
        );
        let c = parse_www_authenticate(r#"Basic realm="Registry Realm""#);
        assert_eq!(c[0].scheme, AuthScheme::Basic);
        assert_eq!(c[0].param("realm"), Some("Registry Realm"));
        // /v2/ challenge: no scope
        let c =
            parse_www_authenticate(r#"Bearer realm="http://127.0.0.1:5001/auth",service="test""#);
        assert_eq!(c[0].param("scope"), None);
        assert_eq!(c[0].param("service"), Some("test"));
    }

    #[test]
    fn edge_cases() {
        // several challenges, commas and escapes inside quotes, odd spacing and case
        let c = parse_www_authenticate(
            r#"Newauth realm="apps", type=1, title="Login to \"apps\"", BASIC  Realm = "simple, with comma" ,bearer realm="r",scope="repository:a:pull,push""#,
        );
        assert_eq!(c.len(), 3, "{c:?}");
        assert_eq!(c[0].scheme, AuthScheme::Other("Newauth".into()));
        assert_eq!(
            params(&c[0]),
            vec![
                ("realm", "apps"),
                ("title", r#"Login to "apps""#),
                ("type", "1")
            ]
        );
        assert_eq!(c[1].scheme, AuthScheme::Basic);
        assert_eq!(c[1].param("realm"), Some("simple, with comma"));
        assert_eq!(c[2].scheme, AuthScheme::Bearer);
        assert_eq!(c[2].param("scope"), Some("repository:a:pull,push"));

        // error parameters of an insufficient-scope answer
        let c = parse_www_authenticate(
            r#"Bearer realm="https://a/token",service="s",scope="repository:x:pull",error="insufficient_scope""#,
        );
        assert_eq!(c[0].param("error"), Some("insufficient_scope"));

        // token68 and bare schemes
        let c = parse_www_authenticate("Negotiate abc123==, Basic realm=x, NTLM");
        let schemes: Vec<_> = c.iter().map(|c| c.scheme.clone()).collect();
        assert_eq!(
            schemes,
            vec![
                AuthScheme::Other("Negotiate".into()),
                AuthScheme::Basic,
                AuthScheme::Other("NTLM".into())
            ]
        );
        assert_eq!(c[1].param("realm"), Some("x"));

        // unterminated quote, garbage, empty
        let c = parse_www_authenticate(r#"Bearer realm="https://x/token"#);
        assert_eq!(c[0].param("realm"), Some("https://x/token"));
        assert!(parse_www_authenticate("").is_empty());
        assert!(parse_www_authenticate(" , ,").is_empty());
        let c = parse_www_authenticate(r#"Bearer realm=="x", =y, "q", service=s"#);
        assert_eq!(c[0].scheme, AuthScheme::Bearer);
        assert_eq!(c[0].param("service"), Some("s"));
        // duplicate parameter: the first wins
        let c = parse_www_authenticate("Bearer realm=a, realm=b");
        assert_eq!(c[0].param("realm"), Some("a"));
        // bounded output
        assert_eq!(
            parse_www_authenticate(&"X, ".repeat(1000)).len(),
            MAX_CHALLENGES
        );
    }

    #[test]
    fn token_responses() {
        let t = parse_token_response(
            br#"{"token":"abc","expires_in":300,"issued_at":"2024-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(
            t,
            TokenResponse {
                token: "abc".into(),
                expires_in: Some(300)
            }
        );
        let t = parse_token_response(br#"{"access_token":"xyz"}"#).unwrap();
        assert_eq!(
            t,
            TokenResponse {
                token: "xyz".into(),
                expires_in: None
            }
        );
        let t =
            parse_token_response(br#"{"token":"","access_token":"b","expires_in":-5}"#).unwrap();
        assert_eq!(
            t,
            TokenResponse {
                token: "b".into(),
                expires_in: None
            }
        );
        let t =
            parse_token_response(br#"{"token":"a","access_token":"b","expires_in":"60"}"#).unwrap();
        assert_eq!(
            t,
            TokenResponse {
                token: "a".into(),
                expires_in: None
            }
        );
        for bad in [
            &b"{}"[..],
            br#"{"token":null}"#,
            br#"{"token":5}"#,
            b"<html>",
            b"",
        ] {
            assert_eq!(parse_token_response(bad).unwrap_err().kind, ErrorKind::Json);
        }
    }

    #[test]
    fn registry_errors() {
        let e = parse_registry_errors(
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"OCI manifest found, but accept header does not support OCI manifests","detail":{"Tag":"t"}}]}"#,
        );
        assert_eq!(
            e,
            vec![RegistryError {
                code: "MANIFEST_UNKNOWN".into(),
                message: "OCI manifest found, but accept header does not support OCI manifests"
                    .into()
            }]
        );
        let e = parse_registry_errors(br#"{"errors":[{"code":"TOOMANYREQUESTS"},{"code":"DENIED","message":"requested access to the resource is denied"}]}"#);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].message, "");
        assert!(parse_registry_errors(b"<html>502</html>").is_empty());
        assert!(parse_registry_errors(b"").is_empty());
        assert!(parse_registry_errors(br#"{"errors":null}"#).is_empty());
    }
}
