//! Repositories, blobs, manifests, tags and uploads on top of a [`Backend`],
//! in registry:2's layout: the [`Registry`], its caches and links here, one
//! file per resource the server's handlers map onto (`blobs`, `uploads`,
//! `manifests` with referrers, `tags` with the catalog and revisions).
//!
//! Ordering is what keeps a crash harmless: blob data is made durable and
//! renamed into place before any link names it, and a manifest's revision
//! link is written before a tag points at it.

mod blobs;
mod cached;
mod manifests;
mod tags;
mod uploads;

use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use futures_util::StreamExt;

use super::backend::{Backend, ByteStream};
use super::cluster::{Announcement, Cluster};
use super::error::{Result, StorageError};
use super::gc_coordinator::GcCoordinator;
use crate::types::{Algorithm, Digest, MediaType};

pub use blobs::OpenBlob;
pub use cached::{CACHE_STATE_KEY, CacheState};
use manifests::ReferrersIndexes;
pub use manifests::{ManifestRef, PutManifest, StoredManifest};
use tags::TagCache;
pub use tags::{REPOSITORY_CACHE_TTL, RepositoryScan, catalog_order};
use uploads::SharedSessions;

/// Manifests are immutable by digest, so their bytes and media type can be
/// kept in memory; this bound keeps the cache small for huge registries.
const MANIFEST_CACHE_BYTES: usize = 64 * 1024 * 1024;

#[derive(Default)]
struct ManifestCache {
    entries: HashMap<Digest, (Bytes, MediaType)>,
    bytes: usize,
}

/// The registry's content, over one backend.
pub struct Registry {
    backend: Arc<dyn Backend>,
    sessions: SharedSessions,
    /// Blobs whose content this process has checked against their digest.
    verified: Mutex<HashSet<Digest>>,
    manifests: Mutex<ManifestCache>,
    /// Tag lists by repository, with the `tags/` directory's mtime they match.
    tags: Mutex<TagCache>,
    gc: GcCoordinator,
    /// The last repository walk, and when it was made.
    repos: Mutex<Option<(Instant, Arc<Vec<String>>)>>,
    /// Referrers by repository, kept up to date by this process's manifest
    /// PUTs and DELETEs, rebuilt when another writer changed the revisions.
    referrers: Mutex<ReferrersIndexes>,
    /// Collections coordinated with other servers on the same store (a
    /// bucket); `None` on a directory, which one server owns.
    cluster: Option<Cluster>,
    /// On a shared store: revision links read lately, and when (see
    /// [`Registry::resolve_for_read`]).
    revisions_seen: Mutex<HashMap<(crate::storage::paths::RepoName, Digest), Instant>>,
}

/// The algorithm a storage directory is named after (`sha256`, `sha512`).
pub(super) fn algorithm_named(name: &str) -> Option<Algorithm> {
    [Algorithm::Sha256, Algorithm::Sha512]
        .into_iter()
        .find(|a| a.as_str() == name)
}

fn link_bytes(d: &Digest) -> Bytes {
    // registry:2 link files hold the digest with no trailing newline.
    Bytes::from(d.to_string())
}

fn parse_link(bytes: &[u8]) -> Option<Digest> {
    std::str::from_utf8(bytes).ok()?.trim().parse().ok()
}

