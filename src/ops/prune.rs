//! Tag retention for one repository: keep the newest N, delete what is
//! older than a duration, among the tags a pattern selects.
//!
//! A tag's age is its image config's `created` time (for an index, the
//! newest of its platforms'). Tags whose age cannot be known are never
//! deleted. A deleted tag's manifest goes too unless a kept tag still
//! points at it; then only the tag is removed.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, SystemTime};

use futures_util::stream::{self, StreamExt, TryStreamExt};
use regex::Regex;
use serde::Serialize;

use super::du::{ApiSource, UsageError, UsageSource};
use crate::client::{Client, ClientError, UntagMethod};
use crate::types::time::parse_rfc3339;
use crate::types::{Digest, ImageConfig, Manifest, ManifestBody, Reference};

/// Tags examined at once.
const CONCURRENCY: usize = 8;
/// Image configs are small JSON documents.
const MAX_CONFIG: usize = 4 * 1024 * 1024;

/// Which tags go.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Keep the newest N of the selected tags.
    pub keep: Option<usize>,
    /// Delete only selected tags created longer ago than this.
    pub older_than: Option<Duration>,
    /// Select only tags matching this (default: every tag).
    pub matching: Option<Regex>,
    /// Never select tags matching this.
    pub excluding: Option<Regex>,
}

/// Why a tag stays or goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    NotMatched,
    Excluded,
    AgeUnknown,
    Newest,
    TooRecent,
    Selected,
}

/// One tag and the decision about it.
#[derive(Debug, Clone, Serialize)]
pub struct TagDecision {
    pub tag: String,
    pub digest: Digest,
    /// RFC 3339, as the config says.
    pub created: Option<String>,
    pub reason: Reason,
    #[serde(skip)]
    created_at: Option<SystemTime>,
}

/// What a prune will do.
#[derive(Debug, Clone, Serialize)]
pub struct PrunePlan {
    pub repository: String,
    pub keep: Vec<TagDecision>,
    pub delete: Vec<TagDecision>,
    /// Manifests deleted with their tags (no kept tag points at them).
    pub manifests: Vec<Digest>,
}

/// The digest a tag points at and its creation time.
async fn examine(
    src: &dyn UsageSource,
    repo: &str,
    tag: String,
) -> Result<TagDecision, UsageError> {
    let manifest = src.manifest(repo, &tag).await?;
    let created = match manifest.body() {
        ManifestBody::Index(index) => {
            let mut newest: Option<(SystemTime, String)> = None;
            for child in &index.manifests {
                let m = src.manifest(repo, &child.digest.to_string()).await?;
                if let Some((t, s)) = created_of(src, repo, &m).await?
                    && newest.as_ref().is_none_or(|(n, _)| t > *n)
                {
                    newest = Some((t, s));
                }
            }
            newest
        }
        _ => created_of(src, repo, &manifest).await?,
    };
    Ok(TagDecision {
        tag,
        digest: manifest.digest().clone(),
        created: created.as_ref().map(|(_, s)| s.clone()),
        created_at: created.map(|(t, _)| t),
        reason: Reason::Selected,
    })
}

async fn created_of(
    src: &dyn UsageSource,
    repo: &str,
    m: &Manifest,
) -> Result<Option<(SystemTime, String)>, UsageError> {
    let ManifestBody::Image(image) = m.body() else {
        return Ok(None);
    };
    let bytes = src
        .small_blob(repo, &image.config.digest, MAX_CONFIG)
        .await?;
    let Ok(config) = serde_json::from_slice::<ImageConfig>(&bytes) else {
        return Ok(None);
    };
    Ok(config
        .created
        .and_then(|s| parse_rfc3339(&s).map(|t| (t, s))))
}

/// Every tag of `repo` with its digest and creation time, from any source
/// (a registry's API, or a storage root for the server's retention).
pub async fn examine_tags(
    src: &dyn UsageSource,
    repo: &str,
) -> Result<Vec<TagDecision>, UsageError> {
    let tags = src.tags(repo).await?;
    stream::iter(tags)
        .map(|tag| examine(src, repo, tag))
        .buffered(CONCURRENCY)
        .try_collect()
        .await
}

