//! Repositories, blobs, manifests, tags and uploads on top of a [`Backend`],
//! in registry:2's layout.
//!
//! Ordering is what keeps a crash harmless: blob data is made durable and
//! renamed into place before any link names it, and a manifest's revision
//! link is written before a tag points at it.

use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::AsyncReadExt;

use super::backend::{Backend, ByteStream, ChunkSink};
use super::error::{Result, StorageError};
use super::gc::GcCoordinator;
use super::paths::{self, RepoName, TagName, UploadId};
use crate::types::manifest::{MAX_MANIFEST_SIZE, detect_media_type};
use crate::types::{Algorithm, Descriptor, Digest, Digester, ManifestOutline, MediaType};

/// How a manifest is addressed: by tag or by digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestRef {
    Tag(TagName),
    Digest(Digest),
}

impl ManifestRef {
    /// A reference as it appears in a URL: a digest if it has a `:` (a tag
    /// never does), so a malformed digest is a digest error, not a tag one.
    pub fn parse(s: &str) -> Result<Self> {
        if s.contains(':') {
            Ok(ManifestRef::Digest(s.parse()?))
        } else {
            Ok(ManifestRef::Tag(TagName::new(s)?))
        }
    }
}

/// What a manifest PUT stored: its digest and the subject it refers to.
#[derive(Debug, Clone)]
pub struct PutManifest {
    pub digest: Digest,
    pub subject: Option<Digest>,
}

/// A repository's referrers, by subject digest, as of a version of its
/// revisions directories (their modification times, which change when a
/// revision is added or removed, also by another process).
struct ReferrersIndex {
    version: Vec<Option<SystemTime>>,
    /// Subject → descriptors of the manifests that refer to it.
    by_subject: HashMap<Digest, Vec<Descriptor>>,
}

/// Referrers indexes, and a count of this process's changes to referrers:
/// an index built while one happened may have missed it and is not kept.
#[derive(Default)]
struct ReferrersIndexes {
    generation: u64,
    by_repo: HashMap<RepoName, ReferrersIndex>,
}

/// How many repositories' referrers indexes are kept.
const REFERRERS_INDEX_REPOSITORIES: usize = 1024;

/// A manifest as stored: its bytes, digest and media type.
#[derive(Debug, Clone)]
pub struct StoredManifest {
    pub bytes: Bytes,
    pub digest: Digest,
    pub media_type: MediaType,
}

/// Manifests are immutable by digest, so their bytes and media type can be
/// kept in memory; this bound keeps the cache small for huge registries.
const MANIFEST_CACHE_BYTES: usize = 64 * 1024 * 1024;

#[derive(Default)]
struct ManifestCache {
    entries: HashMap<Digest, (Bytes, MediaType)>,
    bytes: usize,
}

/// Uploads whose hash state is kept in memory; abandoned sessions must not
/// grow it without bound. Beyond it, states are dropped and the upload is
/// re-hashed from its data file when it finishes (correct, just slower).
const MAX_UPLOAD_STATES: usize = 4096;

/// Hash state of an upload in progress, kept between PATCH requests so a
/// chunked upload is hashed once, as it streams.
struct UploadState {
    digester: Digester,
    size: u64,
}

/// Hashes what an append writes, when the upload's hash state is known.
struct HashSink(Option<Digester>);

impl ChunkSink for HashSink {
    fn chunk(&mut self, data: &[u8]) {
        if let Some(d) = self.0.as_mut() {
            d.update(data);
        }
    }
}

/// Upload sessions of this process: the hash states kept between requests,
/// and the sessions a request is working on right now.
#[derive(Default)]
struct Sessions {
    states: HashMap<UploadId, UploadState>,
    busy: HashSet<UploadId>,
}

type SharedSessions = Arc<Mutex<Sessions>>;

fn lock_sessions(sessions: &SharedSessions) -> std::sync::MutexGuard<'_, Sessions> {
    sessions.lock().unwrap_or_else(|e| e.into_inner())
}

fn keep_upload_state(sessions: &SharedSessions, id: &UploadId, state: UploadState) {
    let mut sessions = lock_sessions(sessions);
    if sessions.states.len() >= MAX_UPLOAD_STATES {
        sessions.states.clear();
    }
    sessions.states.insert(id.clone(), state);
}

/// One request's exclusive use of an upload session (issue 12): while it is
/// held, no other request appends to, finishes or cancels the session, so
/// the bytes on disk are the bytes that were hashed. Released on drop, also
/// when the request is dropped half-way.
struct SessionClaim {
    sessions: SharedSessions,
    id: UploadId,
}

impl Drop for SessionClaim {
    fn drop(&mut self) {
        lock_sessions(&self.sessions).busy.remove(&self.id);
    }
}

