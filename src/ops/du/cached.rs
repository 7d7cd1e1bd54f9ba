//! A pull-through cache's share of a root (`regctl serve --proxy`): bytes
//! only cached repositories reference, and the rest.

use std::collections::{HashMap, HashSet};

use super::{UsageError, UsageSource, is_not_found, repository_tags};
use crate::types::Digest;

/// How a root's referenced bytes split between the cache and the rest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CacheSplit {
    /// Referenced only by cached repositories: what evicting the whole
    /// cache would free.
    pub cached: u64,
    /// Referenced by pushed repositories (shared blobs included).
    pub pushed: u64,
}

/// Splits the bytes the tags of `src` reach: `is_cached` tells a cached
/// repository from a pushed one.
pub async fn cache_split(
    src: &dyn UsageSource,
    is_cached: &(dyn Fn(&str) -> bool + Sync),
) -> Result<CacheSplit, UsageError> {
    let mut cached: HashMap<Digest, u64> = HashMap::new();
    let mut pushed: HashMap<Digest, u64> = HashMap::new();
    for repo in src.repositories().await? {
        let scanned = match repository_tags(src, &repo, None).await {
            Ok(t) => t,
            Err(e) if is_not_found(&e) => continue,
            Err(e) => return Err(e),
        };
        let into = if is_cached(&repo) {
            &mut cached
        } else {
            &mut pushed
        };
        for (_, _, blobs) in scanned.counted {
            into.extend(blobs);
        }
    }
    let shared: HashSet<&Digest> = pushed.keys().collect();
    Ok(CacheSplit {
        cached: cached
            .iter()
            .filter(|(d, _)| !shared.contains(d))
            .map(|(_, s)| s)
            .sum(),
        pushed: pushed.values().sum(),
    })
}
