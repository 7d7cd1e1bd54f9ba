//! Blob uploads: `POST` (session, monolithic, cross-repository mount),
//! `PATCH` (chunks), `PUT` (finish), `GET` (status), `DELETE` (cancel).

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use super::error::ApiError;
use super::{AppState, DIGEST_HEADER, body_stream, parse_digest, query_param};
use crate::storage::{RepoName, StorageError, UploadId};
use crate::types::{Digest, ErrorCode};

fn repo_name(name: &str) -> Result<RepoName, ApiError> {
    Ok(RepoName::new(name).map_err(StorageError::from)?)
}

fn upload_id(id: &str) -> Result<UploadId, ApiError> {
    UploadId::parse(id).ok_or_else(|| StorageError::UploadUnknown.into())
}

fn build(b: axum::http::response::Builder) -> Result<Response, ApiError> {
    b.body(Body::empty()).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Other("UNKNOWN".into()),
            e.to_string(),
        )
    })
}

/// 201 for a blob now in the repository.
fn created(repo: &RepoName, digest: &Digest) -> Result<Response, ApiError> {
    build(
        Response::builder()
            .status(StatusCode::CREATED)
            .header(header::LOCATION, format!("/v2/{repo}/blobs/{digest}"))
            .header(DIGEST_HEADER, digest.to_string())
            .header(header::CONTENT_LENGTH, 0),
    )
}

/// 202/204 describing an upload in progress. The `Range` end is inclusive
/// and, as in registry:2, `0-0` for an empty upload.
fn progress(
    status: StatusCode,
    repo: &RepoName,
    id: &UploadId,
    size: u64,
) -> Result<Response, ApiError> {
    build(
        Response::builder()
            .status(status)
            .header(header::LOCATION, format!("/v2/{repo}/blobs/uploads/{id}"))
            .header(header::RANGE, format!("0-{}", size.saturating_sub(1)))
            .header("Docker-Upload-UUID", id.to_string())
            .header(header::CONTENT_LENGTH, 0),
    )
}

pub async fn start(
    state: &AppState,
    name: &str,
    query: Option<&str>,
    body: Body,
) -> Result<Response, ApiError> {
    let repo = repo_name(name)?;
    if let Some(mount) = query_param(query, "mount") {
        let digest = parse_digest(&mount)?;
        if let Some(from) = query_param(query, "from")
            && let Ok(from) = RepoName::new(&from)
            && state.registry.mount_blob(&repo, &from, &digest).await?
        {
            return created(&repo, &digest);
        }
        // Spec: when the mount cannot be done, fall back to a session.
    } else if let Some(digest) = query_param(query, "digest") {
        let digest = parse_digest(&digest)?;
        state
            .registry
            .put_blob(&repo, &digest, body_stream(body, None))
            .await?;
        return created(&repo, &digest);
    }
    let id = state.registry.start_upload(&repo).await?;
    progress(StatusCode::ACCEPTED, &repo, &id, 0)
}

/// A `Content-Range` as clients send it on PATCH: `START-END` (inclusive),
/// optionally written `bytes START-END/TOTAL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    pub start: u64,
    /// Inclusive end; always below `u64::MAX`, so `end + 1` cannot overflow.
    pub end: u64,
}

impl ContentRange {
    /// How many bytes the range covers (at least 1).
    pub fn byte_count(&self) -> u64 {
        self.end - self.start + 1
    }
}

