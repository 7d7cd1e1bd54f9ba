//! `regctl serve` in production (issue 18): `/metrics` parsed by the real
//! Prometheus text parser (Python `prometheus-client`), `/healthz`, `/readyz`
//! and `--metrics-addr`.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::push::{http, push_image};
use common::raw::RawConn;
use common::{Serve, TestImage};

/// One sample: metric name, labels, value.
type Sample = (String, HashMap<String, String>, f64);

const PARSER: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        out.append([s.name, s.labels, s.value, family.type])
print(json.dumps(out))
"#;

/// Whether python3 with `prometheus_client` is there; skipped without it,
/// except under `CI` (`pip install prometheus-client`).
fn parser_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import prometheus_client.parser"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "python3 with prometheus_client is missing, and CI requires it (pip install prometheus-client)"
        );
        eprintln!("skipped: python3 prometheus_client not installed");
    }
    ok
}

/// Parses an exposition with the real parser; a parse error fails the test.
fn parse(text: &str) -> Vec<Sample> {
    let out = common::output_with_stdin(
        Command::new("python3").args(["-c", PARSER]),
        text.as_bytes(),
    );
    assert!(
        out.status.success(),
        "prometheus_client rejected the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<(String, HashMap<String, String>, f64, String)> =
        serde_json::from_slice(&out.stdout).unwrap();
    rows.into_iter().map(|(n, l, v, _)| (n, l, v)).collect()
}

async fn scrape(addr: &str, auth: Option<(&str, &str)>) -> Vec<Sample> {
    let mut req = http().get(format!("http://{addr}/metrics"));
    if let Some((u, p)) = auth {
        req = req.basic_auth(u, Some(p));
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    parse(&r.text().await.unwrap())
}

/// The sum of samples named `name` whose labels include all of `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).is_some_and(|x| x == v))
        })
        .map(|(_, _, v)| v)
        .sum()
}

