//! `regctl serve`: an OCI distribution-spec registry over [`crate::storage`].
//!
//! One fallback handler takes every `/v2/...` path, [`route::parse`] splits
//! it, and a handler per resource makes one storage call and builds the
//! response. Authentication, the read-only and no-delete switches, the
//! `Docker-Distribution-API-Version` header and the access log are applied
//! around every request.

pub mod access;
mod admin;
mod auth;
mod blobs;
mod cors;
mod error;
mod health;
mod hygiene;
mod listing;
mod manifests;
pub mod metrics;
pub mod notify;
pub mod proxy;
pub mod retention;
pub mod route;
mod tls;
mod ui;
mod uploads;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub use auth::{
    AuthOutcome, Authenticator, FAILURE_WINDOW, Htpasswd, HtpasswdError, LOCKOUT, MAX_FAILURES,
    VERIFIED_TTL,
};
pub use cors::CorsOriginError;
pub use error::ApiError;
pub use hygiene::{BODY_TIMEOUT, ConnectionLimits, IDLE_TIMEOUT, MIN_PROGRESS};
pub use listing::MAX_PAGE_SIZE;
pub use tls::TlsError;
pub use ui::{CONTENT_SECURITY_POLICY, first_page_size};

/// The server's header parsers, public only for the fuzz targets in `fuzz/`.
#[doc(hidden)]
pub mod fuzzing {
    pub use super::blobs::{ByteRange, Unsatisfiable, parse_range};
    pub use super::uploads::{ContentRange, parse_content_range};
}

use crate::storage::{FsBackend, Registry};
use crate::types::{Digest, ErrorCode};
use route::Route;

pub(crate) const DIGEST_HEADER: &str = "Docker-Content-Digest";

/// How often `--retention` runs by default.
pub const DEFAULT_RETENTION_INTERVAL: std::time::Duration =
    std::time::Duration::from_secs(24 * 3600);

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The storage root: the directory holding `docker/registry/v2`
    /// (unused with `object_storage`).
    pub root: PathBuf,
    /// A bucket holding the content instead of `root` (`--storage s3://`).
    pub object_storage: Option<crate::storage::S3Backend>,
    /// Answer blob GETs with a 307 to a short-lived presigned URL of the
    /// bucket (`--redirect-blobs`; only with `object_storage`).
    pub redirect_blobs: bool,
    /// Whether DELETE is allowed (registry:2's `storage.delete.enabled`).
    pub delete_enabled: bool,
    /// Refuse every write with 405 UNSUPPORTED, as registry:2's read-only mode.
    pub read_only: bool,
    /// Require Basic authentication against this htpasswd file.
    pub htpasswd: Option<PathBuf>,
    /// The realm named in `WWW-Authenticate`.
    pub realm: String,
    /// Collect garbage online this often (needs a Tokio runtime when the
    /// router is built).
    pub gc_interval: Option<std::time::Duration>,
    /// Serve the web UI at `/` (off with `--no-ui`).
    pub ui: bool,
    /// Origins whose browser pages may call the API (`--cors-origin`).
    pub cors_origins: Vec<String>,
    /// Timeouts and the connection cap; [`serve_with_limits`] applies the
    /// connection-level ones, the router the request-body one.
    pub limits: ConnectionLimits,
    /// Where `/metrics` is served and whether it needs credentials.
    pub metrics: MetricsConfig,
    /// Per-repository access rules (`--access`); `None` lets every
    /// authenticated (or, without `--htpasswd`, every) client do anything.
    pub access: Option<PathBuf>,
    /// Endpoints that get event notifications (`--notify`).
    pub notify: Vec<url::Url>,
    /// Time allowed for one notification POST.
    pub notify_timeout: std::time::Duration,
    /// Retention rules (`--retention`), applied every `retention_interval`.
    pub retention: Option<PathBuf>,
    pub retention_interval: std::time::Duration,
    /// Only log and count what retention would delete.
    pub retention_dry_run: bool,
    /// Pull-through cache (`--proxy`).
    pub proxy: Option<proxy::ProxyConfig>,
}