impl Registry {
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        Registry {
            cluster: Cluster::over(&backend),
            revisions_seen: Mutex::new(HashMap::new()),
            backend,
            sessions: SharedSessions::default(),
            verified: Mutex::new(HashSet::new()),
            manifests: Mutex::new(ManifestCache::default()),
            tags: Mutex::new(HashMap::new()),
            gc: GcCoordinator::default(),
            repos: Mutex::new(None),
            referrers: Mutex::new(ReferrersIndexes::default()),
        }
    }

    pub(in crate::storage) fn gc(&self) -> &GcCoordinator {
        &self.gc
    }

    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    pub(in crate::storage) fn cluster(&self) -> Option<&Cluster> {
        self.cluster.as_ref()
    }

    /// Before a write checks and links `digests`: tells a collection on
    /// another server sharing the store (see `cluster.rs`).
    pub(super) async fn announce(&self, digests: &[&Digest]) -> Result<Option<Announcement>> {
        match &self.cluster {
            Some(c) => Ok(Some(c.announce(digests).await?)),
            None => Ok(None),
        }
    }

    /// Just before a write's links (see [`Cluster::confirm`]).
    pub(super) async fn confirm(&self, announced: &Option<Announcement>) -> Result<()> {
        match (&self.cluster, announced) {
            (Some(c), Some(a)) => c.confirm(a).await,
            _ => Ok(()),
        }
    }

    pub(in crate::storage) async fn read_link(&self, key: &str) -> Result<Option<Digest>> {
        Ok(self.backend.get(key).await?.and_then(|b| parse_link(&b)))
    }
}

impl From<StorageError> for io::Error {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Io(e) => e,
            other => io::Error::other(other),
        }
    }
}

/// Adapts any chunk stream to a [`ByteStream`].
pub fn byte_stream<S, E>(s: S) -> ByteStream
where
    S: futures_util::Stream<Item = std::result::Result<Bytes, E>> + Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    Box::pin(s.map(|r| r.map_err(io::Error::other)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::FsBackend;
    use crate::storage::paths::{self, RepoName};

    fn body(data: &'static [u8]) -> ByteStream {
        Box::pin(futures_util::stream::iter([Ok(Bytes::from_static(data))]))
    }

    #[test]
    fn catalog_order_is_by_path_component() {
        let mut names = vec![
            "a_b", "a.b", "a/b/c", "a-b", "a/b", "a", "b", "a/b-c", "a/b/c-d",
        ];
        names.sort_by(|a, b| catalog_order(a, b));
        assert_eq!(
            names,
            [
                "a", "a/b", "a/b/c", "a/b/c-d", "a/b-c", "a-b", "a.b", "a_b", "b"
            ]
        );
        assert_eq!(catalog_order("x", "x"), std::cmp::Ordering::Equal);
    }

    #[tokio::test]
    async fn an_upload_survives_a_restart_between_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let repo = RepoName::new("r").unwrap();
        let first = Registry::new(Arc::new(FsBackend::new(dir.path())));
        let id = first.start_upload(&repo).await.unwrap();
        first
            .append_upload(&repo, &id, Some(0), body(b"hello "))
            .await
            .unwrap();
        drop(first);
        // A new process: no hash state in memory, the data file remains.
        let second = Registry::new(Arc::new(FsBackend::new(dir.path())));
        let size = second
            .append_upload(&repo, &id, Some(6), body(b"world"))
            .await
            .unwrap();
        assert_eq!(size, 11);
        let digest = Digest::sha256_of(b"hello world");
        second
            .finish_upload(&repo, &id, &digest, None)
            .await
            .unwrap();
        assert_eq!(
            second.repo_blob_size(&repo, &digest).await.unwrap(),
            Some(11)
        );
    }

    #[tokio::test]
    async fn a_wrong_digest_leaves_no_blob_and_no_upload() {
        let dir = tempfile::tempdir().unwrap();
        let repo = RepoName::new("r").unwrap();
        let reg = Registry::new(Arc::new(FsBackend::new(dir.path())));
        let wrong = Digest::sha256_of(b"other");
        let err = reg
            .put_blob(&repo, &wrong, body(b"data"))
            .await
            .unwrap_err();
        assert!(matches!(err, StorageError::DigestMismatch(_)), "{err}");
        assert_eq!(reg.blob_size(&wrong).await.unwrap(), None);
        assert_eq!(
            reg.blob_size(&Digest::sha256_of(b"data")).await.unwrap(),
            None
        );
        let uploads = reg
            .backend()
            .list(&paths::uploads_dir(&repo))
            .await
            .unwrap();
        assert!(uploads.is_empty(), "{uploads:?}");
    }
}