/// How many verified blob digests are remembered (see [`Registry::sound_blob_size`]).
const VERIFIED_BLOBS: usize = 100_000;

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
}

/// Directories listed at once by a repository walk.
const SCAN_CONCURRENCY: usize = 16;

/// How long a repository walk answers catalog requests.
pub const REPOSITORY_CACHE_TTL: Duration = Duration::from_secs(5);

/// Cached tag lists: repository → (mtime of its `tags/` directory, tags).
type TagCache = HashMap<RepoName, (SystemTime, Arc<Vec<String>>)>;

/// How many repositories' tag lists are cached.
const TAG_CACHE_REPOSITORIES: usize = 4096;

/// Link files hold a digest: anything larger is not read as one by a walk.
const MAX_LINK_SIZE: u64 = 1024;

/// What [`Registry::scan_repository`] found in a repository.
#[derive(Debug, Default)]
pub struct RepositoryScan {
    /// Manifest revisions (from their link's path) and their link's meta.
    pub revisions: Vec<(Digest, super::backend::Meta)>,
    /// Tags with a `current/link`, and the digest it holds (`None`: unreadable).
    pub tags: Vec<(TagName, Option<Digest>)>,
    /// Layer links (from their path) and their meta.
    pub layers: Vec<(Digest, super::backend::Meta)>,
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

    pub(super) fn gc(&self) -> &GcCoordinator {
        &self.gc
    }

    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    pub(super) async fn read_link(&self, key: &str) -> Result<Option<Digest>> {
        Ok(self.backend.get(key).await?.and_then(|b| parse_link(&b)))
    }

    // ---- repositories -------------------------------------------------

    /// Whether a repository exists: it has a `_manifests` directory.
    pub async fn repository_exists(&self, repo: &RepoName) -> Result<bool> {
        Ok(self
            .backend
            .stat(&paths::manifests_dir(repo))
            .await?
            .is_some_and(|m| m.is_dir))
    }

    /// Every repository in catalog order, from a walk at most
    /// [`REPOSITORY_CACHE_TTL`] old (this process's own changes show at once;
    /// another server's on a shared root within the TTL). Walking 10,000
    /// repositories takes ~0.15 s, too much for every page of a catalog.
    pub async fn repositories(&self) -> Result<Arc<Vec<String>>> {
        if let Some((at, repos)) = self.lock_repos().as_ref()
            && at.elapsed() < REPOSITORY_CACHE_TTL
        {
            return Ok(repos.clone());
        }
        Ok(Arc::new(self.scan_repositories().await?))
    }

    fn lock_repos(&self) -> std::sync::MutexGuard<'_, Option<(Instant, Arc<Vec<String>>)>> {
        self.repos.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets the cached repository list (a repository appeared or went).
    pub(super) fn forget_repositories(&self) {
        *self.lock_repos() = None;
    }

    /// Every repository, walked now, in registry:2's catalog order
    /// ([`catalog_order`]). A directory is a repository when it holds
    /// `_manifests`; names starting with `_` are never descended.
    pub async fn scan_repositories(&self) -> Result<Vec<String>> {
        let root = paths::repositories_root();
        let mut found = Vec::new();
        let mut pending = vec![String::new()];
        // Directories are listed several at a time: each listing waits on
        // the filesystem, and a registry has thousands of them.
        let mut listing = futures_util::stream::FuturesUnordered::new();
        loop {
            while listing.len() < SCAN_CONCURRENCY
                && let Some(prefix) = pending.pop()
            {
                let dir = if prefix.is_empty() {
                    root.clone()
                } else {
                    format!("{root}/{prefix}")
                };
                listing.push(async move { (self.backend.list(&dir).await, prefix) });
            }
            let Some((names, prefix)) = listing.next().await else {
                break;
            };
            for name in names? {
                if name == "_manifests" && !prefix.is_empty() {
                    found.push(prefix.clone());
                } else if !name.starts_with('_') && !name.starts_with('.') {
                    let child = if prefix.is_empty() {
                        name
                    } else {
                        format!("{prefix}/{name}")
                    };
                    if RepoName::new(&child).is_ok() {
                        pending.push(child);
                    }
                }
            }
        }
        found.sort_unstable_by(|a, b| catalog_order(a, b));
        *self.lock_repos() = Some((Instant::now(), Arc::new(found.clone())));
        Ok(found)
    }