/// `/metrics` options.
#[derive(Debug, Clone)]
pub struct MetricsConfig {
    /// Serve `/metrics` without credentials even with `--htpasswd`.
    pub public: bool,
    /// Serve `/metrics` only on the separate router of [`routers`]
    /// (`--metrics-addr`), not on the registry's address.
    pub separate: bool,
    /// How often the stored-bytes gauges are recomputed.
    pub storage_refresh: std::time::Duration,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            public: false,
            separate: false,
            storage_refresh: metrics::DEFAULT_STORAGE_REFRESH,
        }
    }
}

impl ServerConfig {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ServerConfig {
            root: root.into(),
            object_storage: None,
            redirect_blobs: false,
            delete_enabled: true,
            read_only: false,
            htpasswd: None,
            realm: "regctl".to_owned(),
            gc_interval: None,
            ui: true,
            cors_origins: Vec::new(),
            limits: ConnectionLimits::default(),
            metrics: MetricsConfig::default(),
            access: None,
            notify: Vec::new(),
            notify_timeout: notify::DEFAULT_TIMEOUT,
            retention: None,
            retention_interval: DEFAULT_RETENTION_INTERVAL,
            retention_dry_run: false,
            proxy: None,
        }
    }
}

/// Why the server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Htpasswd(#[from] HtpasswdError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Cors(#[from] CorsOriginError),
    #[error(transparent)]
    Access(#[from] access::AccessError),
    #[error(transparent)]
    Proxy(#[from] proxy::ProxyConfigError),
    #[error("cannot create the storage root {path}: {source}")]
    Root {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// What every handler sees.
pub struct AppState {
    pub registry: Registry,
    config: ServerConfig,
    auth: Option<Authenticator>,
    www_authenticate: HeaderValue,
    cors: cors::Cors,
    usage: ui::UsageCache,
    /// Large manifest PUTs handled at once (see [`manifests::LARGE_MANIFEST`]).
    large_manifests: tokio::sync::Semaphore,
    metrics: Arc<metrics::Metrics>,
    access: Option<Arc<access::AccessControl>>,
    notifier: Option<notify::Notifier>,
    proxy: Option<Arc<proxy::Proxy>>,
}

/// What [`routers`] builds.
pub struct Apps {
    /// The registry.
    pub main: Router,
    /// `/metrics` and the health endpoints alone, for `--metrics-addr`.
    pub metrics: Router,
    /// The access rules, to reload on SIGHUP.
    pub access: Option<Arc<access::AccessControl>>,
}

type SharedState = Arc<AppState>;

/// Builds the application: routes, authentication and logging.
pub fn router(config: ServerConfig) -> Result<Router, ServerError> {
    Ok(routers(config)?.main)
}

/// The registry's router and a second one serving only `/metrics` and the
/// health endpoints, for `--metrics-addr`. Both share one set of metrics.
pub fn routers(config: ServerConfig) -> Result<Apps, ServerError> {
    let backend: Arc<dyn crate::storage::Backend> = match &config.object_storage {
        Some(bucket) => Arc::new(bucket.clone()),
        None => {
            std::fs::create_dir_all(&config.root).map_err(|source| ServerError::Root {
                path: config.root.display().to_string(),
                source,
            })?;
            Arc::new(FsBackend::new(config.root.clone()))
        }
    };
    let auth = config
        .htpasswd
        .as_deref()
        .map(Htpasswd::load)
        .transpose()?
        .map(Authenticator::new);
    let access = config
        .access
        .as_deref()
        .map(access::AccessControl::load)
        .transpose()?
        .map(Arc::new);
    let retention = config
        .retention
        .as_deref()
        .map(retention::RetentionRules::load)
        .transpose()?;
    let www_authenticate = HeaderValue::from_str(&format!(
        "Basic realm=\"{}\"",
        config.realm.replace(['"', '\\'], "")
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("Basic realm=\"regctl\""));
    let cors = cors::Cors::new(&config.cors_origins)?;
    let cache = config
        .proxy
        .clone()
        .map(proxy::Proxy::new)
        .transpose()?
        .map(Arc::new);
    let state = Arc::new(AppState {
        registry: Registry::new(backend),
        auth,
        www_authenticate,
        cors,
        usage: ui::UsageCache::default(),
        large_manifests: tokio::sync::Semaphore::new(manifests::LARGE_MANIFEST_PERMITS),
        metrics: Arc::new(metrics::Metrics::default()),
        access: access.clone(),
        notifier: (!config.notify.is_empty())
            .then(|| notify::Notifier::start(&config.notify, config.notify_timeout)),
        proxy: cache.clone(),
        config,
    });
    if let Some(every) = state.config.gc_interval
        && state.config.delete_enabled
        && !state.config.read_only
    {
        tokio::spawn(collect_periodically(Arc::downgrade(&state), every));
    }
    if let Some(rules) = retention {
        let cfg = &state.config;
        if cfg.retention_dry_run || (cfg.delete_enabled && !cfg.read_only) {
            tokio::spawn(retention::run_periodically(
                Arc::downgrade(&state),
                rules,
                cfg.retention_interval,
                cfg.retention_dry_run,
            ));
        } else {
            tracing::warn!(target: "regctl::retention", "--retention is ignored: the server does not delete (--no-delete or --read-only); use --retention-dry-run to see what it would do");
        }
    }
    if let Some(cache) = cache {
        tokio::spawn(proxy::evict::run_periodically(
            Arc::downgrade(&state),
            cache,
        ));
    }
    tokio::spawn(metrics::refresh_storage_periodically(
        Arc::downgrade(&state),
        state.config.metrics.storage_refresh,
    ));
    let probes = || {
        Router::new()
            .route("/healthz", get(health::healthz))
            .route("/readyz", get(health::readyz))
    };
    let mut main = probes();
    if !state.config.metrics.separate {
        main = main.route("/metrics", get(metrics::scrape));
    }
    let main = main
        .fallback(dispatch)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            notify::observe,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .layer(middleware::from_fn_with_state(state.clone(), ui::shell))
        .layer(middleware::from_fn_with_state(state.clone(), cors::layer))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::track,
        ))
        .layer(middleware::from_fn(access_log))
        .with_state(state.clone());
    let metrics_only = probes()
        .route("/metrics", get(metrics::scrape))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .layer(middleware::from_fn(access_log))
        .with_state(state);
    Ok(Apps {
        main,
        metrics: metrics_only,
        access,
    })
}

/// Paths answered without credentials even with `--htpasswd`.
fn is_open_path(state: &AppState, path: &str) -> bool {
    match path {
        "/healthz" | "/readyz" => true,
        "/metrics" => state.config.metrics.public,
        _ => false,
    }
}

/// `--gc-interval`: an online collection with the default options every
/// `every`, until the server's state is dropped.
async fn collect_periodically(state: std::sync::Weak<AppState>, every: std::time::Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let Some(state) = state.upgrade() else {
            return;
        };
        let opts = crate::types::gc::GcOptions {
            min_age: admin::DEFAULT_ONLINE_MIN_AGE,
            ..Default::default()
        };
        match admin::run(&state, &opts, false).await {
            Ok(r) => tracing::info!(
                target: "regctl::gc",
                manifests = r.summary.manifests_removed,
                blobs = r.summary.blobs_removed,
                bytes = r.summary.bytes_freed.unwrap_or(0),
                "scheduled garbage collection done"
            ),
            Err(e) => {
                tracing::warn!(target: "regctl::gc", error = ?e, "scheduled garbage collection failed")
            }
        }
    }
}

/// A client must send its request headers within this time; otherwise the
/// connection is closed (a slow-loris client cannot hold sockets forever).
pub const HEADER_READ_TIMEOUT: std::time::Duration = IDLE_TIMEOUT;

/// Longest pause between accept attempts that fail (out of file
/// descriptors and the like); the pause doubles from 10 ms up to this.
const ACCEPT_BACKOFF_MAX: std::time::Duration = std::time::Duration::from_secs(1);

/// How long a graceful shutdown waits for requests in flight.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

/// Serves `app` on a bound listener until `shutdown` resolves; in-flight
/// requests finish first (up to a grace period). Default connection limits.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    tls: Option<tls::TlsFiles>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    serve_with_limits(listener, app, tls, ConnectionLimits::default(), shutdown).await
}

