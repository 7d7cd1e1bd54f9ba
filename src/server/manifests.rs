//! `GET` / `HEAD` / `PUT` / `DELETE /v2/NAME/manifests/REFERENCE`.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;

use super::error::ApiError;
use super::{AppState, DIGEST_HEADER};
use crate::storage::{ManifestRef, RepoName, StorageError};
use crate::types::ErrorCode;
use crate::types::manifest::MAX_MANIFEST_SIZE;

fn parts(name: &str, reference: &str) -> Result<(RepoName, ManifestRef), ApiError> {
    let repo = RepoName::new(name).map_err(StorageError::from)?;
    Ok((repo, ManifestRef::parse(reference)?))
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::Other("UNKNOWN".into()),
        e.to_string(),
    )
}

pub async fn get(
    state: &AppState,
    name: &str,
    reference: &str,
    head_only: bool,
) -> Result<Response, ApiError> {
    let repo = RepoName::new(name).map_err(StorageError::from)?;
    // A tag that breaks the grammar names no manifest: 404 MANIFEST_UNKNOWN,
    // as registry:2 answers and the OCI conformance suite expects (a PUT of
    // such a tag is still 400 TAG_INVALID).
    let reference = match ManifestRef::parse(reference) {
        Err(StorageError::Name(crate::types::ParseError::TagInvalid { .. })) => {
            return Err(StorageError::ManifestUnknown(reference.to_owned()).into());
        }
        other => other?,
    };
    let m = state.registry.get_manifest(&repo, &reference).await?;
    let builder = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, m.media_type.as_str())
        .header(header::CONTENT_LENGTH, m.bytes.len())
        .header(DIGEST_HEADER, m.digest.to_string())
        .header(header::ETAG, format!("\"{}\"", m.digest));
    let body = if head_only {
        Body::empty()
    } else {
        Body::from(m.bytes)
    };
    builder.body(body).map_err(internal)
}

/// Manifest bodies above this size (or of unknown size) are read and
/// checked at most [`LARGE_MANIFEST_PERMITS`] at a time: each holds its
/// bytes (up to 4 MiB) and its digest list while its blobs are checked, and
/// 40 at once peaked at 645 MiB.
pub const LARGE_MANIFEST: u64 = 256 * 1024;

/// How many large manifest PUTs are handled at once; more wait their turn.
pub const LARGE_MANIFEST_PERMITS: usize = 2;

pub async fn put(
    state: &AppState,
    name: &str,
    reference: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (repo, reference) = parts(name, reference)?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let _large = match declared {
        Some(n) if n <= LARGE_MANIFEST => None,
        _ => Some(state.large_manifests.acquire().await.map_err(internal)?),
    };
    let bytes = match read_manifest_body(headers, body).await {
        Ok(b) => b,
        Err(resp) => return Ok(*resp),
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let stored = state
        .registry
        .put_manifest(&repo, &reference, bytes, content_type)
        .await?;
    let digest = &stored.digest;
    let mut builder = Response::builder()
        .status(StatusCode::CREATED)
        .header(header::LOCATION, format!("/v2/{repo}/manifests/{digest}"))
        .header(DIGEST_HEADER, digest.to_string())
        .header(header::CONTENT_LENGTH, 0);
    if let Some(subject) = &stored.subject {
        builder = builder.header("OCI-Subject", subject.to_string());
    }
    builder.body(Body::empty()).map_err(internal)
}

/// How many bytes of an oversize manifest are read and dropped before the
/// 413 is sent. A client that does not wait for `100 Continue` is still
/// sending when the server decides; closing on it makes its next write fail
/// (a broken pipe or reset) instead of showing the error. Beyond this the
/// server stops reading and closes: draining without end would let anyone
/// keep a connection busy for free.
pub const MANIFEST_DRAIN_LIMIT: u64 = 2 * MAX_MANIFEST_SIZE as u64;

/// The manifest body, at most [`MAX_MANIFEST_SIZE`] bytes held in memory,
/// or the response to send: 413 for an oversize body (the spec's "SHOULD";
/// the code is MANIFEST_INVALID as in registry:2, since the spec's list has
/// no code for a size limit and SIZE_INVALID means a length that disagrees
/// with the content).
async fn read_manifest_body(headers: &HeaderMap, mut body: Body) -> Result<Bytes, Box<Response>> {
    let too_large = |close: bool| {
        let mut resp = ApiError::from(StorageError::ManifestTooLarge {
            limit: MAX_MANIFEST_SIZE,
        })
        .into_response();
        if close {
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        Box::new(resp)
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let expects_continue = headers
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    if let Some(n) = declared.filter(|&n| n > MAX_MANIFEST_SIZE as u64) {
        // Not polling the body means hyper never sends `100 Continue`, so
        // a client that asked for it sends nothing more.
        if expects_continue {
            return Err(too_large(false));
        }
        if n > MANIFEST_DRAIN_LIMIT {
            return Err(too_large(true));
        }
    }
    // Sized once from the declared length: growing by doubling would copy
    // the body several times and leave twice its size allocated.
    let mut buf =
        BytesMut::with_capacity(declared.map_or(0, |n| n.min(MAX_MANIFEST_SIZE as u64)) as usize);
    let mut total: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            Box::new(
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::ManifestInvalid,
                    format!("could not read the manifest body: {e}"),
                )
                .into_response(),
            )
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total += data.len() as u64;
        if total > MANIFEST_DRAIN_LIMIT {
            return Err(too_large(true));
        }
        if total <= MAX_MANIFEST_SIZE as u64 {
            buf.extend_from_slice(&data);
        } else if !buf.is_empty() {
            // Too large: keep reading to drain, but hold nothing.
            buf = BytesMut::new();
        }
    }
    if total > MAX_MANIFEST_SIZE as u64 {
        return Err(too_large(false));
    }
    Ok(buf.freeze())
}

pub async fn delete(state: &AppState, name: &str, reference: &str) -> Result<Response, ApiError> {
    let (repo, reference) = parts(name, reference)?;
    match reference {
        ManifestRef::Digest(d) => {
            state.registry.delete_manifest(&repo, &d).await?;
        }
        ManifestRef::Tag(t) => state.registry.delete_tag(&repo, &t).await?,
    }
    Response::builder()
        .status(StatusCode::ACCEPTED)
        .header(header::CONTENT_LENGTH, 0)
        .body(Body::empty())
        .map_err(internal)
}
