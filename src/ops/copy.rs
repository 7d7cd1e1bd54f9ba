//! Copying an image between registries: blobs first (skipped when present,
//! mounted within one registry, else streamed and verified), child manifests
//! next, the top manifest last, so the destination never names content it
//! does not hold. Manifest bytes are copied unchanged, so digests match.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt, stream};

use crate::client::{Client, ClientError};
use crate::types::{Descriptor, Digest, Manifest, Platform, Reference};

/// What happened to one blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobOutcome {
    /// Streamed from the source.
    Copied,
    /// The destination already had it.
    Skipped,
    /// Linked from the source repository on the same registry.
    Mounted,
}

/// Progress, reported as it happens.
pub trait CopyObserver: Send + Sync {
    /// A blob will be transferred (after the skip and mount checks).
    fn blob_started(&self, _digest: &Digest, _size: u64) {}
    /// `bytes` more of a blob went through.
    fn blob_progress(&self, _digest: &Digest, _bytes: u64) {}
    fn blob_done(&self, _digest: &Digest, _size: u64, _outcome: BlobOutcome) {}
    fn manifest_pushed(&self, _reference: &str, _digest: &Digest) {}
}

/// An observer that ignores everything.
pub struct Quiet;
impl CopyObserver for Quiet {}

#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// Copy only this platform out of an index.
    pub platform: Option<Platform>,
    /// Blobs transferred at once.
    pub jobs: usize,
    /// Also copy the artifacts whose `subject` is the image (signatures,
    /// SBOMs), and theirs in turn.
    pub referrers: bool,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            platform: None,
            jobs: 4,
            referrers: false,
        }
    }
}

/// The result of a copy.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CopySummary {
    /// The digest of the manifest the destination now names.
    pub digest: String,
    pub manifests: usize,
    pub blobs_copied: usize,
    pub blobs_skipped: usize,
    pub blobs_mounted: usize,
    /// Bytes streamed (skipped and mounted blobs do not count).
    pub bytes_copied: u64,
    #[serde(skip)]
    pub elapsed: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(
        "{reference} is an index with no manifest for platform {platform}; it has: {available}"
    )]
    PlatformNotFound {
        reference: String,
        platform: String,
        available: String,
    },
    #[error("{reference}: {reason}")]
    Unsupported { reference: String, reason: String },
}