/// [`serve`] with connection limits: idle connections are closed after
/// `idle_timeout`, and at most `max_connections` are open at once.
pub async fn serve_with_limits(
    listener: tokio::net::TcpListener,
    app: Router,
    tls: Option<tls::TlsFiles>,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;

    let acceptor = tls.as_ref().map(tls::acceptor).transpose()?;
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.idle_timeout);
    builder.http2().timer(TokioTimer::new());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = limits
        .max_connections
        .map(|n| Arc::new(tokio::sync::Semaphore::new(n.max(1))));
    let mut backoff = std::time::Duration::ZERO;
    let mut failed_accepts = 0u64;
    let mut last_warning: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        // With a connection cap, a slot is taken before accepting: further
        // clients wait in the kernel's listen queue, costing no descriptor.
        let slot = match &slots {
            None => None,
            Some(slots) => tokio::select! {
                slot = slots.clone().acquire_owned() => slot.ok(),
                () = &mut shutdown => break,
            },
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => {
                    backoff = std::time::Duration::ZERO;
                    c
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off (doubling,
                    // up to a second) instead of spinning, and warn at most
                    // once a second.
                    failed_accepts += 1;
                    if last_warning.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(1)) {
                        tracing::warn!(error = %e, failed = failed_accepts, "accept failed; backing off");
                        last_warning = Some(Instant::now());
                        failed_accepts = 0;
                    }
                    backoff = (backoff * 2).clamp(std::time::Duration::from_millis(10), ACCEPT_BACKOFF_MAX);
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {},
                        () = &mut shutdown => break,
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Requests being handled on this connection: while there are some,
        // it is not idle.
        let in_flight = Arc::new(hygiene::InFlight::default());
        let counted = in_flight.clone();
        let app = app.clone();
        let service = hyper::service::service_fn(
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                // The peer address, for the admin endpoint's loopback rule.
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                let handling = counted.enter();
                let response = tower::ServiceExt::oneshot(app.clone(), req);
                async move {
                    let response = response.await;
                    drop(handling);
                    response
                }
            },
        );
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let acceptor = acceptor.clone();
        let idle = limits.idle_timeout;
        tokio::spawn(async move {
            let _slot = slot;
            let result = match acceptor {
                None => {
                    let io = hygiene::IdleTimeout::new(stream, in_flight, idle);
                    let conn = builder.serve_connection(TokioIo::new(io), service);
                    watcher.watch(conn.into_owned()).await
                }
                Some(acceptor) => {
                    let Some(tls) = tls::handshake(&acceptor, stream, peer).await else {
                        return;
                    };
                    let io = hygiene::IdleTimeout::new(tls, in_flight, idle);
                    let conn = builder.serve_connection(TokioIo::new(io), service);
                    watcher.watch(conn.into_owned()).await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after the grace period; stopping anyway");
    }
    Ok(())
}

pub use tls::TlsFiles;

/// One access-log line per request: never headers, so never credentials.
async fn access_log(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let resp = next.run(req).await;
    let bytes = resp
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    tracing::info!(
        target: "regctl::access",
        %method,
        path,
        status = resp.status().as_u16(),
        bytes,
        ms = format_args!("{:.3}", start.elapsed().as_secs_f64() * 1000.0),
    );
    resp
}

/// How much of a request body is read and dropped when a request is refused
/// before its handler runs (401, 405). Without it a client still sending a
/// body (a blob, a manifest) sees its write fail with a broken pipe instead
/// of the answer; past it the connection is closed instead, so a refused
/// client cannot make the server read without end.
pub const REFUSED_BODY_DRAIN_LIMIT: u64 = 1024 * 1024;

/// Reads and drops up to `limit` bytes of a refused request's body. Returns
/// whether the body was read to its end; when not, the caller closes the
/// connection. A client waiting for `100 Continue` has sent nothing, so
/// nothing is read (hyper sends no `100` unless the body is polled).
pub(crate) async fn drain_body(headers: &HeaderMap, mut body: Body, limit: u64) -> bool {
    use http_body_util::BodyExt;
    let expects_continue = headers
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared == Some(0) && !headers.contains_key(header::TRANSFER_ENCODING) {
        return true;
    }
    if expects_continue || declared.is_some_and(|n| n > limit) {
        return false;
    }
    let mut total = 0u64;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return false;
        };
        if let Some(data) = frame.data_ref() {
            total += data.len() as u64;
            if total > limit {
                return false;
            }
        }
    }
    true
}

/// A refusal sent before any handler ran: drains what the client is
/// sending (bounded), closing the connection when it could not.
async fn refuse(req: Request, resp: Response) -> Response {
    let (parts, body) = req.into_parts();
    let mut resp = resp;
    if !drain_body(&parts.headers, body, REFUSED_BODY_DRAIN_LIMIT).await {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    with_api_version(resp)
}

/// Authentication and the write switches, before any handler runs.
async fn guard(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    // Every request body, refused or handled, must keep making progress.
    let body_timeout = state.config.limits.body_timeout;
    let req = req.map(|body| {
        if axum::body::HttpBody::is_end_stream(&body) {
            // No body (most GETs): nothing to guard.
            return body;
        }
        Body::from_stream(hygiene::StallGuard::new(
            body.into_data_stream(),
            body_timeout,
        ))
    });
    let open = is_open_path(&state, req.uri().path());
    // Who is asking: `None` for no credentials (or no --htpasswd).
    let mut user = None;
    if let Some(auth) = &state.auth
        && !open
    {
        let value = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !(state.access.is_some() && auth::is_empty_basic(v)));
        let peer = req
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        match auth.authenticate(value, peer).await {
            AuthOutcome::Allowed(name) => user = Some(name),
            // With access rules, a request without credentials goes on as
            // "anonymous" (the rules decide), except the `/v2/` ping, whose
            // challenge is how clients learn to log in.
            AuthOutcome::Denied
                if value.is_none()
                    && state.access.is_some()
                    && route::parse(req.uri().path()) != Some(Route::Base) => {}
            AuthOutcome::Denied => {
                if value.is_some() {
                    state.metrics.auth_failed();
                }
                return refuse(req, challenge(&state, "authentication required")).await;
            }
            AuthOutcome::Throttled(wait) => {
                state.metrics.auth_throttled();
                let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                let mut resp = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::TooManyRequests,
                    format!("too many failed logins from this address; try again in {seconds} s"),
                )
                .into_response();
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
                return refuse(req, resp).await;
            }
        }
    }
    let mut req = req;
    req.extensions_mut().insert(notify::Identity(user.clone()));
    if let Some(access) = &state.access
        && !open
    {
        let rules = access.current();
        if let Err(resp) = authorize(&state, &rules, user.as_deref(), &mut req) {
            return refuse(req, *resp).await;
        }
        req.extensions_mut().insert(Visible {
            rules,
            user: user.clone(),
        });
    }
    let method = req.method();
    let writes = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if writes && state.config.read_only {
        // registry:2's read-only mode answers 405 UNSUPPORTED (not DENIED).
        let resp = ApiError::unsupported("the registry is in read-only mode").into_response();
        return refuse(req, resp).await;
    }
    if *method == Method::DELETE && !state.config.delete_enabled {
        let resp = ApiError::unsupported(
            "deletion is disabled on this registry (started with --no-delete)",
        )
        .into_response();
        return refuse(req, resp).await;
    }
    if (writes || *method == Method::DELETE)
        && let Some(cache) = &state.proxy
        && let Some(name) = route::parse(req.uri().path()).and_then(|r| r.repository())
        && cache.is_cached_name(name)
    {
        let resp = cache.refusal(name).into_response();
        return refuse(req, resp).await;
    }
    with_api_version(next.run(req).await)
}

