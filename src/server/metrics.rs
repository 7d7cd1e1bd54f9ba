//! Prometheus metrics for `regctl serve`, in the text exposition format.
//!
//! Hand-written over atomics instead of a metrics crate: the set of series
//! is small and fixed (method x route class x status for requests, one
//! histogram per route class), so a dependency would buy nothing. Request
//! series never carry the repository name, which would let clients create
//! series without bound; only the stored-bytes gauge does, and its values
//! come from a background refresh of the `du` engine, never from a scrape.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hyper::body::{Frame, SizeHint};

use super::AppState;
use super::route::{self, Route};

/// How often the stored-bytes gauges are recomputed by default.
pub const DEFAULT_STORAGE_REFRESH: Duration = Duration::from_secs(300);

/// The Prometheus text format's content type.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Latency bucket bounds in seconds.
const BUCKETS: [f64; 13] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// What kind of resource a request addressed: the label on request series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RouteClass {
    Base,
    Catalog,
    Tags,
    Manifest,
    Blob,
    Upload,
    Referrers,
    Admin,
    Metrics,
    Health,
    Ui,
    Other,
}

impl RouteClass {
    const ALL: [RouteClass; 12] = [
        RouteClass::Base,
        RouteClass::Catalog,
        RouteClass::Tags,
        RouteClass::Manifest,
        RouteClass::Blob,
        RouteClass::Upload,
        RouteClass::Referrers,
        RouteClass::Admin,
        RouteClass::Metrics,
        RouteClass::Health,
        RouteClass::Ui,
        RouteClass::Other,
    ];

