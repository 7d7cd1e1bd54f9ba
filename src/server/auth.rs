//! Basic authentication against an htpasswd file of bcrypt entries (as made
//! by `htpasswd -B`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine;
use sha2::{Digest as _, Sha256};

/// Why an htpasswd file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum HtpasswdError {
    #[error("cannot read htpasswd file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "htpasswd file {path}, line {line}: expected `user:$2y$...` with a bcrypt hash (make one with `htpasswd -B`)"
    )]
    Entry { path: String, line: usize },
}

/// Users and their bcrypt hashes.
pub struct Htpasswd {
    users: HashMap<String, String>,
    /// Keyed hashes of `Authorization` values verified recently, and when:
    /// bcrypt is slow by design and must not run on every request. Only
    /// hashes under a per-process random key are kept, never passwords.
    verified: Mutex<HashMap<[u8; 32], Instant>>,
    cache_key: [u8; 32],
    /// Checked for users who are not in the file, so that an unknown user
    /// costs what a wrong password does (no user names by timing). Made
    /// on first use, at the file's highest cost.
    dummy_hash: OnceLock<Option<String>>,
}

const VERIFIED_CACHE_LIMIT: usize = 1024;

/// How long a verified `Authorization` value is taken without bcrypt.
pub const VERIFIED_TTL: Duration = Duration::from_secs(60);

/// Random bytes for the cache key (UUID v4s come from the OS's generator).
fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    key
}

/// `user:password` from a Basic `Authorization` value.
fn basic_credentials(value: &str) -> Option<(String, String)> {
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Whether an `Authorization` value carries no credentials at all: Basic
/// with an empty user and password, as skopeo and containers/image send
/// with `--no-creds` after a Basic challenge. Under access rules such a
/// client is anonymous, not a failed login.
pub(crate) fn is_empty_basic(value: &str) -> bool {
    basic_credentials(value).is_some_and(|(user, password)| user.is_empty() && password.is_empty())
}

/// A hash bcrypt can verify: 60 characters `$2a|b|x|y$NN$...` with a cost
/// of 4 to 31. Anything else would load, then fail every login silently.
fn bcrypt_hash_is_usable(hash: &str) -> bool {
    hash.parse::<bcrypt::HashParts>()
        .is_ok_and(|parts| (4..=31).contains(&parts.get_cost()))
}

impl Htpasswd {
    pub fn load(path: &Path) -> Result<Self, HtpasswdError> {
        let text = std::fs::read_to_string(path).map_err(|source| HtpasswdError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, origin: &str) -> Result<Self, HtpasswdError> {
        let mut users = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let entry = line
                .split_once(':')
                .filter(|(u, h)| !u.is_empty() && bcrypt_hash_is_usable(h));
            let Some((user, hash)) = entry else {
                return Err(HtpasswdError::Entry {
                    path: origin.to_owned(),
                    line: i + 1,
                });
            };
            users.insert(user.to_owned(), hash.to_owned());
        }
        Ok(Htpasswd {
            users,
            verified: Mutex::new(HashMap::new()),
            cache_key: random_key(),
            dummy_hash: OnceLock::new(),
        })
    }

    fn cache_entry(&self, authorization: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.cache_key);
        h.update(authorization.as_bytes());
        h.finalize().into()
    }

    /// The user, when this exact `Authorization` value was verified within
    /// [`VERIFIED_TTL`]; no bcrypt.
    pub fn check_cached(&self, authorization: Option<&str>) -> Option<String> {
        let value = authorization?;
        let key = self.cache_entry(value);
        let fresh = self
            .verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .is_some_and(|at| at.elapsed() < VERIFIED_TTL);
        if !fresh {
            return None;
        }
        basic_credentials(value).map(|(user, _)| user)
    }

    fn dummy_hash(&self) -> Option<&str> {
        self.dummy_hash
            .get_or_init(|| {
                let cost = self
                    .users
                    .values()
                    .filter_map(|h| h.parse::<bcrypt::HashParts>().ok())
                    .map(|p| p.get_cost())
                    .max()
                    .unwrap_or(4);
                bcrypt::hash("regctl dummy password", cost).ok()
            })
            .as_deref()
    }

    /// Checks an `Authorization` header value; returns the user name.
    /// Blocks for a bcrypt check unless the value was verified recently:
    /// the server calls it on the blocking pool (see [`Authenticator`]).
    pub fn check(&self, authorization: Option<&str>) -> Option<String> {
        if let Some(user) = self.check_cached(authorization) {
            return Some(user);
        }
        let value = authorization?;
        let (user, password) = basic_credentials(value)?;
        let known = self.users.get(&user);
        let hash = match known {
            Some(h) => h.as_str(),
            None => self.dummy_hash()?,
        };
        let matched = bcrypt::verify(&password, hash).unwrap_or(false);
        if !matched || known.is_none() {
            return None;
        }
        let now = Instant::now();
        let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if verified.len() >= VERIFIED_CACHE_LIMIT {
            verified.retain(|_, at| at.elapsed() < VERIFIED_TTL);
            if verified.len() >= VERIFIED_CACHE_LIMIT {
                verified.clear();
            }
        }
        verified.insert(self.cache_entry(value), now);
        Some(user)
    }
}

