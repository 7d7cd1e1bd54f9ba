//! When cached manifests were last pulled, and eviction by age and size.
//!
//! A pull costs one map insert in memory; the map is merged into one small
//! file in the storage root ([`CacheState`]) every eviction interval. With
//! `--proxy-max-age` / `--proxy-max-size`, each interval then deletes the
//! least recently pulled cached manifests (pushed repositories are never
//! touched) and runs the online collector, which removes the blobs no
//! remaining manifest (cached or pushed) refers to: a blob shared with
//! another image stays.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::Proxy;
use crate::server::AppState;
use crate::storage::registry::{CACHE_STATE_KEY as STATE_KEY, CacheState};
use crate::storage::{Registry, RepoName, StorageError, paths};
use crate::types::{Digest, ManifestOutline};

/// Pulls not yet written down.
#[derive(Default)]
pub struct PullLog {
    pending: Mutex<HashMap<(RepoName, Digest), SystemTime>>,
}

/// Beyond this many distinct pending pulls, the oldest interval's records
/// are still kept but new ones wait for the next write (bounded memory).
const MAX_PENDING: usize = 1_000_000;

impl PullLog {
    pub fn record(&self, repo: &RepoName, digest: Digest) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if pending.len() < MAX_PENDING || pending.contains_key(&(repo.clone(), digest.clone())) {
            pending.insert((repo.clone(), digest), SystemTime::now());
        }
    }

    fn take(&self) -> HashMap<(RepoName, Digest), SystemTime> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Evicted {
    pub manifests: usize,
}

impl Proxy {
    /// Merges the pending pulls into the state file; returns the state.
    pub async fn write_pulls(&self, registry: &Registry) -> Result<CacheState, StorageError> {
        let mut state = CacheState::load(registry).await?;
        state.cached = self
            .config
            .rules
            .iter()
            .map(|r| r.prefix.clone().unwrap_or_default())
            .collect();
        for ((repo, digest), at) in self.pulls.take() {
            let at = secs(at);
            let slot = state
                .pulls
                .entry(repo.as_str().to_owned())
                .or_default()
                .entry(digest.to_string())
                .or_default();
            *slot = (*slot).max(at);
        }
        let bytes = serde_json::to_vec(&state).map_err(std::io::Error::other)?;
        registry
            .backend()
            .put(STATE_KEY, Bytes::from(bytes))
            .await?;
        Ok(state)
    }

    /// One round: write the pulls down, then delete the least recently
    /// pulled cached manifests beyond the age and size limits.
    pub async fn evict(&self, registry: &Registry) -> Result<Evicted, StorageError> {
        let mut state = self.write_pulls(registry).await?;
        let (max_age, max_size) = (self.config.max_age, self.config.max_size);
        if max_age.is_none() && max_size.is_none() {
            return Ok(Evicted::default());
        }
        let now = SystemTime::now();
        // Every cached revision with its last pull (or, never pulled since
        // pulls were recorded, when it was cached).
        let mut cached: Vec<(SystemTime, RepoName, Digest)> = Vec::new();
        let mut pushed: Vec<(RepoName, Digest)> = Vec::new();
        for name in registry.repositories().await?.iter() {
            let Ok(repo) = RepoName::new(name) else {
                continue;
            };
            let is_cached = self.is_cached_name(name);
            for digest in registry.revisions(&repo).await? {
                if !is_cached {
                    pushed.push((repo.clone(), digest));
                    continue;
                }
                let at = match state.last_pull(name, &digest) {
                    Some(t) => t,
                    None => registry
                        .backend()
                        .stat(&paths::revision_link(&repo, &digest))
                        .await?
                        .map_or(now, |m| m.modified),
                };
                cached.push((at, repo.clone(), digest));
            }
        }
        cached.sort();
        let mut evicted = Evicted::default();
        let mut gone: Vec<(RepoName, Digest)> = Vec::new();
        if let Some(max_age) = max_age {
            let keep_from = cached.partition_point(|(at, _, _)| {
                now.duration_since(*at).is_ok_and(|age| age > max_age)
            });
            for (at, repo, digest) in cached.drain(..keep_from) {
                tracing::info!(target: "regctl::proxy", repository = %repo, %digest, last_pull = %humantime::format_rfc3339_seconds(at), "evicting a cached manifest not pulled within --proxy-max-age");
                gone.push((repo, digest));
            }
        }
        if let Some(max_size) = max_size {
            for (repo, digest) in self.over_size(registry, &cached, &pushed, max_size).await? {
                tracing::info!(target: "regctl::proxy", repository = %repo, %digest, "evicting the least recently pulled cached manifest: the cache is above --proxy-max-size");
                gone.push((repo, digest));
            }
        }
        for (repo, digest) in gone {
            match registry.delete_manifest(&repo, &digest).await {
                Ok(_) | Err(StorageError::ManifestUnknown(_)) => {}
                Err(e) => return Err(e),
            }
            if let Some(m) = state.pulls.get_mut(repo.as_str()) {
                m.remove(&digest.to_string());
            }
            evicted.manifests += 1;
        }
        if evicted.manifests > 0 {
            state.pulls.retain(|_, m| !m.is_empty());
            let bytes = serde_json::to_vec(&state).map_err(std::io::Error::other)?;
            registry
                .backend()
                .put(STATE_KEY, Bytes::from(bytes))
                .await?;
        }
        Ok(evicted)
    }

