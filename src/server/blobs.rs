//! `GET` / `HEAD` / `DELETE /v2/NAME/blobs/DIGEST`, with `Range` support.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::{AppState, DIGEST_HEADER, parse_digest};
use crate::storage::RepoName;
use crate::types::ErrorCode;

const READ_CHUNK: usize = 256 * 1024;

/// How long a presigned blob URL of `--redirect-blobs` stays valid: long
/// enough to start a large download, short enough that a leaked URL soon
/// stops working.
pub const REDIRECT_URL_TTL: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// A byte range asked for with `Range: bytes=...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    /// Inclusive end.
    pub end: u64,
}

/// A `Range` that no byte of the blob satisfies (answered with 416).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsatisfiable;

/// Parses a single-range `Range` header against a blob size: `bytes=N-M`,
/// `bytes=N-` and `bytes=-N`. `Err` means unsatisfiable (416); `Ok(None)`
/// means serve the whole blob (no header, or a form we do not support).
pub fn parse_range(value: &str, size: u64) -> Result<Option<ByteRange>, Unsatisfiable> {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Err(Unsatisfiable);
    };
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| Unsatisfiable)?;
        if n == 0 || size == 0 {
            return Err(Unsatisfiable);
        }
        ByteRange {
            start: size.saturating_sub(n),
            end: size - 1,
        }
    } else {
        let start: u64 = a.parse().map_err(|_| Unsatisfiable)?;
        let end = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            b.parse::<u64>()
                .map_err(|_| Unsatisfiable)?
                .min(size.saturating_sub(1))
        };
        if start >= size || end < start {
            return Err(Unsatisfiable);
        }
        ByteRange { start, end }
    };
    Ok(Some(range))
}

pub async fn get(
    state: &AppState,
    name: &str,
    digest: &str,
    headers: &HeaderMap,
    head_only: bool,
) -> Result<Response, ApiError> {
    let repo = RepoName::new(name).map_err(crate::storage::StorageError::from)?;
    let digest = parse_digest(digest)?;
    let blob = state
        .registry
        .open_blob(&repo, &digest)
        .await?
        .ok_or_else(|| ApiError::from(crate::storage::StorageError::BlobUnknown(digest.clone())))?;
    if !head_only
        && state.config.redirect_blobs
        && let Some(bucket) = &state.config.object_storage
    {
        // Checked above (linked here, present, verified); the bytes then go
        // from the bucket to the client, which sends its Range there.
        let url = bucket
            .presigned_get(&crate::storage::paths::blob_data(&digest), REDIRECT_URL_TTL)
            .await
            .map_err(crate::storage::StorageError::from)?;
        return Response::builder()
            .status(StatusCode::TEMPORARY_REDIRECT)
            .header(header::LOCATION, url.as_str())
            .header(DIGEST_HEADER, digest.to_string())
            .header(header::CACHE_CONTROL, "no-store")
            .body(Body::empty())
            .map_err(|e| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::Other("UNKNOWN".into()),
                    e.to_string(),
                )
            });
    }
    let size = blob.size;
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(v) => match parse_range(v, size) {
            Ok(r) => r,
            Err(Unsatisfiable) => return Ok(unsatisfiable(v, size)),
        },
    };
    let (status, offset, len) = match range {
        Some(r) => (StatusCode::PARTIAL_CONTENT, r.start, r.end - r.start + 1),
        None => (StatusCode::OK, 0, size),
    };
    let mut builder = Response::builder()
        .status(status)
        .header(header::CONTENT_LENGTH, len)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::ACCEPT_RANGES, "bytes")
        .header(DIGEST_HEADER, digest.to_string())
        .header(header::ETAG, format!("\"{digest}\""));
    if let Some(r) = range {
        builder = builder.header(
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{size}", r.start, r.end),
        );
    }
    let body = if head_only || len == 0 {
        Body::empty()
    } else {
        let stream = blob.stream(offset, len, READ_CHUNK).await?;
        Body::from_stream(stream)
    };
    builder.body(body).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Other("UNKNOWN".into()),
            e.to_string(),
        )
    })
}

/// 416 for a range outside the blob: RFC 9110 asks for `Content-Range:
/// bytes */SIZE` so the client learns the size. The spec's code list has no
/// range code; SIZE_INVALID (a length that does not fit the content) is the
/// closest, and the blob does exist, so BLOB_UNKNOWN would mislead.
pub(super) fn unsatisfiable(range: &str, size: u64) -> Response {
    let mut resp = ApiError::new(
        StatusCode::RANGE_NOT_SATISFIABLE,
        ErrorCode::SizeInvalid,
        format!("range {range:?} cannot be satisfied by a blob of {size} bytes"),
    )
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
        resp.headers_mut().insert(header::CONTENT_RANGE, v);
    }
    resp
}

pub async fn delete(state: &AppState, name: &str, digest: &str) -> Result<Response, ApiError> {
    let repo = RepoName::new(name).map_err(crate::storage::StorageError::from)?;
    let digest = parse_digest(digest)?;
    state.registry.unlink_blob(&repo, &digest).await?;
    let mut resp = StatusCode::ACCEPTED.into_response();
    if let Ok(v) = HeaderValue::from_str(&digest.to_string()) {
        resp.headers_mut().insert(DIGEST_HEADER, v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let r = |s, n| parse_range(s, n);
        assert_eq!(
            r("bytes=0-9", 100),
            Ok(Some(ByteRange { start: 0, end: 9 }))
        );
        assert_eq!(
            r("bytes=90-", 100),
            Ok(Some(ByteRange { start: 90, end: 99 }))
        );
        assert_eq!(
            r("bytes=-10", 100),
            Ok(Some(ByteRange { start: 90, end: 99 }))
        );
        assert_eq!(
            r("bytes=50-500", 100),
            Ok(Some(ByteRange { start: 50, end: 99 }))
        );
        assert_eq!(r("bytes=100-", 100), Err(Unsatisfiable));
        assert_eq!(r("bytes=5-2", 100), Err(Unsatisfiable));
        assert_eq!(r("bytes=x-", 100), Err(Unsatisfiable));
        assert_eq!(r("bytes=0-1,3-4", 100), Ok(None));
        assert_eq!(r("items=0-1", 100), Ok(None));
    }
}
