//! Storage use: per repository (or per tag) the bytes of the blobs its tags
//! reference, the bytes unique to it and the bytes it shares.
//!
//! One algorithm over two sources: a registry's API ([`ApiSource`]) and a
//! storage root read directly ([`StorageSource`]). Sizes come from the
//! descriptors in the manifests (and the manifests' own lengths), so a blob
//! counts once per repository however many tags or platforms use it.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;

use crate::client::{Client, ClientError};
use crate::storage::gc::RepositoryContents;
use crate::storage::{ManifestRef, Registry, RepoName, StorageError, TagName};
use bytes::Bytes;

use super::platform;

mod cached;
use crate::types::{Descriptor, Digest, Manifest, ManifestBody, ParseError, Platform, Reference};
pub use cached::{CacheSplit, cache_split};

/// Manifests fetched at once.
const CONCURRENCY: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Name(#[from] ParseError),
    /// `--platform` matched no tag.
    #[error("no tag of {scope} has an image for platform {wanted}; they have: {available}")]
    Platform {
        scope: String,
        wanted: String,
        available: String,
    },
    #[error("{location}: config {digest} is {size} bytes, over the {limit}-byte limit")]
    ConfigTooLarge {
        location: String,
        digest: Digest,
        size: u64,
        limit: usize,
    },
}

/// Where repositories, tags and manifests are read from.
#[async_trait]
pub trait UsageSource: Send + Sync {
    async fn repositories(&self) -> Result<Vec<String>, UsageError>;
    async fn tags(&self, repo: &str) -> Result<Vec<String>, UsageError>;
    /// A manifest by tag, or by digest when `reference` is one.
    async fn manifest(&self, repo: &str, reference: &str) -> Result<Manifest, UsageError>;
    /// A small blob (an image config), at most `limit` bytes.
    async fn small_blob(
        &self,
        repo: &str,
        digest: &Digest,
        limit: usize,
    ) -> Result<Bytes, UsageError>;
}

/// A registry, through its API.
pub struct ApiSource<'a> {
    pub client: &'a Client,
    pub registry: String,
}

impl ApiSource<'_> {
    fn reference(&self, repo: &str) -> Result<Reference, UsageError> {
        Ok(Reference::parse(
            &format!("{}/{repo}", self.registry),
            &self.registry,
        )?)
    }
}

#[async_trait]
impl UsageSource for ApiSource<'_> {
    async fn repositories(&self) -> Result<Vec<String>, UsageError> {
        Ok(self.client.catalog(&self.registry, None, None).await?)
    }

    async fn tags(&self, repo: &str) -> Result<Vec<String>, UsageError> {
        Ok(self.client.tags(&self.reference(repo)?, None).await?)
    }

    async fn manifest(&self, repo: &str, reference: &str) -> Result<Manifest, UsageError> {
        let r = self.reference(repo)?;
        let r = match reference.parse::<Digest>() {
            Ok(d) => r.with_digest(d),
            Err(_) => r.with_tag(reference)?,
        };
        Ok(self.client.manifest_get(&r).await?)
    }

    async fn small_blob(
        &self,
        repo: &str,
        digest: &Digest,
        limit: usize,
    ) -> Result<Bytes, UsageError> {
        Ok(self
            .client
            .blob_get_bytes(&self.reference(repo)?, digest, limit)
            .await?)
    }
}

/// A storage root, read directly.
pub struct StorageSource<'a> {
    registry: &'a Registry,
    /// The repositories read lately, each in one batch (see [`Snapshot`]).
    snapshots: Mutex<HashMap<String, Arc<Snapshot>>>,
    /// Repositories read by someone else (the collector's scan), each
    /// answering the next `tags` of it.
    preloaded: Mutex<HashMap<String, Arc<Snapshot>>>,
}