    /// Tags of a repository that point at a manifest, sorted lexically.
    pub async fn tags(&self, repo: &RepoName) -> Result<Arc<Vec<String>>> {
        if !self.repository_exists(repo).await? {
            return Err(StorageError::NameUnknown(repo.to_string()));
        }
        let tags_dir = paths::tags_dir(repo);
        // Creating or deleting a tag adds or removes a directory under
        // `tags/`, which changes its modification time: one stat tells
        // whether the cached list is still right, even when registry:2
        // writes the same root.
        let Some(version) = self.backend.stat(&tags_dir).await?.map(|m| m.modified) else {
            return Ok(Arc::new(Vec::new()));
        };
        if let Some((v, tags)) = self.lock_tags().get(repo)
            && *v == version
        {
            return Ok(tags.clone());
        }
        let mut tags = Vec::new();
        for name in self.backend.list(&tags_dir).await? {
            let Ok(tag) = TagName::new(&name) else {
                continue;
            };
            if self
                .backend
                .stat(&paths::tag_current_link(repo, &tag))
                .await?
                .is_some()
            {
                tags.push(name);
            }
        }
        let tags = Arc::new(tags);
        let mut cache = self.lock_tags();
        if cache.len() >= TAG_CACHE_REPOSITORIES {
            cache.clear();
        }
        cache.insert(repo.clone(), (version, tags.clone()));
        Ok(tags)
    }

    fn lock_tags(&self) -> std::sync::MutexGuard<'_, TagCache> {
        self.tags.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets a repository's cached tag list after this process changed it
    /// (a change within the clock's resolution would not show in the mtime).
    pub(super) fn forget_tags(&self, repo: &RepoName) {
        self.lock_tags().remove(repo);
    }

    /// Digests of every manifest revision stored in a repository.
    pub async fn revisions(&self, repo: &RepoName) -> Result<Vec<Digest>> {
        let mut out = Vec::new();
        for algo in [Algorithm::Sha256, Algorithm::Sha512] {
            for hex in self
                .backend
                .list(&paths::revisions_dir(repo, algo.as_str()))
                .await?
            {
                if let Ok(d) = Digest::new(algo, &hex)
                    && self
                        .backend
                        .stat(&paths::revision_link(repo, &d))
                        .await?
                        .is_some()
                {
                    out.push(d);
                }
            }
        }
        Ok(out)
    }

    /// A repository's revisions, tags and layer links in two walks (its
    /// `_manifests` and `_layers`), link files read on the way: what
    /// garbage collection and `du` need, without a round trip per link.
    pub async fn scan_repository(&self, repo: &RepoName) -> Result<RepositoryScan> {
        let mut scan = RepositoryScan::default();
        for entry in self
            .backend
            .walk(&paths::manifests_dir(repo), MAX_LINK_SIZE)
            .await?
        {
            let parts: Vec<&str> = entry.key.split('/').collect();
            match parts.as_slice() {
                ["revisions", algo, hex, "link"] if !entry.meta.is_dir => {
                    if let Some(algo) = algorithm_named(algo)
                        && let Ok(d) = Digest::new(algo, hex)
                    {
                        scan.revisions.push((d, entry.meta));
                    }
                }
                ["tags", tag, "current", "link"] if !entry.meta.is_dir => {
                    if let Ok(tag) = TagName::new(tag) {
                        let target = entry.content.as_deref().and_then(parse_link);
                        scan.tags.push((tag, target));
                    }
                }
                _ => {}
            }
        }
        for entry in self
            .backend
            .walk(&format!("{}/_layers", paths::repo_dir(repo)), 0)
            .await?
        {
            if let [algo, hex, "link"] = entry.key.split('/').collect::<Vec<_>>().as_slice()
                && !entry.meta.is_dir
                && let Some(algo) = algorithm_named(algo)
                && let Ok(d) = Digest::new(algo, hex)
            {
                scan.layers.push((d, entry.meta));
            }
        }
        Ok(scan)
    }

    /// The stored bytes of many manifests (blob data), in one batch;
    /// `None` where the data is missing.
    pub async fn read_manifests(&self, digests: &[Digest]) -> Result<Vec<Option<Bytes>>> {
        Ok(self
            .backend
            .get_many(digests.iter().map(paths::blob_data).collect())
            .await?)
    }

    // ---- blobs ----------------------------------------------------------

    /// Size of a blob in the global store, if present.
    pub async fn blob_size(&self, digest: &Digest) -> Result<Option<u64>> {
        Ok(self
            .backend
            .stat(&paths::blob_data(digest))
            .await?
            .filter(|m| !m.is_dir)
            .map(|m| m.size))
    }

    /// Size of a blob as seen from a repository: linked there and present.
    pub async fn repo_blob_size(&self, repo: &RepoName, digest: &Digest) -> Result<Option<u64>> {
        // A client that sees a blob here may rely on it in a manifest later.
        self.gc.touch([digest]);
        if self
            .read_link(&paths::layer_link(repo, digest))
            .await?
            .as_ref()
            != Some(digest)
        {
            return Ok(None);
        }
        self.blob_size(digest).await
    }

