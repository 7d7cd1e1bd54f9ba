//! Manifests written by the pull-through cache (`regctl serve --proxy`):
//! fetched from an upstream and verified there, stored before their blobs,
//! which arrive one by one as clients pull them.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::Registry;
use crate::storage::error::{Result, StorageError};
use crate::storage::paths::{RepoName, TagName};
use crate::types::manifest::MAX_MANIFEST_SIZE;
use crate::types::{Digest, ManifestOutline};

/// The cache's state file, beside `docker/` in the storage root.
pub const CACHE_STATE_KEY: &str = "regctl/proxy-cache.json";

/// What [`CACHE_STATE_KEY`] holds.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct CacheState {
    /// The cached prefixes (`""`: every name is cached).
    #[serde(default)]
    pub cached: Vec<String>,
    /// Repository → manifest digest → last pull (seconds since the epoch).
    #[serde(default)]
    pub pulls: BTreeMap<String, BTreeMap<String, u64>>,
}

impl CacheState {
    /// Reads the state of a root; an unreadable or absent file is empty.
    pub async fn load(registry: &Registry) -> Result<CacheState, StorageError> {
        Ok(registry
            .backend()
            .get(CACHE_STATE_KEY)
            .await?
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default())
    }

    /// Whether a repository is part of the cache.
    pub fn is_cached(&self, repo: &str) -> bool {
        self.cached.iter().any(|p| {
            p.is_empty()
                || repo
                    .strip_prefix(p.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        })
    }

    pub fn last_pull(&self, repo: &str, digest: &Digest) -> Option<SystemTime> {
        let secs = *self.pulls.get(repo)?.get(&digest.to_string())?;
        Some(UNIX_EPOCH + Duration::from_secs(secs))
    }
}

impl Registry {
    /// Stores a manifest copied from an upstream under its digest (and
    /// `tag`, when given), in the same layout as a push. Unlike
    /// [`Registry::put_manifest`] the blobs it names need not be here: a
    /// cache fetches them when a client asks. The bytes must hash to
    /// `digest` and parse as a manifest; nothing is written otherwise.
    pub async fn put_cached_manifest(
        &self,
        repo: &RepoName,
        digest: &Digest,
        bytes: Bytes,
        content_type: Option<&str>,
        tag: Option<&TagName>,
    ) -> Result<()> {
        if bytes.len() > MAX_MANIFEST_SIZE {
            return Err(StorageError::ManifestTooLarge {
                limit: MAX_MANIFEST_SIZE,
            });
        }
        digest.verify(&bytes)?;
        let outline = ManifestOutline::parse(&bytes, content_type)
            .map_err(|e| StorageError::ManifestInvalid(e.to_string()))?;
        let referrer = outline.subject().map(|s| {
            (
                s.digest.clone(),
                outline.referrer_descriptor(digest.clone(), bytes.len()),
            )
        });
        drop(outline);
        let _gc = self.gc.writing().await;
        self.gc.touch([digest]);
        let new_repository = !self.repository_exists(repo).await?;
        self.write_manifest(repo, digest, bytes, tag, new_repository, referrer)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_names_are_the_prefixes_components() {
        let state = CacheState {
            cached: vec!["hub".into(), "a/b".into()],
            ..CacheState::default()
        };
        assert!(state.is_cached("hub/library/alpine"));
        assert!(state.is_cached("a/b/c"));
        assert!(!state.is_cached("hub"));
        assert!(!state.is_cached("hubx/app"));
        assert!(!state.is_cached("a/bc/d"));
        let everything = CacheState {
            cached: vec![String::new()],
            ..CacheState::default()
        };
        assert!(everything.is_cached("anything"));
        assert!(!CacheState::default().is_cached("anything"));
    }
}
