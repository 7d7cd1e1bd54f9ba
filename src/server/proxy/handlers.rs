//! `GET`/`HEAD` of manifests and blobs under a cached name: fill the cache
//! from the upstream when needed, then answer as for any stored content.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::transfer::UpstreamFailure;
use super::upstream::UpstreamError;
use super::{Proxy, Target};
use crate::server::blobs::{self as local_blobs, Unsatisfiable, parse_range};
use crate::server::{AppState, DIGEST_HEADER, manifests as local_manifests, parse_digest};
use crate::storage::{ManifestRef, RepoName, StorageError, TagName};
use crate::types::{Digest, ErrorCode, ParseError};

type Answer = Result<Response, Response>;

fn refused(e: impl Into<crate::server::ApiError>) -> Response {
    e.into().into_response()
}

fn storage(e: StorageError) -> Response {
    refused(e)
}

/// The answer for an upstream that could not help, with `Retry-After`
/// when it is rate-limiting.
fn upstream_failed(e: &UpstreamError, unknown: ErrorCode) -> Response {
    let mut resp = e.to_api(unknown).into_response();
    if let Some(wait) = e.retry_after() {
        resp.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(wait.as_secs().max(1)),
        );
    }
    resp
}

/// `GET`/`HEAD /v2/NAME/manifests/REFERENCE` under a cached name.
pub async fn manifest(
    state: &Arc<AppState>,
    proxy: &Proxy,
    name: &str,
    reference: &str,
    head: bool,
) -> Response {
    manifest_answer(state, proxy, name, reference, head)
        .await
        .unwrap_or_else(|r| r)
}

async fn manifest_answer(
    state: &Arc<AppState>,
    proxy: &Proxy,
    name: &str,
    reference: &str,
    head: bool,
) -> Answer {
    let Some(target) = proxy.target(name) else {
        return local_manifests::get(state, name, reference, head)
            .await
            .map_err(refused);
    };
    let repo = RepoName::new(name)
        .map_err(StorageError::from)
        .map_err(storage)?;
    let parsed = match ManifestRef::parse(reference) {
        Err(StorageError::Name(ParseError::TagInvalid { .. })) => {
            return Err(storage(StorageError::ManifestUnknown(reference.to_owned())));
        }
        other => other.map_err(storage)?,
    };
    match &parsed {
        ManifestRef::Digest(d) => proxy.ensure_manifest(state, &target, &repo, d).await?,
        ManifestRef::Tag(t) => proxy.refresh_tag(state, &target, &repo, t).await?,
    }
    let resp = local_manifests::get(state, name, reference, head)
        .await
        .map_err(refused)?;
    if let Some(d) = resp
        .headers()
        .get(DIGEST_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<Digest>().ok())
    {
        proxy.pulls.record(&repo, d);
    }
    Ok(resp)
}

impl Proxy {
    /// A manifest by digest: from the cache, else fetched once (verified
    /// against the digest) and stored.
    async fn ensure_manifest(
        &self,
        state: &AppState,
        target: &Target<'_>,
        repo: &RepoName,
        digest: &Digest,
    ) -> Result<(), Response> {
        let registry = &state.registry;
        if registry
            .resolve_digest(repo, digest)
            .await
            .map_err(storage)?
            .is_some()
        {
            return Ok(());
        }
        let gate = self.key_lock(&format!("{repo}@{digest}"));
        let _held = gate.lock().await;
        if registry
            .resolve_digest(repo, digest)
            .await
            .map_err(storage)?
            .is_some()
        {
            return Ok(());
        }
        let m = self
            .fetch_manifest(target, None, Some(digest))
            .await
            .map_err(|e| upstream_failed(&e, ErrorCode::ManifestUnknown))?;
        registry
            .put_cached_manifest(
                repo,
                digest,
                m.raw().clone(),
                Some(m.media_type().as_str()),
                None,
            )
            .await
            .map_err(storage)
    }