    /// A blob of a repository as a stream of chunks of about `chunk` bytes,
    /// from `offset`, `len` bytes.
    pub async fn blob_stream(
        &self,
        repo: &RepoName,
        digest: &Digest,
        offset: u64,
        len: u64,
        chunk: usize,
    ) -> Result<ByteStream> {
        if self.sound_repo_blob_size(repo, digest).await?.is_none() {
            return Err(StorageError::BlobUnknown(digest.clone()));
        }
        self.backend
            .stream(&paths::blob_data(digest), offset, Some(len), chunk)
            .await?
            .ok_or_else(|| StorageError::BlobUnknown(digest.clone()))
    }

    /// Size of a blob in the global store if its content is what its digest
    /// says; a blob whose bytes do not hash to its digest is treated as
    /// missing (and logged), so the next genuine push replaces it.
    ///
    /// Hashing a blob costs a read of it (~1.5 GB/s with SHA-NI), too much
    /// for every request: each digest is verified once per process and
    /// remembered. Blobs written by this process are verified as they
    /// arrive; those found on disk are checked when first served or pushed.
    pub async fn sound_blob_size(&self, digest: &Digest) -> Result<Option<u64>> {
        let Some(size) = self.blob_size(digest).await? else {
            return Ok(None);
        };
        if self.is_verified(digest) {
            return Ok(Some(size));
        }
        let actual = self
            .hash_object(&paths::blob_data(digest), digest.algorithm())
            .await?;
        if &actual != digest {
            tracing::warn!(
                %digest,
                %actual,
                size,
                "stored blob does not match its digest; treating it as missing until it is pushed again"
            );
            return Ok(None);
        }
        self.remember_verified(digest);
        Ok(Some(size))
    }

    fn is_verified(&self, digest: &Digest) -> bool {
        self.verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(digest)
    }

    fn remember_verified(&self, digest: &Digest) {
        let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if verified.len() >= VERIFIED_BLOBS {
            verified.clear();
        }
        verified.insert(digest.clone());
    }

    /// [`Registry::repo_blob_size`] for a blob about to be served or
    /// mounted: only if its content matches its digest.
    pub async fn sound_repo_blob_size(
        &self,
        repo: &RepoName,
        digest: &Digest,
    ) -> Result<Option<u64>> {
        if self.repo_blob_size(repo, digest).await?.is_none() {
            return Ok(None);
        }
        self.sound_blob_size(digest).await
    }

    /// Makes an existing blob visible in a repository.
    pub async fn link_blob(&self, repo: &RepoName, digest: &Digest) -> Result<()> {
        let _gc = self.gc.writing().await;
        self.gc.touch([digest]);
        self.link_blob_unguarded(repo, digest).await
    }

    async fn link_blob_unguarded(&self, repo: &RepoName, digest: &Digest) -> Result<()> {
        self.backend
            .put(&paths::layer_link(repo, digest), link_bytes(digest))
            .await?;
        Ok(())
    }

    /// Cross-repository mount: links `digest` into `repo` if `from` has it.
    pub async fn mount_blob(
        &self,
        repo: &RepoName,
        from: &RepoName,
        digest: &Digest,
    ) -> Result<bool> {
        if self.sound_repo_blob_size(from, digest).await?.is_none() {
            return Ok(false);
        }
        self.link_blob(repo, digest).await?;
        Ok(true)
    }

    /// Removes a blob from a repository (its link); the data stays for the
    /// garbage collector, as in registry:2.
    pub async fn unlink_blob(&self, repo: &RepoName, digest: &Digest) -> Result<()> {
        if self.repo_blob_size(repo, digest).await?.is_none() {
            return Err(StorageError::BlobUnknown(digest.clone()));
        }
        self.backend.delete(&paths::layer_dir(repo, digest)).await?;
        Ok(())
    }

    // ---- uploads --------------------------------------------------------

    pub async fn start_upload(&self, repo: &RepoName) -> Result<UploadId> {
        let id = UploadId::generate();
        let started = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
        self.backend
            .put(&paths::upload_started_at(repo, &id), Bytes::from(started))
            .await?;
        self.backend
            .put(&paths::upload_data(repo, &id), Bytes::new())
            .await?;
        keep_upload_state(
            &self.sessions,
            &id,
            UploadState {
                digester: Digester::new(Algorithm::Sha256),
                size: 0,
            },
        );
        Ok(id)
    }

    /// Takes a session for one request, or refuses at once when another
    /// request is using it (never waits: a client must not be able to park
    /// requests behind a stalled one).
    fn claim(&self, id: &UploadId) -> Result<SessionClaim> {
        if !lock_sessions(&self.sessions).busy.insert(id.clone()) {
            return Err(StorageError::UploadBusy);
        }
        Ok(SessionClaim {
            sessions: self.sessions.clone(),
            id: id.clone(),
        })
    }

