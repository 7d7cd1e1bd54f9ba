//! Registry authentication: parsing `WWW-Authenticate` challenges and the
//! Docker/OCI Bearer token flow's request and response.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::creds::Secret;

/// One authentication challenge from a 401 response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic {
        realm: Option<String>,
    },
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parses a `WWW-Authenticate` header value into its challenges. Unknown
/// schemes and Bearer challenges without a realm are skipped.
pub fn parse_www_authenticate(header: &str) -> Vec<Challenge> {
    let mut out = Vec::new();
    let mut rest = header;
    loop {
        // One definition of a separator everywhere: a scheme ends where the
        // skipping starts, so each turn consumes at least one character.
        rest = rest.trim_start_matches(is_separator);
        if rest.is_empty() {
            break;
        }
        let scheme_end = rest.find(is_separator).unwrap_or(rest.len());
        let scheme = rest[..scheme_end].to_ascii_lowercase();
        let (params, after) = parse_params(&rest[scheme_end..]);
        rest = after;
        match scheme.as_str() {
            "basic" => out.push(Challenge::Basic {
                realm: params.get("realm").cloned(),
            }),
            "bearer" => {
                if let Some(realm) = params.get("realm") {
                    out.push(Challenge::Bearer {
                        realm: realm.clone(),
                        service: params.get("service").cloned(),
                        scope: params.get("scope").cloned(),
                    });
                }
            }
            _ => {}
        }
    }
    out
}

/// Whitespace (any, not only what HTTP allows: the parser is public) and
/// the commas between challenges and parameters.
fn is_separator(c: char) -> bool {
    c.is_whitespace() || c == ','
}

/// Parses `k=v, k="v, with comma"` pairs until the next scheme token (a
/// word not followed by `=`). Returns the params and the unparsed rest.
fn parse_params(mut s: &str) -> (HashMap<String, String>, &str) {
    let mut params = HashMap::new();
    loop {
        s = s.trim_start_matches(is_separator);
        let Some(eq) = s.find('=') else { break };
        let key = &s[..eq];
        if key.is_empty() || key.contains(is_separator) {
            // A new challenge's scheme starts here.
            break;
        }
        let after = s[eq + 1..].trim_start();
        let (value, rest) = if let Some(q) = after.strip_prefix('"') {
            let mut val = String::new();
            let mut chars = q.char_indices();
            let mut end = q.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            val.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => val.push(c),
                }
            }
            (val, &q[end.min(q.len())..])
        } else {
            let end = after.find(is_separator).unwrap_or(after.len());
            (after[..end].to_owned(), &after[end..])
        };
        params.insert(key.to_ascii_lowercase(), value);
        s = rest;
    }
    (params, s)
}

/// A token endpoint's answer; registries use either field name.
#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub expires_in: Option<u64>,
}

impl TokenResponse {
    /// The token, preferring `token` (what docker reads first).
    pub fn into_token(self) -> Option<(Secret, Option<Duration>)> {
        let tok = self
            .token
            .filter(|t| !t.is_empty())
            .or(self.access_token.filter(|t| !t.is_empty()))?;
        Some((Secret::new(tok), self.expires_in.map(Duration::from_secs)))
    }
}

/// A cached Bearer token.
#[derive(Debug, Clone)]
pub struct CachedToken {
    pub token: Secret,
    pub expires: Option<Instant>,
}

impl CachedToken {
    pub fn new(token: Secret, lifetime: Option<Duration>) -> Self {
        // Renew a little early: a token that expires mid-request is a 401.
        let expires = lifetime.map(|l| Instant::now() + l.saturating_sub(Duration::from_secs(10)));
        CachedToken { token, expires }
    }

    pub fn is_fresh(&self) -> bool {
        self.expires.is_none_or(|e| Instant::now() < e)
    }
}

