//! The copy engine: one path for any source and destination image store
//! (registry, OCI layout, OCI archive, docker archive; see [`crate::store`]).
//! Blobs first (skipped when present, mounted where the destination can
//! borrow them from the source, else streamed and verified, several at a
//! time), child manifests next, the top manifest last, so the destination
//! never names content it does not hold; then the destination's commit.
//! Manifest bytes are copied unchanged, so digests match.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt, stream};

use super::platform::{self, PlatformError};
use crate::store::{BlobStream, ImageDestination, ImageSource, MountOrigin, Placement, StoreError};
use crate::types::{Descriptor, Digest, Manifest, ManifestBody, Platform};

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
    Store(#[from] StoreError),
    /// A blob could not be read from the source or written to the
    /// destination; `side` says which.
    #[error("blob {digest}: {side} {location} failed")]
    Blob {
        digest: Digest,
        side: &'static str,
        location: String,
        #[source]
        source: Box<StoreError>,
    },
    /// `--platform` matched nothing (or could not be checked).
    #[error(transparent)]
    Platform(#[from] PlatformError),
    #[error("{location}: {reason}")]
    Unsupported { location: String, reason: String },
}

impl CopyError {
    /// The registry client's error behind this one, if any (for exit codes).
    pub fn client_error(&self) -> Option<&crate::client::ClientError> {
        match self {
            CopyError::Store(e) => e.client_error(),
            CopyError::Blob { source, .. } => source.client_error(),
            CopyError::Platform(e) => e.client_error(),
            _ => None,
        }
    }
}

/// Copies the image `src_name` names in `src` (for a registry source
/// `None` is the image its reference names; for a local store, its only
/// image) into `dst` under `dst_name` (a tag or RepoTag; `None`: by digest
/// alone), then commits `dst`. On error `dst` is dropped uncommitted,
/// which leaves nothing half-written in local stores.
pub async fn copy_image(
    src: &dyn ImageSource,
    src_name: Option<&str>,
    dst: Box<dyn ImageDestination>,
    dst_name: Option<&str>,
    options: &CopyOptions,
    observer: Arc<dyn CopyObserver>,
) -> Result<CopySummary, CopyError> {
    let started = Instant::now();
    let top = src.resolve(src_name).await?;
    let mut summary = copy_tree(src, top, &*dst, dst_name, options, &observer).await?;
    dst.commit().await?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Copies every tag of `src` to the same tag in `dst`, one after the
/// other (blobs shared between tags are transferred once and then
/// skipped), then commits `dst`.
pub async fn copy_all_tags(
    src: &dyn ImageSource,
    dst: Box<dyn ImageDestination>,
    options: &CopyOptions,
    observer: Arc<dyn CopyObserver>,
) -> Result<Vec<(String, CopySummary)>, CopyError> {
    let tags = src.tags().await?;
    let mut done = Vec::with_capacity(tags.len());
    for tag in tags {
        let started = Instant::now();
        let top = src.resolve(Some(&tag)).await?;
        let mut summary = copy_tree(src, top, &*dst, Some(&tag), options, &observer).await?;
        summary.elapsed = started.elapsed();
        done.push((tag, summary));
    }
    dst.commit().await?;
    Ok(done)
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

/// Copies `top` (and, with `--referrers`, what refers to it) without
/// committing.
async fn copy_tree(
    src: &dyn ImageSource,
    mut top: Manifest,
    dst: &dyn ImageDestination,
    dst_name: Option<&str>,
    options: &CopyOptions,
    observer: &Arc<dyn CopyObserver>,
) -> Result<CopySummary, CopyError> {
    let mut summary = CopySummary::default();
    if options.referrers && src.referrers().is_none() {
        return Err(CopyError::Unsupported {
            location: src.location(),
            reason: "this store cannot list referrers (--referrers needs a registry source)"
                .to_owned(),
        });
    }
    if let Some(wanted) = &options.platform {
        // A single image is checked too: copying linux/amd64 when
        // linux/arm64 was asked for is an error, not a silent success.
        top = platform::select(src, top, wanted).await?;
    }
    if top.media_type().is_index() && !dst.accepts_index() {
        return Err(CopyError::Unsupported {
            location: dst.location(),
            reason: format!(
                "it holds single images and {} is a multi-platform index; choose one with --platform ({})",
                src.location(),
                platforms(&top)
            ),
        });
    }
    let mut images = Vec::new();
    if top.media_type().is_index() {
        for child in top.children() {
            let image = src.manifest(&child.digest).await?;
            if !image.media_type().is_image_manifest() {
                return Err(CopyError::Unsupported {
                    location: src.location(),
                    reason: format!(
                        "child {} is a {}; nested indexes are not copied yet",
                        child.digest,
                        image.media_type()
                    ),
                });
            }
            images.push(image);
        }
    } else {
        images.push(top.clone());
    }
    if images.iter().any(|m| m.media_type().is_schema1()) {
        return Err(CopyError::Unsupported {
            location: src.location(),
            reason:
                "Docker schema1 manifests are signed for their original name and cannot be copied"
                    .to_owned(),
        });
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
    let origin = src.mount_origin();
    let outcomes: Vec<(u64, BlobOutcome)> = stream::iter(blobs)
        .map(|desc| copy_blob(src, dst, origin.as_ref(), desc, observer.clone()))
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
            dst.put_manifest(image, Placement::Child).await?;
            observer.manifest_pushed(&image.digest().to_string(), image.digest());
            summary.manifests += 1;
        }
    }
    dst.put_manifest(&top, Placement::Top { name: dst_name })
        .await?;
    let top_name = dst_name.map_or_else(|| top.digest().to_string(), str::to_owned);
    observer.manifest_pushed(&top_name, top.digest());
    summary.manifests += 1;
    summary.digest = top.digest().to_string();

    if let Some(lister) = src.referrers().filter(|_| options.referrers) {
        // Referrers name their subject by digest, so they can only be
        // stored once it exists; content addressing rules out cycles.
        let mut subjects = vec![top.digest().clone()];
        if top.media_type().is_index() {
            subjects.extend(images.iter().map(|m| m.digest().clone()));
        }
        for subject in subjects {
            for referrer in lister.referrers(&subject).await? {
                let manifest = match src.manifest(&referrer.digest).await {
                    Ok(m) => m,
                    // A referrers tag index may name an artifact deleted
                    // since (the scheme is not updated on delete).
                    Err(e) if e.client_error().is_some_and(|c| c.is_not_found()) => continue,
                    Err(e) => return Err(e.into()),
                };
                let nested =
                    Box::pin(copy_tree(src, manifest, dst, None, options, observer)).await?;
                summary.absorb(&nested);
            }
        }
    }
    Ok(summary)
}

fn image_blobs(m: &Manifest) -> Vec<Descriptor> {
    match m.body() {
        ManifestBody::Image(i) => std::iter::once(i.config.clone())
            .chain(i.layers.iter().cloned())
            // Foreign layers live elsewhere; stores do not hold them.
            .filter(|d| d.urls.as_ref().is_none_or(Vec::is_empty))
            .collect(),
        _ => Vec::new(),
    }
}

fn platforms(index: &Manifest) -> String {
    let list = platform::index_platforms(index);
    if list.is_empty() {
        "no platforms".to_owned()
    } else {
        list.join(", ")
    }
}

async fn copy_blob(
    src: &dyn ImageSource,
    dst: &dyn ImageDestination,
    origin: Option<&MountOrigin>,
    desc: Descriptor,
    observer: Arc<dyn CopyObserver>,
) -> Result<(u64, BlobOutcome), CopyError> {
    let size = u64::try_from(desc.size).unwrap_or(0);
    let digest = &desc.digest;
    let at_dst = |source| CopyError::Blob {
        digest: digest.clone(),
        side: "writing to",
        location: dst.location(),
        source: Box::new(source),
    };
    let at_src = |source| CopyError::Blob {
        digest: digest.clone(),
        side: "reading from",
        location: src.location(),
        source: Box::new(source),
    };
    let done = |outcome| {
        observer.blob_done(digest, size, outcome);
        Ok((size, outcome))
    };
    if dst.has_blob(&desc).await.map_err(at_dst)? {
        return done(BlobOutcome::Skipped);
    }
    if let (Some(mount), Some(origin)) = (dst.blob_mount(), origin)
        && mount.mount(&desc, origin).await.map_err(at_dst)?
    {
        return done(BlobOutcome::Mounted);
    }
    observer.blob_started(digest, size);
    // The source stream is verified and fails at its end on a mismatch,
    // which fails the write before the destination can keep the blob. Its
    // error is kept aside: through the destination it may arrive only as
    // "the body failed".
    let source_error: Arc<Mutex<Option<StoreError>>> = Arc::default();
    let stash = source_error.clone();
    let progress = observer.clone();
    let progress_digest = digest.clone();
    let body: BlobStream =
        Box::pin(
            src.blob(&desc)
                .await
                .map_err(at_src)?
                .map(move |chunk| match chunk {
                    Ok(chunk) => {
                        progress.blob_progress(&progress_digest, chunk.len() as u64);
                        Ok(chunk)
                    }
                    Err(e) => {
                        let message = e.to_string();
                        *stash.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                        Err(StoreError::Backend(message.into()))
                    }
                }),
        );
    let written = dst.put_blob(&desc, body).await;
    let stashed = source_error
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    match (written, stashed) {
        (_, Some(e)) => Err(at_src(e)),
        (Err(e), None) => Err(at_dst(e)),
        (Ok(()), None) => done(BlobOutcome::Copied),
    }
}
