//! The web UI: an app shell and its assets, embedded in the binary, and the
//! few JSON endpoints under `/v2/_regctl/ui/` the pages need beyond the
//! distribution API (which they call directly).
//!
//! The shell is static and holds no registry data, so it is served without
//! authentication; every piece of data comes through `/v2/`, behind the
//! same authentication as any other client. Sizes come from the `du`
//! engine, computed in the background and cached, so no page waits on a
//! walk of the whole registry.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use serde::Serialize;

use super::error::ApiError;
use super::{SharedState, query_param};
use crate::ops::du::{self, RegistryUsage, StorageSource, UsageError};
use crate::storage::{ManifestRef, RepoName, StorageError, TagName, paths};
use crate::types::{Digest, ErrorCode, ImageConfig, Manifest, ManifestBody, Platform};

/// The policy of every UI response: nothing inline, nothing remote.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const SHELL: &str = include_str!("ui/assets/index.html");
const APP_JS: &str = include_str!("ui/assets/app.js");
const APP_CSS: &str = include_str!("ui/assets/app.css");
const ICON_SVG: &str = include_str!("ui/assets/icon.svg");

/// Computed sizes are reused this long before a new walk starts (in the
/// background; the old figures are served meanwhile).
const USAGE_TTL: Duration = Duration::from_secs(30);

/// Repositories per page of the list, by default and at most.
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

/// Tags looked at for a repository's last push: a bound on the work one
/// list row costs.
const LAST_PUSH_TAG_LIMIT: usize = 500;

/// Configs larger than this are not read for the repository page.
const MAX_CONFIG_SIZE: u64 = 4 * 1024 * 1024;

/// One embedded file, with its gzip form and validator made once.
struct Asset {
    body: Bytes,
    gzip: Bytes,
    etag: String,
    content_type: &'static str,
}

impl Asset {
    fn new(body: impl Into<Bytes>, content_type: &'static str) -> Asset {
        let body: Bytes = body.into();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        // No gzip form (served plain) in the unlikely case compression fails.
        let gzip = gz
            .write_all(&body)
            .and_then(|()| gz.finish())
            .unwrap_or_default();
        let hex = Digest::sha256_of(&body).hex().to_owned();
        Asset {
            body,
            gzip: gzip.into(),
            etag: format!("\"{}\"", &hex[..16]),
            content_type,
        }
    }
}

struct Assets {
    shell: Asset,
    js: Asset,
    css: Asset,
    icon: Asset,
}

/// The shell names each asset with its content hash as a query, so assets
/// can be cached for good and a new binary's assets are fetched at once.
fn assets() -> &'static Assets {
    static ASSETS: OnceLock<Assets> = OnceLock::new();
    ASSETS.get_or_init(|| {
        let js = Asset::new(APP_JS, "text/javascript; charset=utf-8");
        let css = Asset::new(APP_CSS, "text/css; charset=utf-8");
        let icon = Asset::new(ICON_SVG, "image/svg+xml");
        let version = |a: &Asset| a.etag.trim_matches('"').to_owned();
        let shell = SHELL
            .replace("{{js}}", &version(&js))
            .replace("{{css}}", &version(&css))
            .replace("{{icon}}", &version(&icon));
        Assets {
            shell: Asset::new(shell, "text/html; charset=utf-8"),
            js,
            css,
            icon,
        }
    })
}

/// The bytes of the first page (shell, script, style), and gzip -9 of them.
pub fn first_page_size() -> (usize, usize) {
    let a = assets();
    let parts = [&a.shell, &a.js, &a.css];
    (
        parts.iter().map(|p| p.body.len()).sum(),
        parts.iter().map(|p| p.gzip.len()).sum(),
    )
}

fn accepts(headers: &HeaderMap, what: &str) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains(what))
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|e| e.trim().starts_with("gzip")))
}

