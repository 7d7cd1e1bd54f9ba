//! The plan of `regctl rm`: the manifest a reference names, the tags that go
//! with it, the platform manifests it lists (an index), and the tagged
//! indexes that list it (deleting it would break them: a pull of that
//! platform fails with `MANIFEST_UNKNOWN`).

use std::collections::{BTreeMap, BTreeSet};

use futures_util::stream::{self, StreamExt};
use serde::Serialize;

use crate::client::{Client, ClientError, TagTarget};
use crate::types::{Digest, Manifest, Reference};

/// Manifests read at once while looking for tags and parent indexes.
pub const LOOKUP_CONCURRENCY: usize = 8;

/// A manifest an index lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Child {
    pub digest: Digest,
    pub media_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
}

/// A tagged index that lists the manifest to delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Parent {
    pub digest: Digest,
    /// Its tags, sorted.
    pub tags: Vec<String>,
    /// The platform it lists the manifest under.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
}

/// What deleting one manifest by digest does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemovalPlan {
    /// `REGISTRY/REPOSITORY`.
    pub repository: String,
    pub digest: Digest,
    pub media_type: String,
    /// Tags pointing at it: they go with it. Sorted.
    pub tags: Vec<String>,
    /// For an index: the manifests it lists (they stay, untagged).
    pub children: Vec<Child>,
    /// Tagged indexes of the repository that list it.
    pub parents: Vec<Parent>,
}

/// Plans the deletion of `target` from `repo`: reads what every tag points
/// to and every distinct tagged index, `concurrency` requests at a time.
pub async fn plan(
    client: &Client,
    repo: &Reference,
    target: &Manifest,
    concurrency: usize,
) -> Result<RemovalPlan, ClientError> {
    let repo = repo.repo_only();
    let targets = client.tag_targets(&repo, concurrency).await?;
    let digest = target.digest();
    let tags = targets
        .iter()
        .filter(|t| &t.digest == digest)
        .map(|t| t.tag.clone())
        .collect();
    let parents = parents(client, &repo, digest, &targets, concurrency).await?;
    let children = target
        .children()
        .iter()
        .map(|d| Child {
            digest: d.digest.clone(),
            media_type: d.media_type.to_string(),
            platform: d.platform.as_ref().map(ToString::to_string),
        })
        .collect();
    Ok(RemovalPlan {
        repository: repo.to_string(),
        digest: digest.clone(),
        media_type: target.media_type().to_string(),
        tags,
        children,
        parents,
    })
}

/// The tagged indexes (other than `digest` itself) that list `digest`.
async fn parents(
    client: &Client,
    repo: &Reference,
    digest: &Digest,
    targets: &[TagTarget],
    concurrency: usize,
) -> Result<Vec<Parent>, ClientError> {
    // Each distinct index once, however many tags name it.
    let mut indexes: BTreeMap<&Digest, BTreeSet<&str>> = BTreeMap::new();
    for t in targets
        .iter()
        .filter(|t| t.media_type.is_index() && &t.digest != digest)
    {
        indexes.entry(&t.digest).or_default().insert(&t.tag);
    }
    let found: Vec<Result<Option<Parent>, ClientError>> = stream::iter(indexes)
        .map(|(index, tags)| async move {
            let m = match client.manifest_get(&repo.with_digest(index.clone())).await {
                Ok(m) => m,
                // Deleted since the tag was read: it lists nothing now.
                Err(e) if e.is_not_found() => return Ok(None),
                Err(e) => return Err(e),
            };
            Ok(m.children()
                .iter()
                .find(|c| &c.digest == digest)
                .map(|c| Parent {
                    digest: index.clone(),
                    tags: tags.iter().map(|t| (*t).to_owned()).collect(),
                    platform: c.platform.as_ref().map(ToString::to_string),
                }))
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut out = Vec::new();
    for p in found {
        if let Some(p) = p? {
            out.push(p);
        }
    }
    out.sort_by(|a, b| a.tags.cmp(&b.tags));
    Ok(out)
}
