//! Tags, the catalog walk and manifest revisions of a repository.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::{Registry, algorithm_named, parse_link};
use crate::storage::backend::Meta;
use crate::storage::error::{Result, StorageError};
use crate::storage::paths::{self, RepoName, TagName};
use crate::types::{Algorithm, Digest};

/// How long a repository walk answers catalog requests.
pub const REPOSITORY_CACHE_TTL: Duration = Duration::from_secs(5);

/// Cached tag lists: repository → (mtime of its `tags/` directory, tags).
pub(super) type TagCache = HashMap<RepoName, (SystemTime, Arc<Vec<String>>)>;

/// How many repositories' tag lists are cached.
pub(super) const TAG_CACHE_REPOSITORIES: usize = 4096;

/// Link files hold a digest: anything larger is not read as one by a walk.
pub(super) const MAX_LINK_SIZE: u64 = 1024;

/// What [`Registry::scan_repository`] found in a repository.
#[derive(Debug, Default)]
pub struct RepositoryScan {
    /// Manifest revisions (from their link's path) and their link's meta.
    pub revisions: Vec<(Digest, Meta)>,
    /// Tags with a `current/link`, and the digest it holds (`None`: unreadable).
    pub tags: Vec<(TagName, Option<Digest>)>,
    /// Layer links (from their path) and their meta.
    pub layers: Vec<(Digest, Meta)>,
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

impl Registry {
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

    pub(super) fn lock_repos(
        &self,
    ) -> std::sync::MutexGuard<'_, Option<(Instant, Arc<Vec<String>>)>> {
        self.repos.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets the cached repository list (a repository appeared or went).
    pub(in crate::storage) fn forget_repositories(&self) {
        *self.lock_repos() = None;
    }

    /// Every repository, walked now, in registry:2's catalog order
    /// ([`catalog_order`]). A directory is a repository when it holds
    /// `_manifests`; names starting with `_` are never descended.
    pub async fn scan_repositories(&self) -> Result<Vec<String>> {
        // One listing of every key on an object store (1,000 a request:
        // 2,000 repositories are ~15 requests); on a filesystem a walk
        // with one open directory per level, one listing per directory.
        let mut found: Vec<String> = self
            .backend
            .dirs_holding(&paths::repositories_root(), "_manifests")
            .await?
            .into_iter()
            .filter(|repo| RepoName::new(repo).is_ok())
            .collect();
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
        if self.backend.prefers_walk() {
            // One listing of `tags/` (1,000 keys a request) rather than a
            // `HEAD` per tag: a tag is there when its `current/link` is.
            for e in self.backend.walk(&tags_dir, 0).await? {
                if let Some(name) = e.key.strip_suffix("/current/link")
                    && !e.meta.is_dir
                    && TagName::new(name).is_ok()
                {
                    tags.push(name.to_owned());
                }
            }
            tags.sort_unstable();
            return Ok(Arc::new(tags));
        }
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

    pub(super) fn lock_tags(&self) -> std::sync::MutexGuard<'_, TagCache> {
        self.tags.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets a repository's cached tag list after this process changed it
    /// (a change within the clock's resolution would not show in the mtime).
    pub(in crate::storage) fn forget_tags(&self, repo: &RepoName) {
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

    /// A repository's revisions, tags and layer links, read as
    /// [`Backend::leaves`](crate::storage::Backend::leaves) of its
    /// `_manifests` and `_layers` (tag links are read on the way, revision
    /// and layer links only looked at): what garbage collection and `du`
    /// need, without a round trip per link.
    pub async fn scan_repository(&self, repo: &RepoName) -> Result<RepositoryScan> {
        let manifests = paths::manifests_dir(repo);
        let (revisions, tags, layers) = (
            format!("{manifests}/revisions"),
            format!("{manifests}/tags"),
            format!("{}/_layers", paths::repo_dir(repo)),
        );
        let (revisions, tags, layers) = futures_util::future::try_join3(
            self.backend.leaves(&revisions, 2, "link", 0),
            self.backend.leaves(&tags, 1, "current/link", MAX_LINK_SIZE),
            self.backend.leaves(&layers, 2, "link", 0),
        )
        .await?;
        // `ALGO/HEX` with a link file: a revision (or layer link) by its path.
        let linked = |leaves: Vec<crate::storage::backend::Leaf>| {
            leaves.into_iter().filter_map(|l| {
                let meta = l.meta.filter(|m| !m.is_dir)?;
                let (algo, hex) = l.dir.split_once('/')?;
                Some((Digest::new(algorithm_named(algo)?, hex).ok()?, meta))
            })
        };
        Ok(RepositoryScan {
            revisions: linked(revisions).collect(),
            // A tag directory without `current/link` is a tag write that
            // never finished: not a tag.
            tags: tags
                .into_iter()
                .filter(|l| l.meta.as_ref().is_some_and(|m| !m.is_dir))
                .filter_map(|l| {
                    let target = l.content.as_deref().and_then(parse_link);
                    Some((TagName::new(&l.dir).ok()?, target))
                })
                .collect(),
            layers: linked(layers).collect(),
        })
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
}
