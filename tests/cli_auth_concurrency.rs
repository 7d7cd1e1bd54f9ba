//! Concurrent requests share one authentication: `regctl cp` of a
//! multi-layer image with the default `--jobs` into password-protected
//! registries (registry:2 with htpasswd, `regctl serve --htpasswd`) and into
//! a token-auth registry (a Bearer front the test runs before `regctl
//! serve`), where concurrent 401s must lead to one token per scope.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use common::{DistRegistry, Serve, TestImage, regctl, run_ok, write_oci_layout};

const USER: &str = "alice";
const PASS: &str = "s3cret-pass";
const LAYERS: usize = 8;

fn htpasswd(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("htpasswd");
    std::fs::write(
        &path,
        format!("{USER}:{}\n", bcrypt::hash(PASS, 4).unwrap()),
    )
    .unwrap();
    path
}

fn login(home: &Path, addr: &str) {
    run_ok(common::output_with_stdin(
        regctl(home).args(["login", addr, "-u", USER, "--password-stdin"]),
        format!("{PASS}\n").as_bytes(),
    ));
}

/// An 8-layer image in an OCI layout under `home`.
fn layout(home: &Path, seed: &str) -> String {
    let img = TestImage::oci(seed, LAYERS, 64 * 1024);
    let dir = home.join(format!("layout-{seed}"));
    write_oci_layout(&dir, &[("v1", common::image::Artifact::Image(&img))]);
    format!("oci:{}:v1", dir.display())
}

/// Logs in, copies two multi-layer images with the default `--jobs`, and
/// checks they arrived.
fn copy_into(addr: &str, home: &Path) {
    login(home, addr);
    for (i, seed) in ["auth-a", "auth-b"].iter().enumerate() {
        let src = layout(home, seed);
        let dst = format!("{addr}/app{i}:v1");
        let out = regctl(home).args(["cp", &src, &dst]).output().unwrap();
        run_ok(out);
        let tags = run_ok(
            regctl(home)
                .args(["tags", &format!("{addr}/app{i}"), "--format", "plain"])
                .output()
                .unwrap(),
        );
        assert_eq!(tags, "v1\n");
    }
}

#[test]
fn cp_with_default_jobs_into_registry2_with_htpasswd() {
    let home = tempfile::tempdir().unwrap();
    let Some(reg) = DistRegistry::start_with_htpasswd(&htpasswd(home.path())) else {
        return;
    };
    copy_into(reg.addr(), home.path());
}

#[test]
fn cp_with_default_jobs_into_serve_with_htpasswd() {
    let home = tempfile::tempdir().unwrap();
    let file = htpasswd(home.path());
    let serve = Serve::start(&["--htpasswd", file.to_str().unwrap()]);
    copy_into(serve.addr(), home.path());
}

/// A Bearer-token front for a `regctl serve` backend: `/token` hands out
/// `tok|SCOPE` to `alice`, every other request needs a token whose scope
/// covers its repository and action, and is then forwarded.
#[derive(Clone)]
struct Front {
    addr: SocketAddr,
    backend: String,
    http: reqwest::Client,
    /// Scopes of the token requests, in order.
    token_scopes: Arc<Mutex<Vec<String>>>,
}

fn basic_user(h: &HeaderMap) -> Option<String> {
    let v = h.get(header::AUTHORIZATION)?.to_str().ok()?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(v.strip_prefix("Basic ")?)
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    (u == USER && p == PASS).then(|| u.to_owned())
}

async fn token(
    State(front): State<Front>,
    Query(q): Query<Vec<(String, String)>>,
    h: HeaderMap,
) -> Response {
    if basic_user(&h).is_none() {
        return (StatusCode::UNAUTHORIZED, "bad credentials").into_response();
    }
    let scope: Vec<&str> = q
        .iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.as_str())
        .collect();
    let scope = scope.join(" ");
    front.token_scopes.lock().unwrap().push(scope.clone());
    axum::Json(serde_json::json!({"token": format!("tok|{scope}"), "expires_in": 300}))
        .into_response()
}

/// The repository a `/v2/NAME/(blobs|manifests|tags)/...` path names.
fn repository_of(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/v2/")?;
    for marker in ["/blobs/", "/manifests/", "/tags/"] {
        if let Some(i) = rest.find(marker) {
            return Some(rest[..i].to_owned());
        }
    }
    None
}

async fn forward(State(front): State<Front>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let query = req
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let method = req.method().clone();
    let need = match repository_of(&path) {
        Some(repo) if method == "GET" || method == "HEAD" => {
            Some(format!("repository:{repo}:pull"))
        }
        Some(repo) => Some(format!("repository:{repo}:pull,push")),
        None => None,
    };
    let granted = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer tok|"))
        .map(str::to_owned);
    let allowed = match (&need, &granted) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(need), Some(granted)) => granted
            .split(' ')
            .any(|g| g == need || (need.ends_with(":pull") && *g == format!("{need},push"))),
    };
    if !allowed {
        let mut challenge = format!(
            r#"Bearer realm="http://{}/token",service="front""#,
            front.addr
        );
        if let Some(n) = &need {
            challenge.push_str(&format!(r#",scope="{n}""#));
        }
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, challenge)],
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"token required"}]}"#,
        )
            .into_response();
    }
    let mut headers = req.headers().clone();
    headers.remove(header::AUTHORIZATION);
    headers.remove(header::HOST);
    let body = axum::body::to_bytes(req.into_body(), 64 * 1024 * 1024)
        .await
        .unwrap();
    let resp = front
        .http
        .request(method, format!("http://{}{path}{query}", front.backend))
        .headers(headers)
        .body(body)
        .send()
        .await
        .unwrap();
    let mut out = Response::builder().status(resp.status().as_u16());
    for (k, v) in resp.headers() {
        out = out.header(k.as_str(), v.as_bytes());
    }
    out.body(Body::from(resp.bytes().await.unwrap())).unwrap()
}

async fn start_front(backend: &str) -> Front {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let front = Front {
        addr: listener.local_addr().unwrap(),
        backend: backend.to_owned(),
        http: common::push::http(),
        token_scopes: Arc::default(),
    };
    let router = Router::new()
        .route("/token", axum::routing::get(token))
        .fallback(forward)
        .with_state(front.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    front
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cp_with_default_jobs_into_a_token_registry_fetches_one_token_per_scope() {
    let serve = Serve::start(&[]);
    let front = start_front(serve.addr()).await;
    let addr = front.addr.to_string();
    let home = tempfile::tempdir().unwrap();
    let home_path = home.path().to_owned();
    let a = addr.clone();
    tokio::task::spawn_blocking(move || copy_into(&a, &home_path))
        .await
        .unwrap();
    let scopes = front.token_scopes.lock().unwrap().clone();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for s in &scopes {
        *counts.entry(s.as_str()).or_default() += 1;
    }
    // Each regctl process fetches a scope once; a second fetch of the same
    // scope by one process would mean concurrent 401s each fetched a token.
    for (scope, n) in &counts {
        let processes_needing = if scope.ends_with(":pull") {
            2 // the repository's cp and its tags
        } else {
            1 // cp's pushes, login's /v2/
        };
        assert!(
            *n <= processes_needing,
            "scope {scope:?} was fetched {n} times: {scopes:?}"
        );
    }
    assert!(
        counts.keys().any(|s| s.contains("push")),
        "cp went through the token flow: {scopes:?}"
    );
}