/// 401 with the Basic challenge.
fn challenge(state: &AppState, message: &str) -> Response {
    let mut resp =
        ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message).into_response();
    resp.headers_mut()
        .insert(header::WWW_AUTHENTICATE, state.www_authenticate.clone());
    resp
}

/// Under access rules: which repositories the catalog shows a client.
#[derive(Clone)]
struct Visible {
    rules: Arc<access::AccessRules>,
    user: Option<String>,
}

/// What a request needs under the access rules: an action and the
/// repository it is on. `None` for requests that need no rule (the ping,
/// the catalog, which is filtered instead, and unknown paths, which 404).
fn needed(method: &Method, route: &Route<'_>) -> Option<(access::Action, String)> {
    use access::Action;
    let (action, name) = match route {
        Route::Base | Route::Catalog => return None,
        Route::AdminGc => return Some((Action::Gc, String::new())),
        // The web UI's views span repositories (lists, sizes, the gc plan):
        // under access rules they are for those who may collect garbage.
        Route::Ui { what: "info" } => return None,
        Route::Ui { .. } => return Some((Action::Gc, String::new())),
        Route::Tags { name } | Route::Referrers { name, .. } => (Action::Pull, *name),
        Route::Manifest { name, .. } | Route::Blob { name, .. } => match *method {
            Method::GET | Method::HEAD => (Action::Pull, *name),
            Method::DELETE => (Action::Delete, *name),
            _ => (Action::Push, *name),
        },
        Route::UploadStart { name } | Route::Upload { name, .. } => (Action::Push, *name),
    };
    Some((action, name.to_owned()))
}

