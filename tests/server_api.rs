//! The registry API of `regctl serve`, over real HTTP on loopback, checked
//! against the OCI distribution spec's requirements for a registry.

use std::path::{Path, PathBuf};

use regctl::server::{self, ServerConfig};
use regctl::types::Digest;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

struct TestServer {
    base: String,
    http: reqwest::Client,
    root: PathBuf,
    _dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl TestServer {
    async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    async fn start_with(configure: impl FnOnce(&mut ServerConfig)) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let mut config = ServerConfig::new(&root);
        configure(&mut config);
        let app = server::router(config).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server::serve(listener, app, None, async {
            let _ = rx.await;
        }));
        TestServer {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            root,
            _dir: dir,
            shutdown: Some(tx),
        }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path))
    }

    async fn send(&self, method: Method, path: &str) -> reqwest::Response {
        self.req(method, path).send().await.unwrap()
    }

    async fn json(&self, path: &str) -> Value {
        let r = self.send(Method::GET, path).await;
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
    }

    async fn push_blob(&self, repo: &str, data: &[u8]) -> Digest {
        let d = Digest::sha256_of(data);
        let r = self
            .req(
                Method::POST,
                &format!("/v2/{repo}/blobs/uploads/?digest={d}"),
            )
            .body(data.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        d
    }

    async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> reqwest::Response {
        self.req(Method::PUT, &format!("/v2/{repo}/manifests/{reference}"))
            .header("Content-Type", media_type)
            .body(body.to_vec())
            .send()
            .await
            .unwrap()
    }

    /// Pushes a small OCI image; returns (manifest bytes, digest).
    async fn push_image(&self, repo: &str, tag: &str, seed: &str) -> (Vec<u8>, Digest) {
        let config = format!(r#"{{"architecture":"amd64","os":"linux","seed":"{seed}"}}"#);
        let layer = format!("layer of {seed}");
        let c = self.push_blob(repo, config.as_bytes()).await;
        let l = self.push_blob(repo, layer.as_bytes()).await;
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": c.to_string(), "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": l.to_string(), "size": layer.len()}],
        }))
        .unwrap();
        let r = self
            .put_manifest(
                repo,
                tag,
                "application/vnd.oci.image.manifest.v1+json",
                &manifest,
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
        let d = Digest::sha256_of(&manifest);
        (manifest, d)
    }
}

async fn error_code(r: reqwest::Response) -> String {
    let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).expect("error body is JSON");
    v["errors"][0]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test]
async fn base_endpoint_announces_the_api_version() {
    let s = TestServer::start().await;
    let r = s.send(Method::GET, "/v2/").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        header(&r, "Docker-Distribution-API-Version"),
        "registry/2.0"
    );
    let r = s.send(Method::GET, "/nothing").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn monolithic_blob_upload_then_get_head_and_ranges() {
    let s = TestServer::start().await;
    let data = b"0123456789abcdef";
    let d = s.push_blob("a/b", data).await;
    let path = format!("/v2/a/b/blobs/{d}");
    let r = s.send(Method::GET, &path).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "Docker-Content-Digest"), d.to_string());
    assert_eq!(r.bytes().await.unwrap().as_ref(), data);
    let r = s.send(Method::HEAD, &path).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "Content-Length"), "16");
    assert!(r.bytes().await.unwrap().is_empty());

    let r = s
        .req(Method::GET, &path)
        .header("Range", "bytes=2-5")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&r, "Content-Range"), "bytes 2-5/16");
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"2345");
    let r = s
        .req(Method::GET, &path)
        .header("Range", "bytes=10-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"abcdef");
    let r = s
        .req(Method::GET, &path)
        .header("Range", "bytes=99-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&r, "Content-Range"), "bytes */16");
    assert_eq!(error_code(r).await, "SIZE_INVALID");
    // Also on HEAD (no body there), and for a start just past the end.
    let r = s
        .req(Method::HEAD, &path)
        .header("Range", "bytes=16-20")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&r, "Content-Range"), "bytes */16");

    // A blob is visible only in the repository it was pushed to.
    let r = s.send(Method::GET, &format!("/v2/other/blobs/{d}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "BLOB_UNKNOWN");
    let r = s.send(Method::GET, "/v2/a/b/blobs/sha256:1234").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
    let r = s.send(Method::GET, "/v2/a/b/blobs/md5:1234").await;
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
}

#[tokio::test]
async fn monolithic_upload_with_wrong_digest_stores_nothing() {
    let s = TestServer::start().await;
    let wrong = Digest::sha256_of(b"something else");
    let r = s
        .req(
            Method::POST,
            &format!("/v2/x/blobs/uploads/?digest={wrong}"),
        )
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
    let blobs = s.root.join("docker/registry/v2/blobs");
    assert!(
        !blobs.exists() || walk(&blobs).is_empty(),
        "no blob may be stored"
    );
    assert!(walk(&s.root.join("docker/registry/v2/repositories/x/_uploads")).is_empty());
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test]
async fn chunked_upload_checks_order_and_digest() {
    let s = TestServer::start().await;
    let r = s.send(Method::POST, "/v2/repo/blobs/uploads/").await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(header(&r, "Range"), "0-0");
    let location = header(&r, "Location").to_owned();
    assert!(!header(&r, "Docker-Upload-UUID").is_empty());

    let r = s
        .req(Method::PATCH, &location)
        .header("Content-Range", "0-4")
        .header("Content-Type", "application/octet-stream")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(header(&r, "Range"), "0-4");
    let location = header(&r, "Location").to_owned();

    // A chunk that does not start where the upload ends: 416.
    let r = s
        .req(Method::PATCH, &location)
        .header("Content-Range", "3-7")
        .body("xxxxx")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);

    let r = s
        .req(Method::PATCH, &location)
        .header("Content-Range", "5-10")
        .body(" world")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let r = s.send(Method::GET, &location).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&r, "Range"), "0-10");

    let d = Digest::sha256_of(b"hello world!");
    let sep = if location.contains('?') { '&' } else { '?' };
    let r = s
        .req(Method::PUT, &format!("{location}{sep}digest={d}"))
        .body("!")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(header(&r, "Location"), format!("/v2/repo/blobs/{d}"));
    let got = s.send(Method::GET, &format!("/v2/repo/blobs/{d}")).await;
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"hello world!");

    // The session is gone once finished.
    let r = s.send(Method::GET, &location).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "BLOB_UPLOAD_UNKNOWN");
}

