//! Pull-through cache: `regctl serve --proxy [PREFIX=]URL`.
//!
//! Names under a proxied prefix (or every name, without a prefix) are a
//! read-only cache of an upstream registry, kept in the same storage root
//! and layout as pushed images. Tags are checked upstream at most once per
//! TTL and served from the cache when the upstream fails; anything by digest
//! is immutable and served from the cache alone. Blobs are fetched once
//! however many clients ask ([`transfer`]), and the least recently pulled
//! cached images are evicted by age or size ([`evict`]).

pub mod evict;
mod handlers;
mod transfer;
mod upstream;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use handlers::{blob, manifest};

use crate::client::{Client, ClientOptions, Credential, RetryPolicy, Secret};
use crate::types::Reference;

/// How long a tag checked upstream is served without asking again.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// How long the upstream gets to connect or to send anything: an uncached
/// name with the upstream down fails within about this long.
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);

/// How often cached images are checked against `--proxy-max-age` and
/// `--proxy-max-size` (and pull times written down).
pub const DEFAULT_EVICT_INTERVAL: Duration = Duration::from_secs(600);

/// How long the upstream is left alone after a 429 without `Retry-After`.
pub const DEFAULT_BACKOFF: Duration = Duration::from_secs(60);

/// One `--proxy [PREFIX=]URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyRule {
    /// Names under `PREFIX/` are the cache; `None`: every name is.
    pub prefix: Option<String>,
    /// The upstream, `http(s)://HOST[:PORT]`.
    pub url: url::Url,
}

/// Why a `--proxy` value or setting was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProxyConfigError {
    #[error(
        "--proxy {0:?}: give the upstream as http(s)://HOST[:PORT], optionally after PREFIX= (e.g. hub=https://registry-1.docker.io)"
    )]
    Url(String),
    #[error(
        "--proxy {value:?}: the prefix {prefix:?} is not a repository name ({reason}); use lowercase letters, digits and separators, e.g. hub"
    )]
    Prefix {
        value: String,
        prefix: String,
        reason: String,
    },
    #[error("--proxy: the prefix {0:?} is given twice; give each prefix one upstream")]
    Duplicate(String),
    #[error("--proxy: more than one upstream without a prefix; give one, or prefix the others")]
    TwoWhole,
    #[error(
        "--proxy-username is set but REGCTL_PROXY_PASSWORD is not: put the upstream password in that environment variable"
    )]
    NoPassword,
    #[error("cannot set up the upstream client: {0}")]
    Client(#[from] crate::client::ClientError),
}

impl std::str::FromStr for ProxyRule {
    type Err = ProxyConfigError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let (prefix, url) = match value.split_once('=') {
            Some((p, u)) if !p.contains("://") => (Some(p.trim_matches('/')), u),
            _ => (None, value),
        };
        let parsed = url::Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .filter(|u| u.host_str().is_some() && matches!(u.path(), "" | "/" | "/v2/" | "/v2"))
            .filter(|u| u.query().is_none() && u.username().is_empty())
            .ok_or_else(|| ProxyConfigError::Url(value.to_owned()))?;
        if let Some(p) = prefix {
            crate::storage::RepoName::new(p).map_err(|e| ProxyConfigError::Prefix {
                value: value.to_owned(),
                prefix: p.to_owned(),
                reason: e.to_string(),
            })?;
        }
        Ok(ProxyRule {
            prefix: prefix.map(str::to_owned),
            url: parsed,
        })
    }
}

impl std::fmt::Display for ProxyRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = self.url.as_str().trim_end_matches('/');
        match &self.prefix {
            Some(p) => write!(f, "{p}={url}"),
            None => f.write_str(url),
        }
    }
}

