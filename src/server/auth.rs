//! Basic authentication against an htpasswd file of bcrypt entries (as made
//! by `htpasswd -B`).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

use base64::Engine;

use crate::types::Digest;

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
    /// Digests of `Authorization` values already verified: bcrypt is slow
    /// by design and must not run on every request. Only digests are kept.
    verified: Mutex<HashSet<Digest>>,
}

const VERIFIED_CACHE_LIMIT: usize = 1024;

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
            verified: Mutex::new(HashSet::new()),
        })
    }

    /// Checks an `Authorization` header value; returns the user name.
    pub fn check(&self, authorization: Option<&str>) -> Option<String> {
        let value = authorization?;
        let encoded = value
            .strip_prefix("Basic ")
            .or_else(|| value.strip_prefix("basic "))?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (user, password) = decoded.split_once(':')?;
        let hash = self.users.get(user)?;
        let key = Digest::sha256_of(value.as_bytes());
        let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if verified.contains(&key) {
            return Some(user.to_owned());
        }
        drop(verified);
        if !bcrypt::verify(password, hash).unwrap_or(false) {
            return None;
        }
        verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if verified.len() >= VERIFIED_CACHE_LIMIT {
            verified.clear();
        }
        verified.insert(key);
        Some(user.to_owned())
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