#[tokio::test]
async fn finishing_with_a_wrong_digest_or_unknown_session_fails() {
    let s = TestServer::start().await;
    let r = s.send(Method::POST, "/v2/repo/blobs/uploads/").await;
    let location = header(&r, "Location").to_owned();
    let r = s
        .req(Method::PATCH, &location)
        .body("abc")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let wrong = Digest::sha256_of(b"abd");
    let r = s
        .send(Method::PUT, &format!("{location}?digest={wrong}"))
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
    // A failed finish discards the session.
    let right = Digest::sha256_of(b"abc");
    let r = s
        .send(Method::PUT, &format!("{location}?digest={right}"))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "BLOB_UPLOAD_UNKNOWN");

    let r = s.send(Method::POST, "/v2/repo/blobs/uploads/").await;
    let location = header(&r, "Location").to_owned();
    let r = s.send(Method::DELETE, &location).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = s
        .req(Method::PATCH, &location)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "BLOB_UPLOAD_UNKNOWN");
    let r = s
        .req(Method::PATCH, "/v2/repo/blobs/uploads/../../../etc")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn cross_repository_mount_and_fallback() {
    let s = TestServer::start().await;
    let d = s.push_blob("src", b"shared layer").await;
    let r = s
        .req(
            Method::POST,
            &format!("/v2/dst/blobs/uploads/?mount={d}&from=src"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(header(&r, "Location"), format!("/v2/dst/blobs/{d}"));
    let r = s.send(Method::HEAD, &format!("/v2/dst/blobs/{d}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let missing = Digest::sha256_of(b"absent");
    let r = s
        .req(
            Method::POST,
            &format!("/v2/dst/blobs/uploads/?mount={missing}&from=src"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED, "falls back to a session");
    assert!(header(&r, "Location").contains("/blobs/uploads/"));
}

#[tokio::test]
async fn manifests_put_get_head_and_validation() {
    let s = TestServer::start().await;
    let (manifest, d) = s.push_image("lib/app", "v1", "one").await;
    for reference in ["v1".to_owned(), d.to_string()] {
        let r = s
            .send(Method::GET, &format!("/v2/lib/app/manifests/{reference}"))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            header(&r, "Content-Type"),
            "application/vnd.oci.image.manifest.v1+json"
        );
        assert_eq!(header(&r, "Docker-Content-Digest"), d.to_string());
        assert_eq!(r.bytes().await.unwrap().as_ref(), manifest.as_slice());
    }
    let r = s.send(Method::HEAD, "/v2/lib/app/manifests/v1").await;
    assert_eq!(header(&r, "Content-Length"), manifest.len().to_string());
    assert!(r.bytes().await.unwrap().is_empty());
    let r = s.send(Method::GET, "/v2/lib/app/manifests/nope").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");

    // References to blobs the repository lacks.
    let ghost = Digest::sha256_of(b"ghost");
    let bad = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": ghost.to_string(), "size": 5},
        "layers": []
    }))
    .unwrap();
    let r = s
        .put_manifest(
            "lib/app",
            "v2",
            "application/vnd.oci.image.manifest.v1+json",
            &bad,
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "MANIFEST_BLOB_UNKNOWN");
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": ghost.to_string(), "size": 5}]
    }))
    .unwrap();
    let r = s
        .put_manifest(
            "lib/app",
            "idx",
            "application/vnd.oci.image.index.v1+json",
            &index,
        )
        .await;
    assert_eq!(error_code(r).await, "MANIFEST_BLOB_UNKNOWN");

    // Invalid JSON, a digest reference that does not match, an oversize body.
    let r = s
        .put_manifest(
            "lib/app",
            "v3",
            "application/vnd.oci.image.manifest.v1+json",
            b"{nope",
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "MANIFEST_INVALID");
    let r = s
        .put_manifest(
            "lib/app",
            &ghost.to_string(),
            "application/vnd.oci.image.manifest.v1+json",
            &manifest,
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
    let huge = vec![b' '; 4 * 1024 * 1024 + 1];
    let r = s
        .put_manifest(
            "lib/app",
            "big",
            "application/vnd.oci.image.manifest.v1+json",
            &huge,
        )
        .await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // An index over a pushed child is accepted.
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d.to_string(), "size": manifest.len(),
                       "platform": {"os": "linux", "architecture": "amd64"}}]
    }))
    .unwrap();
    let r = s
        .put_manifest(
            "lib/app",
            "multi",
            "application/vnd.oci.image.index.v1+json",
            &index,
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = s.send(Method::GET, "/v2/lib/app/manifests/multi").await;
    assert_eq!(
        header(&r, "Content-Type"),
        "application/vnd.oci.image.index.v1+json"
    );
}

