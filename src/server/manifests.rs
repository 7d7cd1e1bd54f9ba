//! `GET` / `HEAD` / `PUT` / `DELETE /v2/NAME/manifests/REFERENCE`.

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use http_body_util::{BodyExt, Limited};

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
    let (repo, reference) = parts(name, reference)?;
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

pub async fn put(
    state: &AppState,
    name: &str,
    reference: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (repo, reference) = parts(name, reference)?;
    let too_large = || StorageError::ManifestTooLarge {
        limit: MAX_MANIFEST_SIZE,
    };
    if headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|n| n > MAX_MANIFEST_SIZE)
    {
        return Err(too_large().into());
    }
    // Never buffer more than the limit, whatever the client claims.
    let bytes = match Limited::new(body, MAX_MANIFEST_SIZE).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err(too_large().into()),
        Err(e) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::ManifestInvalid,
                format!("could not read the manifest body: {e}"),
            ));
        }
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let manifest = state
        .registry
        .put_manifest(&repo, &reference, bytes, content_type)
        .await?;
    let digest = manifest.digest();
    let mut builder = Response::builder()
        .status(StatusCode::CREATED)
        .header(header::LOCATION, format!("/v2/{repo}/manifests/{digest}"))
        .header(DIGEST_HEADER, digest.to_string())
        .header(header::CONTENT_LENGTH, 0);
    if let Some(subject) = manifest.subject() {
        builder = builder.header("OCI-Subject", subject.digest.to_string());
    }
    builder.body(Body::empty()).map_err(internal)
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
