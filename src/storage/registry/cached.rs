//! Manifests written by the pull-through cache (`regctl serve --proxy`):
//! fetched from an upstream and verified there, stored before their blobs,
//! which arrive one by one as clients pull them.

use bytes::Bytes;

use super::{Registry, link_bytes};
use crate::storage::error::{Result, StorageError};
use crate::storage::paths::{self, RepoName, TagName};
use crate::types::manifest::MAX_MANIFEST_SIZE;
use crate::types::{Digest, ManifestOutline};

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
}
