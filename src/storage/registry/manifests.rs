//! Manifests (stored as blobs, named by revision links) and referrers.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;

use super::{MANIFEST_CACHE_BYTES, Registry, link_bytes};
use crate::storage::error::{Result, StorageError};
use crate::storage::paths::{self, RepoName, TagName};
use crate::types::manifest::{MAX_MANIFEST_SIZE, detect_media_type};
use crate::types::{Algorithm, Descriptor, Digest, ManifestOutline, MediaType};

/// How long a server on a shared store (a bucket) trusts a revision link it
/// read: a manifest deleted through another server is unknown here after
/// at most this long. Tags are read on every GET (no delay).
pub const REVISION_SEEN_TTL: Duration = Duration::from_secs(1);

/// Revision links remembered by [`Registry::resolve_for_read`].
const REVISIONS_SEEN: usize = 100_000;

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
pub(super) struct ReferrersIndex {
    version: Vec<Option<SystemTime>>,
    /// Subject → descriptors of the manifests that refer to it.
    by_subject: HashMap<Digest, Vec<Descriptor>>,
}

/// Referrers indexes, and a count of this process's changes to referrers:
/// an index built while one happened may have missed it and is not kept.
#[derive(Default)]
pub(super) struct ReferrersIndexes {
    generation: u64,
    by_repo: HashMap<RepoName, ReferrersIndex>,
}

/// How many repositories' referrers indexes are kept.
pub(super) const REFERRERS_INDEX_REPOSITORIES: usize = 1024;

/// A manifest as stored: its bytes, digest and media type.
#[derive(Debug, Clone)]
pub struct StoredManifest {
    pub bytes: Bytes,
    pub digest: Digest,
    pub media_type: MediaType,
}

impl Registry {
    /// The stored bytes of many manifests (blob data), in one batch;
    /// `None` where the data is missing.
    pub async fn read_manifests(&self, digests: &[Digest]) -> Result<Vec<Option<Bytes>>> {
        Ok(self
            .backend
            .get_many(digests.iter().map(paths::blob_data).collect())
            .await?)
    }

    pub(super) async fn manifest_bytes(
        &self,
        digest: &Digest,
    ) -> Result<Option<(Bytes, MediaType)>> {
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

    /// [`Registry::resolve`] for a read (a manifest GET or HEAD): on a store
    /// shared by several servers, a revision link seen less than
    /// [`REVISION_SEEN_TTL`] ago is not read again, so a GET by tag costs
    /// one small read (the tag's link) and one by digest none. Writes check
    /// with [`Registry::resolve`], which always reads.
    pub(super) async fn resolve_for_read(
        &self,
        repo: &RepoName,
        reference: &ManifestRef,
    ) -> Result<Option<Digest>> {
        if self.cluster.is_none() {
            return self.resolve(repo, reference).await;
        }
        let digest = match reference {
            ManifestRef::Digest(d) => d.clone(),
            ManifestRef::Tag(t) => match self.read_link(&paths::tag_current_link(repo, t)).await? {
                Some(d) => d,
                None => return Ok(None),
            },
        };
        let key = (repo.clone(), digest.clone());
        {
            let seen = self.lock_revisions_seen();
            if seen
                .get(&key)
                .is_some_and(|at| at.elapsed() < REVISION_SEEN_TTL)
            {
                return Ok(Some(digest));
            }
        }
        let found = self
            .resolve(repo, &ManifestRef::Digest(digest.clone()))
            .await?;
        if found.is_some() {
            let mut seen = self.lock_revisions_seen();
            if seen.len() >= REVISIONS_SEEN {
                seen.clear();
            }
            seen.insert(key, Instant::now());
        }
        Ok(found)
    }

    pub(super) fn lock_revisions_seen(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<(RepoName, Digest), Instant>> {
        self.revisions_seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
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
        let digest = self
            .resolve_for_read(repo, reference)
            .await?
            .ok_or_else(unknown)?;
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
        let used: Vec<Digest> = std::iter::once(digest.clone())
            .chain(outline.blobs())
            .chain(outline.children())
            .collect();
        let announced = self.announce(&used.iter().collect::<Vec<_>>()).await?;
        drop(used);
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
        self.confirm(&announced).await?;
        let tag = match reference {
            ManifestRef::Tag(tag) => Some(tag),
            ManifestRef::Digest(_) => None,
        };
        self.write_manifest(repo, &digest, bytes, tag, new_repository, referrer)
            .await?;
        Ok(PutManifest { digest, subject })
    }

    /// Writes a checked manifest in the order a crash must respect — its
    /// bytes, the revision link, then the tag (see docs/storage-backend.md)
    /// — and brings the caches and the referrers index up to date. Pushes
    /// and the pull-through cache both end here.
    pub(super) async fn write_manifest(
        &self,
        repo: &RepoName,
        digest: &Digest,
        bytes: Bytes,
        tag: Option<&TagName>,
        new_repository: bool,
        referrer: Option<(Digest, Descriptor)>,
    ) -> Result<()> {
        if self.blob_size(digest).await?.is_none() {
            self.backend.put(&paths::blob_data(digest), bytes).await?;
        }
        self.backend
            .put(&paths::revision_link(repo, digest), link_bytes(digest))
            .await?;
        if let Some(tag) = tag {
            self.backend
                .put(
                    &paths::tag_index_link(repo, tag, digest),
                    link_bytes(digest),
                )
                .await?;
            self.backend
                .put(&paths::tag_current_link(repo, tag), link_bytes(digest))
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
        Ok(())
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
        self.lock_revisions_seen()
            .remove(&(repo.clone(), digest.clone()));
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

    /// The modification times of a repository's revisions directories.
    pub(super) async fn revisions_version(
        &self,
        repo: &RepoName,
    ) -> Result<Vec<Option<SystemTime>>> {
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
    pub(super) async fn update_referrers(
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

    pub(super) fn lock_referrers(&self) -> std::sync::MutexGuard<'_, ReferrersIndexes> {
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
    pub(super) async fn build_referrers(
        &self,
        repo: &RepoName,
    ) -> Result<HashMap<Digest, Vec<Descriptor>>> {
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