/// A repository read in one go when its tags are asked for: its tags'
/// targets and its manifests' bytes, so the manifests `du` asks for next
/// cost no further round trips to the storage.
struct Snapshot {
    /// Every tag with a current link, sorted (as `Registry::tags`).
    names: Vec<String>,
    tags: HashMap<String, Digest>,
    manifests: HashMap<Digest, Bytes>,
}

impl Snapshot {
    fn new(tags: Vec<(TagName, Option<Digest>)>, manifests: Vec<(Digest, Option<Bytes>)>) -> Self {
        let mut names: Vec<String> = tags.iter().map(|(t, _)| t.to_string()).collect();
        names.sort_unstable();
        Snapshot {
            names,
            tags: tags
                .into_iter()
                .filter_map(|(t, d)| Some((t.to_string(), d?)))
                .collect(),
            manifests: manifests
                .into_iter()
                .filter_map(|(d, b)| Some((d, b?)))
                .collect(),
        }
    }
}

/// Repositories whose snapshots are kept: `du` reads one at a time.
const SNAPSHOTS: usize = 16;

impl<'a> StorageSource<'a> {
    pub fn new(registry: &'a Registry) -> Self {
        StorageSource {
            registry,
            snapshots: Mutex::new(HashMap::new()),
            preloaded: Mutex::new(HashMap::new()),
        }
    }

    fn snapshot(&self, repo: &str) -> Option<Arc<Snapshot>> {
        self.snapshots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(repo)
            .cloned()
    }

    fn keep(&self, repo: &str, snapshot: Arc<Snapshot>) {
        let mut snapshots = self.snapshots.lock().unwrap_or_else(|e| e.into_inner());
        if snapshots.len() >= SNAPSHOTS {
            snapshots.clear();
        }
        snapshots.insert(repo.to_owned(), snapshot);
    }

    /// A repository as the collector's scan read it: the next `tags` of it
    /// (and the manifests after) answer from it, not from the root.
    pub fn preload(&self, contents: RepositoryContents) {
        let snapshot = Snapshot::new(contents.tags, contents.manifests);
        self.preloaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(contents.name, Arc::new(snapshot));
    }
}

#[async_trait]
impl UsageSource for StorageSource<'_> {
    async fn repositories(&self) -> Result<Vec<String>, UsageError> {
        Ok(self.registry.scan_repositories().await?)
    }

    async fn tags(&self, repo: &str) -> Result<Vec<String>, UsageError> {
        let preloaded = self
            .preloaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(repo);
        let snapshot = match preloaded {
            Some(snapshot) => snapshot,
            None => {
                let name = RepoName::new(repo)?;
                if !self.registry.repository_exists(&name).await? {
                    return Err(StorageError::NameUnknown(repo.to_owned()).into());
                }
                let scan = self.registry.scan_repository(&name).await?;
                let digests: Vec<Digest> = scan.revisions.into_iter().map(|(d, _)| d).collect();
                let bytes = self.registry.read_manifests(&digests).await?;
                Arc::new(Snapshot::new(
                    scan.tags,
                    digests.into_iter().zip(bytes).collect(),
                ))
            }
        };
        let names = snapshot.names.clone();
        self.keep(repo, snapshot);
        Ok(names)
    }

    async fn manifest(&self, repo: &str, reference: &str) -> Result<Manifest, UsageError> {
        if let Some(snapshot) = self.snapshot(repo) {
            let digest = match reference.parse::<Digest>() {
                Ok(d) => Some(d),
                Err(_) => snapshot.tags.get(reference).cloned(),
            };
            let Some((digest, bytes)) =
                digest.and_then(|d| Some((d.clone(), snapshot.manifests.get(&d)?.clone())))
            else {
                return Err(StorageError::ManifestUnknown(reference.to_owned()).into());
            };
            return Manifest::parse_with_digest(bytes, None, digest)
                .map_err(|e| StorageError::ManifestInvalid(e.to_string()).into());
        }
        let repo = RepoName::new(repo)?;
        let r = match reference.parse::<Digest>() {
            Ok(d) => ManifestRef::Digest(d),
            Err(_) => ManifestRef::Tag(TagName::new(reference)?),
        };
        let stored = self.registry.get_manifest(&repo, &r).await?;
        Manifest::parse_with_digest(stored.bytes, None, stored.digest)
            .map_err(|e| StorageError::ManifestInvalid(e.to_string()).into())
    }

    async fn small_blob(
        &self,
        repo: &str,
        digest: &Digest,
        limit: usize,
    ) -> Result<Bytes, UsageError> {
        let name = RepoName::new(repo)?;
        let Some(blob) = self.registry.open_blob(&name, digest).await? else {
            return Err(StorageError::BlobUnknown(digest.clone()).into());
        };
        let size = blob.size;
        if size > limit as u64 {
            return Err(UsageError::ConfigTooLarge {
                location: repo.to_owned(),
                digest: digest.clone(),
                size,
                limit,
            });
        }
        let mut stream = blob.stream(0, size, 64 * 1024).await?;
        let mut buf = Vec::with_capacity(size as usize);
        while let Some(chunk) = stream.next().await {
            buf.extend_from_slice(&chunk.map_err(StorageError::Io)?);
        }
        // What is read from disk is checked like what comes over the wire.
        digest.verify(&buf).map_err(StorageError::DigestMismatch)?;
        Ok(Bytes::from(buf))
    }
}

