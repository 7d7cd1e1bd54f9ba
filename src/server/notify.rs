//! Event notifications (`--notify URL`): push, pull and delete of manifests
//! and blobs, posted in distribution's envelope
//! (`application/vnd.docker.distribution.events.v1+json`) so receivers
//! written for registry:2 work unchanged.
//!
//! Requests never wait for delivery: an event is built after the response
//! and offered to each endpoint's bounded queue; a full queue drops it. A
//! task per endpoint posts with a timeout and retries with backoff; events
//! that still fail are dropped. Both kinds of drop are counted in
//! `/metrics`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;

use super::route::{self, Route};
use super::{AppState, DIGEST_HEADER};

/// The envelope's content type.
pub const EVENTS_MEDIA_TYPE: &str = "application/vnd.docker.distribution.events.v1+json";

/// Events waiting per endpoint; more are dropped.
pub const QUEUE_LEN: usize = 1024;

/// Attempts per event before it is dropped.
const ATTEMPTS: u32 = 4;

/// Default time allowed for one POST to an endpoint.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Serialize)]
pub struct Envelope {
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub id: String,
    pub timestamp: String,
    pub action: &'static str,
    pub target: Target,
    pub request: RequestInfo,
    pub actor: Actor,
    pub source: Source,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    pub digest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    pub repository: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RequestInfo {
    pub id: String,
    pub addr: String,
    pub host: String,
    pub method: String,
    pub useragent: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Actor {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Source {
    pub addr: String,
    #[serde(rename = "instanceID")]
    pub instance_id: String,
}

/// Delivery counts, shown in `/metrics`.
#[derive(Debug, Default)]
pub struct NotifyCounts {
    pub sent: AtomicU64,
    pub retried: AtomicU64,
    /// Dropped because an endpoint's queue was full.
    pub dropped_full: AtomicU64,
    /// Dropped after the last failed attempt.
    pub dropped_failed: AtomicU64,
}

/// The endpoints' queues.
pub struct Notifier {
    queues: Vec<tokio::sync::mpsc::Sender<Arc<Event>>>,
    instance_id: String,
    hostname: String,
    pub counts: Arc<NotifyCounts>,
}

/// Who made a request (set by the authentication guard).
#[derive(Debug, Clone)]
pub struct Identity(pub Option<String>);

impl Notifier {
    /// Starts one delivery task per endpoint (needs a Tokio runtime).
    pub fn start(endpoints: &[url::Url], timeout: Duration) -> Notifier {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let counts = Arc::new(NotifyCounts::default());
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .unwrap_or_default();
        let queues = endpoints
            .iter()
            .map(|url| {
                let (tx, rx) = tokio::sync::mpsc::channel(QUEUE_LEN);
                tokio::spawn(deliver(client.clone(), url.clone(), rx, counts.clone()));
                tx
            })
            .collect();
        Notifier {
            queues,
            instance_id: uuid::Uuid::new_v4().to_string(),
            hostname: hostname(),
            counts,
        }
    }

    fn offer(&self, event: Event) {
        let event = Arc::new(event);
        for q in &self.queues {
            if q.try_send(event.clone()).is_err() {
                self.counts.dropped_full.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

async fn deliver(
    client: reqwest::Client,
    url: url::Url,
    mut rx: tokio::sync::mpsc::Receiver<Arc<Event>>,
    counts: Arc<NotifyCounts>,
) {
    while let Some(event) = rx.recv().await {
        let body = match serde_json::to_vec(&Envelope {
            events: vec![(*event).clone()],
        }) {
            Ok(b) => b,
            Err(_) => continue,
        };
        let mut backoff = Duration::from_millis(200);
        let mut delivered = false;
        for attempt in 1..=ATTEMPTS {
            let sent = client
                .post(url.clone())
                .header(header::CONTENT_TYPE, EVENTS_MEDIA_TYPE)
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => {
                    delivered = true;
                    break;
                }
                Ok(r) => {
                    tracing::debug!(target: "regctl::notify", %url, status = r.status().as_u16(), attempt, "endpoint refused an event")
                }
                Err(e) => {
                    tracing::debug!(target: "regctl::notify", %url, error = %e, attempt, "cannot post an event")
                }
            }
            if attempt < ATTEMPTS {
                counts.retried.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
        if delivered {
            counts.sent.fetch_add(1, Ordering::Relaxed);
        } else {
            counts.dropped_failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(target: "regctl::notify", %url, action = event.action, "event dropped after {ATTEMPTS} attempts");
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// registry:2's `source.addr`: this machine's name and the port served.
fn source_addr(name: &str, host: &str) -> String {
    let name = name.to_owned();
    match host.rsplit_once(':') {
        Some((_, port)) if port.chars().all(|c| c.is_ascii_digit()) => format!("{name}:{port}"),
        _ => name,
    }
}

fn header_str(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// What kind of event a finished request makes, if any.
enum Kind {
    ManifestPush,
    ManifestPull,
    ManifestDelete,
    BlobPush,
    BlobPull,
    BlobDelete,
}

/// The middleware: after a successful push, pull or delete, builds the
/// event and offers it (never awaiting delivery).
pub async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if state.notifier.is_none() || req.method() == Method::HEAD {
        return next.run(req).await;
    }
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let req_headers = req.headers().clone();
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.to_string())
        .unwrap_or_default();
    let actor = req.extensions().get::<Identity>().and_then(|i| i.0.clone());
    let resp = next.run(req).await;
    let status = resp.status();
    let Some(route) = route::parse(&path) else {
        return resp;
    };
    let (kind, name, reference) = match (&method, &route, status) {
        (&Method::PUT, Route::Manifest { name, reference }, StatusCode::CREATED) => {
            (Kind::ManifestPush, *name, Some(*reference))
        }
        (&Method::GET, Route::Manifest { name, reference }, StatusCode::OK) => {
            (Kind::ManifestPull, *name, Some(*reference))
        }
        (&Method::DELETE, Route::Manifest { name, reference }, StatusCode::ACCEPTED) => {
            (Kind::ManifestDelete, *name, Some(*reference))
        }
        (&Method::PUT, Route::Upload { name, .. }, StatusCode::CREATED)
        | (&Method::POST, Route::UploadStart { name }, StatusCode::CREATED) => {
            (Kind::BlobPush, *name, None)
        }
        (&Method::GET, Route::Blob { name, .. }, StatusCode::OK | StatusCode::PARTIAL_CONTENT) => {
            (Kind::BlobPull, *name, None)
        }
        (&Method::DELETE, Route::Blob { name, digest }, StatusCode::ACCEPTED) => {
            (Kind::BlobDelete, *name, Some(*digest))
        }
        _ => return resp,
    };
    let resp_headers = resp.headers();
    let digest = header_str(resp_headers, DIGEST_HEADER)
        .or_else(|| reference.filter(|r| r.contains(':')).map(str::to_owned));
    let Some(digest) = digest else {
        return resp;
    };
    let tag = reference
        .filter(|r| !r.contains(':'))
        .filter(|_| !matches!(kind, Kind::BlobDelete))
        .map(str::to_owned);
    let host = header_str(&req_headers, header::HOST).unwrap_or_default();
    let (action, media_type, size, url_kind) = match kind {
        Kind::ManifestPush => (
            "push",
            header_str(&req_headers, header::CONTENT_TYPE),
            header_str(&req_headers, header::CONTENT_LENGTH).and_then(|v| v.parse().ok()),
            Some("manifests"),
        ),
        Kind::ManifestPull => (
            "pull",
            header_str(resp_headers, header::CONTENT_TYPE),
            header_str(resp_headers, header::CONTENT_LENGTH).and_then(|v| v.parse().ok()),
            Some("manifests"),
        ),
        Kind::BlobPush => (
            "push",
            Some("application/octet-stream".into()),
            None,
            Some("blobs"),
        ),
        Kind::BlobPull => (
            "pull",
            Some("application/octet-stream".into()),
            (status == StatusCode::OK)
                .then(|| header_str(resp_headers, header::CONTENT_LENGTH))
                .flatten()
                .and_then(|v| v.parse().ok()),
            Some("blobs"),
        ),
        Kind::ManifestDelete | Kind::BlobDelete => ("delete", None, None, None),
    };
    let url = url_kind.map(|k| format!("http://{host}/v2/{name}/{k}/{digest}"));
    let event = Event {
        id: uuid::Uuid::new_v4().to_string(),
        timestamp: humantime::format_rfc3339_nanos(SystemTime::now()).to_string(),
        action,
        target: Target {
            media_type,
            size,
            digest: digest.clone(),
            length: size,
            repository: name.to_owned(),
            url,
            tag,
        },
        request: RequestInfo {
            id: uuid::Uuid::new_v4().to_string(),
            addr: peer,
            host: host.clone(),
            method: method.to_string(),
            useragent: header_str(&req_headers, header::USER_AGENT).unwrap_or_default(),
        },
        actor: Actor { name: actor },
        source: Source {
            addr: source_addr(
                state
                    .notifier
                    .as_ref()
                    .map_or("localhost", |n| n.hostname.as_str()),
                &host,
            ),
            instance_id: state
                .notifier
                .as_ref()
                .map(|n| n.instance_id.clone())
                .unwrap_or_default(),
        },
    };
    let needs_size = event.target.size.is_none() && event.action != "delete";
    if needs_size {
        // The size of a pushed blob is looked up off the request's path.
        let state = state.clone();
        tokio::spawn(async move {
            let mut event = event;
            if let Ok(d) = digest.parse::<crate::types::Digest>()
                && let Ok(Some(size)) = state.registry.blob_size(&d).await
            {
                event.target.size = Some(size);
                event.target.length = Some(size);
            }
            if let Some(n) = &state.notifier {
                n.offer(event);
            }
        });
    } else if let Some(n) = &state.notifier {
        n.offer(event);
    }
    resp
}
