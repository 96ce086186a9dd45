//! Registry authentication (Docker token spec + Basic): the challenge from the `/v2/` ping or a
//! 401, Bearer tokens fetched from the realm per scope and cached until shortly before they
//! expire, Basic credentials for htpasswd registries.

use std::collections::HashMap;
use std::io::Read;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, AUTHORIZATION};
use url::Url;
use wharf_oci_format::{parse_token_response, parse_www_authenticate, AuthScheme, Challenge};

use crate::client::{host_of, is_loopback_url, www_authenticate, Client};
use crate::error::{ErrorKind, Result};

/// Lifetime assumed when the token server gives no `expires_in` (the spec's default).
const DEFAULT_TOKEN_LIFETIME: u64 = 60;
/// Largest token response read.
const MAX_TOKEN_RESPONSE: u64 = 1 << 20;

#[derive(Debug)]
struct Token {
    value: String,
    until: Instant,
}

#[derive(Default, Debug)]
pub(crate) struct AuthState {
    /// The registry's last challenge (Bearer preferred over Basic).
    challenge: Option<Challenge>,
    /// Bearer tokens by scope, with when they stop being used.
    tokens: HashMap<String, Token>,
    /// Tokens fetched so far (for the tests' bookkeeping and the Debug output).
    fetched: usize,
}

/// The challenge to act on: Bearer if offered, else Basic.
fn pick(challenges: Vec<Challenge>) -> Option<Challenge> {
    let mut basic = None;
    for c in challenges {
        match c.scheme {
            AuthScheme::Bearer => return Some(c),
            AuthScheme::Basic => basic = basic.or(Some(c)),
            AuthScheme::Other(_) => {}
        }
    }
    basic
}