/// Checks a request against the access rules: 403 DENIED for a user the
/// rules do not allow, a 401 challenge for a client without credentials.
/// A cross-repository mount from a repository the user may not pull is
/// turned into a plain upload (202), as the distribution spec has a
/// registry do when it cannot mount.
fn authorize(
    state: &AppState,
    rules: &access::AccessRules,
    user: Option<&str>,
    req: &mut Request,
) -> Result<(), Box<Response>> {
    let path = req.uri().path().to_owned();
    let Some(route) = route::parse(&path) else {
        return Ok(());
    };
    let Some((action, repo)) = needed(req.method(), &route) else {
        return Ok(());
    };
    if !rules.allows(user, action, &repo) {
        let what = if action == access::Action::Gc {
            "run the garbage collection".to_owned()
        } else {
            format!("{} {repo}", action.as_str())
        };
        return Err(Box::new(match user {
            None => challenge(state, &format!("authentication required to {what}")),
            Some(name) => ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::Denied,
                format!("{name} may not {what} (access rules)"),
            )
            .into_response(),
        }));
    }
    if matches!(route, Route::UploadStart { .. })
        && let Some(query) = req.uri().query()
        && let Some(from) = query_param(Some(query), "from")
        && query_param(Some(query), "mount").is_some()
        && !rules.allows(user, access::Action::Pull, &from)
    {
        let kept: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .filter(|(k, _)| k != "mount" && k != "from")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(kept)
            .finish();
        let uri = if query.is_empty() {
            path
        } else {
            format!("{path}?{query}")
        };
        if let Ok(uri) = uri.parse() {
            *req.uri_mut() = uri;
        }
    }
    Ok(())
}