    /// A tag: checked upstream with one `HEAD` at most once per TTL (one
    /// check at a time per tag), moved when the upstream moved it, and
    /// served from the cache when the upstream fails (stale-if-error).
    async fn refresh_tag(
        &self,
        state: &AppState,
        target: &Target<'_>,
        repo: &RepoName,
        tag: &TagName,
    ) -> Result<(), Response> {
        let registry = &state.registry;
        let key = format!("{repo}:{tag}");
        let by_tag = ManifestRef::Tag(tag.clone());
        if self.fresh(&key)
            && registry
                .resolve(repo, &by_tag)
                .await
                .map_err(storage)?
                .is_some()
        {
            return Ok(());
        }
        let gate = self.key_lock(&key);
        let _held = gate.lock().await;
        let local = registry.resolve(repo, &by_tag).await.map_err(storage)?;
        if local.is_some() && self.fresh(&key) {
            return Ok(());
        }
        let refreshed = self
            .follow_tag(state, target, repo, tag, local.as_ref())
            .await;
        match (refreshed, local) {
            (Ok(()), _) => {
                self.mark_checked(&key);
                Ok(())
            }
            (Err(Refresh::Upstream(e)), Some(cached))
                if !matches!(e, UpstreamError::NotFound { .. }) =>
            {
                tracing::warn!(target: "regctl::proxy", repository = %repo, %tag, digest = %cached, error = %e, "upstream check failed; serving the cached tag");
                // Not asked again before the TTL: a failing upstream is not
                // hammered by every pull.
                self.mark_checked(&key);
                Ok(())
            }
            (Err(Refresh::Upstream(e)), _) => {
                if !matches!(e, UpstreamError::NotFound { .. }) {
                    tracing::warn!(target: "regctl::proxy", repository = %repo, %tag, error = %e, "upstream check failed and the tag is not cached");
                }
                Err(upstream_failed(&e, ErrorCode::ManifestUnknown))
            }
            (Err(Refresh::Local(resp)), _) => Err(resp),
        }
    }

    async fn follow_tag(
        &self,
        state: &AppState,
        target: &Target<'_>,
        repo: &RepoName,
        tag: &TagName,
        local: Option<&Digest>,
    ) -> Result<(), Refresh> {
        let registry = &state.registry;
        let head = self
            .head_tag(target, tag.as_str())
            .await
            .map_err(Refresh::Upstream)?;
        let (digest, fetched) = match head.digest {
            Some(d) if local == Some(&d) => return Ok(()),
            Some(d) => {
                let known = registry
                    .get_manifest(repo, &ManifestRef::Digest(d.clone()))
                    .await
                    .ok();
                match known {
                    Some(m) => (d, (m.bytes, m.media_type.as_str().to_owned())),
                    None => {
                        let m = self
                            .fetch_manifest(target, None, Some(&d))
                            .await
                            .map_err(Refresh::Upstream)?;
                        (d, (m.raw().clone(), m.media_type().as_str().to_owned()))
                    }
                }
            }
            // No digest in the answer: the manifest itself, by tag.
            None => {
                let m = self
                    .fetch_manifest(target, Some(tag.as_str()), None)
                    .await
                    .map_err(Refresh::Upstream)?;
                (
                    m.digest().clone(),
                    (m.raw().clone(), m.media_type().as_str().to_owned()),
                )
            }
        };
        if let Some(old) = local {
            tracing::info!(target: "regctl::proxy", repository = %repo, %tag, from = %old, to = %digest, "tag moved upstream");
        }
        registry
            .put_cached_manifest(repo, &digest, fetched.0, Some(&fetched.1), Some(tag))
            .await
            .map_err(|e| Refresh::Local(storage(e)))
    }
}

enum Refresh {
    Upstream(UpstreamError),
    Local(Response),
}

/// `GET`/`HEAD /v2/NAME/blobs/DIGEST` under a cached name.
pub async fn blob(
    state: &Arc<AppState>,
    proxy: &Arc<Proxy>,
    name: &str,
    digest: &str,
    headers: &HeaderMap,
    head: bool,
) -> Response {
    blob_answer(state, proxy, name, digest, headers, head)
        .await
        .unwrap_or_else(|r| r)
}