/// The scope string for a repository and actions, e.g. `repository:a/b:pull`.
pub fn repository_scope(repository: &str, actions: &str) -> String {
    format!("repository:{repository}:{actions}")
}

/// The scope for listing the catalog.
pub const CATALOG_SCOPE: &str = "registry:catalog:*";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_registry_bearer_challenge() {
        let h = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push""#;
        assert_eq!(
            parse_www_authenticate(h),
            vec![Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull,push".into()),
            }]
        );
    }

    #[test]
    fn parses_basic_and_multiple_challenges() {
        assert_eq!(
            parse_www_authenticate(r#"Basic realm="Registry Realm""#),
            vec![Challenge::Basic {
                realm: Some("Registry Realm".into())
            }]
        );
        let h = r#"Basic realm="r", Bearer realm="http://127.0.0.1:1/t", service=svc"#;
        let c = parse_www_authenticate(h);
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(
            c[1],
            Challenge::Bearer {
                realm: "http://127.0.0.1:1/t".into(),
                service: Some("svc".into()),
                scope: None
            }
        );
        // Case-insensitive scheme, escaped quotes.
        let c = parse_www_authenticate(r#"bearer realm="a\"b""#);
        assert_eq!(
            c,
            vec![Challenge::Bearer {
                realm: "a\"b".into(),
                service: None,
                scope: None
            }]
        );
    }

    #[test]
    fn ignores_garbage_challenges() {
        assert!(parse_www_authenticate("").is_empty());
        assert!(parse_www_authenticate("Bearer service=x").is_empty());
        assert!(parse_www_authenticate("Negotiate").is_empty());
        assert!(parse_www_authenticate(r#"Bearer realm="unterminated"#).len() == 1);
    }

    #[test]
    fn odd_headers_terminate() {
        for h in [
            ",,,",
            "=",
            "= =",
            ", Bearer realm=x",
            "Bearer ,,realm=\"a\",,",
            "\"",
            "Bearer realm=\"",
            "Basic realm",
            "Bearer realm=a realm=b",
            "\t Bearer\trealm=z",
        ] {
            let _ = parse_www_authenticate(h);
        }
        assert_eq!(
            parse_www_authenticate(", Bearer realm=x"),
            vec![Challenge::Bearer {
                realm: "x".into(),
                service: None,
                scope: None
            }]
        );
    }

    /// Fuzz regression (fuzz target www_authenticate): a line break or
    /// other non-HTTP whitespace after a scheme looped forever, because the
    /// scheme ended at any whitespace but only spaces and tabs were skipped.
    #[test]
    fn unusual_whitespace_terminates() {
        assert!(parse_www_authenticate("#\n)").is_empty());
        for h in [
            "Bearer\nrealm=x",
            "Bearer realm=x\u{b}scope=y",
            "Bearer realm=\"a\"\r\n",
        ] {
            let c = parse_www_authenticate(h);
            assert!(
                matches!(&c[..], [Challenge::Bearer { realm, .. }] if realm.starts_with(['a', 'x'])),
                "{h:?}: {c:?}"
            );
        }
        assert_eq!(
            parse_www_authenticate("Bearer realm=x\u{b}scope=y"),
            vec![Challenge::Bearer {
                realm: "x".into(),
                service: None,
                scope: Some("y".into())
            }]
        );
    }

    #[test]
    fn token_response_accepts_either_field() {
        let t: TokenResponse = serde_json::from_str(r#"{"access_token":"a"}"#).unwrap();
        assert_eq!(t.into_token().unwrap().0.expose(), "a");
        let t: TokenResponse =
            serde_json::from_str(r#"{"token":"t","access_token":"a","expires_in":60}"#).unwrap();
        let (tok, life) = t.into_token().unwrap();
        assert_eq!((tok.expose(), life), ("t", Some(Duration::from_secs(60))));
        let t: TokenResponse = serde_json::from_str(r#"{"token":""}"#).unwrap();
        assert!(t.into_token().is_none());
    }
}