fn set(resp: &mut Response, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

/// Headers every UI response carries.
fn harden(resp: &mut Response) {
    set(
        resp,
        header::CONTENT_SECURITY_POLICY,
        CONTENT_SECURITY_POLICY,
    );
    set(resp, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(resp, header::X_FRAME_OPTIONS, "DENY");
    set(resp, header::REFERRER_POLICY, "no-referrer");
}

fn serve_asset(asset: &Asset, headers: &HeaderMap, cache: &str, head: bool) -> Response {
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == asset.etag));
    let mut resp = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let gzip = accepts_gzip(headers) && !asset.gzip.is_empty();
        let body = if gzip {
            asset.gzip.clone()
        } else {
            asset.body.clone()
        };
        let len = body.len();
        let mut r = if head {
            StatusCode::OK.into_response()
        } else {
            (StatusCode::OK, body).into_response()
        };
        set(&mut r, header::CONTENT_LENGTH, &len.to_string());
        set(&mut r, header::CONTENT_TYPE, asset.content_type);
        if gzip {
            set(&mut r, header::CONTENT_ENCODING, "gzip");
        }
        r
    };
    set(&mut resp, header::ETAG, &asset.etag);
    set(&mut resp, header::CACHE_CONTROL, cache);
    set(&mut resp, header::VARY, "Accept-Encoding");
    harden(&mut resp);
    resp
}

/// Serves the shell for `/` (to browsers) and every `/ui/...` page, and the
/// assets; anything else goes on to the registry.
pub async fn shell(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    let method = req.method();
    if !state.config.ui || !(method == Method::GET || method == Method::HEAD) {
        return next.run(req).await;
    }
    let head = method == Method::HEAD;
    let path = req.uri().path();
    let headers = req.headers();
    let a = assets();
    let versioned = |asset: &Asset| {
        let wanted = query_param(req.uri().query(), "v");
        if wanted.as_deref() == Some(asset.etag.trim_matches('"')) {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }
    };
    match path {
        "/ui/assets/app.js" => serve_asset(&a.js, headers, versioned(&a.js), head),
        "/ui/assets/app.css" => serve_asset(&a.css, headers, versioned(&a.css), head),
        "/ui/assets/icon.svg" => serve_asset(&a.icon, headers, versioned(&a.icon), head),
        "/favicon.ico" => serve_asset(&a.icon, headers, "public, max-age=86400", head),
        p if p.starts_with("/ui/assets/") => next.run(req).await,
        "/ui" => serve_asset(&a.shell, headers, "no-cache", head),
        p if p.starts_with("/ui/") => serve_asset(&a.shell, headers, "no-cache", head),
        "/" if accepts(headers, "text/html") => serve_asset(&a.shell, headers, "no-cache", head),
        _ => next.run(req).await,
    }
}

/// The latest figures and when they were made, whether they are current,
/// and the last walk's error.
type UsageView = (
    Option<(SystemTime, Arc<RegistryUsage>)>,
    bool,
    Option<String>,
);

/// Registry sizes from the du engine, computed in the background.
#[derive(Default)]
pub struct UsageCache {
    inner: Mutex<UsageSlot>,
}

#[derive(Default)]
struct UsageSlot {
    value: Option<(Instant, SystemTime, Arc<RegistryUsage>)>,
    running: bool,
    stale: bool,
    error: Option<String>,
}

impl UsageCache {
    /// The latest figures (maybe old, maybe none yet); starts a walk when
    /// there are none, they are old or `refresh` asks for one.
    fn get(&self, state: &SharedState, refresh: bool) -> UsageView {
        let mut slot = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if refresh {
            slot.stale = true;
        }
        let old = slot
            .value
            .as_ref()
            .is_none_or(|(at, _, _)| at.elapsed() > USAGE_TTL);
        if (old || slot.stale) && !slot.running {
            slot.running = true;
            slot.stale = false;
            let state = state.clone();
            tokio::spawn(async move {
                // The walk runs in its own task so that even a panic in it
                // clears `running` and lets a later request try again.
                let walker = state.clone();
                let result = tokio::spawn(async move {
                    du::registry_usage(&StorageSource::new(&walker.registry), None)
                        .await
                        .map_err(|e| e.to_string())
                })
                .await
                .unwrap_or_else(|e| Err(format!("the size walk failed: {e}")));
                let mut slot = state.usage.inner.lock().unwrap_or_else(|e| e.into_inner());
                slot.running = false;
                match result {
                    Ok(u) => {
                        slot.value = Some((Instant::now(), SystemTime::now(), Arc::new(u)));
                        slot.error = None;
                    }
                    Err(e) => slot.error = Some(e),
                }
            });
        }
        let fresh = !slot.running && !slot.stale && slot.value.is_some();
        (
            slot.value.as_ref().map(|(_, when, u)| (*when, u.clone())),
            fresh,
            slot.error.clone(),
        )
    }
}

