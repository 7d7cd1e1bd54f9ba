//! The web UI of `regctl serve` and CORS for external UIs (issue 17).
//!
//! HTTP-level checks talk to a real `regctl serve`; the browser checks
//! drive headless Chromium through chromedriver (skipped without it, outside
//! CI).

mod common;

use std::time::{Duration, Instant};

use common::push::{get, http, push_blob, push_image, push_index, push_manifest};
use common::webdriver::Browser;
use common::{Serve, TestImage, TestIndex};
use regctl::types::Digest;
use regctl::types::media_type::{MANIFEST_ACCEPT, OCI_EMPTY, OCI_INDEX, OCI_MANIFEST};
use serde_json::{Value, json};

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const XSS_IMG: &str = "<img src=x onerror=\"window.__pwned=1;alert(1)\">";
const XSS_SCRIPT: &str = "<script>window.__pwned=2;alert(2)</script>";
const SIG_TYPE: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";

/// An image whose labels, env and manifest annotations hold HTML.
fn hostile_image() -> (TestImage, Vec<u8>) {
    let mut img = TestImage::oci("evil", 1, 256);
    let mut config: Value = serde_json::from_slice(&img.config).unwrap();
    config["config"]["Labels"] = json!({"title": XSS_IMG, XSS_SCRIPT: "key-with-script"});
    config["config"]["Env"] = json!([format!("X={XSS_SCRIPT}")]);
    img.config = serde_json::to_vec(&config).unwrap();
    let mut manifest: Value = serde_json::from_slice(&img.manifest).unwrap();
    manifest["config"]["digest"] = json!(Digest::sha256_of(&img.config).to_string());
    manifest["config"]["size"] = json!(img.config.len());
    manifest["annotations"] = json!({"org.opencontainers.image.description": XSS_IMG});
    img.manifest = serde_json::to_vec(&manifest).unwrap();
    img.digest = Digest::sha256_of(&img.manifest);
    let config = img.config.clone();
    (img, config)
}

/// A signature-like referrer of `subject` (an index).
async fn push_referrer(addr: &str, repo: &str, subject: &TestIndex) -> Digest {
    let payload = br#"{"critical":{"type":"cosign container image signature"}}"#;
    push_blob(addr, repo, b"{}").await;
    push_blob(addr, repo, payload).await;
    let m = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": SIG_TYPE,
        "config": {"mediaType": OCI_EMPTY, "digest": Digest::sha256_of(b"{}").to_string(), "size": 2},
        "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                    "digest": Digest::sha256_of(payload).to_string(), "size": payload.len()}],
        "subject": {"mediaType": OCI_INDEX, "digest": subject.digest.to_string(), "size": subject.manifest.len()},
        "annotations": {"dev.cosignproject.cosign/signature": "MEUCIQ"},
    }))
    .unwrap();
    let d = Digest::sha256_of(&m);
    push_manifest(addr, repo, &d.to_string(), OCI_MANIFEST, &m).await;
    d
}

struct Seeded {
    index: TestIndex,
    old: TestImage,
    evil: TestImage,
    signature: Digest,
}

/// `apps/web`: a two-platform index tagged `1.0` and `latest`, an image
/// tagged `old`, a signature of the index; `evil`: HTML in its labels.
async fn seed(addr: &str) -> Seeded {
    let index = TestIndex::new("web", &["linux/amd64", "linux/arm64"]);
    push_index(addr, "apps/web", "1.0", &index).await;
    push_manifest(addr, "apps/web", "latest", OCI_INDEX, &index.manifest).await;
    let old = TestImage::oci("old", 2, 4096);
    push_image(addr, "apps/web", "old", &old).await;
    let signature = push_referrer(addr, "apps/web", &index).await;
    let (evil, _) = hostile_image();
    push_image(addr, "evil", "v1", &evil).await;
    Seeded {
        index,
        old,
        evil,
        signature,
    }
}

async fn tags_of(addr: &str, repo: &str) -> Vec<String> {
    let (status, _, _, body) = get(addr, &format!("/v2/{repo}/tags/list"), "*/*").await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_slice(&body).unwrap();
    serde_json::from_value(v["tags"].clone()).unwrap_or_default()
}