/// The cache's settings.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    pub rules: Vec<ProxyRule>,
    pub ttl: Duration,
    pub timeout: Duration,
    /// A service account for every upstream (`--proxy-username` with
    /// `REGCTL_PROXY_PASSWORD`); otherwise the Docker config's credentials.
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// How the upstreams are spoken to: CA certificates, the Docker config
    /// with their credentials (`regctl login`), insecure registries, as for
    /// every regctl command. Its timeout and retries are the cache's own.
    pub client: ClientOptions,
    pub max_age: Option<Duration>,
    pub max_size: Option<u64>,
    pub evict_interval: Duration,
}

impl ProxyConfig {
    pub fn new(rules: Vec<ProxyRule>) -> Self {
        ProxyConfig {
            rules,
            ttl: DEFAULT_TTL,
            timeout: DEFAULT_UPSTREAM_TIMEOUT,
            username: None,
            password: None,
            client: ClientOptions::default(),
            max_age: None,
            max_size: None,
            evict_interval: DEFAULT_EVICT_INTERVAL,
        }
    }
}

/// One upstream as the cache talks to it.
pub(crate) struct Upstream {
    prefix: Option<String>,
    /// The registry name the client knows it by (`host[:port]`).
    registry: String,
    /// For messages: `http(s)://host[:port]`.
    shown: String,
    /// No request goes upstream before this (after a 429).
    backoff_until: Mutex<Option<Instant>>,
}

impl Upstream {
    fn backing_off(&self) -> Option<Duration> {
        let until = (*self.backoff_until.lock().unwrap_or_else(|e| e.into_inner()))?;
        until.checked_duration_since(Instant::now())
    }

    fn back_off(&self, wait: Duration) {
        *self.backoff_until.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now() + wait);
        tracing::warn!(target: "regctl::proxy", upstream = %self.shown, seconds = wait.as_secs(), "upstream answered 429 Too Many Requests; not asking it for a while (cached tags are served)");
    }
}

/// Where a local name is cached from.
pub(crate) struct Target<'a> {
    pub upstream: &'a Upstream,
    /// The name upstream (the local name without the prefix).
    pub remote: String,
}

impl Target<'_> {
    /// The upstream reference for this name; a name the upstream's
    /// grammar refuses (stricter than storage's) is not known upstream.
    fn reference(
        &self,
        tag: Option<&str>,
        digest: Option<&crate::types::Digest>,
    ) -> Result<Reference, upstream::UpstreamError> {
        Reference::new(&self.upstream.registry, &self.remote, tag, digest.cloned()).map_err(|e| {
            upstream::UpstreamError::NotFound {
                upstream: self.upstream.shown.clone(),
                what: format!("{} cannot be asked upstream: {e}", self.remote),
            }
        })
    }
}

/// The cache: upstreams, the client that talks to them, and what is in
/// flight.
pub struct Proxy {
    config: ProxyConfig,
    client: Client,
    upstreams: Vec<Upstream>,
    /// When each cached tag (`repo:tag`) was last checked upstream.
    checked: Mutex<HashMap<String, Instant>>,
    /// One upstream check per tag or manifest at a time.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    transfers: transfer::Transfers,
    pub(crate) pulls: evict::PullLog,
}

/// Bound on the per-key lock table; idle locks are dropped beyond it.
const MAX_IDLE_LOCKS: usize = 4096;