fn internal(message: String) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::Other("UNKNOWN".into()),
        message,
    )
}

impl From<UsageError> for ApiError {
    fn from(e: UsageError) -> Self {
        match e {
            UsageError::Storage(s) => s.into(),
            UsageError::Name(n) => StorageError::from(n).into(),
            other => internal(other.to_string()),
        }
    }
}

fn json<T: Serialize>(value: &T) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(value).map_err(|e| internal(e.to_string()))?;
    let mut resp = (StatusCode::OK, body).into_response();
    set(&mut resp, header::CONTENT_TYPE, "application/json");
    set(&mut resp, header::CACHE_CONTROL, "no-store");
    Ok(resp)
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// `GET /v2/_regctl/ui/{what}`.
pub async fn api(
    state: &SharedState,
    parts: &Parts,
    what: &str,
    query: Option<&str>,
) -> Result<Response, ApiError> {
    if !state.config.ui {
        return Err(ApiError::not_found());
    }
    if parts.method != Method::GET {
        return Err(ApiError::unsupported(format!(
            "{} is not supported on the UI endpoints",
            parts.method
        )));
    }
    match what {
        "info" => info(state, parts).await,
        "repositories" => repositories(state, query).await,
        "repository" => repository(state, query).await,
        "usage" => usage(state, query),
        "repository-usage" => repository_usage(state, query).await,
        _ => Err(ApiError::not_found()),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Info {
    version: &'static str,
    delete_enabled: bool,
    read_only: bool,
    auth_required: bool,
    gc_available: bool,
    user: Option<String>,
}

async fn info(state: &SharedState, parts: &Parts) -> Result<Response, ApiError> {
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let loopback = peer.is_some_and(|ip| ip.is_loopback());
    // The guard has let these credentials in; asking again names the user
    // (from the authenticator's cache).
    let user = match &state.auth {
        Some(auth) => {
            let value = parts
                .headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            match auth.authenticate(value, peer).await {
                super::AuthOutcome::Allowed(user) => Some(user),
                _ => None,
            }
        }
        None => None,
    };
    let writable = state.config.delete_enabled && !state.config.read_only;
    json(&Info {
        version: env!("CARGO_PKG_VERSION"),
        delete_enabled: writable,
        read_only: state.config.read_only,
        auth_required: state.auth.is_some(),
        gc_available: writable && (state.auth.is_some() || loopback),
        user,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Size {
    total: u64,
    unique: u64,
    shared: u64,
}

impl From<&du::Usage> for Size {
    fn from(u: &du::Usage) -> Size {
        Size {
            total: u.total,
            unique: u.unique,
            shared: u.shared,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RepoRow {
    name: String,
    tags: usize,
    last_push: Option<String>,
    size: Option<Size>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RepoPage {
    repositories: Vec<RepoRow>,
    /// Repositories matching the filter, in all pages.
    matching: usize,
    /// The `last` of the next page, when there is one.
    next: Option<String>,
    /// Whether sizes are current (else: being computed, ask again).
    sizes_ready: bool,
}

/// The newest tag link's time: when the repository was last pushed to.
async fn last_push(state: &SharedState, repo: &RepoName, tags: &[String]) -> Option<SystemTime> {
    let backend = state.registry.backend();
    let times = stream::iter(tags.iter().take(LAST_PUSH_TAG_LIMIT).cloned())
        .map(|t: String| async move {
            let tag = TagName::new(&t).ok()?;
            let meta = backend
                .stat(&paths::tag_current_link(repo, &tag))
                .await
                .ok()??;
            Some(meta.modified)
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    times.into_iter().flatten().max()
}

/// `repositories?q=&n=&last=`: one page of the (filtered) list.
async fn repositories(state: &SharedState, query: Option<&str>) -> Result<Response, ApiError> {
    let filter = query_param(query, "q")
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let n = match query_param(query, "n") {
        None => DEFAULT_PAGE,
        Some(v) => v.parse::<usize>().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::PaginationNumberInvalid,
                format!("n must be a positive integer, got {v:?}"),
            )
        })?,
    }
    .clamp(1, MAX_PAGE);
    let last = query_param(query, "last");
    let all = state.registry.repositories().await?;
    let matching: Vec<&String> = all
        .iter()
        .filter(|name| filter.is_empty() || name.contains(&filter))
        .collect();
    let start = match &last {
        Some(last) => matching.partition_point(|x| crate::storage::catalog_order(x, last).is_le()),
        None => 0,
    };
    let page: Vec<&String> = matching[start..].iter().take(n).copied().collect();
    let next = (start + page.len() < matching.len())
        .then(|| page.last().map(|s| (*s).clone()))
        .flatten();
    let (usage, fresh, _) = state.usage.get(state, false);
    let sizes: HashMap<&str, &du::Usage> = usage
        .as_ref()
        .map(|(_, u)| {
            u.repositories
                .iter()
                .map(|r| (r.name.as_str(), r))
                .collect()
        })
        .unwrap_or_default();
    let rows = stream::iter(page.into_iter().cloned())
        .map(|name: String| {
            let size = sizes.get(name.as_str()).map(|u| Size::from(*u));
            let state = state.clone();
            async move {
                let state = &state;
                let repo = RepoName::new(&name).ok();
                let tags = match &repo {
                    Some(r) => state.registry.tags(r).await.unwrap_or_default(),
                    None => Default::default(),
                };
                let pushed = match &repo {
                    Some(r) => last_push(state, r, &tags).await,
                    None => None,
                };
                RepoRow {
                    name,
                    tags: tags.len(),
                    last_push: pushed.map(rfc3339),
                    size,
                }
            }
        })
        .buffered(16)
        .collect::<Vec<_>>()
        .await;
    json(&RepoPage {
        repositories: rows,
        matching: matching.len(),
        next,
        sizes_ready: fresh,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TagRow {
    tag: String,
    digest: Digest,
    media_type: String,
    artifact_type: Option<String>,
    platforms: Vec<String>,
    created: Option<String>,
    pushed: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RepoDetail {
    name: String,
    tags: Vec<TagRow>,
}

fn platform_string(p: &Platform) -> String {
    match &p.variant {
        Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
        None => format!("{}/{}", p.os, p.architecture),
    }
}

/// What the repository page shows of one manifest.
struct Summary {
    media_type: String,
    artifact_type: Option<String>,
    platforms: Vec<String>,
    created: Option<String>,
}

async fn config_of(state: &SharedState, digest: &Digest) -> Option<ImageConfig> {
    let size = state.registry.blob_size(digest).await.ok()??;
    if size > MAX_CONFIG_SIZE {
        return None;
    }
    let bytes = state
        .registry
        .backend()
        .get(&paths::blob_data(digest))
        .await
        .ok()??;
    serde_json::from_slice(&bytes).ok()
}

async fn summarise(state: &SharedState, repo: &RepoName, digest: &Digest) -> Option<Summary> {
    let stored = state
        .registry
        .get_manifest(repo, &ManifestRef::Digest(digest.clone()))
        .await
        .ok()?;
    let m = Manifest::parse_with_digest(stored.bytes, None, stored.digest).ok()?;
    let mut s = Summary {
        media_type: m.media_type().to_string(),
        artifact_type: m.artifact_type(),
        platforms: Vec::new(),
        created: m
            .annotations()
            .and_then(|a| a.get("org.opencontainers.image.created").cloned()),
    };
    match m.body() {
        ManifestBody::Index(index) => {
            s.platforms = index
                .manifests
                .iter()
                .filter_map(|d| d.platform.as_ref().map(platform_string))
                .collect();
            // An index has no config: its first image's creation time stands in.
            if s.created.is_none()
                && let Some(first) = index.manifests.first()
                && let Ok(child) = state
                    .registry
                    .get_manifest(repo, &ManifestRef::Digest(first.digest.clone()))
                    .await
                && let Ok(child) = Manifest::parse_with_digest(child.bytes, None, child.digest)
                && let ManifestBody::Image(image) = child.body()
            {
                s.created = config_of(state, &image.config.digest)
                    .await
                    .and_then(|c| c.created);
            }
        }
        ManifestBody::Image(image) => {
            if let Some(config) = config_of(state, &image.config.digest).await {
                if !config.os.is_empty() {
                    let mut p = format!("{}/{}", config.os, config.architecture);
                    if let Some(v) = &config.variant {
                        p = format!("{p}/{v}");
                    }
                    s.platforms.push(p);
                }
                s.created = config.created.or(s.created);
            }
        }
        ManifestBody::Schema1(_) => {}
    }
    Some(s)
}

/// `repository?name=`: every tag with its manifest's digest, platforms and
/// creation time (sizes come from `usage?name=`, which may take longer).
async fn repository(state: &SharedState, query: Option<&str>) -> Result<Response, ApiError> {
    let name = query_param(query, "name").unwrap_or_default();
    let repo = RepoName::new(&name).map_err(StorageError::from)?;
    if !state.registry.repository_exists(&repo).await? {
        return Err(StorageError::NameUnknown(name).into());
    }
    let tags = state.registry.tags(&repo).await?;
    let backend = state.registry.backend();
    let repo_ref = &repo;
    let resolved: Vec<(String, Digest, Option<SystemTime>)> = stream::iter(tags.iter().cloned())
        .map(|t: String| async move {
            let tag = TagName::new(&t).ok()?;
            let digest = state
                .registry
                .resolve(repo_ref, &ManifestRef::Tag(tag.clone()))
                .await
                .ok()??;
            let pushed = backend
                .stat(&paths::tag_current_link(repo_ref, &tag))
                .await
                .ok()
                .flatten()
                .map(|m| m.modified);
            Some((t, digest, pushed))
        })
        .buffered(8)
        .filter_map(|x| async move { x })
        .collect()
        .await;
    let mut digests: Vec<Digest> = resolved.iter().map(|(_, d, _)| d.clone()).collect();
    digests.sort();
    digests.dedup();
    let summaries: HashMap<Digest, Summary> = stream::iter(digests)
        .map(|d: Digest| async move { summarise(state, repo_ref, &d).await.map(|s| (d, s)) })
        .buffer_unordered(8)
        .filter_map(|x| async move { x })
        .collect()
        .await;
    let rows = resolved
        .into_iter()
        .map(|(tag, digest, pushed)| {
            let s = summaries.get(&digest);
            TagRow {
                tag,
                media_type: s.map(|s| s.media_type.clone()).unwrap_or_default(),
                artifact_type: s.and_then(|s| s.artifact_type.clone()),
                platforms: s.map(|s| s.platforms.clone()).unwrap_or_default(),
                created: s.and_then(|s| s.created.clone()),
                pushed: pushed.map(rfc3339),
                digest,
            }
        })
        .collect();
    json(&RepoDetail {
        name: repo.as_str().to_owned(),
        tags: rows,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UsageRow {
    name: String,
    tags: Option<usize>,
    digest: Option<Digest>,
    total: u64,
    unique: u64,
    shared: u64,
}

impl From<&du::Usage> for UsageRow {
    fn from(u: &du::Usage) -> UsageRow {
        UsageRow {
            name: u.name.clone(),
            tags: u.tags,
            digest: u.digest.clone(),
            total: u.total,
            unique: u.unique,
            shared: u.shared,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UsageAnswer {
    ready: bool,
    computed_at: Option<String>,
    total: Option<u64>,
    rows: Vec<UsageRow>,
    error: Option<String>,
}

/// `usage[?refresh=1]`: bytes per repository from the background walk.
fn usage(state: &SharedState, query: Option<&str>) -> Result<Response, ApiError> {
    let refresh = query_param(query, "refresh").is_some_and(|v| v == "1" || v == "true");
    let (value, fresh, error) = state.usage.get(state, refresh);
    json(&UsageAnswer {
        ready: fresh,
        computed_at: value.as_ref().map(|(when, _)| rfc3339(*when)),
        total: value.as_ref().map(|(_, u)| u.total),
        rows: value
            .as_ref()
            .map(|(_, u)| u.repositories.iter().map(UsageRow::from).collect())
            .unwrap_or_default(),
        error,
    })
}

/// `repository-usage?name=`: bytes per tag of one repository (what deleting
/// only that tag would free), from the du engine.
async fn repository_usage(state: &SharedState, query: Option<&str>) -> Result<Response, ApiError> {
    let name = query_param(query, "name").unwrap_or_default();
    let repo = RepoName::new(&name).map_err(StorageError::from)?;
    let rows =
        du::repository_usage(&StorageSource::new(&state.registry), repo.as_str(), None).await?;
    json(&rows.iter().map(UsageRow::from).collect::<Vec<_>>())
}
