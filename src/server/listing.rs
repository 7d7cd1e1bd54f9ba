//! Content discovery: `GET /v2/_catalog`, `GET /v2/NAME/tags/list` and the
//! referrers API, with `n` / `last` pagination and `Link` headers.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde::Serialize;

use super::error::ApiError;
use super::{AppState, parse_digest, query_param};
use crate::storage::{RepoName, StorageError, catalog_order};
use crate::types::media_type::OCI_INDEX;
use crate::types::{Descriptor, ErrorCode};

/// The largest page served; a larger `n` is capped to it rather than
/// refused (registry:2 answers 400 above 1000 on the catalog).
pub const MAX_PAGE_SIZE: usize = 10_000;

#[derive(Serialize)]
struct Catalog<'a> {
    repositories: &'a [String],
}

#[derive(Serialize)]
struct TagList<'a> {
    name: &'a str,
    tags: &'a [String],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReferrersIndex {
    schema_version: u32,
    media_type: &'static str,
    manifests: Vec<Descriptor>,
}

/// One page of a list in catalog order, and whether more follow.
fn page<'a>(
    all: &'a [String],
    query: Option<&str>,
) -> Result<(&'a [String], Option<usize>), ApiError> {
    let n = match query_param(query, "n") {
        None => None,
        // Any run of digits is a valid `n`; one too large for a usize is
        // capped like every other large `n`, not refused.
        Some(v) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
            Some(v.parse::<usize>().unwrap_or(usize::MAX))
        }
        Some(v) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::PaginationNumberInvalid,
                format!("n must be a non-negative integer, got {v:?}"),
            ));
        }
    };
    let start = match query_param(query, "last") {
        // `all` is in catalog order (for tags, which hold no `/`, that is
        // plain byte order), so the page starts after every name <= last.
        Some(last) => all.partition_point(|x| catalog_order(x, &last).is_le()),
        None => 0,
    };
    let rest = &all[start..];
    match n.map(|n| n.min(MAX_PAGE_SIZE)) {
        Some(n) if n < rest.len() => Ok((&rest[..n], Some(n))),
        _ => Ok((rest, None)),
    }
}

fn json(status: StatusCode, body: Vec<u8>, link: Option<String>) -> Result<Response, ApiError> {
    let mut b = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, body.len());
    if let Some(link) = link {
        b = b.header(header::LINK, link);
    }
    b.body(Body::from(body)).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Other("UNKNOWN".into()),
            e.to_string(),
        )
    })
}

fn next_link(path: &str, items: &[String], n: Option<usize>) -> Option<String> {
    let (n, last) = (n?, items.last()?);
    Some(format!("<{path}?last={last}&n={n}>; rel=\"next\""))
}

fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

/// `GET /v2/_catalog`: the repositories `visible` lets through, filtered
/// before paging so pages stay full and links stay right.
pub async fn catalog(
    state: &AppState,
    query: Option<&str>,
    visible: impl Fn(&str) -> bool,
) -> Result<Response, ApiError> {
    let all = state.registry.repositories().await?;
    let filtered: Vec<String>;
    let shown: &[String] = if all.iter().all(|r| visible(r)) {
        &all
    } else {
        filtered = all.iter().filter(|r| visible(r)).cloned().collect();
        &filtered
    };
    let (items, n) = page(shown, query)?;
    let link = next_link("/v2/_catalog", items, n);
    json(
        StatusCode::OK,
        to_json(&Catalog {
            repositories: items,
        }),
        link,
    )
}

pub async fn tags(state: &AppState, name: &str, query: Option<&str>) -> Result<Response, ApiError> {
    let repo = RepoName::new(name).map_err(StorageError::from)?;
    let all = state.registry.tags(&repo).await?;
    let (items, n) = page(&all, query)?;
    let link = next_link(&format!("/v2/{repo}/tags/list"), items, n);
    json(
        StatusCode::OK,
        to_json(&TagList {
            name: repo.as_str(),
            tags: items,
        }),
        link,
    )
}

pub async fn referrers(
    state: &AppState,
    name: &str,
    digest: &str,
    query: Option<&str>,
) -> Result<Response, ApiError> {
    let repo = RepoName::new(name).map_err(StorageError::from)?;
    let digest = parse_digest(digest)?;
    let filter = query_param(query, "artifactType");
    let manifests = state
        .registry
        .referrers(&repo, &digest, filter.as_deref())
        .await?;
    let body = to_json(&ReferrersIndex {
        schema_version: 2,
        media_type: OCI_INDEX,
        manifests,
    });
    let mut resp = json(StatusCode::OK, body, None)?;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static(OCI_INDEX),
    );
    if filter.is_some() {
        resp.headers_mut().insert(
            "OCI-Filters-Applied",
            axum::http::HeaderValue::from_static("artifactType"),
        );
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn pages_with_last_and_n() {
        let all = v(&["a", "b", "c", "d"]);
        let (p, n) = page(&all, Some("n=2")).unwrap();
        assert_eq!((p, n), (&all[..2], Some(2)));
        assert_eq!(
            next_link("/v2/_catalog", p, n).unwrap(),
            "</v2/_catalog?last=b&n=2>; rel=\"next\""
        );
        let (p, n) = page(&all, Some("n=2&last=b")).unwrap();
        assert_eq!((p, n), (&all[2..], None));
        let (p, _) = page(&all, Some("last=bb")).unwrap();
        assert_eq!(p, &all[2..]);
        let (p, _) = page(&all, Some("n=0")).unwrap();
        assert!(p.is_empty());
        assert!(page(&all, Some("n=-1")).is_err());
        let (p, n) = page(&all, Some("n=999999")).unwrap();
        assert_eq!((p.len(), n), (4, None));
        let (p, n) = page(&all, Some("n=99999999999999999999999999")).unwrap();
        assert_eq!((p.len(), n), (4, None));
        assert!(page(&all, Some("n=")).is_err());
        assert!(page(&all, Some("n=%2B1")).is_err());
    }
}