fn has(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> bool {
    samples.iter().any(|(n, l, _)| {
        n == name
            && labels
                .iter()
                .all(|(k, v)| l.get(*k).is_some_and(|x| x == v))
    })
}

#[tokio::test]
async fn metrics_parse_and_move_with_traffic() {
    if !parser_available() {
        return;
    }
    let serve = Serve::start(&["--metrics-refresh", "200ms"]);
    let addr = serve.addr().to_owned();
    let before = scrape(&addr, None).await;
    // Families exist before any traffic.
    for name in [
        "regctl_http_request_bytes_total",
        "regctl_http_response_bytes_total",
        "regctl_uploads_in_progress",
        "regctl_auth_failures_total",
        "regctl_gc_runs_total",
        "regctl_gc_freed_bytes_total",
    ] {
        assert!(has(&before, name, &[]), "{name} missing");
    }

    let img = TestImage::oci("metrics", 2, 4096);
    push_image(&addr, "team/app", "v1", &img).await;
    let layer = &img.layers[0];
    let digest = regctl::types::Digest::sha256_of(layer);
    let r = http()
        .get(format!("http://{addr}/v2/team/app/blobs/{digest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.bytes().await.unwrap().len(), layer.len());
    let r = http()
        .get(format!("http://{addr}/v2/team/app/manifests/missing"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);

    // The stored-bytes gauges come from the background refresh: wait for
    // one that has seen the whole push (bounded). A refresh that ran while
    // the push was half-way saw the repository with its blobs but no
    // manifest yet, so mere presence of the series is not enough.
    let deadline = Instant::now() + Duration::from_secs(20);
    let repo_bytes = [("repository", "team/app")];
    let after = loop {
        let s = scrape(&addr, None).await;
        if has(&s, "regctl_storage_repository_bytes", &repo_bytes)
            && value(&s, "regctl_storage_repository_bytes", &repo_bytes) == img.stored_size() as f64
        {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the stored-bytes gauge for team/app never showed the push: {}",
            value(&s, "regctl_storage_repository_bytes", &repo_bytes)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let delta = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    let manifest_puts = [("method", "PUT"), ("class", "manifest"), ("status", "201")];
    assert_eq!(delta("regctl_http_requests_total", &manifest_puts), 1.0);
    let blob_gets = [("method", "GET"), ("class", "blob"), ("status", "200")];
    assert_eq!(delta("regctl_http_requests_total", &blob_gets), 1.0);
    let missing = [("method", "GET"), ("class", "manifest"), ("status", "404")];
    assert_eq!(delta("regctl_http_requests_total", &missing), 1.0);
    // Two layers and a config pushed as uploads: three POSTs answered 202.
    let upload_starts = [("method", "POST"), ("class", "upload"), ("status", "202")];
    assert_eq!(delta("regctl_http_requests_total", &upload_starts), 3.0);
    // Every request counted is in its class's latency histogram.
    let manifests_counted = value(
        &after,
        "regctl_http_requests_total",
        &[("class", "manifest")],
    );
    assert_eq!(
        value(
            &after,
            "regctl_http_request_duration_seconds_count",
            &[("class", "manifest")]
        ),
        manifests_counted
    );
    assert!(
        delta("regctl_http_request_bytes_total", &[]) >= img.stored_size() as f64,
        "request bytes did not grow by the pushed image"
    );
    assert!(delta("regctl_http_response_bytes_total", &[]) >= layer.len() as f64);
    let stored = value(
        &after,
        "regctl_storage_repository_bytes",
        &[("repository", "team/app")],
    );
    assert_eq!(stored, img.stored_size() as f64);
    assert_eq!(
        value(&after, "regctl_storage_bytes", &[]),
        img.stored_size() as f64
    );
    // No repository label on request series: cardinality stays bounded.
    assert!(
        after
            .iter()
            .filter(|(n, _, _)| n.starts_with("regctl_http_"))
            .all(|(_, l, _)| !l.contains_key("repository"))
    );
}

#[tokio::test]
async fn online_gc_is_counted() {
    if !parser_available() {
        return;
    }
    let serve = Serve::start(&[]);
    let addr = serve.addr().to_owned();
    let img = TestImage::oci("gc-metrics", 1, 2048);
    push_image(&addr, "gc/app", "v1", &img).await;
    let r = http()
        .delete(format!("http://{addr}/v2/gc/app/manifests/{}", img.digest))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let r = http()
        .post(format!("http://{addr}/v2/_regctl/gc?min_age=0"))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let report: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(status, 200, "{report}");
    let freed = report["summary"]["bytesFreed"].as_f64().unwrap();
    assert!(freed > 0.0, "{report}");
    let s = scrape(&addr, None).await;
    assert_eq!(value(&s, "regctl_gc_runs_total", &[]), 1.0);
    assert_eq!(value(&s, "regctl_gc_freed_bytes_total", &[]), freed);
}

#[tokio::test]
async fn an_upload_cut_off_half_way_leaves_the_gauge() {
    if !parser_available() {
        return;
    }
    let serve = Serve::start(&[]);
    let addr = serve.addr().to_owned();
    let r = http()
        .post(format!("http://{addr}/v2/cut/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let path = location
        .strip_prefix(&format!("http://{addr}"))
        .unwrap_or(&location)
        .to_owned();
    // Two uploads at once, each sending half its body.
    let mut conns = Vec::new();
    for _ in 0..2 {
        let mut c = RawConn::open(
            &addr,
            "PATCH",
            &path,
            &[("Content-Type", "application/octet-stream")],
            1 << 20,
        )
        .await;
        c.send(&[7u8; 1 << 16]).await;
        conns.push(c);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = scrape(&addr, None).await;
        if value(&s, "regctl_uploads_in_progress", &[]) >= 1.0 {
            break;
        }
        assert!(Instant::now() < deadline, "the uploads were never counted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(conns);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = scrape(&addr, None).await;
        if value(&s, "regctl_uploads_in_progress", &[]) == 0.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the gauge kept uploads whose clients went away"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn health_and_readiness() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let serve = Serve::start_with_root(&root, &[]);
    let addr = serve.addr().to_owned();
    let get = |path: &'static str| {
        let addr = addr.clone();
        async move {
            let r = http()
                .get(format!("http://{addr}{path}"))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    assert_eq!(get("/healthz").await.0, 200);
    // Two probes at once each use their own file.
    let (a, b) = tokio::join!(get("/readyz"), get("/readyz"));
    assert_eq!((a.0, b.0), (200, 200), "{a:?} {b:?}");
    // The storage root gone: not ready, saying why; healthy still.
    let moved = dir.path().join("moved");
    std::fs::rename(&root, &moved).unwrap();
    let (status, body) = get("/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("storage root"), "{body}");
    assert_eq!(get("/healthz").await.0, 200);
    std::fs::rename(&moved, &root).unwrap();
    assert_eq!(get("/readyz").await.0, 200);
    // No probe file left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("readyz"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn htpasswd(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("htpasswd");
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    std::fs::write(&path, format!("alice:{hash}\n")).unwrap();
    path
}

#[tokio::test]
async fn metrics_are_protected_with_htpasswd_unless_public() {
    if !parser_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pw = htpasswd(dir.path());
    let serve = Serve::start(&["--htpasswd", pw.to_str().unwrap()]);
    let addr = serve.addr().to_owned();
    let r = http()
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // Probes need no credentials.
    for path in ["/healthz", "/readyz"] {
        let r = http()
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
    }
    let r = http()
        .get(format!("http://{addr}/v2/"))
        .basic_auth("alice", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let s = scrape(&addr, Some(("alice", "s3cret"))).await;
    assert_eq!(value(&s, "regctl_auth_failures_total", &[]), 1.0);
    drop(serve);

    let serve = Serve::start(&["--htpasswd", pw.to_str().unwrap(), "--metrics-public"]);
    scrape(serve.addr(), None).await;
    let r = http()
        .get(format!("http://{}/v2/", serve.addr()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401, "only /metrics is opened");
}

#[tokio::test]
async fn metrics_addr_serves_metrics_elsewhere() {
    if !parser_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_regctl"))
        .args(["serve", "--port", "0", "--metrics-addr", "127.0.0.1:0"])
        .arg("--root")
        .arg(dir.path().join("root"))
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let second = lines.next().unwrap().unwrap();
    let addr = first
        .strip_prefix("listening on http://")
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_owned();
    let metrics = second
        .strip_prefix("metrics on http://")
        .and_then(|r| r.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("{second}"))
        .to_owned();
    let r = http()
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    let main_status = r.status().as_u16();
    r.bytes().await.unwrap();
    let r = http()
        .get(format!("http://{addr}/v2/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let s = scrape(&metrics, None).await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        main_status, 404,
        "/metrics stays off the registry's address"
    );
    // The registry's traffic shows on the other address.
    assert_eq!(
        value(
            &s,
            "regctl_http_requests_total",
            &[("class", "base"), ("status", "200")]
        ),
        1.0
    );
}
