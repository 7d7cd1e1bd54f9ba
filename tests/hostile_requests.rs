//! Hostile input against a running `regctl serve` (issue 7): every request
//! gets the distribution spec's error code, nothing is written outside the
//! storage root, and the server keeps serving afterwards.
//!
//! Requests go over a raw TCP stream so that paths reach the server exactly
//! as written (HTTP clients normalise `..` and percent-escapes away).

mod common;

use std::path::{Path, PathBuf};

use common::Serve;
use common::raw::raw;
use regctl::types::Digest;
use serde_json::{Value, json};

/// A request and what the spec says it must get.
struct Case {
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    status: u16,
    /// The JSON error code; `None` when the answer has none to check (a
    /// path that is no route at all, a success).
    code: Option<&'static str>,
}

fn case(
    method: &'static str,
    path: impl Into<String>,
    status: u16,
    code: Option<&'static str>,
) -> Case {
    Case {
        method,
        path: path.into(),
        headers: Vec::new(),
        body: Vec::new(),
        status,
        code,
    }
}

impl Case {
    fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    fn header(mut self, k: &'static str, v: impl Into<String>) -> Self {
        self.headers.push((k, v.into()));
        self
    }
}

/// Runs every case; returns how many were tried.
async fn run(addr: &str, cases: &[Case]) -> usize {
    for c in cases {
        let headers: Vec<(&str, &str)> = c.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let a = raw(addr, c.method, &c.path, &headers, &c.body).await;
        let what = format!(
            "{} {} -> {} {:?} (write error: {:?})",
            c.method,
            shorten(&c.path),
            a.status,
            String::from_utf8_lossy(&a.body[..a.body.len().min(300)]),
            a.write_error
        );
        assert_eq!(a.status, c.status, "{what}");
        if let Some(code) = c.code {
            assert_eq!(a.code(), code, "{what}");
        }
        assert!(a.write_error.is_none(), "{what}");
    }
    cases.len()
}

fn shorten(s: &str) -> String {
    if s.len() > 120 {
        format!("{}...({} bytes)", &s[..120], s.len())
    } else {
        s.to_owned()
    }
}

/// Every path under `dir`, recursively.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(d) = pending.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                pending.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}

/// Nothing but the root in its parent directory (the parent holds only the
/// root when the test starts), and the server answers `/v2/`.
async fn assert_contained_and_serving(serve: &Serve, auth: Option<&str>) {
    let parent = serve.root().parent().unwrap();
    let outside: Vec<_> = walk(parent)
        .into_iter()
        .filter(|p| !p.starts_with(serve.root()))
        .collect();
    assert!(outside.is_empty(), "written outside the root: {outside:?}");
    let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
    let a = raw(serve.addr(), "GET", "/v2/", &headers, b"").await;
    assert_eq!(a.status, 200, "the server stopped serving: {a:?}");
}

/// A pushed blob and image manifest to aim at.
async fn seed(addr: &str) -> (Digest, Vec<u8>) {
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let d = Digest::sha256_of(config);
    let a = raw(
        addr,
        "POST",
        &format!("/v2/ok/blobs/uploads/?digest={d}"),
        &[],
        config,
    )
    .await;
    assert_eq!(a.status, 201, "{a:?}");
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": d.to_string(), "size": config.len()},
        "layers": [],
    }))
    .unwrap();
    let a = raw(
        addr,
        "PUT",
        "/v2/ok/manifests/v1",
        &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
        &manifest,
    )
    .await;
    assert_eq!(a.status, 201, "{a:?}");
    (d, manifest)
}

/// A new upload session; its path.
async fn session(addr: &str) -> String {
    let a = raw(addr, "POST", "/v2/ok/blobs/uploads/", &[], b"").await;
    assert_eq!(a.status, 202, "{a:?}");
    a.header("location").unwrap().to_owned()
}

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