fn with_api_version(mut resp: Response) -> Response {
    resp.headers_mut().insert(
        "Docker-Distribution-API-Version",
        HeaderValue::from_static("registry/2.0"),
    );
    resp
}

async fn dispatch(State(state): State<SharedState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    let query = parts.uri.query();
    let head = parts.method == Method::HEAD;
    let Some(route) = route::parse(path) else {
        return ApiError::not_found().into_response();
    };
    let st = state.as_ref();
    let result = match (&parts.method, route) {
        (&Method::GET | &Method::HEAD, Route::Base) => Ok(base(head)),
        (&Method::GET, Route::Catalog) => {
            let visible = parts.extensions.get::<Visible>();
            listing::catalog(st, query, |repo| {
                visible.is_none_or(|v| {
                    v.rules
                        .allows(v.user.as_deref(), access::Action::Pull, repo)
                })
            })
            .await
        }
        (&Method::POST, Route::AdminGc) => {
            let peer = parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0);
            admin::collect(st, peer, query).await
        }
        (_, Route::Ui { what }) => ui::api(&state, &parts, what, query).await,
        (&Method::GET, Route::Tags { name }) => listing::tags(st, name, query).await,
        (&Method::GET, Route::Referrers { name, digest }) => {
            listing::referrers(st, name, digest, query).await
        }
        (&Method::GET | &Method::HEAD, Route::Manifest { name, reference }) => match &st.proxy {
            Some(cache) => Ok(proxy::manifest(&state, cache, name, reference, head).await),
            None => manifests::get(st, name, reference, head).await,
        },
        (&Method::PUT, Route::Manifest { name, reference }) => {
            manifests::put(st, name, reference, &parts.headers, body).await
        }
        (&Method::DELETE, Route::Manifest { name, reference }) => {
            manifests::delete(st, name, reference).await
        }
        (&Method::GET | &Method::HEAD, Route::Blob { name, digest }) => match &st.proxy {
            Some(cache) => Ok(proxy::blob(&state, cache, name, digest, &parts.headers, head).await),
            None => blobs::get(st, name, digest, &parts.headers, head).await,
        },
        (&Method::DELETE, Route::Blob { name, digest }) => blobs::delete(st, name, digest).await,
        (&Method::POST, Route::UploadStart { name }) => uploads::start(st, name, query, body).await,
        (&Method::PATCH, Route::Upload { name, id }) => {
            uploads::patch(st, name, id, &parts.headers, body).await
        }
        (&Method::PUT, Route::Upload { name, id }) => {
            uploads::finish(st, name, id, query, &parts.headers, body).await
        }
        (&Method::GET, Route::Upload { name, id }) => uploads::status(st, name, id).await,
        (&Method::DELETE, Route::Upload { name, id }) => uploads::cancel(st, name, id).await,
        _ => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Unsupported,
            format!("{} is not supported on {path}", parts.method),
        )),
    };
    let mut resp = result.unwrap_or_else(IntoResponse::into_response);
    if head {
        // HEAD answers carry headers only; error bodies are dropped too.
        *resp.body_mut() = Body::empty();
    }
    resp
}