/// Decides every tag of `repo` against the policy, as of `now`.
pub async fn plan(
    client: &Client,
    repo: &Reference,
    policy: &Policy,
    now: SystemTime,
) -> Result<PrunePlan, ClientError> {
    let src = ApiSource {
        client,
        registry: repo.registry().to_owned(),
    };
    let decisions = examine_tags(&src, repo.repository())
        .await
        .map_err(|e| match e {
            UsageError::Client(e) => e,
            other => ClientError::InvalidResponse {
                url: repo.to_string(),
                reason: other.to_string(),
            },
        })?;
    Ok(decide(repo.to_string(), decisions, policy, now))
}

/// The policy applied to examined tags: which stay (and why) and which go.
pub fn decide(
    repository: String,
    mut decisions: Vec<TagDecision>,
    policy: &Policy,
    now: SystemTime,
) -> PrunePlan {
    for d in &mut decisions {
        d.reason = if policy
            .matching
            .as_ref()
            .is_some_and(|re| !re.is_match(&d.tag))
        {
            Reason::NotMatched
        } else if policy
            .excluding
            .as_ref()
            .is_some_and(|re| re.is_match(&d.tag))
        {
            Reason::Excluded
        } else if d.created_at.is_none() {
            Reason::AgeUnknown
        } else {
            Reason::Selected
        };
    }
    // Newest first among the selected; ties broken by tag for stable plans.
    let mut selected: Vec<&mut TagDecision> = decisions
        .iter_mut()
        .filter(|d| d.reason == Reason::Selected)
        .collect();
    selected.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.tag.cmp(&b.tag)));
    for (i, d) in selected.into_iter().enumerate() {
        if policy.keep.is_some_and(|n| i < n) {
            d.reason = Reason::Newest;
        } else if let Some(age) = policy.older_than
            && d.created_at
                .is_some_and(|t| now.duration_since(t).unwrap_or_default() < age)
        {
            d.reason = Reason::TooRecent;
        }
    }

    let (delete, keep): (Vec<_>, Vec<_>) = decisions
        .into_iter()
        .partition(|d| d.reason == Reason::Selected);
    let kept_digests: HashSet<&Digest> = keep.iter().map(|d| &d.digest).collect();
    let manifests: Vec<Digest> = delete
        .iter()
        .map(|d| &d.digest)
        .filter(|d| !kept_digests.contains(d))
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    PrunePlan {
        repository,
        keep,
        delete,
        manifests,
    }
}

/// What a prune did.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PruneSummary {
    pub tags_deleted: usize,
    pub manifests_deleted: usize,
}

/// Carries out a plan: each tag is re-checked (it must still point where
/// the plan saw it), then manifests no kept tag uses are deleted with their
/// tags, and the other tags are removed alone.
pub async fn apply(
    client: &Client,
    repo: &Reference,
    plan: &PrunePlan,
) -> Result<PruneSummary, ClientError> {
    let mut by_digest: BTreeMap<&Digest, Vec<&TagDecision>> = BTreeMap::new();
    for d in &plan.delete {
        by_digest.entry(&d.digest).or_default().push(d);
    }
    let mut summary = PruneSummary::default();
    for (digest, tags) in by_digest {
        for t in &tags {
            client
                .ensure_unmoved(
                    &repo.with_tag(&t.tag).map_err(|e| bad_tag(repo, e))?,
                    digest,
                )
                .await?;
        }
        if plan.manifests.contains(digest) {
            client.manifest_delete(repo, digest).await?;
            summary.manifests_deleted += 1;
            summary.tags_deleted += tags.len();
        } else {
            for t in tags {
                let tag_ref = repo.with_tag(&t.tag).map_err(|e| bad_tag(repo, e))?;
                let _: UntagMethod = client.untag(&tag_ref, digest).await?;
                summary.tags_deleted += 1;
            }
        }
    }
    Ok(summary)
}

fn bad_tag(repo: &Reference, e: crate::types::ParseError) -> ClientError {
    ClientError::InvalidResponse {
        url: repo.to_string(),
        reason: e.to_string(),
    }
}