/// Sends a request with the path exactly as given (HTTP clients normalise
/// `..` and `%2e%2e` away, which would hide what the server does with them).
async fn raw_request(base: &str, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

#[tokio::test]
async fn invalid_names_are_refused_and_nothing_escapes_the_root() {
    let s = TestServer::start().await;
    let d = Digest::sha256_of(b"x");
    for name in [
        "UPPER",
        "a/%2e%2e/b",
        "a/../../b",
        "..",
        "-x",
        "a//b",
        "a/%2F/b",
        "a%00b",
    ] {
        let path = format!("/v2/{name}/blobs/uploads/?digest={d}");
        let (status, text) = raw_request(&s.base, "POST", &path, b"x").await;
        assert!((400..500).contains(&status), "{name}: {text}");
        if status == 400 {
            assert!(text.contains("NAME_INVALID"), "{name}: {text}");
        }
    }
    let long = "a".repeat(300);
    let (status, text) = raw_request(&s.base, "GET", &format!("/v2/{long}/tags/list"), b"").await;
    assert_eq!(status, 400, "{text}");
    for tag in ["..", "%2e%2e", "a%2Fb"] {
        let (status, _) =
            raw_request(&s.base, "GET", &format!("/v2/ok/manifests/{tag}"), b"").await;
        assert!((400..500).contains(&status), "{tag}");
    }
    let root_parent = s.root.parent().unwrap();
    assert!(walk(root_parent).iter().all(|p| p.starts_with(&s.root)));
    // Still serving.
    let r = s.send(Method::GET, "/v2/").await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn tags_and_catalog_paginate_with_link_headers() {
    let s = TestServer::start().await;
    for repo in ["c", "a", "b/x"] {
        s.push_image(repo, "t0", repo).await;
    }
    for tag in ["t3", "t1", "t2"] {
        s.push_image("a", tag, tag).await;
    }
    let r = s.send(Method::GET, "/v2/_catalog").await;
    let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(v["repositories"], json!(["a", "b/x", "c"]));

    let mut tags = Vec::new();
    let mut next = Some("/v2/a/tags/list?n=3".to_owned());
    let mut pages = 0;
    while let Some(path) = next.take() {
        let r = s.send(Method::GET, &path).await;
        assert_eq!(r.status(), StatusCode::OK);
        let link = header(&r, "Link").to_owned();
        let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        assert_eq!(v["name"], "a");
        tags.extend(
            v["tags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().to_owned()),
        );
        if !link.is_empty() {
            let url = link.trim_start_matches('<').split('>').next().unwrap();
            next = Some(url.to_owned());
        }
        pages += 1;
    }
    assert_eq!(pages, 2);
    assert_eq!(tags, ["t0", "t1", "t2", "t3"]);

    let r = s.send(Method::GET, "/v2/_catalog?n=1&last=a").await;
    assert_eq!(
        header(&r, "Link"),
        "</v2/_catalog?last=b/x&n=1>; rel=\"next\""
    );
    let r = s.send(Method::GET, "/v2/_catalog?n=100000").await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "a large n is capped, not refused"
    );
    let r = s.send(Method::GET, "/v2/nope/tags/list").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "NAME_UNKNOWN");
}

#[tokio::test]
async fn delete_by_tag_keeps_the_manifest_by_digest_removes_all_tags() {
    let s = TestServer::start().await;
    let (_, d) = s.push_image("r", "one", "same").await;
    let (m, _) = s.push_image("r", "two", "same").await;
    s.put_manifest(
        "r",
        "three",
        "application/vnd.oci.image.manifest.v1+json",
        &m,
    )
    .await;
    let r = s.send(Method::DELETE, "/v2/r/manifests/one").await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let r = s.send(Method::GET, &format!("/v2/r/manifests/{d}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = s.json("/v2/r/tags/list").await;
    assert_eq!(v["tags"], json!(["three", "two"]));

    let r = s
        .send(Method::DELETE, &format!("/v2/r/manifests/{d}"))
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let v: Value = s.json("/v2/r/tags/list").await;
    assert_eq!(v["tags"], json!([]), "an empty list, never null");
    let r = s
        .send(Method::DELETE, &format!("/v2/r/manifests/{d}"))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");
}

#[tokio::test]
async fn no_delete_and_read_only_answer_unsupported() {
    let s = TestServer::start_with(|c| c.delete_enabled = false).await;
    let (_, d) = s.push_image("r", "t", "x").await;
    let r = s
        .send(Method::DELETE, &format!("/v2/r/manifests/{d}"))
        .await;
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(r).await, "UNSUPPORTED");

    let s = TestServer::start_with(|c| c.read_only = true).await;
    let r = s.send(Method::POST, "/v2/r/blobs/uploads/").await;
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(r).await, "UNSUPPORTED");
    let r = s.send(Method::GET, "/v2/_catalog").await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn referrers_list_manifests_with_a_subject() {
    let s = TestServer::start().await;
    let (subject_bytes, subject) = s.push_image("r", "app", "subject").await;
    let empty = s.push_blob("r", b"{}").await;
    let mut digests = Vec::new();
    for kind in [
        "application/vnd.example.sbom",
        "application/vnd.example.sig",
    ] {
        let m = serde_json::to_vec(&json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": kind,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty.to_string(), "size": 2},
            "layers": [],
            "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject.to_string(), "size": subject_bytes.len()},
            "annotations": {"kind": kind}
        }))
        .unwrap();
        let d = Digest::sha256_of(&m);
        let r = s
            .put_manifest(
                "r",
                &d.to_string(),
                "application/vnd.oci.image.manifest.v1+json",
                &m,
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        assert_eq!(header(&r, "OCI-Subject"), subject.to_string());
        digests.push(d);
    }
    let r = s
        .send(Method::GET, &format!("/v2/r/referrers/{subject}"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        header(&r, "Content-Type"),
        "application/vnd.oci.image.index.v1+json"
    );
    let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(v["manifests"].as_array().unwrap().len(), 2);
    let r = s
        .req(
            Method::GET,
            &format!("/v2/r/referrers/{subject}?artifactType=application/vnd.example.sig"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(header(&r, "OCI-Filters-Applied"), "artifactType");
    let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    let list = v["manifests"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["artifactType"], "application/vnd.example.sig");
    assert_eq!(list[0]["digest"], digests[1].to_string());
    assert_eq!(
        list[0]["annotations"]["kind"],
        "application/vnd.example.sig"
    );
    // No referrers: an empty index, not 404.
    let r = s
        .send(Method::GET, &format!("/v2/r/referrers/{empty}"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(v["manifests"], json!([]));
}

/// The referrers index (issue 12, item 5) follows this server's PUTs and
/// DELETEs, a second server writing the same root, and a revision removed
/// the way registry:2 deletes one (its link file only).
#[tokio::test]
async fn referrers_index_follows_puts_deletes_and_other_writers() {
    let s = TestServer::start().await;
    let (subject_bytes, subject) = s.push_image("r", "app", "subject").await;
    let empty = s.push_blob("r", b"{}").await;
    let referrer = |kind: &str, index: bool| {
        let subject = json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject.to_string(), "size": subject_bytes.len()});
        let m = if index {
            json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                "artifactType": kind, "manifests": [], "subject": subject})
        } else {
            json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "artifactType": kind,
                "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty.to_string(), "size": 2},
                "layers": [], "subject": subject})
        };
        serde_json::to_vec(&m).unwrap()
    };
    let subject_path = format!("/v2/r/referrers/{subject}");
    let listed = |base: String| {
        let url = format!("{base}{subject_path}");
        async move {
            let r = reqwest::get(url).await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
            let mut kinds: Vec<String> = v["manifests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["artifactType"].as_str().unwrap().to_owned())
                .collect();
            kinds.sort();
            kinds
        }
    };
    assert!(listed(s.base.clone()).await.is_empty());
    let put = |s: &TestServer, m: Vec<u8>, media: &'static str| {
        let d = Digest::sha256_of(&m);
        let req = s
            .req(Method::PUT, &format!("/v2/r/manifests/{d}"))
            .header("Content-Type", media)
            .body(m);
        async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
            d
        }
    };
    const IMAGE: &str = "application/vnd.oci.image.manifest.v1+json";
    const INDEX: &str = "application/vnd.oci.image.index.v1+json";
    let a = put(&s, referrer("a/sig", false), IMAGE).await;
    // The same manifest twice is listed once.
    put(&s, referrer("a/sig", false), IMAGE).await;
    put(&s, referrer("b/index", true), INDEX).await;
    assert_eq!(listed(s.base.clone()).await, ["a/sig", "b/index"]);
    let r = s
        .send(Method::DELETE, &format!("/v2/r/manifests/{a}"))
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(listed(s.base.clone()).await, ["b/index"]);

    // Another server on the same root adds one.
    let other_app = server::router(ServerConfig::new(&s.root)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other_base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server::serve(listener, other_app, None, async {
        let _ = rx.await;
    }));
    let c = referrer("c/sbom", false);
    let cd = Digest::sha256_of(&c);
    let r = reqwest::Client::new()
        .put(format!("{other_base}/v2/r/manifests/{cd}"))
        .header("Content-Type", IMAGE)
        .body(c)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let _ = tx.send(());
    assert_eq!(listed(s.base.clone()).await, ["b/index", "c/sbom"]);

    // registry:2 removes just the link file of a deleted revision.
    let link = s.root.join(format!(
        "docker/registry/v2/repositories/r/_manifests/revisions/sha256/{}/link",
        cd.hex()
    ));
    std::fs::remove_file(link).unwrap();
    assert_eq!(listed(s.base.clone()).await, ["b/index"]);
}