    /// The cached revisions to delete, least recently pulled first, until
    /// the bytes only cached manifests hold fit in `max_size`. A blob also
    /// used by a pushed manifest or by a kept cached one frees nothing.
    async fn over_size(
        &self,
        registry: &Registry,
        cached: &[(SystemTime, RepoName, Digest)],
        pushed: &[(RepoName, Digest)],
        max_size: u64,
    ) -> Result<Vec<(RepoName, Digest)>, StorageError> {
        let uses = |digest: &Digest, bytes: Option<&Bytes>| -> HashSet<Digest> {
            let mut set = HashSet::from([digest.clone()]);
            if let Some(outline) = bytes.and_then(|b| ManifestOutline::parse(b, None).ok()) {
                set.extend(outline.blobs());
            }
            set
        };
        let mut pinned: HashSet<Digest> = HashSet::new();
        for chunk in pushed.chunks(256) {
            let digests: Vec<Digest> = chunk.iter().map(|(_, d)| d.clone()).collect();
            for (d, bytes) in digests.iter().zip(registry.read_manifests(&digests).await?) {
                pinned.extend(uses(d, bytes.as_ref()));
            }
        }
        let mut per_manifest: Vec<HashSet<Digest>> = Vec::with_capacity(cached.len());
        let mut refs: HashMap<Digest, usize> = HashMap::new();
        for chunk in cached.chunks(256) {
            let digests: Vec<Digest> = chunk.iter().map(|(_, _, d)| d.clone()).collect();
            for (d, bytes) in digests.iter().zip(registry.read_manifests(&digests).await?) {
                let set = uses(d, bytes.as_ref());
                for b in &set {
                    *refs.entry(b.clone()).or_default() += 1;
                }
                per_manifest.push(set);
            }
        }
        let mut sizes: HashMap<Digest, u64> = HashMap::new();
        let mut total = 0u64;
        for d in refs.keys() {
            if pinned.contains(d) {
                continue;
            }
            let size = registry.blob_size(d).await?.unwrap_or(0);
            total += size;
            sizes.insert(d.clone(), size);
        }
        let mut out = Vec::new();
        for ((_, repo, digest), set) in cached.iter().zip(per_manifest) {
            if total <= max_size {
                break;
            }
            for b in set {
                if let Some(n) = refs.get_mut(&b) {
                    *n -= 1;
                    if *n == 0 {
                        total -= sizes.get(&b).copied().unwrap_or(0);
                    }
                }
            }
            out.push((repo.clone(), digest.clone()));
        }
        Ok(out)
    }
}

/// The eviction loop: every interval, a round, then (when it deleted
/// something) an online collection that frees the blobs.
pub(crate) async fn run_periodically(state: Weak<AppState>, proxy: Arc<Proxy>) {
    let every = proxy.config.evict_interval;
    // The state file names the cached prefixes from the start (for `du`).
    if let Some(state) = state.upgrade()
        && let Err(err) = proxy.write_pulls(&state.registry).await
    {
        tracing::warn!(target: "regctl::proxy", error = %err, "cannot write the cache's state file");
    }
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let Some(state) = state.upgrade() else {
            return;
        };
        match proxy.evict(&state.registry).await {
            Ok(e) if e.manifests > 0 => {
                if !state.config.delete_enabled || state.config.read_only {
                    tracing::warn!(target: "regctl::proxy", "cached manifests were evicted, but the server does not delete (--no-delete or --read-only): their blobs stay until a garbage collection");
                    continue;
                }
                let opts = crate::types::gc::GcOptions {
                    // Blobs of a push in progress are kept for this long.
                    min_age: every.min(crate::server::admin::DEFAULT_ONLINE_MIN_AGE),
                    ..Default::default()
                };
                match crate::server::admin::run(&state, &opts, false).await {
                    Ok(r) => tracing::info!(
                        target: "regctl::proxy",
                        manifests = e.manifests,
                        blobs = r.summary.blobs_removed,
                        bytes = r.summary.bytes_freed.unwrap_or(0),
                        "cache eviction done"
                    ),
                    Err(err) => {
                        tracing::warn!(target: "regctl::proxy", error = ?err, "the collection after an eviction failed; it runs again next round")
                    }
                }
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(target: "regctl::proxy", error = %err, "cache eviction failed")
            }
        }
    }
}