/// Copies `src` to `dst` (a tag, or the source's digest when `dst` names none).
pub async fn copy_image(
    client: &Client,
    src: &Reference,
    dst: &Reference,
    options: &CopyOptions,
    observer: Arc<dyn CopyObserver>,
) -> Result<CopySummary, CopyError> {
    let started = Instant::now();
    let mut summary = CopySummary::default();
    let mut top = client.manifest_get(src).await?;
    if top.media_type().is_index()
        && let Some(wanted) = &options.platform
    {
        let child = pick_platform(&top, wanted).ok_or_else(|| CopyError::PlatformNotFound {
            reference: src.to_string(),
            platform: wanted.to_string(),
            available: platforms(&top),
        })?;
        top = client
            .manifest_get(&src.with_digest(child.digest.clone()))
            .await?;
    }
    let mut images = Vec::new();
    if top.media_type().is_index() {
        for child in top.children() {
            images.push(
                client
                    .manifest_get(&src.with_digest(child.digest.clone()))
                    .await?,
            );
        }
    } else {
        images.push(top.clone());
    }
    for image in &images {
        if image.media_type().is_schema1() {
            return Err(CopyError::Unsupported {
                reference: src.to_string(),
                reason: "Docker schema1 manifests are signed for their original name and cannot be copied"
                    .to_owned(),
            });
        }
    }

    // Each distinct blob once, however many images share it.
    let mut blobs: Vec<Descriptor> = Vec::new();
    for image in &images {
        for d in image_blobs(image) {
            if !blobs.iter().any(|b| b.digest == d.digest) {
                blobs.push(d);
            }
        }
    }
    let outcomes: Vec<(u64, BlobOutcome)> = stream::iter(blobs)
        .map(|desc| copy_blob(client, src, dst, desc, observer.clone()))
        .buffer_unordered(options.jobs.max(1))
        .try_collect()
        .await?;
    for (size, outcome) in outcomes {
        match outcome {
            BlobOutcome::Copied => {
                summary.blobs_copied += 1;
                summary.bytes_copied += size;
            }
            BlobOutcome::Skipped => summary.blobs_skipped += 1,
            BlobOutcome::Mounted => summary.blobs_mounted += 1,
        }
    }

    if top.media_type().is_index() {
        for image in &images {
            push_manifest(client, dst, &image.digest().to_string(), image, &*observer).await?;
            summary.manifests += 1;
        }
    }
    let reference = dst
        .tag()
        .map_or_else(|| top.digest().to_string(), str::to_owned);
    push_manifest(client, dst, &reference, &top, &*observer).await?;
    summary.manifests += 1;
    summary.digest = top.digest().to_string();
    if options.referrers {
        // Referrers name their subject by digest, so they can only be pushed
        // once it exists; content addressing rules out cycles.
        let subjects = std::iter::once(top.digest()).chain(
            images
                .iter()
                .filter(|_| top.media_type().is_index())
                .map(|m| m.digest()),
        );
        for subject in subjects {
            for referrer in client.referrers(&src.repo_only(), subject).await? {
                let from = src.repo_only().with_digest(referrer.digest);
                let nested = Box::pin(copy_image(
                    client,
                    &from,
                    &dst.repo_only(),
                    options,
                    observer.clone(),
                ))
                .await?;
                summary.absorb(&nested);
            }
        }
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}

impl CopySummary {
    /// Adds the counts of a copy done as part of this one.
    fn absorb(&mut self, other: &CopySummary) {
        self.manifests += other.manifests;
        self.blobs_copied += other.blobs_copied;
        self.blobs_skipped += other.blobs_skipped;
        self.blobs_mounted += other.blobs_mounted;
        self.bytes_copied += other.bytes_copied;
    }
}

/// Copies every tag of the source repository to the same tag at the
/// destination, one after the other; blobs shared between tags are
/// transferred once and then skipped.
pub async fn copy_all_tags(
    client: &Client,
    src_repo: &Reference,
    dst_repo: &Reference,
    options: &CopyOptions,
    observer: Arc<dyn CopyObserver>,
) -> Result<Vec<(String, CopySummary)>, CopyError> {
    let tags = client.tags(src_repo, None).await?;
    let mut done = Vec::with_capacity(tags.len());
    for tag in tags {
        let src = src_repo
            .with_tag(&tag)
            .map_err(|e| CopyError::Unsupported {
                reference: src_repo.to_string(),
                reason: e.to_string(),
            })?;
        let dst = dst_repo
            .with_tag(&tag)
            .map_err(|e| CopyError::Unsupported {
                reference: dst_repo.to_string(),
                reason: e.to_string(),
            })?;
        let summary = copy_image(client, &src, &dst, options, observer.clone()).await?;
        done.push((tag, summary));
    }
    Ok(done)
}

fn image_blobs(m: &Manifest) -> Vec<Descriptor> {
    match m.body() {
        crate::types::ManifestBody::Image(i) => std::iter::once(i.config.clone())
            .chain(i.layers.iter().cloned())
            // Foreign layers live elsewhere; registries do not hold them.
            .filter(|d| d.urls.as_ref().is_none_or(Vec::is_empty))
            .collect(),
        _ => Vec::new(),
    }
}

fn pick_platform<'a>(index: &'a Manifest, wanted: &Platform) -> Option<&'a Descriptor> {
    index
        .children()
        .iter()
        .find(|d| d.platform.as_ref().is_some_and(|p| p.matches(wanted)))
}

fn platforms(index: &Manifest) -> String {
    let list: Vec<String> = index
        .children()
        .iter()
        .filter_map(|d| d.platform.as_ref().map(ToString::to_string))
        .collect();
    if list.is_empty() {
        "no platforms".to_owned()
    } else {
        list.join(", ")
    }
}

async fn push_manifest(
    client: &Client,
    dst: &Reference,
    reference: &str,
    m: &Manifest,
    observer: &dyn CopyObserver,
) -> Result<(), CopyError> {
    let digest = client
        .manifest_put(
            &dst.repo_only(),
            reference,
            m.media_type().as_str(),
            m.raw().clone(),
        )
        .await?;
    observer.manifest_pushed(reference, &digest);
    Ok(())
}

async fn copy_blob(
    client: &Client,
    src: &Reference,
    dst: &Reference,
    desc: Descriptor,
    observer: Arc<dyn CopyObserver>,
) -> Result<(u64, BlobOutcome), CopyError> {
    let size = u64::try_from(desc.size).unwrap_or(0);
    let digest = &desc.digest;
    let dst_repo = dst.repo_only();
    let src_repo = src.repo_only();
    let done = |outcome| {
        observer.blob_done(digest, size, outcome);
        Ok((size, outcome))
    };
    if client.blob_head(&dst_repo, digest).await?.is_some() {
        return done(BlobOutcome::Skipped);
    }
    if src.registry() == dst.registry()
        && src.repository() != dst.repository()
        && client
            .blob_mount(&dst_repo, digest, src.repository())
            .await?
    {
        return done(BlobOutcome::Mounted);
    }
    observer.blob_started(digest, size);
    let progress = observer.clone();
    let progress_digest = digest.clone();
    // The source stream checks the digest at its end, so a corrupt source
    // fails the upload before the destination can commit the blob.
    let body = client.blob_get(&src_repo, digest).await?.map(move |chunk| {
        let chunk: Bytes = chunk.map_err(std::io::Error::other)?;
        progress.blob_progress(&progress_digest, chunk.len() as u64);
        Ok::<_, std::io::Error>(chunk)
    });
    client.blob_put(&dst_repo, digest, size, body).await?;
    done(BlobOutcome::Copied)
}