    /// Bytes received so far by an upload.
    pub async fn upload_size(&self, repo: &RepoName, id: &UploadId) -> Result<u64> {
        if self
            .backend
            .stat(&paths::upload_started_at(repo, id))
            .await?
            .is_none()
        {
            return Err(StorageError::UploadUnknown);
        }
        Ok(self
            .backend
            .stat(&paths::upload_data(repo, id))
            .await?
            .map_or(0, |m| m.size))
    }

    /// Appends a chunk. `offset`, when given (from `Content-Range`), must be
    /// where the upload currently ends. Returns the new size. Refused with
    /// [`StorageError::UploadBusy`] while another request uses the session.
    pub async fn append_upload(
        &self,
        repo: &RepoName,
        id: &UploadId,
        offset: Option<u64>,
        body: ByteStream,
    ) -> Result<u64> {
        let claim = self.claim(id)?;
        let (size, _claim) = self.append_claimed(claim, repo, offset, body).await?;
        Ok(size)
    }

    /// Appends under a claim and hands the claim back. The append runs on
    /// its own task, which keeps the claim until the data file is settled:
    /// a request dropped half-way (the client went away) cannot leave a
    /// writer behind that a later request on the session would race, and
    /// the failed chunk is still cut back.
    async fn append_claimed(
        &self,
        claim: SessionClaim,
        repo: &RepoName,
        offset: Option<u64>,
        body: ByteStream,
    ) -> Result<(u64, SessionClaim)> {
        let id = claim.id.clone();
        let size = self.upload_size(repo, &id).await?;
        if let Some(got) = offset
            && got != size
        {
            return Err(StorageError::UploadOffset {
                expected: size,
                got,
            });
        }
        let kept = lock_sessions(&self.sessions)
            .states
            .remove(&id)
            .filter(|s| s.size == size)
            .map(|s| s.digester);
        let backend = self.backend.clone();
        let key = paths::upload_data(repo, &id);
        let task = tokio::spawn(async move {
            let mut sink = HashSink(kept.clone());
            let written = backend.append(&key, body, &mut sink).await;
            let sessions = claim.sessions.clone();
            match written {
                Ok(n) => {
                    if let Some(digester) = sink.0 {
                        let state = UploadState {
                            digester,
                            size: size + n,
                        };
                        keep_upload_state(&sessions, &claim.id, state);
                    }
                    (Ok(size + n), claim)
                }
                Err(e) => {
                    // The backend cut the chunk back: the state from before
                    // it still describes the file (checked against the
                    // file's length before it is trusted).
                    if let Some(digester) = kept {
                        keep_upload_state(&sessions, &claim.id, UploadState { digester, size });
                    }
                    (Err(e), claim)
                }
            }
        });
        let (result, claim) = task.await.map_err(io::Error::other)?;
        Ok((result?, claim))
    }

    /// Finishes an upload: appends `last` if given, verifies the content
    /// against `digest`, then moves it into the blob store and links it.
    /// On a mismatch the upload is discarded and nothing becomes visible.
    pub async fn finish_upload(
        &self,
        repo: &RepoName,
        id: &UploadId,
        digest: &Digest,
        last: Option<ByteStream>,
    ) -> Result<u64> {
        let claim = self.claim(id)?;
        let (size, _claim) = match last {
            Some(body) => self.append_claimed(claim, repo, None, body).await?,
            None => (self.upload_size(repo, id).await?, claim),
        };
        let data_key = paths::upload_data(repo, id);
        // What is hashed must be what is on disk: the in-memory state is
        // used only when it covers exactly the file's length; otherwise the
        // file itself is hashed.
        let on_disk = self.backend.stat(&data_key).await?.map(|m| m.size);
        let state = lock_sessions(&self.sessions).states.remove(id).filter(|s| {
            s.size == size && on_disk == Some(size) && digest.algorithm() == Algorithm::Sha256
        });
        let actual = match state {
            Some(s) => s.digester.finish(),
            None => self.hash_object(&data_key, digest.algorithm()).await?,
        };
        if &actual != digest {
            self.discard_upload(repo, id).await?;
            return Err(crate::types::DigestMismatch {
                expected: digest.clone(),
                actual,
            }
            .into());
        }
        let gc = self.gc.writing().await;
        self.gc.touch([digest]);
        // An existing blob is kept only if it is what its digest says; a
        // damaged one (e.g. stored before uploads were kept apart) is
        // replaced by these verified bytes.
        if self.sound_blob_size(digest).await?.is_none() {
            self.backend
                .commit(&data_key, &paths::blob_data(digest))
                .await?;
            self.remember_verified(digest);
        }
        self.link_blob_unguarded(repo, digest).await?;
        drop(gc);
        self.backend.delete(&paths::upload_dir(repo, id)).await?;
        Ok(size)
    }