impl Proxy {
    pub fn new(config: ProxyConfig) -> Result<Self, ProxyConfigError> {
        let mut seen = std::collections::HashSet::new();
        for r in &config.rules {
            let key = r.prefix.clone().unwrap_or_default();
            if !seen.insert(key.clone()) {
                return Err(if key.is_empty() {
                    ProxyConfigError::TwoWhole
                } else {
                    ProxyConfigError::Duplicate(key)
                });
            }
        }
        if config.username.is_some() && config.password.is_none() {
            return Err(ProxyConfigError::NoPassword);
        }
        let client = Client::new(ClientOptions {
            timeout: config.timeout,
            // The upstream is asked itself, never a configured mirror.
            mirrors: HashMap::new(),
            // Few, short retries: a client is waiting, and a cached tag is
            // served instead when the upstream keeps failing.
            retry: RetryPolicy {
                max_retries: 2,
                base_delay: Duration::from_millis(100),
                max_delay: Duration::from_secs(1),
            },
            ..config.client.clone()
        })?;
        let mut upstreams = Vec::new();
        for r in &config.rules {
            let host = match r.url.port() {
                Some(p) => format!("{}:{p}", r.url.host_str().unwrap_or_default()),
                None => r.url.host_str().unwrap_or_default().to_owned(),
            };
            let registry = Reference::new(&host, "x", None, None)
                .map(|r| r.registry().to_owned())
                .map_err(|_| ProxyConfigError::Url(r.to_string()))?;
            let scheme = if r.url.scheme() == "http" {
                crate::types::reference::Scheme::Http
            } else {
                crate::types::reference::Scheme::Https
            };
            client.set_scheme(&registry, scheme);
            if let (Some(user), Some(pass)) = (&config.username, &config.password) {
                client.set_credential(
                    &registry,
                    Credential::Basic {
                        username: user.clone(),
                        password: pass.clone(),
                    },
                );
            }
            upstreams.push(Upstream {
                prefix: r.prefix.clone(),
                registry,
                shown: format!("{}://{host}", r.url.scheme()),
                backoff_until: Mutex::new(None),
            });
        }
        // Longest prefix first; the catch-all last.
        upstreams.sort_by_key(|u| std::cmp::Reverse(u.prefix.as_ref().map_or(0, |p| p.len() + 1)));
        Ok(Proxy {
            config,
            client,
            upstreams,
            checked: Mutex::new(HashMap::new()),
            locks: Mutex::new(HashMap::new()),
            transfers: transfer::Transfers::default(),
            pulls: evict::PullLog::default(),
        })
    }

    pub fn config(&self) -> &ProxyConfig {
        &self.config
    }

