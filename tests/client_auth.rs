//! Authentication and transport behaviour against a token server and a
//! registry front the test runs itself on 127.0.0.1:0: the Bearer flow
//! (challenge, token with credentials, cache, retry once), credential
//! helpers, retries on 429/503, digest verification of what is received.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;

use regctl::client::{Client, ClientError, ClientOptions, ErrorKind, RetryPolicy};
use regctl::types::{Digest, Reference};

const USER: &str = "alice";
const PASS: &str = "s3cret-pass";

#[derive(Default)]
struct Seen {
    /// (scope, basic user) of each token request.
    token_requests: Vec<(String, Option<String>)>,
    tags_requests: usize,
    flaky_left: usize,
}

#[derive(Clone)]
struct App {
    addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    /// Whether the token endpoint insists on credentials.
    require_login: bool,
}

fn basic_user(h: &HeaderMap) -> Option<(String, String)> {
    let v = h.get(header::AUTHORIZATION)?.to_str().ok()?;
    let b = v.strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD.decode(b).ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

async fn token(
    State(app): State<App>,
    Query(q): Query<HashMap<String, String>>,
    h: HeaderMap,
) -> Response {
    let scope = q.get("scope").cloned().unwrap_or_default();
    let user = basic_user(&h);
    app.seen
        .lock()
        .unwrap()
        .token_requests
        .push((scope.clone(), user.as_ref().map(|u| u.0.clone())));
    if q.get("service").map(String::as_str) != Some("test-registry") {
        return (StatusCode::BAD_REQUEST, "missing service").into_response();
    }
    match user {
        Some((u, p)) if u == USER && p == PASS => {}
        None if !app.require_login => {}
        _ => return (StatusCode::UNAUTHORIZED, "bad credentials").into_response(),
    }
    // `access_token` only: the client must accept either field name.
    axum::Json(serde_json::json!({"access_token": format!("tok|{scope}"), "expires_in": 300}))
        .into_response()
}

/// The OAuth2 refresh-token grant docker uses with an `identitytoken`.
async fn token_post(State(app): State<App>, body: String) -> Response {
    let form: HashMap<String, Vec<String>> =
        url::form_urlencoded::parse(body.as_bytes()).fold(HashMap::new(), |mut m, (k, v)| {
            m.entry(k.into_owned()).or_default().push(v.into_owned());
            m
        });
    let one = |k: &str| {
        form.get(k)
            .and_then(|v| v.first())
            .cloned()
            .unwrap_or_default()
    };
    let scope = one("scope");
    app.seen.lock().unwrap().token_requests.push((
        scope.clone(),
        Some(format!("refresh:{}", one("refresh_token"))),
    ));
    if one("grant_type") != "refresh_token" || one("refresh_token") != "refresh-me" {
        return (StatusCode::UNAUTHORIZED, "bad grant").into_response();
    }
    axum::Json(serde_json::json!({"access_token": format!("tok|{scope}")})).into_response()
}

fn challenge(app: &App, scope: Option<&str>) -> Response {
    let mut v = format!(
        r#"Bearer realm="http://{}/token",service="test-registry""#,
        app.addr
    );
    if let Some(s) = scope {
        v.push_str(&format!(r#",scope="{s}""#));
    }
    let body = r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#;
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, v)],
        body,
    )
        .into_response()
}

fn bearer(h: &HeaderMap) -> Option<String> {
    h.get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_owned)
}

async fn v2(State(app): State<App>, h: HeaderMap) -> Response {
    match bearer(&h) {
        Some(_) => axum::Json(serde_json::json!({})).into_response(),
        None => challenge(&app, None),
    }
}

async fn tags(
    State(app): State<App>,
    Query(q): Query<HashMap<String, String>>,
    h: HeaderMap,
) -> Response {
    let scope = "repository:demo:pull";
    if bearer(&h).as_deref() != Some(&format!("tok|{scope}")) {
        return challenge(&app, Some(scope));
    }
    app.seen.lock().unwrap().tags_requests += 1;
    // Two pages, linked relatively as registry:2 does.
    if !q.contains_key("last") {
        (
            [(
                header::LINK,
                r#"</v2/demo/tags/list?last=b&n=2>; rel="next""#,
            )],
            axum::Json(serde_json::json!({"name": "demo", "tags": ["a", "b"]})),
        )
            .into_response()
    } else {
        axum::Json(serde_json::json!({"name": "demo", "tags": ["c"]})).into_response()
    }
}