/// Bytes of one repository or one tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// The repository, or the tag.
    pub name: String,
    /// Tags counted (for a repository), or the tag's manifest digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    /// Every distinct blob (layers, configs, manifests) it references.
    pub total: u64,
    /// Bytes no other repository (tag) references.
    pub unique: u64,
    /// `total - unique`.
    pub shared: u64,
}

/// A whole registry's use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistryUsage {
    /// Largest first.
    pub repositories: Vec<Usage>,
    /// Every distinct blob referenced anywhere, counted once.
    pub total: u64,
}

/// What one tag reaches, or (with a platform) the platforms it has
/// instead when none is the one asked for.
enum TagScan {
    Counted(Digest, HashMap<Digest, u64>),
    OtherPlatforms(Vec<String>),
}

/// The blobs one tag reaches: its manifest(s), configs and layers; with
/// `platform`, only that platform's image (and the index naming it).
async fn tag_blobs(
    src: &dyn UsageSource,
    repo: &str,
    tag: &str,
    platform: Option<&Platform>,
) -> Result<TagScan, UsageError> {
    let top = src.manifest(repo, tag).await?;
    let mut blobs = HashMap::new();
    let mut pending = vec![top.clone()];
    if let Some(wanted) = platform {
        if top.media_type().is_index() {
            let matching: Vec<&Descriptor> = top
                .children()
                .iter()
                .filter(|d| d.platform.as_ref().is_some_and(|p| p.matches(wanted)))
                .collect();
            if matching.is_empty() {
                return Ok(TagScan::OtherPlatforms(platform::index_platforms(&top)));
            }
            blobs.insert(top.digest().clone(), top.size() as u64);
            pending.clear();
            for child in matching {
                pending.push(src.manifest(repo, &child.digest.to_string()).await?);
            }
        } else {
            let have = match top.body() {
                ManifestBody::Image(image) => {
                    let raw = src
                        .small_blob(repo, &image.config.digest, platform::MAX_CONFIG_SIZE)
                        .await?;
                    platform::config_platform(&raw).ok()
                }
                _ => None,
            };
            match have {
                Some(p) if p.matches(wanted) => {}
                Some(p) => return Ok(TagScan::OtherPlatforms(vec![p.to_string()])),
                None => return Ok(TagScan::OtherPlatforms(Vec::new())),
            }
        }
    }
    while let Some(m) = pending.pop() {
        blobs.insert(m.digest().clone(), m.size() as u64);
        match m.body() {
            ManifestBody::Image(image) => {
                for d in std::iter::once(&image.config).chain(&image.layers) {
                    blobs.insert(d.digest.clone(), d.size.max(0) as u64);
                }
            }
            // Schema1 manifests carry no sizes.
            ManifestBody::Schema1(_) => {
                for d in m.blobs() {
                    blobs.entry(d.clone()).or_insert(0);
                }
            }
            ManifestBody::Index(_) => {}
        }
        for child in m.children() {
            if !blobs.contains_key(&child.digest) {
                pending.push(src.manifest(repo, &child.digest.to_string()).await?);
            }
        }
    }
    Ok(TagScan::Counted(top.digest().clone(), blobs))
}