    pub fn of(path: &str) -> RouteClass {
        match path {
            "/metrics" => return RouteClass::Metrics,
            "/healthz" | "/readyz" => return RouteClass::Health,
            "/" | "/favicon.ico" => return RouteClass::Ui,
            p if p.starts_with("/ui/") => return RouteClass::Ui,
            _ => {}
        }
        match route::parse(path) {
            Some(Route::Base) => RouteClass::Base,
            Some(Route::Catalog) => RouteClass::Catalog,
            Some(Route::Tags { .. }) => RouteClass::Tags,
            Some(Route::Manifest { .. }) => RouteClass::Manifest,
            Some(Route::Blob { .. }) => RouteClass::Blob,
            Some(Route::UploadStart { .. } | Route::Upload { .. }) => RouteClass::Upload,
            Some(Route::Referrers { .. }) => RouteClass::Referrers,
            Some(Route::AdminGc) => RouteClass::Admin,
            Some(Route::Ui { .. }) => RouteClass::Ui,
            None => RouteClass::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RouteClass::Base => "base",
            RouteClass::Catalog => "catalog",
            RouteClass::Tags => "tags",
            RouteClass::Manifest => "manifest",
            RouteClass::Blob => "blob",
            RouteClass::Upload => "upload",
            RouteClass::Referrers => "referrers",
            RouteClass::Admin => "admin",
            RouteClass::Metrics => "metrics",
            RouteClass::Health => "health",
            RouteClass::Ui => "ui",
            RouteClass::Other => "other",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Methods are a label too; anything unusual is folded into "other" so a
/// client cannot make new series by inventing methods.
fn method_label(method: &axum::http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "PUT" => "PUT",
        "POST" => "POST",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

#[derive(Default)]
struct Histogram {
    /// Per bucket, not cumulative (made cumulative when rendered); the last
    /// slot is +Inf.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let slot = BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(BUCKETS.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(
            u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self.count.fetch_add(1, Ordering::Relaxed);
    }
}

/// Stored bytes from the last completed `du` run.
#[derive(Debug, Clone, Default)]
struct Stored {
    total: u64,
    repositories: Vec<(String, u64)>,
    /// Unix time of the refresh.
    at: f64,
}

/// Every metric the server keeps.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, RouteClass, u16), u64>>,
    latency: [Histogram; RouteClass::ALL.len()],
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    uploads_in_flight: AtomicI64,
    auth_failures: AtomicU64,
    auth_throttled: AtomicU64,
    gc_runs: AtomicU64,
    gc_failures: AtomicU64,
    gc_bytes_freed: AtomicU64,
    stored: Mutex<Option<Stored>>,
    storage_refresh_failures: AtomicU64,
    pub(super) retention_runs: AtomicU64,
    pub(super) retention_tags: AtomicU64,
    pub(super) retention_tags_dry: AtomicU64,
}

impl Metrics {
    pub fn auth_failed(&self) {
        self.auth_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn auth_throttled(&self) {
        self.auth_throttled.fetch_add(1, Ordering::Relaxed);
    }

    /// One garbage collection finished (`Some(bytes freed)`) or failed.
    pub fn gc_done(&self, freed: Option<u64>) {
        match freed {
            Some(bytes) => {
                self.gc_runs.fetch_add(1, Ordering::Relaxed);
                self.gc_bytes_freed.fetch_add(bytes, Ordering::Relaxed);
            }
            None => {
                self.gc_failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn request_done(&self, method: &'static str, class: RouteClass, status: u16, took: Duration) {
        if let Ok(mut requests) = self.requests.lock() {
            *requests.entry((method, class, status)).or_default() += 1;
        }
        self.latency[class.index()].observe(took);
    }

    /// The whole exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(8 * 1024);
        let o = &mut out;
        header_lines(
            o,
            "regctl_http_requests_total",
            "counter",
            "HTTP requests answered, by method, route class and status.",
        );
        if let Ok(requests) = self.requests.lock() {
            for ((method, class, status), n) in requests.iter() {
                let _ = writeln!(
                    o,
                    "regctl_http_requests_total{{method=\"{method}\",class=\"{}\",status=\"{status}\"}} {n}",
                    class.as_str()
                );
            }
        }
        header_lines(
            o,
            "regctl_http_request_duration_seconds",
            "histogram",
            "Time from a request's arrival to its response headers, by route class.",
        );
        for class in RouteClass::ALL {
            let h = &self.latency[class.index()];
            let label = class.as_str();
            let mut cumulative = 0u64;
            for (i, bound) in BUCKETS.iter().enumerate() {
                cumulative += h.buckets[i].load(Ordering::Relaxed);
                let _ = writeln!(
                    o,
                    "regctl_http_request_duration_seconds_bucket{{class=\"{label}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            cumulative += h.buckets[BUCKETS.len()].load(Ordering::Relaxed);
            let _ = writeln!(
                o,
                "regctl_http_request_duration_seconds_bucket{{class=\"{label}\",le=\"+Inf\"}} {cumulative}"
            );
            let sum = h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(
                o,
                "regctl_http_request_duration_seconds_sum{{class=\"{label}\"}} {sum}"
            );
            // The count is the +Inf bucket, so both always agree.
            let _ = writeln!(
                o,
                "regctl_http_request_duration_seconds_count{{class=\"{label}\"}} {cumulative}"
            );
        }
        let simple: [(&str, &str, &str, i128); 12] = [
            (
                "regctl_retention_runs_total",
                "counter",
                "Scheduled retention passes run (--retention).",
                self.retention_runs.load(Ordering::Relaxed).into(),
            ),
            (
                "regctl_retention_deleted_tags_total",
                "counter",
                "Tags deleted by scheduled retention.",
                self.retention_tags.load(Ordering::Relaxed).into(),
            ),
            (
                "regctl_retention_dry_run_tags_total",
                "counter",
                "Tags scheduled retention would have deleted (--retention-dry-run).",
                self.retention_tags_dry.load(Ordering::Relaxed).into(),
            ),
            (
                "regctl_http_request_bytes_total",
                "counter",
                "Request body bytes received.",
                self.bytes_in.load(Ordering::Relaxed).into(),
            ),
            (
                "regctl_http_response_bytes_total",
                "counter",
                "Response body bytes sent.",
                self.bytes_out.load(Ordering::Relaxed).into(),
            ),
            (
                "regctl_uploads_in_progress",
                "gauge",
                "Upload requests (POST, PATCH, PUT of blob uploads) being received now.",
                self.uploads_in_flight.load(Ordering::Relaxed).into(),
            ),
            (
                "regctl_auth_failures_total",
                "counter",
                "Requests refused because their credentials were wrong.",
                self.auth_failures.load(Ordering::Relaxed).into(),
            ),
            (
                "regctl_auth_throttled_total",
                "counter",
                "Requests refused with 429 after too many failed logins from one address.",
                self.auth_throttled.load(Ordering::Relaxed).into(),
            ),
            (
                "regctl_gc_runs_total",
                "counter",
                "Online garbage collections completed (admin endpoint and --gc-interval).",
                self.gc_runs.load(Ordering::Relaxed).into(),
            ),
            (
                "regctl_gc_failures_total",
                "counter",
                "Online garbage collections that failed or were refused.",
                self.gc_failures.load(Ordering::Relaxed).into(),
            ),
            (
                "regctl_gc_freed_bytes_total",
                "counter",
                "Bytes freed by online garbage collections.",
                self.gc_bytes_freed.load(Ordering::Relaxed).into(),
            ),
            (
                "regctl_storage_refresh_failures_total",
                "counter",
                "Background stored-bytes refreshes that failed.",
                self.storage_refresh_failures.load(Ordering::Relaxed).into(),
            ),
        ];
        for (name, kind, help, value) in simple {
            header_lines(o, name, kind, help);
            let _ = writeln!(o, "{name} {value}");
        }
        let stored = self.stored.lock().ok().and_then(|s| s.clone());
        if let Some(stored) = stored {
            header_lines(
                o,
                "regctl_storage_bytes",
                "gauge",
                "Bytes stored in total (each blob once), from the last background refresh.",
            );
            let _ = writeln!(o, "regctl_storage_bytes {}", stored.total);
            header_lines(
                o,
                "regctl_storage_repository_bytes",
                "gauge",
                "Bytes referenced by each repository's tags (blobs shared between repositories count in each).",
            );
            for (repo, bytes) in &stored.repositories {
                let _ = writeln!(
                    o,
                    "regctl_storage_repository_bytes{{repository=\"{}\"}} {bytes}",
                    escape_label(repo)
                );
            }
            header_lines(
                o,
                "regctl_storage_refresh_timestamp_seconds",
                "gauge",
                "Unix time of the last completed stored-bytes refresh.",
            );
            let _ = writeln!(o, "regctl_storage_refresh_timestamp_seconds {}", stored.at);
        }
        out
    }
}

fn render_notify(o: &mut String, c: &super::notify::NotifyCounts) {
    header_lines(
        o,
        "regctl_notifications_total",
        "counter",
        "Event notifications by outcome: sent, retried (attempts that failed and were retried), dropped_full (queue full), dropped_failed (every attempt failed).",
    );
    for (outcome, n) in [
        ("sent", &c.sent),
        ("retried", &c.retried),
        ("dropped_full", &c.dropped_full),
        ("dropped_failed", &c.dropped_failed),
    ] {
        let _ = writeln!(
            o,
            "regctl_notifications_total{{outcome=\"{outcome}\"}} {}",
            n.load(Ordering::Relaxed)
        );
    }
}

fn header_lines(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}");
    let _ = writeln!(o, "# TYPE {name} {kind}");
}

/// A label value as the text format wants it.
fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `GET /metrics`.
pub async fn scrape(State(state): State<Arc<AppState>>) -> Response {
    let mut text = state.metrics.render();
    if let Some(n) = &state.notifier {
        render_notify(&mut text, &n.counts);
    }
    let mut resp = text.into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(TEXT_FORMAT));
    resp
}

/// Keeps the upload gauge right even when a client stops half-way: the
/// request's future is dropped, and this with it.
struct InFlightUpload(Arc<Metrics>);

impl Drop for InFlightUpload {
    fn drop(&mut self) {
        self.0.uploads_in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The middleware: counts every request, its latency and its body bytes.
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let class = RouteClass::of(req.uri().path());
    let method = method_label(req.method());
    let _upload = (class == RouteClass::Upload).then(|| {
        metrics.uploads_in_flight.fetch_add(1, Ordering::Relaxed);
        InFlightUpload(metrics.clone())
    });
    let counter = metrics.clone();
    let req = req.map(|body| Body::new(Counted::new(body, counter, Direction::In)));
    let resp = next.run(req).await;
    metrics.request_done(method, class, resp.status().as_u16(), start.elapsed());
    let counter = metrics.clone();
    resp.map(|body| Body::new(Counted::new(body, counter, Direction::Out)))
}

#[derive(Clone, Copy)]
enum Direction {
    In,
    Out,
}

/// A body that counts its data bytes as they pass; size hints and
/// end-of-stream pass through, so `Content-Length` answers stay as they were.
struct Counted {
    inner: Body,
    metrics: Arc<Metrics>,
    direction: Direction,
}

impl Counted {
    fn new(inner: Body, metrics: Arc<Metrics>, direction: Direction) -> Self {
        Counted {
            inner,
            metrics,
            direction,
        }
    }
}

impl hyper::body::Body for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            let counter = match this.direction {
                Direction::In => &this.metrics.bytes_in,
                Direction::Out => &this.metrics.bytes_out,
            };
            counter.fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Recomputes the stored-bytes gauges now and then `every` after, until
/// the server's state is dropped. Runs `du` over the storage, never per
/// scrape.
pub async fn refresh_storage_periodically(state: Weak<AppState>, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(state) = state.upgrade() else {
            return;
        };
        let source = crate::ops::du::StorageSource::new(&state.registry);
        match crate::ops::du::registry_usage(&source, None).await {
            Ok(usage) => {
                let at = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs_f64())
                    .unwrap_or(0.0);
                let stored = Stored {
                    total: usage.total,
                    repositories: usage
                        .repositories
                        .into_iter()
                        .map(|u| (u.name, u.total))
                        .collect(),
                    at,
                };
                if let Ok(mut slot) = state.metrics.stored.lock() {
                    *slot = Some(stored);
                }
            }
            Err(e) => {
                state
                    .metrics
                    .storage_refresh_failures
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(target: "regctl::metrics", error = %e, "stored-bytes refresh failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_the_routes() {
        assert_eq!(RouteClass::of("/v2/a/b/manifests/x"), RouteClass::Manifest);
        assert_eq!(RouteClass::of("/v2/a/blobs/uploads/"), RouteClass::Upload);
        assert_eq!(RouteClass::of("/v2/a/blobs/uploads/u"), RouteClass::Upload);
        assert_eq!(RouteClass::of("/v2/a/blobs/sha256:1"), RouteClass::Blob);
        assert_eq!(RouteClass::of("/v2/_catalog"), RouteClass::Catalog);
        assert_eq!(RouteClass::of("/metrics"), RouteClass::Metrics);
        assert_eq!(RouteClass::of("/nope"), RouteClass::Other);
        for (i, c) in RouteClass::ALL.iter().enumerate() {
            assert_eq!(c.index(), i);
        }
    }

    #[test]
    fn histogram_is_cumulative_and_labels_escaped() {
        let m = Metrics::default();
        m.request_done("GET", RouteClass::Blob, 200, Duration::from_millis(1));
        m.request_done("GET", RouteClass::Blob, 404, Duration::from_secs(100));
        let text = m.render();
        assert!(text.contains(
            "regctl_http_request_duration_seconds_bucket{class=\"blob\",le=\"0.005\"} 1"
        ));
        assert!(
            text.contains(
                "regctl_http_request_duration_seconds_bucket{class=\"blob\",le=\"60\"} 1"
            )
        );
        assert!(
            text.contains(
                "regctl_http_request_duration_seconds_bucket{class=\"blob\",le=\"+Inf\"} 2"
            )
        );
        assert!(text.contains(
            "regctl_http_requests_total{method=\"GET\",class=\"blob\",status=\"404\"} 1"
        ));
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