/// Answers 429 (Retry-After: 0) then 503, then the list.
async fn flaky_tags(State(app): State<App>) -> Response {
    let mut seen = app.seen.lock().unwrap();
    if seen.flaky_left > 0 {
        seen.flaky_left -= 1;
        let code = if seen.flaky_left % 2 == 1 {
            StatusCode::TOO_MANY_REQUESTS
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        return (code, [(header::RETRY_AFTER, "0")], "slow down").into_response();
    }
    axum::Json(serde_json::json!({"name": "flaky", "tags": ["ok"]})).into_response()
}

const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;

/// Serves a manifest whose announced digest is wrong.
async fn lying_manifest() -> Response {
    let wrong = Digest::sha256_of(b"something else");
    (
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.oci.image.manifest.v1+json".to_owned(),
            ),
            (
                header::HeaderName::from_static("docker-content-digest"),
                wrong.to_string(),
            ),
        ],
        MANIFEST,
    )
        .into_response()
}

async fn start(require_login: bool) -> App {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = App {
        addr,
        seen: Arc::new(Mutex::new(Seen {
            flaky_left: 2,
            ..Seen::default()
        })),
        require_login,
    };
    let router =
        Router::new()
            .route("/token", get(token).post(token_post))
            .route("/v2/", get(v2))
            .route("/v2/demo/tags/list", get(tags))
            .route("/v2/flaky/tags/list", get(flaky_tags))
            .route(
                "/v2/never/tags/list",
                get(|State(app): State<App>| async move {
                    challenge(&app, Some("repository:never:pull"))
                }),
            )
            .route("/v2/lying/manifests/{reference}", get(lying_manifest))
            .with_state(app.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    app
}

fn docker_config_with_login(
    dir: &std::path::Path,
    registry: &str,
    pass: &str,
) -> std::path::PathBuf {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{pass}"));
    let path = dir.join("config.json");
    std::fs::write(
        &path,
        serde_json::json!({"auths": {registry: {"auth": auth}}}).to_string(),
    )
    .unwrap();
    path
}

fn client(docker_config: Option<std::path::PathBuf>) -> Client {
    Client::new(ClientOptions {
        docker_config,
        docker_certs_dir: None,
        retry: RetryPolicy {
            base_delay: std::time::Duration::from_millis(1),
            ..RetryPolicy::default()
        },
        ..ClientOptions::default()
    })
    .unwrap()
}

#[tokio::test]
async fn bearer_flow_fetches_a_token_with_credentials_and_caches_it() {
    let app = start(true).await;
    let reg = app.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let c = client(Some(docker_config_with_login(dir.path(), &reg, PASS)));
    let repo = Reference::parse(&format!("{reg}/demo"), "unused").unwrap();
    assert_eq!(c.tags(&repo, None).await.unwrap(), vec!["a", "b", "c"]);
    assert_eq!(c.tags(&repo, None).await.unwrap(), vec!["a", "b", "c"]);
    let seen = app.seen.lock().unwrap();
    // One token for the scope, asked with the stored credentials, reused
    // for both pages of both listings.
    assert_eq!(
        seen.token_requests,
        vec![("repository:demo:pull".to_owned(), Some(USER.to_owned()))]
    );
    assert_eq!(seen.tags_requests, 4);
}

#[tokio::test]
async fn rejected_credentials_are_an_auth_error() {
    let app = start(true).await;
    let reg = app.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let c = client(Some(docker_config_with_login(dir.path(), &reg, "wrong")));
    let repo = Reference::parse(&format!("{reg}/demo"), "unused").unwrap();
    let err = c.tags(&repo, None).await.unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Token {
                status: Some(401),
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::Auth);
    // Anonymous: the token server refuses too, same classification.
    let err = client(None).tags(&repo, None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
}

#[tokio::test]
async fn anonymous_tokens_are_used_when_no_credentials_are_known() {
    let app = start(false).await;
    let reg = app.addr.to_string();
    let repo = Reference::parse(&format!("{reg}/demo"), "unused").unwrap();
    assert_eq!(client(None).tags(&repo, None).await.unwrap().len(), 3);
    assert_eq!(
        app.seen.lock().unwrap().token_requests,
        vec![("repository:demo:pull".to_owned(), None)]
    );
}

#[tokio::test]
async fn retries_429_and_503_honouring_retry_after() {
    let app = start(false).await;
    let repo = Reference::parse(&format!("{}/flaky", app.addr), "unused").unwrap();
    assert_eq!(client(None).tags(&repo, None).await.unwrap(), vec!["ok"]);
    assert_eq!(app.seen.lock().unwrap().flaky_left, 0);
}

#[tokio::test]
async fn a_wrong_docker_content_digest_is_rejected() {
    let app = start(false).await;
    let r = Reference::parse(&format!("{}/lying:v1", app.addr), "unused").unwrap();
    let err = client(None).manifest_get(&r).await.unwrap_err();
    assert!(matches!(err, ClientError::DigestMismatch { .. }), "{err}");
    // Asking by the right digest still fails: the header contradicts it.
    let good = Digest::sha256_of(MANIFEST.as_bytes());
    let err = client(None)
        .manifest_get(&r.with_digest(good))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::DigestMismatch { .. }), "{err}");
}

