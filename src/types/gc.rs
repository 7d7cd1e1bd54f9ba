//! What a garbage collection is asked to do and what it reports, shared by
//! the collector, the server's admin endpoint and the CLI.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Digest;

/// What to collect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcOptions {
    /// Remove manifests no tag reaches (children of a kept index and
    /// referrers of a kept manifest are always kept).
    pub delete_untagged: bool,
    /// Remove repositories left with no tags and no manifests.
    pub prune_empty_repos: bool,
    /// Keep blobs and manifests written less than this long before the
    /// collection began (a push in progress may not have linked them yet).
    pub min_age: Duration,
}

/// A manifest the collection removes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedManifest {
    pub repository: String,
    pub digest: Digest,
}

/// A blob the collection removes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedBlob {
    pub digest: Digest,
    pub size: u64,
}

/// Which kind of link points at nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkKind {
    /// `_layers/…/link` whose blob is gone (or goes with this collection).
    Layer,
    /// `_manifests/revisions/…/link` whose manifest blob is gone.
    Revision,
    /// `_manifests/tags/TAG` pointing at a manifest that is not there.
    Tag,
}

/// A link the collection removes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedLink {
    pub repository: String,
    pub kind: LinkKind,
    /// The digest, or the tag name.
    pub name: String,
}

/// An abandoned upload session the collection removes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedUpload {
    pub repository: String,
    pub id: String,
    pub size: u64,
}

/// What a collection would remove, and what it kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GcPlan {
    pub repositories_scanned: usize,
    pub manifests_kept: usize,
    pub blobs_marked: usize,
    pub manifests: Vec<PlannedManifest>,
    pub blobs: Vec<PlannedBlob>,
    /// Links pointing at nothing: damage a crash or a manual `rm` left.
    pub links: Vec<PlannedLink>,
    /// `_layers` links removed with the blobs they name.
    pub layer_links_with_blobs: usize,
    pub uploads: Vec<PlannedUpload>,
    pub repositories: Vec<String>,
    /// Uploads started in the last few minutes: something is writing.
    pub active_uploads: Vec<String>,
    /// What the collector could not understand, and therefore kept.
    pub warnings: Vec<String>,
    /// Unreferenced blobs kept because they are younger than `min_age`
    /// (a push may not have sent its manifest yet), and their bytes.
    #[serde(default)]
    pub young_blobs_kept: usize,
    #[serde(default)]
    pub young_bytes_kept: u64,
}

impl GcPlan {
    pub fn bytes(&self) -> u64 {
        self.blobs.iter().map(|b| b.size).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.manifests.is_empty()
            && self.blobs.is_empty()
            && self.links.is_empty()
            && self.uploads.is_empty()
            && self.repositories.is_empty()
    }

    /// The summary of a dry run: what a sweep of this plan would do.
    pub fn summary(&self) -> GcSummary {
        GcSummary {
            dry_run: true,
            manifests_removed: self.manifests.len(),
            blobs_removed: self.blobs.len(),
            bytes_freed: Some(self.bytes()),
            repositories_removed: self.repositories.len(),
            links_removed: self.links.len() + self.layer_links_with_blobs,
            uploads_removed: self.uploads.len(),
            skipped_in_use: 0,
        }
    }
}

/// What a collection did (or, with `dry_run`, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GcSummary {
    pub dry_run: bool,
    pub manifests_removed: usize,
    pub blobs_removed: usize,
    /// Unknown when the collection ran elsewhere (registry:2's collector).
    pub bytes_freed: Option<u64>,
    pub repositories_removed: usize,
    pub links_removed: usize,
    pub uploads_removed: usize,
    /// Planned deletions skipped because a push used them meanwhile.
    pub skipped_in_use: usize,
}

/// A plan and what came of it: the body of the server's admin answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcReport {
    pub plan: GcPlan,
    pub summary: GcSummary,
}