    /// The upstream a local repository name is a cache of, if any.
    pub(crate) fn target(&self, name: &str) -> Option<Target<'_>> {
        self.upstreams.iter().find_map(|u| {
            let remote = match &u.prefix {
                None => name,
                Some(p) => name
                    .strip_prefix(p.as_str())
                    .and_then(|rest| rest.strip_prefix('/'))
                    .filter(|rest| !rest.is_empty())?,
            };
            // Docker Hub's official images live under `library/`, which
            // docker adds to short names itself: `hub/alpine` works too.
            let remote =
                if u.registry == crate::types::reference::DOCKER_HUB && !remote.contains('/') {
                    format!("library/{remote}")
                } else {
                    remote.to_owned()
                };
            Some(Target {
                upstream: u,
                remote,
            })
        })
    }

    /// Whether a local repository name is part of the cache.
    pub fn is_cached_name(&self, name: &str) -> bool {
        self.target(name).is_some()
    }

    /// The refusal of a push or delete under a cached name.
    pub(crate) fn refusal(&self, name: &str) -> super::ApiError {
        let upstream = self
            .target(name)
            .map(|t| format!("{} (as {})", t.upstream.shown, t.remote))
            .unwrap_or_default();
        super::ApiError::unsupported(format!(
            "{name} is a read-only pull-through cache of {upstream}: push to and delete on the upstream instead"
        ))
    }

    fn key_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        if locks.len() >= MAX_IDLE_LOCKS {
            locks.retain(|_, l| Arc::strong_count(l) > 1);
        }
        locks.entry(key.to_owned()).or_default().clone()
    }

    fn fresh(&self, key: &str) -> bool {
        self.checked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .is_some_and(|t| t.elapsed() < self.config.ttl)
    }

    fn mark_checked(&self, key: &str) {
        let mut checked = self.checked.lock().unwrap_or_else(|e| e.into_inner());
        if checked.len() >= 100_000 {
            let ttl = self.config.ttl;
            checked.retain(|_, t| t.elapsed() < ttl);
        }
        checked.insert(key.to_owned(), Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_with_and_without_prefix() {
        let r: ProxyRule = "https://registry-1.docker.io".parse().unwrap();
        assert_eq!(r.prefix, None);
        assert_eq!(r.to_string(), "https://registry-1.docker.io");
        let r: ProxyRule = "hub=http://127.0.0.1:5000/".parse().unwrap();
        assert_eq!(r.prefix.as_deref(), Some("hub"));
        assert_eq!(r.to_string(), "hub=http://127.0.0.1:5000");
        let r: ProxyRule = "a/b=https://x.example".parse().unwrap();
        assert_eq!(r.prefix.as_deref(), Some("a/b"));
        for bad in [
            "registry-1.docker.io",
            "ftp://x",
            "hub=",
            "Hub=https://x",
            "hub=https://x/some/path",
            "https://user:pw@x",
        ] {
            assert!(bad.parse::<ProxyRule>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn names_map_to_the_longest_prefix() {
        let cfg = ProxyConfig {
            client: ClientOptions {
                docker_config: None,
                ..ClientOptions::default()
            },
            ..ProxyConfig::new(vec![
                "hub=https://registry-1.docker.io".parse().unwrap(),
                "hub/x=http://127.0.0.1:1".parse().unwrap(),
                "q=http://127.0.0.1:2".parse().unwrap(),
            ])
        };
        let p = Proxy::new(cfg).unwrap();
        let t = p.target("hub/library/alpine").unwrap();
        assert_eq!(t.remote, "library/alpine");
        assert_eq!(t.upstream.registry, "docker.io");
        assert_eq!(p.target("hub/alpine").unwrap().remote, "library/alpine");
        let t = p.target("hub/x/y").unwrap();
        assert_eq!(t.remote, "y");
        assert_eq!(t.upstream.registry, "127.0.0.1:1");
        assert!(p.target("hubx/y").is_none());
        assert!(p.target("hub").is_none());
        assert!(p.target("mine/app").is_none());
    }

    #[test]
    fn duplicate_prefixes_are_refused() {
        let cfg = |rules: &[&str]| ProxyConfig {
            client: ClientOptions {
                docker_config: None,
                ..ClientOptions::default()
            },
            ..ProxyConfig::new(rules.iter().map(|r| r.parse().unwrap()).collect())
        };
        assert!(matches!(
            Proxy::new(cfg(&["a=http://h:1", "a=http://h:2"])),
            Err(ProxyConfigError::Duplicate(_))
        ));
        assert!(matches!(
            Proxy::new(cfg(&["http://h:1", "http://h:2"])),
            Err(ProxyConfigError::TwoWhole)
        ));
    }
}

/// Parses a size such as `50GB`, `10GiB`, `512MiB` or a byte count:
/// decimal units are powers of 1000, `…iB` units of 1024.
pub fn parse_size(input: &str) -> Result<u64, String> {
    let s = input.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = (s[..split].trim(), s[split..].trim());
    let factor: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "m" | "mb" => 1000u64.pow(2),
        "g" | "gb" => 1000u64.pow(3),
        "t" | "tb" => 1000u64.pow(4),
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => {
            return Err(format!(
                "size {input:?}: unknown unit {unit:?}; write e.g. 500MB, 20GiB or a byte count"
            ));
        }
    };
    let value: f64 = number.parse().map_err(|_| {
        format!("size {input:?} is not a number with a unit; write e.g. 500MB, 20GiB")
    })?;
    let bytes = value * factor as f64;
    if !bytes.is_finite() || bytes < 1.0 || bytes > u64::MAX as f64 {
        return Err(format!(
            "size {input:?} must be at least one byte; write e.g. 500MB, 20GiB"
        ));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod size_tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("100"), Ok(100));
        assert_eq!(parse_size("2KB"), Ok(2000));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("20 gb"), Ok(20_000_000_000));
        assert!(parse_size("0").is_err());
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("GB").is_err());
        assert!(parse_size("").is_err());
    }
}