/// Tags of a repository with the blobs they reach, and the platforms of
/// the tags `--platform` left out.
struct RepositoryTags {
    counted: Vec<(String, Digest, HashMap<Digest, u64>)>,
    other_platforms: BTreeSet<String>,
}

/// Every tag of a repository, with the blobs it reaches. Tags deleted
/// while we look are skipped.
async fn repository_tags(
    src: &dyn UsageSource,
    repo: &str,
    platform: Option<&Platform>,
) -> Result<RepositoryTags, UsageError> {
    let tags = src.tags(repo).await?;
    let scans: Vec<(String, TagScan)> = stream::iter(tags)
        .map(|tag| async move {
            match tag_blobs(src, repo, &tag, platform).await {
                Ok(scan) => Ok(Some((tag, scan))),
                Err(e) if is_not_found(&e) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .buffered(CONCURRENCY)
        .try_filter_map(|x| async move { Ok(x) })
        .try_collect()
        .await?;
    let mut out = RepositoryTags {
        counted: Vec::new(),
        other_platforms: BTreeSet::new(),
    };
    for (tag, scan) in scans {
        match scan {
            TagScan::Counted(digest, blobs) => out.counted.push((tag, digest, blobs)),
            TagScan::OtherPlatforms(p) => out.other_platforms.extend(p),
        }
    }
    Ok(out)
}

/// The error for a `--platform` no tag of `scope` matched.
fn no_platform(scope: &str, wanted: &Platform, seen: &BTreeSet<String>) -> UsageError {
    UsageError::Platform {
        scope: scope.to_owned(),
        wanted: wanted.to_string(),
        available: if seen.is_empty() {
            "no known platforms".to_owned()
        } else {
            seen.iter().cloned().collect::<Vec<_>>().join(", ")
        },
    }
}

fn is_not_found(e: &UsageError) -> bool {
    match e {
        UsageError::Client(c) => c.kind() == crate::client::ErrorKind::NotFound,
        UsageError::Storage(StorageError::ManifestUnknown(_) | StorageError::NameUnknown(_)) => {
            true
        }
        _ => false,
    }
}

/// A repository or tag with the blobs it reaches.
struct Member {
    name: String,
    tags: Option<usize>,
    digest: Option<Digest>,
    blobs: HashMap<Digest, u64>,
}

/// Splits each member's bytes into unique and shared, largest first.
fn tally(members: Vec<Member>) -> Vec<Usage> {
    let mut holders: HashMap<&Digest, usize> = HashMap::new();
    for m in &members {
        for d in m.blobs.keys() {
            *holders.entry(d).or_default() += 1;
        }
    }
    let mut out: Vec<Usage> = members
        .iter()
        .map(|m| {
            let total: u64 = m.blobs.values().sum();
            let unique: u64 = m
                .blobs
                .iter()
                .filter(|(d, _)| holders.get(d) == Some(&1))
                .map(|(_, s)| s)
                .sum();
            Usage {
                name: m.name.clone(),
                tags: m.tags,
                digest: m.digest.clone(),
                total,
                unique,
                shared: total - unique,
            }
        })
        .collect();
    out.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.name.cmp(&b.name)));
    out
}

/// Use per repository of a whole registry (or root); with `platform`, of
/// that platform's images only (repositories without one are left out).
pub async fn registry_usage(
    src: &dyn UsageSource,
    platform: Option<&Platform>,
) -> Result<RegistryUsage, UsageError> {
    let mut tally = RegistryTally::default();
    for repo in src.repositories().await? {
        let scanned = repository_tags(src, &repo, platform).await;
        tally.add(repo, scanned, platform)?;
    }
    tally.finish(platform)
}

/// [`registry_usage`] of a root, from the repositories the collector's
/// scan hands over (`gc::plans` with `contents`) as they arrive: `du
/// --root` reads the root once for both.
pub async fn registry_usage_scanned(
    src: &StorageSource<'_>,
    mut contents: tokio::sync::mpsc::Receiver<RepositoryContents>,
    platform: Option<&Platform>,
) -> Result<RegistryUsage, UsageError> {
    let mut tally = RegistryTally::default();
    while let Some(repository) = contents.recv().await {
        let repo = repository.name.clone();
        src.preload(repository);
        let scanned = repository_tags(src, &repo, platform).await;
        tally.add(repo, scanned, platform)?;
    }
    tally.finish(platform)
}

/// A whole registry's use, added up one repository at a time.
#[derive(Default)]
struct RegistryTally {
    members: Vec<Member>,
    everything: HashMap<Digest, u64>,
    seen: BTreeSet<String>,
    skipped_any: bool,
}

impl RegistryTally {
    /// Adds a repository's tags; one deleted while we looked is skipped.
    fn add(
        &mut self,
        repo: String,
        scanned: Result<RepositoryTags, UsageError>,
        platform: Option<&Platform>,
    ) -> Result<(), UsageError> {
        let scanned = match scanned {
            Ok(t) => t,
            Err(e) if is_not_found(&e) => return Ok(()),
            Err(e) => return Err(e),
        };
        self.seen.extend(scanned.other_platforms);
        let tags = scanned.counted;
        if platform.is_some() && tags.is_empty() {
            self.skipped_any = true;
            return Ok(());
        }
        let mut blobs = HashMap::new();
        for (_, _, b) in &tags {
            blobs.extend(b.iter().map(|(d, s)| (d.clone(), *s)));
        }
        self.everything
            .extend(blobs.iter().map(|(d, s)| (d.clone(), *s)));
        self.members.push(Member {
            name: repo,
            tags: Some(tags.len()),
            digest: None,
            blobs,
        });
        Ok(())
    }

    fn finish(self, platform: Option<&Platform>) -> Result<RegistryUsage, UsageError> {
        if let Some(wanted) = platform
            && self.members.is_empty()
            && self.skipped_any
        {
            return Err(no_platform("the registry", wanted, &self.seen));
        }
        Ok(RegistryUsage {
            repositories: tally(self.members),
            total: self.everything.values().sum(),
        })
    }
}

/// Use per tag of one repository; `unique` is what deleting only that tag
/// would free in the repository.
/// With `platform`, only that platform's image of each tag counts, and
/// tags without one are left out.
pub async fn repository_usage(
    src: &dyn UsageSource,
    repo: &str,
    platform: Option<&Platform>,
) -> Result<Vec<Usage>, UsageError> {
    // Two tags on one manifest share everything: neither frees anything alone.
    let scanned = repository_tags(src, repo, platform).await?;
    if let Some(wanted) = platform
        && scanned.counted.is_empty()
        && !scanned.other_platforms.is_empty()
    {
        return Err(no_platform(repo, wanted, &scanned.other_platforms));
    }
    Ok(tally(
        scanned
            .counted
            .into_iter()
            .map(|(tag, digest, blobs)| Member {
                name: tag,
                tags: None,
                digest: Some(digest),
                blobs,
            })
            .collect(),
    ))
}
