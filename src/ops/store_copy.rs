//! Copying an image between any two image stores (see [`crate::store`]):
//! the same plan as the registry copy — blobs first (skipped when present,
//! several at a time, streamed and verified), child manifests next, the top
//! manifest last, then the destination's commit — but against the store
//! traits, so one path serves every pair of kinds.

use std::sync::Arc;
use std::time::Instant;

use futures_util::{StreamExt, TryStreamExt, stream};

use super::copy::{BlobOutcome, CopyObserver, CopyOptions, CopySummary};
use crate::store::{BlobStream, ImageDestination, ImageSource, Placement, StoreError};
use crate::types::{Descriptor, Manifest, ManifestBody, Platform};

#[derive(Debug, thiserror::Error)]
pub enum StoreCopyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{location} is an index with no manifest for platform {platform}; it has: {available}")]
    PlatformNotFound {
        location: String,
        platform: String,
        available: String,
    },
    #[error("{location}: {reason}")]
    Unsupported { location: String, reason: String },
}

/// Copies the image `src_name` names in `src` (its only image when `None`)
/// into `dst` under `dst_name`, then commits `dst`. On error `dst` is
/// dropped uncommitted, which leaves nothing half-written.
pub async fn copy_between_stores(
    src: &dyn ImageSource,
    src_name: Option<&str>,
    dst: Box<dyn ImageDestination>,
    dst_name: Option<&str>,
    options: &CopyOptions,
    observer: Arc<dyn CopyObserver>,
) -> Result<CopySummary, StoreCopyError> {
    let started = Instant::now();
    let mut summary = CopySummary::default();
    let mut top = src.resolve(src_name).await?;
    if top.media_type().is_index() {
        match &options.platform {
            Some(wanted) => {
                let child = pick_platform(&top, wanted).ok_or_else(|| {
                    StoreCopyError::PlatformNotFound {
                        location: src.location(),
                        platform: wanted.to_string(),
                        available: platforms(&top),
                    }
                })?;
                top = src.manifest(&child.digest).await?;
            }
            None if !dst.accepts_index() => {
                return Err(StoreCopyError::Unsupported {
                    location: dst.location(),
                    reason: format!(
                        "it holds single images and {} is a multi-platform index; choose one with --platform ({})",
                        src.location(),
                        platforms(&top)
                    ),
                });
            }
            None => {}
        }
    }
    let mut images = Vec::new();
    if top.media_type().is_index() {
        for child in top.children() {
            let image = src.manifest(&child.digest).await?;
            if !image.media_type().is_image_manifest() {
                return Err(StoreCopyError::Unsupported {
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
    } else if top.media_type().is_schema1() {
        return Err(StoreCopyError::Unsupported {
            location: src.location(),
            reason:
                "Docker schema1 manifests are signed for their original name and cannot be copied"
                    .to_owned(),
        });
    } else {
        images.push(top.clone());
    }

    let mut blobs: Vec<Descriptor> = Vec::new();
    for image in &images {
        for d in image_blobs(image) {
            if !blobs.iter().any(|b| b.digest == d.digest) {
                blobs.push(d);
            }
        }
    }
    let dst_ref: &dyn ImageDestination = &*dst;
    let outcomes: Vec<(u64, BlobOutcome)> = stream::iter(blobs)
        .map(|desc| copy_blob(src, dst_ref, desc, observer.clone()))
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
    observer.manifest_pushed(dst_name.unwrap_or("(untagged)"), top.digest());
    summary.manifests += 1;
    dst.commit().await?;
    summary.digest = top.digest().to_string();
    summary.elapsed = started.elapsed();
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

async fn copy_blob(
    src: &dyn ImageSource,
    dst: &dyn ImageDestination,
    desc: Descriptor,
    observer: Arc<dyn CopyObserver>,
) -> Result<(u64, BlobOutcome), StoreCopyError> {
    let size = u64::try_from(desc.size).unwrap_or(0);
    if dst.has_blob(&desc).await? {
        observer.blob_done(&desc.digest, size, BlobOutcome::Skipped);
        return Ok((size, BlobOutcome::Skipped));
    }
    observer.blob_started(&desc.digest, size);
    let progress = observer.clone();
    let digest = desc.digest.clone();
    let body: BlobStream = Box::pin(src.blob(&desc).await?.inspect_ok(move |chunk| {
        progress.blob_progress(&digest, chunk.len() as u64);
    }));
    dst.put_blob(&desc, body).await?;
    observer.blob_done(&desc.digest, size, BlobOutcome::Copied);
    Ok((size, BlobOutcome::Copied))
}