    /// Cancels an upload; refused while another request uses the session.
    pub async fn cancel_upload(&self, repo: &RepoName, id: &UploadId) -> Result<()> {
        let _claim = self.claim(id)?;
        self.discard_upload(repo, id).await
    }

    async fn discard_upload(&self, repo: &RepoName, id: &UploadId) -> Result<()> {
        lock_sessions(&self.sessions).states.remove(id);
        if self
            .backend
            .stat(&paths::upload_dir(repo, id))
            .await?
            .is_none()
        {
            return Err(StorageError::UploadUnknown);
        }
        self.backend.delete(&paths::upload_dir(repo, id)).await?;
        Ok(())
    }

    /// Streams an object through a digester (uploads resumed after a
    /// restart, or finished with another algorithm).
    async fn hash_object(&self, key: &str, algorithm: Algorithm) -> Result<Digest> {
        let mut digester = Digester::new(algorithm);
        if let Some(mut r) = self.backend.reader(key, 0, None).await? {
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = r.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                digester.update(&buf[..n]);
            }
        }
        Ok(digester.finish())
    }

    /// Uploads a whole blob in one go (monolithic upload).
    pub async fn put_blob(
        &self,
        repo: &RepoName,
        digest: &Digest,
        body: ByteStream,
    ) -> Result<u64> {
        let id = self.start_upload(repo).await?;
        let result = self.finish_upload(repo, &id, digest, Some(body)).await;
        if result.is_err() {
            let _ = self.backend.delete(&paths::upload_dir(repo, &id)).await;
        }
        result
    }

    // ---- manifests ------------------------------------------------------

    async fn manifest_bytes(&self, digest: &Digest) -> Result<Option<(Bytes, MediaType)>> {
        if let Some(hit) = self
            .manifests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entries
            .get(digest)
        {
            return Ok(Some(hit.clone()));
        }
        let Some(bytes) = self.backend.get(&paths::blob_data(digest)).await? else {
            return Ok(None);
        };
        let media_type = detect_media_type(&bytes, None)
            .map_err(|e| StorageError::ManifestInvalid(format!("stored manifest {digest}: {e}")))?;
        let mut cache = self.manifests.lock().unwrap_or_else(|e| e.into_inner());
        if cache.bytes + bytes.len() > MANIFEST_CACHE_BYTES {
            cache.entries.clear();
            cache.bytes = 0;
        }
        cache.bytes += bytes.len();
        cache
            .entries
            .insert(digest.clone(), (bytes.clone(), media_type.clone()));
        Ok(Some((bytes, media_type)))
    }

    /// `digest` if the repository holds that manifest revision (and its data).
    pub async fn resolve_digest(&self, repo: &RepoName, digest: &Digest) -> Result<Option<Digest>> {
        if self.blob_size(digest).await?.is_none() {
            return Ok(None);
        }
        self.resolve(repo, &ManifestRef::Digest(digest.clone()))
            .await
    }

    /// Forgets what this process knew of a blob after it was removed: its
    /// cached manifest bytes and that its content was verified.
    pub(super) fn forget_blob(&self, digest: &Digest) {
        self.verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(digest);
        let mut cache = self.manifests.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((bytes, _)) = cache.entries.remove(digest) {
            cache.bytes -= bytes.len();
        }
    }

    /// The digest a reference names in a repository, if the manifest exists.
    pub async fn resolve(
        &self,
        repo: &RepoName,
        reference: &ManifestRef,
    ) -> Result<Option<Digest>> {
        let digest = match reference {
            ManifestRef::Digest(d) => d.clone(),
            ManifestRef::Tag(t) => match self.read_link(&paths::tag_current_link(repo, t)).await? {
                Some(d) => d,
                None => return Ok(None),
            },
        };
        if self
            .read_link(&paths::revision_link(repo, &digest))
            .await?
            .as_ref()
            != Some(&digest)
        {
            return Ok(None);
        }
        Ok(Some(digest))
    }

    pub async fn get_manifest(
        &self,
        repo: &RepoName,
        reference: &ManifestRef,
    ) -> Result<StoredManifest> {
        let unknown = || match reference {
            ManifestRef::Tag(t) => StorageError::ManifestUnknown(t.to_string()),
            ManifestRef::Digest(d) => StorageError::ManifestUnknown(d.to_string()),
        };
        let digest = self.resolve(repo, reference).await?.ok_or_else(unknown)?;
        let (bytes, media_type) = self.manifest_bytes(&digest).await?.ok_or_else(unknown)?;
        Ok(StoredManifest {
            bytes,
            digest,
            media_type,
        })
    }

    /// Stores a manifest after checking it parses, matches a digest
    /// reference, and that every blob and child manifest it names is in the
    /// repository.
    pub async fn put_manifest(
        &self,
        repo: &RepoName,
        reference: &ManifestRef,
        bytes: Bytes,
        content_type: Option<&str>,
    ) -> Result<PutManifest> {
        if bytes.len() > MAX_MANIFEST_SIZE {
            return Err(StorageError::ManifestTooLarge {
                limit: MAX_MANIFEST_SIZE,
            });
        }
        let digest = match reference {
            ManifestRef::Digest(d) => {
                d.verify(&bytes)?;
                d.clone()
            }
            ManifestRef::Tag(_) => Digest::sha256_of(&bytes),
        };
        // An outline, not a tree: a manifest may list tens of thousands of
        // layers, and many may arrive at once.
        let outline = ManifestOutline::parse(&bytes, content_type)
            .map_err(|e| StorageError::ManifestInvalid(e.to_string()))?;
        // Checks and links under the collector's gate: a concurrent sweep
        // either sees these digests touched or has already removed a blob,
        // which the checks below then report.
        let _gc = self.gc.writing().await;
        self.gc.touch([&digest]);
        let mut checked = HashSet::new();
        for blob in outline.blobs() {
            if !checked.insert(blob.clone()) {
                continue;
            }
            self.gc.touch([&blob]);
            if self.repo_blob_size(repo, &blob).await?.is_none() {
                return Err(StorageError::ManifestBlobUnknown(blob));
            }
        }
        for child in outline.children() {
            self.gc.touch([&child]);
            if self
                .resolve(repo, &ManifestRef::Digest(child.clone()))
                .await?
                .is_none()
            {
                return Err(StorageError::ManifestBlobUnknown(child));
            }
        }
        let referrer = outline.subject().map(|s| {
            (
                s.digest.clone(),
                outline.referrer_descriptor(digest.clone(), bytes.len()),
            )
        });
        let subject = referrer.as_ref().map(|(s, _)| s.clone());
        drop(outline);
        let new_repository = !self.repository_exists(repo).await?;
        if self.blob_size(&digest).await?.is_none() {
            self.backend.put(&paths::blob_data(&digest), bytes).await?;
        }
        self.backend
            .put(&paths::revision_link(repo, &digest), link_bytes(&digest))
            .await?;
        if let ManifestRef::Tag(tag) = reference {
            self.backend
                .put(
                    &paths::tag_index_link(repo, tag, &digest),
                    link_bytes(&digest),
                )
                .await?;
            self.backend
                .put(&paths::tag_current_link(repo, tag), link_bytes(&digest))
                .await?;
            self.forget_tags(repo);
        }
        if new_repository {
            self.forget_repositories();
        }
        self.update_referrers(repo, |by_subject| {
            if let Some((subject, desc)) = referrer {
                let list = by_subject.entry(subject).or_default();
                if !list.iter().any(|d| d.digest == desc.digest) {
                    list.push(desc);
                }
            }
        })
        .await?;
        Ok(PutManifest { digest, subject })
    }

    /// Deletes a manifest revision and every tag pointing at it.
    pub async fn delete_manifest(&self, repo: &RepoName, digest: &Digest) -> Result<Vec<String>> {
        if self
            .resolve(repo, &ManifestRef::Digest(digest.clone()))
            .await?
            .is_none()
        {
            return Err(StorageError::ManifestUnknown(digest.to_string()));
        }
        let mut removed = Vec::new();
        for name in self.backend.list(&paths::tags_dir(repo)).await? {
            let Ok(tag) = TagName::new(&name) else {
                continue;
            };
            if self
                .read_link(&paths::tag_current_link(repo, &tag))
                .await?
                .as_ref()
                == Some(digest)
            {
                self.backend.delete(&paths::tag_dir(repo, &tag)).await?;
                removed.push(name);
            }
        }
        self.backend
            .delete(&paths::revision_dir(repo, digest))
            .await?;
        self.forget_tags(repo);
        self.update_referrers(repo, |by_subject| {
            for list in by_subject.values_mut() {
                list.retain(|d| &d.digest != digest);
            }
            by_subject.retain(|_, list| !list.is_empty());
        })
        .await?;
        Ok(removed)
    }

    /// Deletes just a tag; the manifest and its other tags stay.
    pub async fn delete_tag(&self, repo: &RepoName, tag: &TagName) -> Result<()> {
        if self
            .backend
            .stat(&paths::tag_current_link(repo, tag))
            .await?
            .is_none()
        {
            return Err(StorageError::ManifestUnknown(tag.to_string()));
        }
        self.backend.delete(&paths::tag_dir(repo, tag)).await?;
        self.forget_tags(repo);
        Ok(())
    }

    /// The modification times of a repository's revisions directories.
    async fn revisions_version(&self, repo: &RepoName) -> Result<Vec<Option<SystemTime>>> {
        let mut version = Vec::new();
        for algo in [Algorithm::Sha256, Algorithm::Sha512] {
            let dir = paths::revisions_dir(repo, algo.as_str());
            version.push(self.backend.stat(&dir).await?.map(|m| m.modified));
        }
        Ok(version)
    }

    /// Applies this process's own change to a repository's referrers index
    /// (if one is built) and records the revisions' new version, so the
    /// change does not cost a rebuild.
    async fn update_referrers(
        &self,
        repo: &RepoName,
        change: impl FnOnce(&mut HashMap<Digest, Vec<Descriptor>>),
    ) -> Result<()> {
        let version = self.revisions_version(repo).await?;
        let mut indexes = self.lock_referrers();
        indexes.generation += 1;
        if let Some(index) = indexes.by_repo.get_mut(repo) {
            change(&mut index.by_subject);
            index.version = version;
        }
        Ok(())
    }

    fn lock_referrers(&self) -> std::sync::MutexGuard<'_, ReferrersIndexes> {
        self.referrers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Manifests in a repository whose `subject` is `digest`, as
    /// descriptors for the referrers API, optionally filtered by artifact
    /// type. Answered from the repository's referrers index, built once by
    /// reading every manifest and rebuilt only when the revisions changed
    /// behind this process's back.
    pub async fn referrers(
        &self,
        repo: &RepoName,
        digest: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>> {
        let version = self.revisions_version(repo).await?;
        let (cached, generation) = {
            let indexes = self.lock_referrers();
            let cached = indexes
                .by_repo
                .get(repo)
                .filter(|i| i.version == version)
                .map(|i| i.by_subject.get(digest).cloned().unwrap_or_default());
            (cached, indexes.generation)
        };
        let candidates = match cached {
            Some(hit) => hit,
            None => {
                // Built without the lock: other repositories' queries and
                // this process's manifest writes go on meanwhile. If one of
                // those writes changed referrers during the build (which
                // may have missed it, as directory times are coarse), the
                // build answers this query but is not kept.
                let by_subject = self.build_referrers(repo).await?;
                let found = by_subject.get(digest).cloned().unwrap_or_default();
                let mut indexes = self.lock_referrers();
                if indexes.generation == generation {
                    if indexes.by_repo.len() >= REFERRERS_INDEX_REPOSITORIES {
                        indexes.by_repo.clear();
                    }
                    indexes.by_repo.insert(
                        repo.clone(),
                        ReferrersIndex {
                            version,
                            by_subject,
                        },
                    );
                }
                found
            }
        };
        let out: Vec<Descriptor> = candidates
            .into_iter()
            .filter(|d| artifact_type.is_none_or(|want| d.artifact_type.as_deref() == Some(want)))
            .collect();
        // A revision whose link was removed inside its directory (as
        // registry:2 deletes) leaves the directory's time unchanged: check
        // each answer, a read per referrer, not per manifest.
        let mut live = Vec::with_capacity(out.len());
        for desc in out {
            if self
                .resolve(repo, &ManifestRef::Digest(desc.digest.clone()))
                .await?
                .is_some()
            {
                live.push(desc);
            }
        }
        live.sort_by(|a, b| a.digest.cmp(&b.digest));
        Ok(live)
    }

    /// Reads every manifest of a repository for its subject.
    async fn build_referrers(&self, repo: &RepoName) -> Result<HashMap<Digest, Vec<Descriptor>>> {
        let mut by_subject: HashMap<Digest, Vec<Descriptor>> = HashMap::new();
        for rev in self.revisions(repo).await? {
            // Straight from the store: one pass over the bytes, and the
            // manifest cache is left to the manifests clients fetch.
            let Some(bytes) = self.backend.get(&paths::blob_data(&rev)).await? else {
                continue;
            };
            let Ok(outline) = ManifestOutline::parse_head(&bytes, None) else {
                continue;
            };
            if let Some(subject) = outline.subject() {
                let desc = outline.referrer_descriptor(rev.clone(), bytes.len());
                by_subject
                    .entry(subject.digest.clone())
                    .or_default()
                    .push(desc);
            }
        }
        Ok(by_subject)
    }
}

/// registry:2's catalog order: names compared component by component, as
/// its depth-first walk of sorted directories lists them (`a`, `a/b`,
/// `a/b/c`, `a-b`, `a.b`, `a_b`), where a plain byte compare would put
/// `a-b` before `a/b`. Equivalent to comparing bytes with `/` sorting before
/// every other byte (registry:2's `lessPath`). For names without `/`, such
/// as tags, it is the byte order.
pub fn catalog_order(a: &str, b: &str) -> std::cmp::Ordering {
    let key = |c: u8| if c == b'/' { 0 } else { c };
    a.bytes().map(key).cmp(b.bytes().map(key))
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