async fn manifest_status(addr: &str, repo: &str, reference: &str) -> u16 {
    get(
        addr,
        &format!("/v2/{repo}/manifests/{reference}"),
        MANIFEST_ACCEPT,
    )
    .await
    .0
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// The shell's link to its script, with the version query.
fn script_path(shell: &str) -> String {
    let start = shell.find("/ui/assets/app.js").unwrap();
    let end = start + shell[start..].find('"').unwrap();
    shell[start..end].to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn shell_deep_links_and_assets_carry_csp_and_cache_headers() {
    let s = Serve::start(&[]);
    let addr = s.addr();
    let c = http();
    for path in [
        "/",
        "/ui/repo/apps/web",
        "/ui/image/a/b@sha256:00",
        "/ui/storage",
    ] {
        let r = c
            .get(format!("http://{addr}{path}"))
            .header("Accept", "text/html,application/xhtml+xml")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert!(
            header(&r, "content-type").starts_with("text/html"),
            "{path}"
        );
        assert_eq!(header(&r, "content-security-policy"), CSP, "{path}");
        assert_eq!(header(&r, "x-frame-options"), "DENY");
        let body = r.text().await.unwrap();
        assert!(body.contains("/ui/assets/app.js?v="), "{body}");
        // The shell has no inline script or style for the CSP to allow.
        assert!(
            !body.contains("<script>") && !body.contains("style="),
            "{body}"
        );
    }
    // The API is unchanged: `/` for a non-browser is still no route, /v2/ answers.
    let (status, _, _, _) = get(addr, "/", "application/json").await;
    assert_eq!(status, 404);
    let (status, ct, _, body) = get(addr, "/v2/", "*/*").await;
    assert_eq!(
        (status, ct.as_str(), body.as_slice()),
        (200, "application/json", &b"{}"[..])
    );

    let shell = c
        .get(format!("http://{addr}/"))
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let js = script_path(&shell);
    let r = c
        .get(format!("http://{addr}{js}"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-type").starts_with("text/javascript"));
    assert_eq!(header(&r, "content-encoding"), "gzip");
    assert!(header(&r, "cache-control").contains("immutable"));
    let etag = header(&r, "etag");
    assert!(!etag.is_empty());
    let r = c
        .get(format!("http://{addr}{js}"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    // An old version query is not cached for good.
    let r = c
        .get(format!("http://{addr}/ui/assets/app.js?v=old"))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&r, "cache-control"), "no-cache");
    let (status, _, _, _) = get(addr, "/ui/assets/missing.js", "*/*").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_ui_turns_the_pages_and_their_endpoints_off() {
    let s = Serve::start(&["--no-ui"]);
    let addr = s.addr();
    for path in [
        "/",
        "/ui/repo/x",
        "/ui/assets/app.js",
        "/v2/_regctl/ui/info",
    ] {
        let (status, _, _, _) = get(addr, path, "text/html").await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _, _, _) = get(addr, "/v2/", "*/*").await;
    assert_eq!(status, 200);
}

fn htpasswd(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("htpasswd");
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    std::fs::write(&path, format!("alice:{hash}\n")).unwrap();
    path
}

fn basic(user: &str, pass: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

/// A root seeded through a server without authentication (the push
/// helpers send no credentials), served afterwards with `extra`.
async fn seeded_root(dir: &std::path::Path) -> (std::path::PathBuf, Seeded) {
    let root = dir.join("root");
    let s = Serve::start_with_root(&root, &[]);
    let seeded = seed(s.addr()).await;
    s.kill();
    (root, seeded)
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_answers_joxit_registry_ui_calls_for_a_listed_origin() {
    let dir = tempfile::tempdir().unwrap();
    let (root, seeded) = seeded_root(dir.path()).await;
    let pw = htpasswd(dir.path());
    let ui = "http://registry-ui.example:8080";
    let s = Serve::start_with_root(
        &root,
        &[
            "--htpasswd",
            pw.to_str().unwrap(),
            "--cors-origin",
            ui,
            "--cors-origin",
            "https://other.example",
        ],
    );
    let addr = s.addr();
    let c = http();
    let auth = basic("alice", "s3cret");
    // Preflights as the joxit UI's XHRs cause them: no credentials.
    for (path, method) in [
        ("/v2/_catalog?n=100000", "GET"),
        ("/v2/apps/web/tags/list", "GET"),
        ("/v2/apps/web/manifests/latest", "GET"),
        ("/v2/apps/web/manifests/latest", "HEAD"),
        (
            &*format!("/v2/apps/web/manifests/{}", seeded.old.digest),
            "DELETE",
        ),
    ] {
        let r = c
            .request(reqwest::Method::OPTIONS, format!("http://{addr}{path}"))
            .header("Origin", ui)
            .header("Access-Control-Request-Method", method)
            .header("Access-Control-Request-Headers", "authorization,accept")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "preflight {method} {path}");
        assert_eq!(header(&r, "access-control-allow-origin"), ui);
        assert_eq!(header(&r, "access-control-allow-credentials"), "true");
        let methods = header(&r, "access-control-allow-methods");
        assert!(methods.contains(method), "{methods}");
        let headers = header(&r, "access-control-allow-headers").to_lowercase();
        assert!(
            headers.contains("authorization") && headers.contains("accept"),
            "{headers}"
        );
        assert_eq!(header(&r, "access-control-max-age"), "600");
        assert!(header(&r, "vary").contains("Origin"));
        assert!(header(&r, "www-authenticate").is_empty());
    }
    // The calls themselves.
    let r = c
        .get(format!("http://{addr}/v2/_catalog?n=100000"))
        .header("Origin", ui)
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "access-control-allow-origin"), ui);
    let expose = header(&r, "access-control-expose-headers");
    for h in ["Docker-Content-Digest", "Link", "WWW-Authenticate"] {
        assert!(expose.contains(h), "{expose}");
    }
    let r = c
        .get(format!("http://{addr}/v2/apps/web/manifests/latest"))
        .header("Origin", ui)
        .header("Authorization", &auth)
        .header("Accept", "application/vnd.oci.image.index.v1+json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "access-control-allow-origin"), ui);
    assert_eq!(
        header(&r, "docker-content-digest"),
        seeded.index.digest.to_string()
    );
    // A 401 is readable by the UI too.
    let r = c
        .get(format!("http://{addr}/v2/_catalog"))
        .header("Origin", ui)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(header(&r, "access-control-allow-origin"), ui);
    // Another origin gets no CORS grant, and cannot delete.
    let evil = "https://evil.example";
    let r = c
        .request(
            reqwest::Method::OPTIONS,
            format!("http://{addr}/v2/_catalog"),
        )
        .header("Origin", evil)
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .unwrap();
    assert!(header(&r, "access-control-allow-origin").is_empty());
    let old = format!("/v2/apps/web/manifests/{}", seeded.old.digest);
    let r = c
        .delete(format!("http://{addr}{old}"))
        .header("Origin", evil)
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(header(&r, "access-control-allow-origin").is_empty());
    let r = c
        .get(format!("http://{addr}{old}"))
        .header("Authorization", &auth)
        .header("Accept", MANIFEST_ACCEPT)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a refused cross-site delete deleted");
    // The listed origin deletes a manifest by digest, as the joxit UI does.
    let r = c
        .delete(format!("http://{addr}{old}"))
        .header("Origin", ui)
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(header(&r, "access-control-allow-origin"), ui);
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_star_allows_reading_without_credentials_and_never_deleting() {
    let s = Serve::start(&["--cors-origin", "*"]);
    let addr = s.addr();
    let seeded = seed(addr).await;
    let c = http();
    let r = c
        .request(
            reqwest::Method::OPTIONS,
            format!("http://{addr}/v2/apps/web/manifests/old"),
        )
        .header("Origin", "https://anyone.example")
        .header("Access-Control-Request-Method", "DELETE")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(header(&r, "access-control-allow-origin"), "*");
    assert!(!header(&r, "access-control-allow-methods").contains("DELETE"));
    assert!(header(&r, "access-control-allow-credentials").is_empty());
    assert!(!header(&r, "access-control-allow-headers").contains("Authorization"));
    let r = c
        .get(format!("http://{addr}/v2/apps/web/tags/list"))
        .header("Origin", "https://anyone.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "access-control-allow-origin"), "*");
    let r = c
        .delete(format!("http://{addr}/v2/apps/web/manifests/old"))
        .header("Origin", "https://anyone.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(tags_of(addr, "apps/web").await.contains(&"old".to_owned()));
    assert_eq!(
        manifest_status(addr, "apps/web", &seeded.old.digest.to_string()).await,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_writes_need_the_own_origin_and_the_ui_header() {
    let s = Serve::start(&[]);
    let addr = s.addr();
    seed(addr).await;
    let c = http();
    let own = format!("http://{addr}");
    let url = format!("http://{addr}/v2/apps/web/manifests/old");
    // A cross-site form post or fetch.
    for (origin, site) in [
        ("https://evil.example", "cross-site"),
        ("null", "cross-site"),
    ] {
        let r = c
            .delete(&url)
            .header("Origin", origin)
            .header("Sec-Fetch-Site", site)
            .header("X-Regctl-Request", "1")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{origin}");
        let r = c
            .post(format!("http://{addr}/v2/_regctl/gc?min_age=0"))
            .header("Origin", origin)
            .header("Sec-Fetch-Site", site)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("a=b")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "gc from {origin}");
    }
    // Same origin without the header (e.g. a page injected elsewhere on
    // this host): refused; with it: done.
    let r = c
        .delete(&url)
        .header("Origin", &own)
        .header("Sec-Fetch-Site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(tags_of(addr, "apps/web").await.contains(&"old".to_owned()));
    let r = c
        .delete(&url)
        .header("Origin", &own)
        .header("Sec-Fetch-Site", "same-origin")
        .header("X-Regctl-Request", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    // Non-browser clients (no Origin, no Sec-Fetch-Site) are unaffected.
    let r = c
        .delete(format!("http://{addr}/v2/apps/web/manifests/latest"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
}

#[tokio::test(flavor = "multi_thread")]
async fn ui_endpoints_need_the_same_credentials_as_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let (root, _) = seeded_root(dir.path()).await;
    let pw = htpasswd(dir.path());
    let s = Serve::start_with_root(&root, &["--htpasswd", pw.to_str().unwrap()]);
    let addr = s.addr();
    let c = http();
    // The shell holds no data and is served to anyone.
    let (status, _, _, _) = get(addr, "/", "text/html").await;
    assert_eq!(status, 200);
    for path in [
        "info",
        "repositories",
        "repository?name=apps/web",
        "usage",
        "repository-usage?name=apps/web",
    ] {
        // Wrong credentials on one path only: ten failures lock the address out.
        let attempts = if path == "info" {
            vec![
                None,
                Some(basic("alice", "wrong")),
                Some(basic("bob", "s3cret")),
            ]
        } else {
            vec![None]
        };
        for auth in attempts {
            let mut r = c.get(format!("http://{addr}/v2/_regctl/ui/{path}"));
            if let Some(a) = &auth {
                r = r.header("Authorization", a);
            }
            let r = r.send().await.unwrap();
            assert_eq!(r.status(), 401, "{path} with {auth:?}");
        }
        let r = c
            .get(format!("http://{addr}/v2/_regctl/ui/{path}"))
            .header("Authorization", basic("alice", "s3cret"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let info: Value = c
        .get(format!("http://{addr}/v2/_regctl/ui/info"))
        .header("Authorization", basic("alice", "s3cret"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap();
    assert_eq!(info["user"], "alice");
    assert_eq!(info["authRequired"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn ui_endpoints_answer_the_registry_content() {
    let s = Serve::start(&[]);
    let addr = s.addr();
    let seeded = seed(addr).await;
    let c = http();
    let j = |path: String| {
        let c = c.clone();
        async move {
            let r = c.get(path).send().await.unwrap();
            assert_eq!(r.status(), 200);
            serde_json::from_slice::<Value>(&r.bytes().await.unwrap()).unwrap()
        }
    };
    let page = j(format!("http://{addr}/v2/_regctl/ui/repositories")).await;
    let names: Vec<&str> = page["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["apps/web", "evil"]);
    assert_eq!(page["repositories"][0]["tags"], 3);
    assert!(page["repositories"][0]["lastPush"].is_string());
    let page = j(format!("http://{addr}/v2/_regctl/ui/repositories?q=EVI")).await;
    assert_eq!(page["matching"], 1);
    assert_eq!(page["repositories"][0]["name"], "evil");
    let page = j(format!("http://{addr}/v2/_regctl/ui/repositories?n=1")).await;
    assert_eq!(page["next"], "apps/web");
    let page = j(format!(
        "http://{addr}/v2/_regctl/ui/repositories?n=1&last=apps/web"
    ))
    .await;
    assert_eq!(page["repositories"][0]["name"], "evil");
    assert!(page["next"].is_null());

    let detail = j(format!(
        "http://{addr}/v2/_regctl/ui/repository?name=apps/web"
    ))
    .await;
    let tags = detail["tags"].as_array().unwrap();
    assert_eq!(tags.len(), 3);
    let latest = tags.iter().find(|t| t["tag"] == "latest").unwrap();
    assert_eq!(latest["digest"], seeded.index.digest.to_string());
    assert_eq!(latest["platforms"], json!(["linux/amd64", "linux/arm64"]));
    assert_eq!(latest["created"], "2026-01-02T03:04:05Z");
    let old = tags.iter().find(|t| t["tag"] == "old").unwrap();
    assert_eq!(old["platforms"], json!(["linux/amd64"]));
    assert_eq!(old["created"], "2026-01-02T03:04:05Z");
    let (status, _, _, body) = get(addr, "/v2/_regctl/ui/repositories?n=ten", "*/*").await;
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("n must be"));
    let (status, _, _, _) = get(addr, "/v2/_regctl/ui/repository?name=nope", "*/*").await;
    assert_eq!(status, 404);
    let (status, _, _, _) = get(addr, "/v2/_regctl/ui/repository?name=Bad..Name", "*/*").await;
    assert_eq!(status, 400);

    let sizes = j(format!(
        "http://{addr}/v2/_regctl/ui/repository-usage?name=apps/web"
    ))
    .await;
    let old_row = sizes
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "old")
        .unwrap();
    assert_eq!(old_row["total"], seeded.old.stored_size());

    // Clients that ask for a fresh walk and hang up at once: the walk is
    // not tied to them, and the next caller still gets figures.
    for _ in 0..5 {
        use std::io::Write;
        let mut sock = std::net::TcpStream::connect(addr).unwrap();
        let _ = sock.write_all(
            format!("GET /v2/_regctl/ui/usage?refresh=1 HTTP/1.1\r\nHost: {addr}\r\n\r\n")
                .as_bytes(),
        );
        drop(sock);
        let mut sock = std::net::TcpStream::connect(addr).unwrap();
        let _ = sock.write_all(b"GET /v2/_regctl/ui/repositories HTTP/1.1\r\nHo");
        drop(sock);
    }
    // Sizes: computed in the background; many callers at once share one walk.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let calls = (0..8).map(|i| {
            let path = if i % 2 == 0 {
                format!("http://{addr}/v2/_regctl/ui/usage")
            } else {
                format!("http://{addr}/v2/_regctl/ui/repositories")
            };
            j(path)
        });
        let answers = futures_util::future::join_all(calls).await;
        if answers[0]["ready"] == true {
            let rows = answers[0]["rows"].as_array().unwrap();
            let web = rows.iter().find(|r| r["name"] == "apps/web").unwrap();
            assert_eq!(web["tags"], 3);
            assert!(web["total"].as_u64().unwrap() > seeded.old.stored_size());
            let evil = rows.iter().find(|r| r["name"] == "evil").unwrap();
            assert_eq!(evil["total"], seeded.evil.stored_size());
            break;
        }
        assert!(Instant::now() < deadline, "sizes never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = seeded.signature;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_cors_origin_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::regctl(dir.path())
        .args(["serve", "--port", "0", "--root"])
        .arg(dir.path().join("root"))
        .args(["--cors-origin", "ui.example.com/path"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--cors-origin") && err.contains("ui.example.com/path"),
        "{err}"
    );
}

// ---- in a real browser --------------------------------------------------

/// Every node the page holds that came from HTML parsing of data would be
/// an element; none may exist, and no script may have run.
async fn assert_not_injected(b: &Browser) {
    let injected = b
        .execute(
            "return {imgs: document.querySelectorAll('img').length, \
             scripts: [...document.scripts].filter(s => !s.src.includes('/ui/assets/app.js')).length, \
             pwned: window.__pwned === undefined ? null : window.__pwned};",
            vec![],
        )
        .await;
    assert_eq!(
        injected,
        json!({"imgs": 0, "scripts": 0, "pwned": null}),
        "data became markup"
    );
    assert_eq!(b.alert_text().await, None, "an alert opened");
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_browses_deep_links_deletes_a_tag_and_collects() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let s = Serve::start(&[]);
    let addr = s.addr().to_owned();
    let seeded = seed(&addr).await;
    let base = format!("http://{addr}");

    // Repositories, filter as you type.
    let started = Instant::now();
    b.goto(&format!("{base}/")).await;
    b.wait_for_text("#repo-rows tr[data-repo=\"apps/web\"]", "apps/web")
        .await;
    println!("repository list shown in {:?}", started.elapsed());
    let row = b
        .wait_for_text("#repo-rows tr[data-repo=\"apps/web\"]", "apps/web")
        .await;
    assert!(b.text(&row).await.contains('3'), "tag count");
    b.wait_for("#repo-rows tr[data-repo=\"evil\"]").await;
    let filter = b.wait_for("#filter").await;
    b.type_text(&filter, "evi").await;
    b.wait_until(
        "filtered to evil",
        "const rows = document.querySelectorAll('#repo-rows tr[data-repo]'); \
         return rows.length === 1 && rows[0].dataset.repo === 'evil';",
    )
    .await;
    assert!(b.current_url().await.ends_with("/?q=evi"));
    b.clear(&filter).await;
    b.type_text(&filter, "web").await;
    let link = b
        .wait_for_text("#repo-rows tr[data-repo=\"apps/web\"] a", "apps/web")
        .await;
    b.click(&link).await;

    // A repository: tags sharing a digest shown together, platforms.
    b.wait_for_text("#repo-name", "apps/web").await;
    assert_eq!(b.current_url().await, format!("{base}/ui/repo/apps/web"));
    let idx = seeded.index.digest.to_string();
    let row = b
        .wait_for_text(&format!("#tag-rows tr[data-digest=\"{idx}\"]"), "latest")
        .await;
    let text = b.text(&row).await;
    assert!(
        text.contains("1.0") && text.contains("linux/amd64, linux/arm64"),
        "{text}"
    );
    b.wait_for_text("#view .copy code", "docker pull").await;

    // Its image page: platforms and the signature.
    let link = b
        .wait_for(&format!("#tag-rows tr[data-digest=\"{idx}\"] a"))
        .await;
    b.click(&link).await;
    b.wait_for_text("#platforms", "linux/arm64").await;
    let referrer = b
        .wait_for(&format!(
            "#referrers tr[data-referrer=\"{}\"]",
            seeded.signature
        ))
        .await;
    assert!(b.text(&referrer).await.contains(SIG_TYPE));
    assert!(
        b.current_url()
            .await
            .starts_with(&format!("{base}/ui/image/apps/web@sha256"))
    );
    // Back goes to the repository.
    b.execute("history.back(); return true;", vec![]).await;
    b.wait_for_text("#repo-name", "apps/web").await;

    // A deep link loaded directly: the hostile image shows its labels as text.
    b.goto(&format!("{base}/ui/image/evil@{}", seeded.evil.digest))
        .await;
    b.wait_for("#labels dl").await;
    // Time for an injected image's onerror to fire, were there one.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_not_injected(&b).await;
    b.wait_for_text("#labels", XSS_IMG).await;
    b.wait_for_text("#labels", XSS_SCRIPT).await;
    b.wait_for_text("#env", XSS_SCRIPT).await;
    b.wait_for_text("#annotations", XSS_IMG).await;
    b.goto(&format!("{base}/ui/repo/evil")).await;
    b.wait_for_text("#repo-name", "evil").await;
    assert_not_injected(&b).await;

    // Deleting a manifest lists every tag that goes with it (cancelled here).
    b.goto(&format!("{base}/ui/repo/apps/web")).await;
    let del = b
        .wait_for(&format!(
            "#tag-rows tr[data-digest=\"{idx}\"] button.delete-manifest"
        ))
        .await;
    b.click(&del).await;
    let body = b.wait_for_text("#confirm-body", "apps/web:1.0").await;
    assert!(b.text(&body).await.contains("apps/web:latest"));
    b.click(&b.wait_for_text("#confirm-cancel", "Cancel").await)
        .await;
    // The hostile image's manifest, deleted from its own page.
    b.goto(&format!("{base}/ui/image/evil@{}", seeded.evil.digest))
        .await;
    b.click(&b.wait_for("#delete-image").await).await;
    b.wait_for_text("#confirm-body", "evil:v1").await;
    b.click(&b.wait_for_text("#confirm-ok", "Delete manifest").await)
        .await;
    b.wait_for_text("#status", "Deleted manifest").await;
    b.wait_for_text("#repo-name", "evil").await;
    assert_eq!(
        manifest_status(&addr, "evil", &seeded.evil.digest.to_string()).await,
        404
    );
    assert!(tags_of(&addr, "evil").await.is_empty());

    // Delete one tag: only that tag goes.
    b.goto(&format!("{base}/ui/repo/apps/web")).await;
    let del = b
        .wait_for("#tag-rows .chip[data-tag=\"old\"] button.delete-tag")
        .await;
    b.click(&del).await;
    let ok = b.wait_for_text("#confirm-ok", "Delete tag").await;
    b.click(&ok).await;
    b.wait_for_text("#status", "Deleted tag apps/web:old").await;
    let mut tags = tags_of(&addr, "apps/web").await;
    tags.sort();
    assert_eq!(tags, ["1.0", "latest"]);
    let old = seeded.old.digest.to_string();
    assert_eq!(manifest_status(&addr, "apps/web", &old).await, 200);
    // A cancelled delete does nothing.
    let del = b
        .wait_for("#tag-rows .chip[data-tag=\"latest\"] button.delete-tag")
        .await;
    b.click(&del).await;
    let cancel = b.wait_for_text("#confirm-cancel", "Cancel").await;
    b.click(&cancel).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(tags_of(&addr, "apps/web").await.len(), 2);

    // Storage: sizes, then the plan and the collection.
    b.goto(&format!("{base}/ui/storage")).await;
    b.wait_for_text("#usage-rows", "apps/web").await;
    // The page plans with the default options at once; then with these.
    b.wait_for_text("#gc-summary", "Would remove 0 manifests")
        .await;
    let untagged = b.wait_for("#gc-untagged").await;
    b.click(&untagged).await;
    let min_age = b.wait_for("#gc-min-age").await;
    b.clear(&min_age).await;
    b.type_text(&min_age, "0s").await;
    b.wait_until(
        "plan button enabled",
        "return !document.getElementById('gc-plan').disabled;",
    )
    .await;
    b.click(&b.wait_for("#gc-plan").await).await;
    b.wait_for_text("#gc-summary", "Would remove 1 manifest,")
        .await;
    assert_eq!(
        manifest_status(&addr, "apps/web", &old).await,
        200,
        "a plan removed"
    );
    let run = b.wait_for("#gc-run").await;
    b.click(&run).await;
    let ok = b.wait_for_text("#confirm-ok", "Collect").await;
    b.click(&ok).await;
    b.wait_for_text("#gc-summary", "Removed 1 manifest,").await;
    b.wait_for_text("#status", "Garbage collection done").await;
    assert_eq!(manifest_status(&addr, "apps/web", &old).await, 404);
    let layer = Digest::sha256_of(&seeded.old.layers[0]);
    let (status, _, _, _) = get(&addr, &format!("/v2/apps/web/blobs/{layer}"), "*/*").await;
    assert_eq!(status, 404, "the collected layer is still served");
    // What stayed is whole.
    assert_eq!(manifest_status(&addr, "apps/web", "1.0").await, 200);
    for (_, child) in &seeded.index.children {
        common::push::assert_same_image(&addr, "apps/web", &child.digest.to_string(), child).await;
    }
    assert_eq!(
        manifest_status(&addr, "apps/web", &seeded.signature.to_string()).await,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_with_htpasswd_asks_for_credentials_and_refuses_wrong_ones() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (root, _) = seeded_root(dir.path()).await;
    let pw = htpasswd(dir.path());
    let s = Serve::start_with_root(&root, &["--htpasswd", pw.to_str().unwrap()]);
    let base = format!("http://{}", s.addr());
    b.goto(&format!("{base}/ui/repo/apps/web")).await;
    b.wait_for("#login").await;
    assert!(
        b.find_all("#tag-rows").await.is_empty(),
        "data shown anonymously"
    );
    let user = b.wait_for("#login-user").await;
    b.type_text(&user, "alice").await;
    let pass = b.wait_for("#login-password").await;
    b.type_text(&pass, "wrong").await;
    b.click(&b.wait_for("#login button[type=submit]").await)
        .await;
    b.wait_for_text("#login-error", "Wrong user name or password")
        .await;
    assert!(b.find_all("#tag-rows").await.is_empty());
    let user = b.wait_for("#login-user").await;
    b.clear(&user).await;
    b.type_text(&user, "alice").await;
    let pass = b.wait_for("#login-password").await;
    b.clear(&pass).await;
    b.type_text(&pass, "s3cret").await;
    b.click(&b.wait_for("#login button[type=submit]").await)
        .await;
    // The deep link's page, once signed in.
    b.wait_for_text("#tag-rows", "latest").await;
    b.wait_for_text("#who", "alice").await;
    // An authenticated delete goes through.
    let del = b
        .wait_for("#tag-rows .chip[data-tag=\"old\"] button.delete-tag")
        .await;
    b.click(&del).await;
    b.click(&b.wait_for_text("#confirm-ok", "Delete tag").await)
        .await;
    b.wait_for_text("#status", "Deleted tag apps/web:old").await;
    // A forged page-less request without credentials is still refused.
    let r = http()
        .delete(format!("{base}/v2/apps/web/manifests/latest"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Logging out forgets the credentials.
    b.click(&b.wait_for("#logout").await).await;
    b.wait_for("#login").await;
    b.goto(&format!("{base}/")).await;
    b.wait_for("#login").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_hides_actions_the_server_refuses() {
    let Some(b) = Browser::start().await else {
        return;
    };
    for flag in ["--no-delete", "--read-only"] {
        let dir = tempfile::tempdir().unwrap();
        let (root, _) = seeded_root(dir.path()).await;
        let s = Serve::start_with_root(&root, &[flag]);
        let base = format!("http://{}", s.addr());
        b.goto(&format!("{base}/ui/repo/apps/web")).await;
        b.wait_for_text("#tag-rows", "latest").await;
        assert!(b.find_all("button.delete-tag").await.is_empty(), "{flag}");
        assert!(
            b.find_all("button.delete-manifest").await.is_empty(),
            "{flag}"
        );
        b.goto(&format!("{base}/ui/storage")).await;
        b.wait_for_text("#gc-unavailable", "does not delete").await;
        assert!(b.find_all("#gc-plan").await.is_empty(), "{flag}");
        // The server refuses regardless of the page.
        let own = base.clone();
        for (method, path) in [
            (reqwest::Method::DELETE, "/v2/apps/web/manifests/old"),
            (reqwest::Method::POST, "/v2/_regctl/gc?min_age=0"),
        ] {
            let r = http()
                .request(method.clone(), format!("{base}{path}"))
                .header("Origin", &own)
                .header("Sec-Fetch-Site", "same-origin")
                .header("X-Regctl-Request", "1")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 405, "{flag} {method} {path}");
        }
        assert!(
            tags_of(s.addr(), "apps/web")
                .await
                .contains(&"old".to_owned())
        );
    }
}

// ---- figures and screenshots (run by hand) ------------------------------

/// Writes `count` repositories straight into a storage root (as bench/
/// does), each tagging the same tiny image: `repo-00000` ... .
fn write_many_repositories(root: &std::path::Path, count: usize) {
    use regctl::storage::{RepoName, TagName, paths};
    let img = TestImage::oci("many", 1, 64);
    let write = |key: String, data: &[u8]| {
        let path = root.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    };
    for blob in img.blobs().into_iter().chain([img.manifest.as_slice()]) {
        write(paths::blob_data(&Digest::sha256_of(blob)), blob);
    }
    let tag = TagName::new("latest").unwrap();
    for i in 0..count {
        let repo = RepoName::new(&format!("team-{:02}/repo-{i:05}", i % 50)).unwrap();
        let d = img.digest.to_string();
        write(paths::revision_link(&repo, &img.digest), d.as_bytes());
        write(paths::tag_current_link(&repo, &tag), d.as_bytes());
        write(
            paths::tag_index_link(&repo, &tag, &img.digest),
            d.as_bytes(),
        );
        for blob in img.blobs() {
            let b = Digest::sha256_of(blob);
            write(paths::layer_link(&repo, &b), b.to_string().as_bytes());
        }
    }
}

/// `cargo test --test web_ui -- --ignored --nocapture ten_thousand`
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement: prints figures, asserts none"]
async fn ten_thousand_repositories_list_figures() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let t = Instant::now();
    write_many_repositories(&root, 10_000);
    println!("wrote 10000 repositories in {:?}", t.elapsed());
    let s = Serve::start_with_root(&root, &[]);
    let started = Instant::now();
    let base = format!("http://{}", s.addr());
    // First page size as served (gzip -9 of shell + script + style).
    let c = http();
    let mut plain = 0;
    let mut gz = 0;
    let shell = c
        .get(format!("{base}/"))
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let css_start = shell.find("/ui/assets/app.css").unwrap();
    let css = &shell[css_start..css_start + shell[css_start..].find('"').unwrap()];
    for path in ["/".to_owned(), script_path(&shell), css.to_owned()] {
        for (enc, total) in [("identity", &mut plain), ("gzip", &mut gz)] {
            let r = c
                .get(format!("{base}{path}"))
                .header("Accept", "text/html")
                .header("Accept-Encoding", enc)
                .send()
                .await
                .unwrap();
            *total += r.bytes().await.unwrap().len();
        }
    }
    println!("first page: {plain} bytes, {gz} bytes gzip -9");
    for round in ["cold", "warm"] {
        let t = Instant::now();
        b.goto(&format!("{base}/")).await;
        b.wait_for("#repo-rows tr[data-repo=\"team-00/repo-00000\"]")
            .await;
        let first = t.elapsed();
        let count = b.wait_for_text("#repo-count", "10000").await;
        println!(
            "{round}: first 100 of 10000 repositories shown in {first:?} ({})",
            b.text(&count).await
        );
    }
    let filter = b.wait_for("#filter").await;
    let t = Instant::now();
    b.type_text(&filter, "repo-0999").await;
    b.wait_until(
        "filtered",
        "return document.querySelectorAll('#repo-rows tr[data-repo]').length === 10;",
    )
    .await;
    println!(
        "filter 'repo-0999' (10 matches, 150 ms debounce included) in {:?}",
        t.elapsed()
    );
    let t = Instant::now();
    b.goto(&format!("{base}/")).await;
    b.click(&b.wait_for("#more").await).await;
    b.wait_until(
        "second page",
        "return document.querySelectorAll('#repo-rows tr[data-repo]').length === 200;",
    )
    .await;
    println!("reloaded and showed page 2 in {:?}", t.elapsed());
    let deadline = Instant::now() + Duration::from_secs(300);
    while !get(s.addr(), "/v2/_regctl/ui/usage", "*/*")
        .await
        .3
        .windows(12)
        .any(|w| w == b"\"ready\":true")
    {
        assert!(Instant::now() < deadline, "sizes never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "sizes of all 10000 repositories ready {:?} after the server started",
        started.elapsed()
    );
}

/// `cargo test --test web_ui -- --ignored screenshots`: writes
/// docs/ui-*.png for the README.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "writes the README's screenshots"]
async fn screenshots_for_the_readme() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let s = Serve::start(&[]);
    let addr = s.addr().to_owned();
    let seeded = seed(&addr).await;
    for (repo, tag, seed, layers) in [
        ("library/alpine", "3.20", "alpine", 1),
        ("library/postgres", "16", "postgres", 3),
        ("tools/builder", "2026.01", "builder", 2),
    ] {
        push_image(&addr, repo, tag, &TestImage::oci(seed, layers, 20_000)).await;
    }
    let base = format!("http://{addr}");
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    b.set_window_size(1100, 900).await;
    let shoot = |name: &'static str| {
        let b = &b;
        let docs = docs.clone();
        async move {
            // Let late figures (sizes) arrive.
            tokio::time::sleep(Duration::from_millis(600)).await;
            let png = b.screenshot().await;
            println!("{name}: {} bytes", png.len());
            std::fs::write(docs.join(name), png).unwrap();
        }
    };
    // Sizes computed before the first picture.
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(&addr, "/v2/_regctl/ui/usage", "*/*")
        .await
        .3
        .windows(12)
        .all(|w| w != b"\"ready\":true")
    {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    b.goto(&format!("{base}/")).await;
    b.wait_for_text("#repo-rows", "library/postgres").await;
    shoot("ui-repositories.png").await;
    b.goto(&format!("{base}/ui/repo/apps/web")).await;
    b.wait_for_text("#tag-rows", "latest").await;
    shoot("ui-repository.png").await;
    b.goto(&format!("{base}/ui/image/apps/web@{}", seeded.index.digest))
        .await;
    b.wait_for_text("#referrers", "cosign").await;
    shoot("ui-index.png").await;
    let (_, amd64) = &seeded.index.children[0];
    b.goto(&format!("{base}/ui/image/apps/web@{}", amd64.digest))
        .await;
    b.wait_for_text("#config", "Cmd").await;
    shoot("ui-image.png").await;
    b.goto(&format!("{base}/ui/storage")).await;
    b.wait_for_text("#usage-rows", "apps/web").await;
    b.wait_for("#gc-summary").await;
    b.click(&b.wait_for("#gc-untagged").await).await;
    b.wait_until(
        "plan button enabled",
        "return !document.getElementById('gc-plan').disabled;",
    )
    .await;
    b.click(&b.wait_for("#gc-plan").await).await;
    b.wait_for("#gc-summary").await;
    shoot("ui-storage.png").await;
}