#[tokio::test]
async fn hostile_requests_get_spec_errors_and_stay_inside_the_root() {
    let serve = Serve::start(&[]);
    let addr = serve.addr().to_owned();
    let (blob, manifest) = seed(&addr).await;
    let mut cases = Vec::new();

    // Repository names: traversal (raw and escaped), separators, NUL,
    // uppercase, over-long. `a/` then six `..` would climb from
    // `repositories/a` to the root's parent, where a file would show.
    let climb = format!("a/{}escape", "../".repeat(6));
    let long = "a".repeat(256);
    let long_components = vec!["ab"; 100].join("/");
    let bad_names = [
        "..",
        "../escape",
        climb.as_str(),
        "a/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/escape",
        "%2e%2e",
        "a%2Fb",
        "a/%2F/b",
        "a//b",
        "/a",
        "a%00b",
        "a\\b",
        "UPPER",
        "Ok",
        "-x",
        "a.",
        "a..b",
        long.as_str(),
        long_components.as_str(),
    ];
    for name in bad_names {
        cases.push(case(
            "GET",
            format!("/v2/{name}/tags/list"),
            400,
            Some("NAME_INVALID"),
        ));
        cases.push(case(
            "GET",
            format!("/v2/{name}/manifests/latest"),
            400,
            Some("NAME_INVALID"),
        ));
        cases.push(
            case(
                "PUT",
                format!("/v2/{name}/manifests/latest"),
                400,
                Some("NAME_INVALID"),
            )
            .header("Content-Type", OCI_MANIFEST)
            .body(manifest.clone()),
        );
        cases.push(case(
            "GET",
            format!("/v2/{name}/blobs/{blob}"),
            400,
            Some("NAME_INVALID"),
        ));
        cases.push(
            case(
                "POST",
                format!("/v2/{name}/blobs/uploads/?digest={blob}"),
                400,
                Some("NAME_INVALID"),
            )
            .body(&br#"{"architecture":"amd64","os":"linux"}"#[..]),
        );
        cases.push(case(
            "POST",
            format!("/v2/{name}/blobs/uploads/"),
            400,
            Some("NAME_INVALID"),
        ));
    }
    // A name of 255 characters is allowed (spec: fewer than 256).
    cases.push(case(
        "GET",
        format!("/v2/{}/tags/list", "a".repeat(255)),
        404,
        Some("NAME_UNKNOWN"),
    ));

    // Tags: traversal, escapes, NUL, too long, bad first character.
    let long_tag = "t".repeat(129);
    for tag in [
        "..",
        "%2e%2e",
        "a%2Fb",
        "%2F",
        "a%00b",
        ".hidden",
        "-x",
        long_tag.as_str(),
        "a%20b",
    ] {
        // A reference that cannot exist is 404 MANIFEST_UNKNOWN on a read
        // (issue 12, item 6: registry:2 and the OCI conformance suite).
        cases.push(case(
            "GET",
            format!("/v2/ok/manifests/{tag}"),
            404,
            Some("MANIFEST_UNKNOWN"),
        ));
        cases.push(case("HEAD", format!("/v2/ok/manifests/{tag}"), 404, None));
        cases.push(
            case(
                "PUT",
                format!("/v2/ok/manifests/{tag}"),
                400,
                Some("TAG_INVALID"),
            )
            .header("Content-Type", OCI_MANIFEST)
            .body(manifest.clone()),
        );
        cases.push(case(
            "DELETE",
            format!("/v2/ok/manifests/{tag}"),
            400,
            Some("TAG_INVALID"),
        ));
    }
    // A raw `/` or `..` segment in the tag makes the path no route at all.
    for path in ["/v2/ok/manifests/a/b", "/v2/ok/manifests/../../../escape"] {
        cases.push(case("GET", path, 404, None));
        cases.push(
            case("PUT", path, 404, None)
                .header("Content-Type", OCI_MANIFEST)
                .body(manifest.clone()),
        );
    }
    // Uppercase is fine in a tag.
    cases.push(case(
        "GET",
        "/v2/ok/manifests/UPPER",
        404,
        Some("MANIFEST_UNKNOWN"),
    ));

    // Digests: unknown algorithms, bad hex, wrong length, traversal.
    let hex = "a".repeat(64);
    let bad_digests = [
        format!("sha999:{hex}"),
        format!("md5:{}", "a".repeat(32)),
        format!("SHA256:{hex}"),
        format!("sha256:{}", "A".repeat(64)),
        format!("sha256:{}", "g".repeat(64)),
        format!("sha256:{}", "a".repeat(63)),
        format!("sha256:{}", "a".repeat(65)),
        "sha256:".to_owned(),
        "sha256:..%2F..%2Fescape".to_owned(),
        format!("sha512:{hex}"),
        ":".to_owned(),
    ];
    for d in &bad_digests {
        cases.push(case(
            "GET",
            format!("/v2/ok/blobs/{d}"),
            400,
            Some("DIGEST_INVALID"),
        ));
        cases.push(case("HEAD", format!("/v2/ok/blobs/{d}"), 400, None));
        cases.push(case(
            "DELETE",
            format!("/v2/ok/blobs/{d}"),
            400,
            Some("DIGEST_INVALID"),
        ));
        cases.push(case(
            "GET",
            format!("/v2/ok/manifests/{d}"),
            400,
            Some("DIGEST_INVALID"),
        ));
        cases.push(case(
            "GET",
            format!("/v2/ok/referrers/{d}"),
            400,
            Some("DIGEST_INVALID"),
        ));
        cases.push(
            case(
                "POST",
                format!("/v2/ok/blobs/uploads/?digest={d}"),
                400,
                Some("DIGEST_INVALID"),
            )
            .body("x"),
        );
        cases.push(case(
            "POST",
            format!("/v2/ok/blobs/uploads/?mount={d}&from=ok"),
            400,
            Some("DIGEST_INVALID"),
        ));
    }
    // A well-formed digest that does not match the body.
    cases.push(
        case(
            "POST",
            format!("/v2/ok/blobs/uploads/?digest=sha256:{hex}"),
            400,
            Some("DIGEST_INVALID"),
        )
        .body("not that"),
    );
    // Mounting from a hostile repository name falls back to a session.
    cases.push(case(
        "POST",
        format!("/v2/ok/blobs/uploads/?mount={blob}&from=../../escape"),
        202,
        None,
    ));

    // Manifests: over 4 MiB (with and without 100-continue), referencing
    // blobs the repository lacks, not JSON, a digest reference that lies.
    let huge = vec![b' '; 5 * 1024 * 1024];
    cases.push(
        case(
            "PUT",
            "/v2/ok/manifests/huge",
            413,
            Some("MANIFEST_INVALID"),
        )
        .header("Content-Type", OCI_MANIFEST)
        .body(huge.clone()),
    );
    cases.push(
        case(
            "PUT",
            "/v2/ok/manifests/huge",
            413,
            Some("MANIFEST_INVALID"),
        )
        .header("Content-Type", OCI_MANIFEST)
        .header("Expect", "100-continue")
        .header("Content-Length", huge.len().to_string()),
    );
    let chunked_huge = {
        let mut b = Vec::new();
        for part in huge.chunks(1024 * 1024) {
            b.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
            b.extend_from_slice(part);
            b.extend_from_slice(b"\r\n");
        }
        b.extend_from_slice(b"0\r\n\r\n");
        b
    };
    cases.push(
        case(
            "PUT",
            "/v2/ok/manifests/huge",
            413,
            Some("MANIFEST_INVALID"),
        )
        .header("Content-Type", OCI_MANIFEST)
        .header("Transfer-Encoding", "chunked")
        .body(chunked_huge),
    );
    let missing = Digest::sha256_of(b"never pushed");
    let dangling = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": blob.to_string(), "size": 37},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": missing.to_string(), "size": 12}],
    }))
    .unwrap();
    cases.push(
        case(
            "PUT",
            "/v2/ok/manifests/dangling",
            400,
            Some("MANIFEST_BLOB_UNKNOWN"),
        )
        .header("Content-Type", OCI_MANIFEST)
        .body(dangling),
    );
    let dangling_index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": missing.to_string(), "size": 12}],
    }))
    .unwrap();
    cases.push(
        case(
            "PUT",
            "/v2/ok/manifests/dangling-index",
            400,
            Some("MANIFEST_BLOB_UNKNOWN"),
        )
        .header("Content-Type", "application/vnd.oci.image.index.v1+json")
        .body(dangling_index),
    );
    for junk in [&b"{nope"[..], b"", b"[]", b"null", b"\xff\xfe"] {
        cases.push(
            case(
                "PUT",
                "/v2/ok/manifests/junk",
                400,
                Some("MANIFEST_INVALID"),
            )
            .header("Content-Type", OCI_MANIFEST)
            .body(junk),
        );
    }
    cases.push(
        case(
            "PUT",
            format!("/v2/ok/manifests/{missing}"),
            400,
            Some("DIGEST_INVALID"),
        )
        .header("Content-Type", OCI_MANIFEST)
        .body(manifest.clone()),
    );

    // Uploads: unknown ids, traversal in the id, out-of-order chunks,
    // ranges that disagree with the body, finishing without a digest.
    let unknown = "/v2/ok/blobs/uploads/6f1c3a5e-0000-4000-8000-000000000000";
    cases.push(case("PATCH", unknown, 404, Some("BLOB_UPLOAD_UNKNOWN")).body("x"));
    cases.push(case("GET", unknown, 404, Some("BLOB_UPLOAD_UNKNOWN")));
    cases.push(case("DELETE", unknown, 404, Some("BLOB_UPLOAD_UNKNOWN")));
    cases.push(case(
        "PUT",
        format!("{unknown}?digest={blob}"),
        404,
        Some("BLOB_UPLOAD_UNKNOWN"),
    ));
    for id in [
        "..%2F..%2F..%2Fescape",
        "%2e%2e",
        "..",
        "6F1C3A5E-0000-4000-8000-000000000000",
        "6f1c3a5e00004000800000000000000",
        "x%00",
    ] {
        let path = format!("/v2/ok/blobs/uploads/{id}");
        cases.push(case("PATCH", path.clone(), 404, Some("BLOB_UPLOAD_UNKNOWN")).body("x"));
        cases.push(
            case(
                "PUT",
                format!("{path}?digest={blob}"),
                404,
                Some("BLOB_UPLOAD_UNKNOWN"),
            )
            .body("x"),
        );
    }
    cases.push(case("PATCH", "/v2/ok/blobs/uploads/../../../escape", 404, None).body("x"));

    let live = session(&addr).await;
    cases.push(
        case("PATCH", live.clone(), 202, None)
            .header("Content-Range", "0-4")
            .body("hello"),
    );
    // Out of order: before, after and overlapping the end of the upload.
    for range in ["0-4", "3-7", "6-10", "100-104"] {
        cases.push(
            case("PATCH", live.clone(), 416, Some("BLOB_UPLOAD_INVALID"))
                .header("Content-Range", range)
                .body("world"),
        );
    }
    // Malformed ranges.
    for range in [
        "bytes",
        "9-5",
        "a-b",
        "-5",
        "5-",
        "18446744073709551615-18446744073709551616",
    ] {
        cases.push(
            case("PATCH", live.clone(), 416, Some("BLOB_UPLOAD_INVALID"))
                .header("Content-Range", range)
                .body("world"),
        );
    }
    // A range past the body, and one shorter than it.
    cases.push(
        case("PATCH", live.clone(), 400, Some("SIZE_INVALID"))
            .header("Content-Range", "5-104")
            .body("world"),
    );
    cases.push(
        case("PATCH", live.clone(), 400, Some("SIZE_INVALID"))
            .header("Content-Range", "5-6")
            .body("world"),
    );
    cases.push(
        case("PATCH", live.clone(), 400, Some("SIZE_INVALID"))
            .header("Content-Range", "5-104")
            .header("Transfer-Encoding", "chunked")
            .body("5\r\nworld\r\n0\r\n\r\n"),
    );
    cases.push(case("PUT", live.clone(), 400, Some("DIGEST_INVALID")));
    cases.push(case(
        "PUT",
        format!("{live}?digest=sha256:{hex}"),
        400,
        Some("DIGEST_INVALID"),
    ));
    // The failed attempts left the session as it was... and the wrong
    // digest above discarded it, as the spec allows.
    cases.push(case("GET", live.clone(), 404, Some("BLOB_UPLOAD_UNKNOWN")));

    // Catalog and tag pagination: huge, negative and non-numeric `n`.
    for n in [
        "99999999999999999999999999999",
        "18446744073709551616",
        "1000000",
    ] {
        cases.push(case("GET", format!("/v2/_catalog?n={n}"), 200, None));
        cases.push(case("GET", format!("/v2/ok/tags/list?n={n}"), 200, None));
    }
    for n in ["-1", "x", "1e9", "%FF", "", "0x10"] {
        cases.push(case(
            "GET",
            format!("/v2/_catalog?n={n}"),
            400,
            Some("PAGINATION_NUMBER_INVALID"),
        ));
    }
    cases.push(case("GET", "/v2/_catalog?last=..%2F..%2Fescape", 200, None));
    cases.push(case(
        "GET",
        format!("/v2/_catalog?last={}", "z".repeat(10_000)),
        200,
        None,
    ));

    // Methods the API does not have, and paths that are no route.
    cases.push(case("TRACE", "/v2/", 405, Some("UNSUPPORTED")));
    cases.push(case(
        "POST",
        "/v2/ok/manifests/v1",
        405,
        Some("UNSUPPORTED"),
    ));
    cases.push(case(
        "PATCH",
        format!("/v2/ok/blobs/{blob}"),
        405,
        Some("UNSUPPORTED"),
    ));
    cases.push(case("GET", "/v2/../../../etc/passwd", 404, None));
    cases.push(case("GET", "/v3/", 404, None));
    cases.push(case("GET", "/", 404, None));

    let tried = run(&addr, &cases).await;

    // The pushed content is untouched and nothing escaped.
    let a = raw(&addr, "GET", "/v2/ok/manifests/v1", &[], b"").await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body, manifest);
    let a = raw(&addr, "GET", "/v2/_catalog", &[], b"").await;
    let v: Value = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(v["repositories"], json!(["ok"]), "{v}");
    assert_contained_and_serving(&serve, None).await;
    println!("hostile inputs tried: {tried}");
}