fn base(head: bool) -> Response {
    let body = if head {
        Body::empty()
    } else {
        Body::from("{}")
    };
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A digest from a URL, or 400 DIGEST_INVALID naming the problem.
pub(crate) fn parse_digest(s: &str) -> Result<Digest, ApiError> {
    s.parse().map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::DigestInvalid,
            format!("{e}"),
        )
    })
}

/// Why a request body could not be taken as sent: the client's fault, not
/// the storage's, so it answers 400 SIZE_INVALID instead of a 500.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    #[error("the request body ended early or could not be read: {0}")]
    Read(String),
    #[error("the request body is longer than the {0} bytes declared")]
    TooLong(u64),
    #[error("the request body is {got} bytes, but {expected} were declared")]
    TooShort { expected: u64, got: u64 },
}

/// A request body as a storage stream. With `expected`, the body must be
/// exactly that long (hyper checks `Content-Length` itself; this covers a
/// `Content-Range` over a chunked body): too many bytes fail at once, too
/// few at the end, and the backend then drops the whole chunk.
pub(crate) fn body_stream(body: Body, expected: Option<u64>) -> crate::storage::ByteStream {
    use futures_util::StreamExt;
    let data = body
        .into_data_stream()
        .map(|r| r.map_err(|e| body_error(BodyError::Read(e.to_string()))));
    match expected {
        None => Box::pin(data),
        Some(expected) => Box::pin(ExactLength {
            inner: Box::pin(data),
            expected,
            got: 0,
            done: false,
        }),
    }
}

fn body_error(e: BodyError) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, e)
}

/// Fails a stream that delivers more or fewer bytes than expected.
struct ExactLength {
    inner: crate::storage::ByteStream,
    expected: u64,
    got: u64,
    done: bool,
}

impl futures_util::Stream for ExactLength {
    type Item = std::io::Result<bytes::Bytes>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        if self.done {
            return Poll::Ready(None);
        }
        let item = match self.inner.as_mut().poll_next(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(item) => item,
        };
        let item = match item {
            Some(Ok(b)) => {
                self.got += b.len() as u64;
                if self.got > self.expected {
                    Some(Err(body_error(BodyError::TooLong(self.expected))))
                } else {
                    Some(Ok(b))
                }
            }
            None if self.got < self.expected => Some(Err(body_error(BodyError::TooShort {
                expected: self.expected,
                got: self.got,
            }))),
            other => other,
        };
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
        Poll::Ready(item)
    }
}

/// A query parameter, percent-decoded.
pub(crate) fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}