#[tokio::test]
async fn htpasswd_requires_valid_basic_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("htpasswd");
    std::fs::write(
        &file,
        format!("alice:{}\n", bcrypt::hash("s3cret", 4).unwrap()),
    )
    .unwrap();
    let f = file.clone();
    let s = TestServer::start_with(move |c| c.htpasswd = Some(f)).await;
    let r = s.send(Method::GET, "/v2/").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(&r, "WWW-Authenticate"), "Basic realm=\"regctl\"");
    assert_eq!(error_code(r).await, "UNAUTHORIZED");
    let r = s
        .req(Method::GET, "/v2/")
        .basic_auth("alice", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = s
        .req(Method::GET, "/v2/")
        .basic_auth("alice", Some("s3cret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn on_disk_layout_is_registry2s() {
    let s = TestServer::start().await;
    let (_, d) = s.push_image("lib/busybox", "1.0", "layout").await;
    let v2 = s.root.join("docker/registry/v2");
    let repo = v2.join("repositories/lib/busybox");
    let hex = d.hex();
    let link = std::fs::read_to_string(repo.join("_manifests/tags/1.0/current/link")).unwrap();
    assert_eq!(link, d.to_string(), "link holds the digest, no newline");
    assert!(
        repo.join(format!("_manifests/tags/1.0/index/sha256/{hex}/link"))
            .is_file()
    );
    assert!(
        repo.join(format!("_manifests/revisions/sha256/{hex}/link"))
            .is_file()
    );
    assert!(
        v2.join(format!("blobs/sha256/{}/{hex}/data", &hex[..2]))
            .is_file()
    );
    let layers = std::fs::read_dir(repo.join("_layers/sha256"))
        .unwrap()
        .count();
    assert_eq!(layers, 2, "config and layer are linked");
}

#[tokio::test]
async fn malformed_digests_are_digest_invalid_everywhere() {
    let s = TestServer::start().await;
    s.push_image("lib/app", "v1", "d").await;
    let sha999 = format!("sha999:{}", "a".repeat(64));
    let upper = format!("sha256:{}", "A".repeat(64));
    for bad in ["sha256:abc", sha999.as_str(), upper.as_str(), "sha256:"] {
        for (method, path) in [
            (Method::GET, format!("/v2/lib/app/manifests/{bad}")),
            (Method::PUT, format!("/v2/lib/app/manifests/{bad}")),
            (Method::DELETE, format!("/v2/lib/app/manifests/{bad}")),
            (Method::GET, format!("/v2/lib/app/blobs/{bad}")),
            (Method::DELETE, format!("/v2/lib/app/blobs/{bad}")),
            (Method::GET, format!("/v2/lib/app/referrers/{bad}")),
            (
                Method::POST,
                format!("/v2/lib/app/blobs/uploads/?digest={bad}"),
            ),
            (
                Method::POST,
                format!("/v2/lib/app/blobs/uploads/?mount={bad}&from=x"),
            ),
        ] {
            let r = s
                .req(method.clone(), &path)
                .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                .body("{}")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{method} {path}");
            assert_eq!(error_code(r).await, "DIGEST_INVALID", "{method} {path}");
        }
        let r = s
            .send(Method::HEAD, &format!("/v2/lib/app/manifests/{bad}"))
            .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "HEAD {bad}");
    }
    // A tag is still a tag, and a bad tag is TAG_INVALID, not DIGEST_INVALID.
    let r = s.send(Method::GET, "/v2/lib/app/manifests/v1").await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = s.send(Method::GET, "/v2/lib/app/manifests/-bad").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");
}

/// Issue 12, item 6: a reference that cannot exist is 404 MANIFEST_UNKNOWN
/// on GET and HEAD, as registry:2 answers and the OCI conformance suite
/// expects; a PUT under such a tag is still refused with TAG_INVALID.
#[tokio::test]
async fn an_impossible_tag_is_an_unknown_manifest_on_read() {
    let s = TestServer::start().await;
    for method in [Method::GET, Method::HEAD] {
        let r = s
            .send(
                method.clone(),
                "/v2/lib/app/manifests/.INVALID_MANIFEST_NAME",
            )
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{method}");
        if method == Method::GET {
            assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");
        }
    }
    let r = s
        .req(Method::PUT, "/v2/lib/app/manifests/.INVALID_MANIFEST_NAME")
        .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "TAG_INVALID");
}