#[tokio::test]
async fn wrong_or_missing_credentials_get_401_with_a_challenge() {
    let dir = tempfile::tempdir().unwrap();
    let htpasswd = dir.path().join("htpasswd");
    let hash = bcrypt::hash("open-sesame", 4).unwrap();
    std::fs::write(&htpasswd, format!("alice:{hash}\n")).unwrap();
    let serve = Serve::start(&["--htpasswd", htpasswd.to_str().unwrap()]);
    let addr = serve.addr().to_owned();
    let basic = |user: &str, pass: &str| {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        )
    };
    let good = basic("alice", "open-sesame");
    let hostile = [
        None,
        Some(basic("alice", "wrong")),
        Some(basic("alice", "")),
        Some(basic("bob", "open-sesame")),
        Some(basic("", "")),
        Some(basic("alice", &format!("open-sesame{}", "x".repeat(100)))),
        Some(basic("alice:open-sesame", "")),
        Some(basic(&"a".repeat(10_000), "x")),
        Some("Basic".to_owned()),
        Some("Basic !!!not-base64!!!".to_owned()),
        Some("Basic YWxpY2U=".to_owned()), // "alice", no colon
        Some("Bearer open-sesame".to_owned()),
        Some("basic".to_owned()),
        Some(good.replace("Basic", "Digest")),
    ];
    let paths = [
        ("GET", "/v2/"),
        ("GET", "/v2/_catalog"),
        ("GET", "/v2/ok/manifests/v1"),
        ("PUT", "/v2/ok/manifests/v1"),
        ("POST", "/v2/ok/blobs/uploads/"),
        ("DELETE", "/v2/ok/manifests/v1"),
        ("GET", "/v2/../../escape/tags/list"),
    ];
    // The right credentials, verified once, keep working while this
    // address is locked out for its failures below.
    let a = raw(&addr, "GET", "/v2/", &[("Authorization", &good)], b"").await;
    assert_eq!(a.status, 200, "{a:?}");
    let mut tried = 0;
    let mut failures = 0;
    for auth in &hostile {
        for (method, path) in paths {
            let headers: Vec<(&str, &str)> =
                auth.iter().map(|a| ("Authorization", a.as_str())).collect();
            let a = raw(&addr, method, path, &headers, b"{}").await;
            let what = format!("{method} {path} with {auth:?}: {a:?}");
            if a.status == 429 {
                // Issue 12: repeated failures from one address are refused.
                assert!(failures >= regctl::server::MAX_FAILURES, "{what}");
                assert_eq!(a.code(), "TOOMANYREQUESTS", "{what}");
                assert!(a.header("retry-after").is_some(), "{what}");
            } else {
                assert_eq!(a.status, 401, "{what}");
                assert_eq!(a.code(), "UNAUTHORIZED", "{what}");
                assert_eq!(
                    a.header("www-authenticate"),
                    Some("Basic realm=\"regctl\""),
                    "{what}"
                );
                if auth.is_some() {
                    failures += 1;
                }
            }
            tried += 1;
        }
    }
    // A push of a 1 MiB blob without credentials gets its 401, not a
    // broken pipe: the refused body is drained (up to 1 MiB).
    let blob = vec![b'x'; 1024 * 1024];
    let d = Digest::sha256_of(&blob);
    for _ in 0..3 {
        let path = format!("/v2/ok/blobs/uploads/?digest={d}");
        let a = raw(&addr, "POST", &path, &[], &blob).await;
        assert_eq!(a.status, 401, "{a:?}");
        assert!(a.write_error.is_none(), "{:?}", a.write_error);
        tried += 1;
    }
    // The right credentials still work, and a hostile name is still refused
    // for them (authentication first, then validation).
    let a = raw(
        &addr,
        "GET",
        "/v2/../../escape/tags/list",
        &[("Authorization", &good)],
        b"",
    )
    .await;
    assert_eq!(a.status, 400, "{a:?}");
    assert_eq!(a.code(), "NAME_INVALID");
    tried += 1;
    assert_contained_and_serving(&serve, Some(&good)).await;
    println!("hostile credential inputs tried: {tried}");
}