impl Client {
    fn auth_state(&self) -> std::sync::MutexGuard<'_, AuthState> {
        self.auth.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers the challenge of a 401 answer (the `/v2/` ping's).
    pub(crate) fn note_challenge(&self, headers: &HeaderMap) {
        let challenges = www_authenticate(headers)
            .iter()
            .flat_map(|h| parse_www_authenticate(h))
            .collect();
        if let Some(c) = pick(challenges) {
            self.auth_state().challenge = Some(c);
        }
    }

    /// Number of Bearer tokens fetched so far.
    pub fn tokens_fetched(&self) -> usize {
        self.auth_state().fetched
    }

    /// The `Authorization` value for a request needing `scope`, fetching a token when the
    /// registry wants Bearer and none is cached for the scope (or it expired).
    pub(crate) fn authorization(&self, scope: &str) -> Result<Option<String>> {
        // Held across the token fetch so parallel downloads do not fetch one token each.
        let mut st = self.auth_state();
        let Some(challenge) = st.challenge.clone() else {
            return Ok(None);
        };
        match challenge.scheme {
            AuthScheme::Basic => Ok(self.opts.credentials.as_ref().map(|c| c.basic_header())),
            AuthScheme::Bearer => {
                if let Some(t) = st.tokens.get(scope) {
                    if Instant::now() < t.until {
                        return Ok(Some(format!("Bearer {}", t.value)));
                    }
                }
                let t = self.fetch_token(&challenge, &[scope])?;
                st.fetched += 1;
                let header = format!("Bearer {}", t.value);
                st.tokens.insert(scope.to_string(), t);
                Ok(Some(header))
            }
            AuthScheme::Other(_) => Ok(None),
        }
    }

    /// After a 401 to a request that carried `sent` (its Authorization): takes the answer's
    /// challenge, forgets the token for `scope` if it is the one that was refused (not one a
    /// parallel request fetched meanwhile) and reports whether a retry can carry new
    /// authorization.
    pub(crate) fn reauthenticate(
        &self,
        headers: &HeaderMap,
        scope: &str,
        sent: Option<&str>,
    ) -> Result<bool> {
        let challenges = www_authenticate(headers)
            .iter()
            .flat_map(|h| parse_www_authenticate(h))
            .collect();
        let Some(c) = pick(challenges) else {
            return Ok(false);
        };
        let mut st = self.auth_state();
        let had_basic = matches!(
            st.challenge.as_ref().map(|c| &c.scheme),
            Some(AuthScheme::Basic)
        );
        let retry = match c.scheme {
            // Basic: a retry helps only if credentials were not sent before.
            AuthScheme::Basic => self.opts.credentials.is_some() && !had_basic,
            _ => true,
        };
        let refused = |t: &Token| sent.and_then(|s| s.strip_prefix("Bearer ")) == Some(&t.value);
        if st.tokens.get(scope).is_some_and(refused) {
            st.tokens.remove(scope);
        }
        st.challenge = Some(c);
        Ok(retry)
    }

    /// GET (or, with an identity token, POST) the realm for a token covering `scopes`.
    fn fetch_token(&self, challenge: &Challenge, scopes: &[&str]) -> Result<Token> {
        let realm = challenge
            .param("realm")
            .ok_or_else(|| self.err(ErrorKind::Unauthorized, "bearer challenge without a realm"))?;
        let mut url = Url::parse(realm).map_err(|e| {
            self.err(
                ErrorKind::Unauthorized,
                format!("invalid token realm {realm:?}: {e}"),
            )
        })?;
        match url.scheme() {
            "https" => {}
            "http" if self.http_allowed(is_loopback_url(&url)) => {}
            _ => {
                return Err(self.err(
                    ErrorKind::Insecure,
                    format!("refusing token realm {realm} (not https; use --insecure)"),
                ))
            }
        }
        let service = challenge.param("service");
        // A challenge naming its own scope (insufficient_scope) is asked for as well.
        let mut all: Vec<&str> = scopes.to_vec();
        if let Some(s) = challenge.param("scope") {
            all.extend(
                s.split(' ')
                    .filter(|s| !s.is_empty() && !scopes.contains(s)),
            );
        }
        let creds = self.opts.credentials.as_ref();
        let started = Instant::now();
        let resp = match creds.and_then(|c| c.identity_token.as_deref()) {
            Some(refresh) => {
                let mut form: Vec<(&str, &str)> = vec![
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh),
                    ("client_id", "wharf"),
                ];
                if let Some(s) = service {
                    form.push(("service", s));
                }
                let scope = all.join(" ");
                form.push(("scope", &scope));
                let body = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(form)
                    .finish();
                self.http_follow
                    .post(url.clone())
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
            }
            None => {
                {
                    let mut q = url.query_pairs_mut();
                    if let Some(s) = service {
                        q.append_pair("service", s);
                    }
                    for s in &all {
                        q.append_pair("scope", s);
                    }
                }
                let mut rb = self.http_follow.get(url.clone());
                if let Some(c) = creds {
                    rb = rb.header(AUTHORIZATION, c.basic_header());
                }
                rb.send()
            }
        };
        let resp = resp.map_err(|e| {
            self.err(
                ErrorKind::Network,
                format!(
                    "cannot reach token server {}: {}",
                    host_of(&url),
                    crate::client::error_chain(&e)
                ),
            )
        })?;
        let status = resp.status();
        if !status.is_success() {
            let kind = if status.as_u16() == 403 {
                ErrorKind::Denied
            } else {
                ErrorKind::Unauthorized
            };
            let e = self.status_error(resp, &format!("token server {}", host_of(&url)));
            let why = if creds.is_some() {
                "credentials refused"
            } else {
                "anonymous access refused"
            };
            return Err(crate::Error::new(kind, format!("{e} ({why})")));
        }
        let mut body = Vec::new();
        resp.take(MAX_TOKEN_RESPONSE + 1)
            .read_to_end(&mut body)
            .map_err(|e| {
                self.err(
                    ErrorKind::Network,
                    format!("reading the token from {}: {e}", host_of(&url)),
                )
            })?;
        let t = parse_token_response(&body).map_err(|e| {
            self.err(
                ErrorKind::Unauthorized,
                format!("token server {}: {}", host_of(&url), e.message()),
            )
        })?;
        let lifetime = t.expires_in.unwrap_or(DEFAULT_TOKEN_LIFETIME);
        // Renewed after 90 % of its life, counted from when it was asked for.
        let until = started + Duration::from_millis(lifetime.saturating_mul(900));
        Ok(Token {
            value: t.token,
            until,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_preferred() {
        let c = pick(parse_www_authenticate(
            r#"Basic realm="x", Bearer realm="https://a/token",service="s""#,
        ))
        .unwrap();
        assert_eq!(c.scheme, AuthScheme::Bearer);
        let c = pick(parse_www_authenticate(r#"Basic realm="x""#)).unwrap();
        assert_eq!(c.scheme, AuthScheme::Basic);
        assert!(pick(parse_www_authenticate("Negotiate")).is_none());
    }
}
