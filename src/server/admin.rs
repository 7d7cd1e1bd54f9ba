//! The admin endpoint: online garbage collection.
//!
//! `POST /v2/_regctl/gc?dry_run=&delete_untagged=&prune_empty_repos=&min_age=`
//! answers a [`GcReport`] as JSON. `_regctl` can never be a repository name
//! (components may not start with `_`), so the path cannot clash. Who may
//! call it: with `--htpasswd`, any authenticated user (they can delete
//! manifests anyway; there are no per-repository permissions); without it,
//! only clients on a loopback address.

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::{AppState, query_param};
use crate::storage::gc::Planned;
use crate::types::ErrorCode;
use crate::types::gc::{GcOptions, GcReport};

/// Online collections keep what was written in the last hour by default:
/// a push in progress may have uploaded blobs it has not yet referenced.
pub const DEFAULT_ONLINE_MIN_AGE: Duration = Duration::from_secs(3600);

fn flag(query: Option<&str>, key: &str) -> Result<bool, ApiError> {
    match query_param(query, key).as_deref() {
        None | Some("") | Some("0") | Some("false") => Ok(false),
        Some("1") | Some("true") => Ok(true),
        Some(other) => Err(bad_request(format!(
            "{key}={other:?}: expected true or false"
        ))),
    }
}

fn bad_request(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::Unsupported, message)
}

/// The options of a request's query string.
pub fn options(query: Option<&str>) -> Result<(GcOptions, bool), ApiError> {
    let min_age = match query_param(query, "min_age") {
        None => DEFAULT_ONLINE_MIN_AGE,
        Some(s) => match s.parse::<u64>() {
            Ok(secs) => Duration::from_secs(secs),
            Err(_) => humantime::parse_duration(&s).map_err(|e| {
                bad_request(format!(
                    "min_age={s:?}: {e} (give seconds or a duration such as 1h)"
                ))
            })?,
        },
    };
    Ok((
        GcOptions {
            delete_untagged: flag(query, "delete_untagged")?,
            prune_empty_repos: flag(query, "prune_empty_repos")?,
            min_age,
        },
        flag(query, "dry_run")?,
    ))
}

pub async fn collect(
    st: &AppState,
    peer: Option<SocketAddr>,
    query: Option<&str>,
) -> Result<Response, ApiError> {
    if st.auth.is_none() && !peer.is_some_and(|p| p.ip().is_loopback()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Denied,
            "garbage collection is only open to loopback clients unless the server runs with --htpasswd",
        ));
    }
    if !st.config.delete_enabled {
        return Err(ApiError::unsupported(
            "deletion is disabled on this registry (started with --no-delete), so it does not collect garbage",
        ));
    }
    let (opts, dry_run) = options(query)?;
    let report = run(st, &opts, dry_run).await?;
    let body = serde_json::to_vec(&report).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Unsupported,
            format!("cannot encode the report: {e}"),
        )
    })?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

/// One collection over the server's storage (also run by `--gc-interval`).
pub async fn run(st: &AppState, opts: &GcOptions, dry_run: bool) -> Result<GcReport, ApiError> {
    let Some(planned) = Planned::draw(&st.registry, opts).await? else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::Unsupported,
            "a garbage collection is already running on this server",
        ));
    };
    if dry_run {
        return Ok(planned.keep());
    }
    let swept = planned.sweep().await;
    st.metrics.gc_done(
        swept
            .as_ref()
            .ok()
            .map(|r| r.summary.bytes_freed.unwrap_or(0)),
    );
    Ok(swept?)
}