async fn blob_answer(
    state: &Arc<AppState>,
    proxy: &Arc<Proxy>,
    name: &str,
    digest_s: &str,
    headers: &HeaderMap,
    head: bool,
) -> Answer {
    let local = || local_blobs::get(state, name, digest_s, headers, head);
    let Some(target) = proxy.target(name) else {
        return local().await.map_err(refused);
    };
    let repo = RepoName::new(name)
        .map_err(StorageError::from)
        .map_err(storage)?;
    let digest = parse_digest(digest_s).map_err(refused)?;
    let registry = &state.registry;
    if registry
        .open_blob(&repo, &digest)
        .await
        .map_err(storage)?
        .is_some()
    {
        return local().await.map_err(refused);
    }
    // Stored already (cached through another name, or pushed): linked
    // here once the upstream confirms this name has it, so a name's access
    // rules and the upstream's are never bypassed by knowing a digest.
    if registry
        .sound_blob_size(&digest)
        .await
        .map_err(storage)?
        .is_some()
    {
        match proxy.blob_size(&target, &digest).await {
            Ok(Some(_)) => {
                registry.link_blob(&repo, &digest).await.map_err(storage)?;
                return local().await.map_err(refused);
            }
            Ok(None) => return Err(storage(StorageError::BlobUnknown(digest))),
            Err(e) => return Err(upstream_failed(&e, ErrorCode::BlobUnknown)),
        }
    }
    let failed = |e: Arc<UpstreamFailure>| match &*e {
        UpstreamFailure::Upstream(u) => upstream_failed(u, ErrorCode::BlobUnknown),
        UpstreamFailure::Body(reason) => refused(crate::server::ApiError::new(
            StatusCode::BAD_GATEWAY,
            ErrorCode::Other("UNAVAILABLE".into()),
            format!("pull-through cache: the upstream download failed: {reason}"),
        )),
    };
    if head {
        let size = match proxy.transfers.get(&repo, &digest) {
            Some(t) => t.size().await.map_err(failed)?,
            None => proxy
                .blob_size(&target, &digest)
                .await
                .map_err(|e| upstream_failed(&e, ErrorCode::BlobUnknown))?,
        };
        let Some(size) = size else {
            return Err(storage(StorageError::BlobUnknown(digest)));
        };
        return Ok(blob_response(
            StatusCode::OK,
            &digest,
            Some(size),
            None,
            Body::empty(),
        ));
    }
    let transfer = proxy.transfer(state, &repo, &digest);
    let size = transfer.size().await.map_err(failed)?;
    let range = match (
        size,
        headers.get(header::RANGE).and_then(|v| v.to_str().ok()),
    ) {
        (Some(size), Some(v)) => match parse_range(v, size) {
            Ok(r) => r.map(|r| (r, size)),
            Err(Unsatisfiable) => return Ok(local_blobs::unsatisfiable(v, size)),
        },
        _ => None,
    };
    let (status, offset, len) = match range {
        Some((r, _)) => (
            StatusCode::PARTIAL_CONTENT,
            r.start,
            Some(r.end - r.start + 1),
        ),
        None => (StatusCode::OK, 0, size),
    };
    let body = Body::from_stream(transfer.read(state.clone(), digest.clone(), offset, len));
    Ok(blob_response(status, &digest, len, range, body))
}

fn blob_response(
    status: StatusCode,
    digest: &Digest,
    len: Option<u64>,
    range: Option<(local_blobs::ByteRange, u64)>,
    body: Body,
) -> Response {
    let mut builder = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::ACCEPT_RANGES, "bytes")
        .header(DIGEST_HEADER, digest.to_string())
        .header(header::ETAG, format!("\"{digest}\""));
    if let Some(len) = len {
        builder = builder.header(header::CONTENT_LENGTH, len);
    }
    if let Some((r, size)) = range {
        builder = builder.header(
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{size}", r.start, r.end),
        );
    }
    builder.body(body).unwrap_or_else(|e| {
        refused(crate::server::ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Other("UNKNOWN".into()),
            e.to_string(),
        ))
    })
}