/// Sends `head` then `body` on a fresh connection and reads the whole
/// answer; a failed write is reported (it is what a client sees when the
/// server closes on it) rather than hidden.
async fn raw_exchange(base: &str, head: &str, body: &[u8]) -> Result<String, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(|e| format!("writing the head: {e}"))?;
    stream
        .write_all(body)
        .await
        .map_err(|e| format!("writing the body: {e}"))?;
    let mut out = Vec::new();
    stream
        .read_to_end(&mut out)
        .await
        .map_err(|e| format!("reading the answer: {e}"))?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn json_code(answer: &str) -> String {
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let v: Value = serde_json::from_str(body).unwrap_or_default();
    v["errors"][0]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

// Multi-threaded so the server answers while the client is still writing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_manifest_is_read_and_refused_with_413() {
    let s = TestServer::start().await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let body = vec![b' '; 5 * 1024 * 1024];
    let head = format!(
        "PUT /v2/lib/app/manifests/big HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: application/vnd.oci.image.manifest.v1+json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    // Several times: a reset depends on timing, so one lucky pass proves little.
    for _ in 0..3 {
        let answer = raw_exchange(&s.base, &head, &body).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert_eq!(json_code(&answer), "MANIFEST_INVALID", "{answer}");
    }
    // A client that waits for `100 Continue` gets the 413 without sending.
    let head = head.replace(
        "Connection: close",
        "Expect: 100-continue\r\nConnection: close",
    );
    let answer = raw_exchange(&s.base, &head, b"").await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(!answer.contains("100 Continue"), "{answer}");
    // Nothing was stored, and the server still serves.
    let r = s.send(Method::GET, "/v2/lib/app/manifests/big").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = s.send(Method::GET, "/v2/").await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn catalog_lists_repositories_in_registry2_path_order() {
    let s = TestServer::start().await;
    for repo in ["a_b", "a.b", "a-b", "a/b/c", "a/b", "a"] {
        s.push_image(repo, "t", repo).await;
    }
    let want = ["a", "a/b", "a/b/c", "a-b", "a.b", "a_b"];
    let v = s.json("/v2/_catalog").await;
    assert_eq!(v["repositories"], json!(want));
    // Paging walks the same order, page after page.
    let mut seen = Vec::new();
    let mut path = "/v2/_catalog?n=2".to_owned();
    loop {
        let r = s.send(Method::GET, &path).await;
        let link = header(&r, "Link").to_owned();
        let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        for name in v["repositories"].as_array().unwrap() {
            seen.push(name.as_str().unwrap().to_owned());
        }
        if link.is_empty() {
            break;
        }
        path = link
            .trim_start_matches('<')
            .split('>')
            .next()
            .unwrap()
            .to_owned();
    }
    assert_eq!(seen, want);
    // `last` need not be a repository: names after it in that order follow.
    let v = s.json("/v2/_catalog?last=a/b/c").await;
    assert_eq!(v["repositories"], json!(["a-b", "a.b", "a_b"]));
    let v = s.json("/v2/_catalog?last=a/a").await;
    assert_eq!(
        v["repositories"],
        json!(["a/b", "a/b/c", "a-b", "a.b", "a_b"])
    );
}

/// Like [`raw_exchange`], but closes the sending side after `body`: a client
/// that sends less than it declared and stops.
async fn raw_half_closed(base: &str, head: &str, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn bodies_that_disagree_with_their_declared_size_are_size_invalid() {
    let s = TestServer::start().await;
    let addr = s.base.trim_start_matches("http://").to_owned();

    // Monolithic upload whose body is shorter than its Content-Length.
    let d = Digest::sha256_of(b"0123456789");
    let head = format!(
        "POST /v2/repo/blobs/uploads/?digest={d} HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Length: 10\r\nConnection: close\r\n\r\n"
    );
    let answer = raw_half_closed(&s.base, &head, b"01234").await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert_eq!(json_code(&answer), "SIZE_INVALID", "{answer}");
    let r = s.send(Method::HEAD, &format!("/v2/repo/blobs/{d}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // A chunked session: one good chunk, then chunks whose length disagrees
    // with their Content-Range. Each is refused whole; the upload keeps 5 bytes.
    let r = s.send(Method::POST, "/v2/repo/blobs/uploads/").await;
    let location = header(&r, "Location").to_owned();
    let r = s
        .req(Method::PATCH, &location)
        .header("Content-Range", "0-4")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    // Content-Length 6 against a 5-byte range.
    let r = s
        .req(Method::PATCH, &location)
        .header("Content-Range", "5-9")
        .body(" world")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "SIZE_INVALID");
    // A chunked (no Content-Length) body longer than its range, and one shorter.
    for (range, chunk) in [("5-7", b" world" as &[u8]), ("5-20", b" world")] {
        let head = format!(
            "PATCH {location} HTTP/1.1\r\nHost: {addr}\r\nContent-Range: {range}\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        );
        let mut body = format!("{:x}\r\n", chunk.len()).into_bytes();
        body.extend_from_slice(chunk);
        body.extend_from_slice(b"\r\n0\r\n\r\n");
        let answer = raw_exchange(&s.base, &head, &body).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 400"), "{range}: {answer}");
        assert_eq!(json_code(&answer), "SIZE_INVALID", "{range}: {answer}");
    }
    // A PATCH whose client stops early.
    let head = format!(
        "PATCH {location} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 6\r\nConnection: close\r\n\r\n"
    );
    let answer = raw_half_closed(&s.base, &head, b" wo").await;
    assert_eq!(json_code(&answer), "SIZE_INVALID", "{answer}");
    let r = s.send(Method::GET, &location).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&r, "Range"), "0-4");

    // The session is intact: finish it and get the right blob.
    let d = Digest::sha256_of(b"hello world");
    let sep = if location.contains('?') { '&' } else { '?' };
    let r = s
        .req(Method::PUT, &format!("{location}{sep}digest={d}"))
        .header("Content-Range", "5-10")
        .body(" world")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let got = s.send(Method::GET, &format!("/v2/repo/blobs/{d}")).await;
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"hello world");
}

// Multi-threaded so the server refuses while the client is still writing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_upload_gets_its_answer_not_a_broken_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("htpasswd");
    std::fs::write(
        &file,
        format!("alice:{}\n", bcrypt::hash("s3cret", 4).unwrap()),
    )
    .unwrap();
    let locked = TestServer::start_with(move |c| c.htpasswd = Some(file)).await;
    let read_only = TestServer::start_with(|c| c.read_only = true).await;
    let body = vec![b'x'; 1024 * 1024];
    let d = Digest::sha256_of(&body);
    for (s, status, code) in [
        (&locked, "401", "UNAUTHORIZED"),
        (&read_only, "405", "UNSUPPORTED"),
    ] {
        let addr = s.base.trim_start_matches("http://");
        let head = format!(
            "POST /v2/repo/blobs/uploads/?digest={d} HTTP/1.1\r\nHost: {addr}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        for _ in 0..3 {
            let answer = raw_exchange(&s.base, &head, &body).await.unwrap();
            assert!(
                answer.starts_with(&format!("HTTP/1.1 {status}")),
                "{answer}"
            );
            assert_eq!(json_code(&answer), code, "{answer}");
        }
        // Past the drain limit the answer says the connection closes.
        let head = head.replace("Content-Length: 1048576", "Content-Length: 2097153");
        let answer = raw_exchange(&s.base, &head, b"").await.unwrap();
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{answer}"
        );
        assert!(
            answer.to_ascii_lowercase().contains("connection: close"),
            "{answer}"
        );
    }
}