/// The CLI with credentials from a `docker-credential-test` helper script on
/// PATH, in a temporary HOME; `-v` logs requests without secrets.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn cli_uses_a_credential_helper_and_never_logs_secrets() {
    use std::os::unix::fs::PermissionsExt;
    let app = start(true).await;
    let reg = app.addr.to_string();
    let home = tempfile::tempdir().unwrap();
    let bin = home.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-test");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server || true\n\
             if [ \"$server\" = \"{reg}\" ]; then\n\
             printf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{PASS}\"}}' \"$server\"\n\
             else echo 'credentials not found in native keychain'; exit 1; fi\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let docker = home.path().join(".docker");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::write(
        docker.join("config.json"),
        r#"{"credsStore":"test","auths":{}}"#,
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_regctl"))
            .args(["-v", "tags", &format!("{reg}/demo"), "--format", "plain"])
            .env("HOME", home.path())
            .env_remove("DOCKER_CONFIG")
            .env_remove("REGCTL_REGISTRY")
            .env("XDG_CONFIG_HOME", home.path().join("xdg"))
            .env("PATH", path)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a\nb\nc\n");
    assert!(
        stderr.contains("/v2/demo/tags/list"),
        "-v logs requests: {stderr}"
    );
    assert!(!stderr.contains(PASS), "password leaked: {stderr}");
    assert!(!stderr.contains("tok|"), "token leaked: {stderr}");
    assert!(!stderr.contains("Basic "), "auth header leaked: {stderr}");
    assert_eq!(
        app.seen.lock().unwrap().token_requests,
        vec![("repository:demo:pull".to_owned(), Some(USER.to_owned()))]
    );
}

#[tokio::test]
async fn identity_tokens_use_the_refresh_token_grant() {
    let app = start(true).await;
    let reg = app.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(
        &path,
        serde_json::json!({"auths": {&reg: {"auth": "", "identitytoken": "refresh-me"}}})
            .to_string(),
    )
    .unwrap();
    let repo = Reference::parse(&format!("{reg}/demo"), "unused").unwrap();
    assert_eq!(client(Some(path)).tags(&repo, None).await.unwrap().len(), 3);
    assert_eq!(
        app.seen.lock().unwrap().token_requests,
        vec![(
            "repository:demo:pull".to_owned(),
            Some("refresh:refresh-me".to_owned())
        )]
    );
}

#[tokio::test]
async fn a_401_after_a_fresh_token_is_retried_once_only() {
    let app = start(false).await;
    let repo = Reference::parse(&format!("{}/never", app.addr), "unused").unwrap();
    let err = client(None).tags(&repo, None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert_eq!(err.status(), Some(401));
    assert!(
        err.to_string()
            .starts_with("UNAUTHORIZED: authentication required (HTTP 401)"),
        "{err}"
    );
    assert_eq!(app.seen.lock().unwrap().token_requests.len(), 1);
}