/// Decimal digits only: `u64::from_str` would also take a leading `+`.
fn digits(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses a PATCH `Content-Range` value; `None` when it is malformed, its
/// end is before its start, or it ends at `u64::MAX` (no upload can be
/// that large, and its length would not fit in a `u64`).
pub fn parse_content_range(value: &str) -> Option<ContentRange> {
    let s = value.trim();
    let s = s.strip_prefix("bytes ").unwrap_or(s);
    let (a, b) = s.split_once('-')?;
    let b = b.split('/').next().unwrap_or(b);
    let start = digits(a)?;
    let end = digits(b)?;
    (start <= end && end < u64::MAX).then_some(ContentRange { start, end })
}

fn content_range_start(headers: &HeaderMap) -> Result<Option<ContentRange>, ApiError> {
    let Some(v) = headers.get(header::CONTENT_RANGE) else {
        return Ok(None);
    };
    let invalid = || {
        ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            ErrorCode::BlobUploadInvalid,
            "Content-Range must be START-END in bytes",
        )
    };
    let s = v.to_str().map_err(|_| invalid())?;
    parse_content_range(s).map(Some).ok_or_else(invalid)
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

pub async fn patch(
    state: &AppState,
    name: &str,
    id: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let repo = repo_name(name)?;
    let id = upload_id(id)?;
    let range = content_range_start(headers)?;
    if let (Some(r), Some(len)) = (range, content_length(headers))
        && r.byte_count() != len
    {
        // The range is well-formed but the body's length disagrees with it:
        // SIZE_INVALID, as distribution answers (416 is for ranges that do
        // not continue the upload).
        return Err(StorageError::SizeMismatch {
            expected: r.byte_count(),
            actual: len,
        }
        .into());
    }
    // With a range, the chunk must be exactly that long; one that is not is
    // refused whole (the upload keeps its size).
    let expected = range.map(|r| r.byte_count());
    let size = state
        .registry
        .append_upload(
            &repo,
            &id,
            range.map(|r| r.start),
            body_stream(body, expected),
        )
        .await?;
    progress(StatusCode::ACCEPTED, &repo, &id, size)
}

pub async fn finish(
    state: &AppState,
    name: &str,
    id: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let repo = repo_name(name)?;
    let id = upload_id(id)?;
    let Some(digest) = query_param(query, "digest") else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::DigestInvalid,
            "the digest query parameter is required to finish an upload",
        ));
    };
    let digest = parse_digest(&digest)?;
    let has_body = content_length(headers).is_some_and(|n| n > 0)
        || headers.contains_key(header::TRANSFER_ENCODING);
    if has_body {
        let offset = content_range_start(headers)?.map(|r| r.start);
        if let Some(offset) = offset {
            let size = state.registry.upload_size(&repo, &id).await?;
            if offset != size {
                return Err(StorageError::UploadOffset {
                    expected: size,
                    got: offset,
                }
                .into());
            }
        }
    }
    let expected = content_range_start(headers)?.map(|r| r.byte_count());
    let last = has_body.then(|| body_stream(body, expected));
    state
        .registry
        .finish_upload(&repo, &id, &digest, last)
        .await?;
    created(&repo, &digest)
}

pub async fn status(state: &AppState, name: &str, id: &str) -> Result<Response, ApiError> {
    let repo = repo_name(name)?;
    let id = upload_id(id)?;
    let size = state.registry.upload_size(&repo, &id).await?;
    progress(StatusCode::NO_CONTENT, &repo, &id, size)
}

pub async fn cancel(state: &AppState, name: &str, id: &str) -> Result<Response, ApiError> {
    let repo = repo_name(name)?;
    let id = upload_id(id)?;
    state.registry.cancel_upload(&repo, &id).await?;
    build(Response::builder().status(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges() {
        let r = |start, end| Some(ContentRange { start, end });
        assert_eq!(parse_content_range("0-9"), r(0, 9));
        assert_eq!(parse_content_range(" bytes 10-19/100 "), r(10, 19));
        assert_eq!(parse_content_range("bytes 10-19/*"), r(10, 19));
        assert_eq!(parse_content_range("5-5").map(|c| c.byte_count()), Some(1));
        for bad in [
            "",
            "-",
            "5",
            "9-5",
            "a-b",
            "+1-2",
            "1-+2",
            "1--2",
            "bytes=0-1",
        ] {
            assert_eq!(parse_content_range(bad), None, "{bad:?}");
        }
    }

    /// Found while writing the content_range fuzz target: a range ending at
    /// `u64::MAX` made `end - start + 1` and `end + 1` overflow in PATCH
    /// (a panic in debug builds, a wrong length check in release builds).
    #[test]
    fn content_range_at_u64_max_is_refused() {
        assert_eq!(parse_content_range("0-18446744073709551615"), None);
        assert_eq!(parse_content_range("5-18446744073709551615/*"), None);
        let r = parse_content_range("0-18446744073709551614").unwrap();
        assert_eq!(r.byte_count(), u64::MAX);
    }
}