/// Referrer PUTs and referrers queries at once (issue 12): a referrer is
/// listed by every query made after its 201, and once at the end.
#[tokio::test]
async fn concurrent_referrer_puts_and_queries_agree() {
    let s = std::sync::Arc::new(TestServer::start().await);
    let (subject_bytes, subject) = s.push_image("r", "app", "subject").await;
    let empty = s.push_blob("r", b"{}").await;
    let listing = format!("/v2/r/referrers/{subject}");
    let list = |s: std::sync::Arc<TestServer>, path: String| async move {
        let v = s.json(&path).await;
        v["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["digest"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    // A query first, so the PUTs below update a built index.
    assert!(list(s.clone(), listing.clone()).await.is_empty());
    let mut tasks = Vec::new();
    for i in 0..16 {
        let (s1, listing1) = (s.clone(), listing.clone());
        let m = serde_json::to_vec(&json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": format!("t/{i}"),
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty.to_string(), "size": 2},
            "layers": [],
            "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject.to_string(), "size": subject_bytes.len()},
        }))
        .unwrap();
        tasks.push(tokio::spawn(async move {
            let d = Digest::sha256_of(&m);
            let r = s1
                .put_manifest(
                    "r",
                    &d.to_string(),
                    "application/vnd.oci.image.manifest.v1+json",
                    &m,
                )
                .await;
            assert_eq!(r.status(), StatusCode::CREATED);
            let seen = list(s1, listing1).await;
            assert!(seen.contains(&d.to_string()), "{d} missing after its 201");
        }));
        let (s2, listing2) = (s.clone(), listing.clone());
        tasks.push(tokio::spawn(async move {
            list(s2, listing2).await;
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut all = list(s.clone(), listing).await;
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 16);
}

/// Large manifests (over the 256 KiB threshold, so they take turns) pushed
/// at once all succeed and read back byte for byte.
#[tokio::test]
async fn concurrent_large_manifest_puts_all_succeed() {
    let s = std::sync::Arc::new(TestServer::start().await);
    let config = s.push_blob("big", b"{}").await;
    let layer = s.push_blob("big", b"layer").await;
    let mut tasks = Vec::new();
    for n in 0..6 {
        let s = s.clone();
        let layers: Vec<_> = (0..3000)
            .map(|_| json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer.to_string(), "size": 5}))
            .collect();
        let m = serde_json::to_vec(&json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.to_string(), "size": 2},
            "layers": layers, "annotations": {"n": n.to_string()},
        }))
        .unwrap();
        assert!(m.len() > 256 * 1024);
        tasks.push(tokio::spawn(async move {
            let r = s
                .put_manifest(
                    "big",
                    &format!("t{n}"),
                    "application/vnd.oci.image.manifest.v1+json",
                    &m,
                )
                .await;
            assert_eq!(r.status(), StatusCode::CREATED);
            let got = s
                .send(Method::GET, &format!("/v2/big/manifests/t{n}"))
                .await;
            assert_eq!(got.bytes().await.unwrap(), m);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}