/// Failed logins from one client address before it is refused with 429.
pub const MAX_FAILURES: u32 = 10;
/// The window those failures are counted in.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// How long an address is refused once it reached [`MAX_FAILURES`].
pub const LOCKOUT: Duration = Duration::from_secs(30);
/// Client addresses whose failures are remembered.
const TRACKED_ADDRESSES: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    since: Instant,
    locked_until: Option<Instant>,
}

/// What an authentication attempt gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    Allowed(String),
    Denied,
    /// Too many failures from this address: retry after this long.
    Throttled(Duration),
}

/// [`Htpasswd`] checks for the server: bcrypt off the request threads and
/// a bounded number at once, and addresses that keep failing refused for
/// a while, so that password guessing neither stalls other clients nor
/// runs at the attacker's pace.
pub struct Authenticator {
    htpasswd: Arc<Htpasswd>,
    checks: Arc<tokio::sync::Semaphore>,
    failures: Mutex<HashMap<Option<IpAddr>, Failures>>,
}

impl Authenticator {
    pub fn new(htpasswd: Htpasswd) -> Self {
        // At most half the cores hash passwords; the rest keep serving.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Authenticator {
            htpasswd: Arc::new(htpasswd),
            checks: Arc::new(tokio::sync::Semaphore::new((cores / 2).max(1))),
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn lock_failures(&self) -> std::sync::MutexGuard<'_, HashMap<Option<IpAddr>, Failures>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long `peer` must still wait, if it is locked out.
    fn locked(&self, peer: Option<IpAddr>) -> Option<Duration> {
        let now = Instant::now();
        let until = self.lock_failures().get(&peer)?.locked_until?;
        (until > now).then(|| until - now)
    }

    fn failed(&self, peer: Option<IpAddr>) {
        let now = Instant::now();
        let mut failures = self.lock_failures();
        if failures.len() >= TRACKED_ADDRESSES && !failures.contains_key(&peer) {
            failures.retain(|_, f| {
                now.duration_since(f.since) < FAILURE_WINDOW
                    || f.locked_until.is_some_and(|t| t > now)
            });
            if failures.len() >= TRACKED_ADDRESSES {
                failures.clear();
            }
        }
        let f = failures.entry(peer).or_insert(Failures {
            count: 0,
            since: now,
            locked_until: None,
        });
        let lock_over = f.locked_until.is_some_and(|t| t <= now);
        if lock_over || now.duration_since(f.since) >= FAILURE_WINDOW {
            *f = Failures {
                count: 0,
                since: now,
                locked_until: None,
            };
        }
        f.count += 1;
        if f.count >= MAX_FAILURES {
            f.locked_until = Some(now + LOCKOUT);
            tracing::warn!(
                peer = ?peer,
                failures = f.count,
                "too many failed logins; refusing this address for {LOCKOUT:?}"
            );
        }
    }

    /// Checks an `Authorization` value from `peer`.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
        peer: Option<IpAddr>,
    ) -> AuthOutcome {
        if let Some(user) = self.htpasswd.check_cached(authorization) {
            return AuthOutcome::Allowed(user);
        }
        let Some(value) = authorization else {
            // No credentials at all: the usual first request of a client,
            // answered with the challenge (it costs nothing); not a failure.
            return AuthOutcome::Denied;
        };
        if let Some(wait) = self.locked(peer) {
            return AuthOutcome::Throttled(wait);
        }
        let Ok(permit) = self.checks.clone().acquire_owned().await else {
            return AuthOutcome::Denied;
        };
        // Guesses queued behind the one that locked the address are not
        // checked either.
        if let Some(wait) = self.locked(peer) {
            return AuthOutcome::Throttled(wait);
        }
        let htpasswd = self.htpasswd.clone();
        let value = value.to_owned();
        // The permit goes with the check: a client that hangs up does not
        // free its slot while its bcrypt still runs.
        let checked = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            htpasswd.check(Some(&value))
        })
        .await;
        match checked {
            Ok(Some(user)) => {
                self.lock_failures().remove(&peer);
                AuthOutcome::Allowed(user)
            }
            Ok(None) | Err(_) => {
                self.failed(peer);
                AuthOutcome::Denied
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, pass: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        )
    }

    #[test]
    fn verifies_bcrypt_entries() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let h = Htpasswd::parse(&format!("# users\nalice:{hash}\n"), "test").unwrap();
        assert_eq!(
            h.check(Some(&basic("alice", "s3cret"))).as_deref(),
            Some("alice")
        );
        // Cached path answers the same.
        assert_eq!(
            h.check(Some(&basic("alice", "s3cret"))).as_deref(),
            Some("alice")
        );
        assert!(h.check(Some(&basic("alice", "wrong"))).is_none());
        assert!(h.check(Some(&basic("bob", "s3cret"))).is_none());
        assert!(h.check(Some("Bearer x")).is_none());
        assert!(h.check(Some("Basic !!!")).is_none());
        assert!(h.check(None).is_none());
    }

    /// An unknown user is checked against a dummy hash at the file's cost,
    /// so it costs what a wrong password does (timing shows no user names).
    #[test]
    fn an_unknown_user_costs_a_bcrypt_check_too() {
        let hash = bcrypt::hash("s3cret", 6).unwrap();
        let h = Htpasswd::parse(&format!("alice:{hash}\n"), "test").unwrap();
        let timed = |user: &str| {
            let t = std::time::Instant::now();
            assert!(h.check(Some(&basic(user, "wrong"))).is_none());
            t.elapsed()
        };
        let (wrong, unknown) = (timed("alice"), timed("nobody"));
        let unknown_again = timed("nobody");
        println!("wrong password {wrong:?}, unknown user {unknown:?} then {unknown_again:?}");
        let dummy = h
            .dummy_hash
            .get()
            .cloned()
            .flatten()
            .expect("no dummy check ran");
        let cost = dummy.parse::<bcrypt::HashParts>().unwrap().get_cost();
        assert_eq!(cost, 6);
    }

    /// A verified value is taken from the cache only under its own key and
    /// only within the TTL; a wrong password is never cached.
    #[tokio::test]
    async fn authenticator_caches_successes_and_locks_out_repeated_failures() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let auth = Authenticator::new(Htpasswd::parse(&format!("alice:{hash}\n"), "test").unwrap());
        let peer = Some(IpAddr::from([127, 0, 0, 1]));
        let other = Some(IpAddr::from([127, 0, 0, 2]));
        let good = basic("alice", "s3cret");
        assert_eq!(
            auth.authenticate(Some(&good), peer).await,
            AuthOutcome::Allowed("alice".into())
        );
        assert!(auth.htpasswd.check_cached(Some(&good)).is_some());
        for i in 0..MAX_FAILURES {
            let bad = basic("alice", &format!("guess{i}"));
            assert_eq!(
                auth.authenticate(Some(&bad), peer).await,
                AuthOutcome::Denied
            );
            assert!(auth.htpasswd.check_cached(Some(&bad)).is_none());
        }
        let bad = basic("alice", "one more");
        assert!(matches!(
            auth.authenticate(Some(&bad), peer).await,
            AuthOutcome::Throttled(d) if d <= LOCKOUT && d > Duration::ZERO
        ));
        // The verified client still passes; another address is unaffected.
        assert_eq!(
            auth.authenticate(Some(&good), peer).await,
            AuthOutcome::Allowed("alice".into())
        );
        assert_eq!(
            auth.authenticate(Some(&bad), other).await,
            AuthOutcome::Denied
        );
    }

    #[test]
    fn rejects_non_bcrypt_lines() {
        let err = Htpasswd::parse("alice:{SHA}abc\n", "f").err().unwrap();
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    /// Found while writing the htpasswd fuzz target: any `$2...` text was
    /// accepted as a hash, so a truncated or mistyped hash loaded and then
    /// refused every login without a word.
    #[test]
    fn rejects_malformed_bcrypt_hashes_at_load() {
        let good = bcrypt::hash("pw", 4).unwrap();
        assert!(Htpasswd::parse(&format!("a:{good}"), "f").is_ok());
        let bad = [
            "$2".to_owned(),
            good[..59].to_owned(),
            good.replacen("$2b$", "$2q$", 1),
            good.replacen("$04$", "$99$", 1),
            good.replacen("$04$", "$03$", 1),
            format!("{}£", &good[..58]),
        ];
        for hash in bad {
            let err = Htpasswd::parse(&format!("# c\na:{good}\nb:{hash}\n"), "f")
                .err()
                .unwrap_or_else(|| panic!("{hash:?} was accepted"));
            assert!(err.to_string().contains("line 3"), "{err}");
        }
    }
}
