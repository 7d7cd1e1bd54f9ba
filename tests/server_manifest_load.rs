//! Manifest-heavy load on `regctl serve` (issue 12, item 5): many large
//! manifests at once, and referrers queries over many large manifests.
//! Measurements, printed and not asserted (run with `--ignored
//! --nocapture`); the behaviour they rest on is tested in server_api.rs.

mod common;

use std::time::{Duration, Instant};

use common::{Serve, proc_status_kib};
use regctl::types::Digest;
use serde_json::json;

const LAYERS: usize = 22_000;
const IMAGE: &str = "application/vnd.oci.image.manifest.v1+json";

async fn push_blob(c: &reqwest::Client, base: &str, repo: &str, data: &[u8]) -> Digest {
    let d = Digest::sha256_of(data);
    let r = c
        .post(format!("{base}/v2/{repo}/blobs/uploads/?digest={d}"))
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    d
}

/// A manifest of [`LAYERS`] layers (one blob, repeated), about 3.2 MiB.
fn large_manifest(
    config: &Digest,
    layer: &Digest,
    n: usize,
    subject: Option<&(Digest, usize)>,
) -> Vec<u8> {
    let layers: Vec<_> = (0..LAYERS)
        .map(|_| json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer.to_string(), "size": 5}))
        .collect();
    let mut m = json!({
        "schemaVersion": 2, "mediaType": IMAGE,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.to_string(), "size": 2},
        "layers": layers,
        "annotations": {"n": n.to_string()},
    });
    if let Some((d, size)) = subject {
        m["subject"] = json!({"mediaType": IMAGE, "digest": d.to_string(), "size": size});
        m["artifactType"] = json!("application/vnd.example.big");
    }
    serde_json::to_vec(&m).unwrap()
}

async fn put_manifest(c: &reqwest::Client, base: &str, repo: &str, m: Vec<u8>) -> Digest {
    let d = Digest::sha256_of(&m);
    let r = c
        .put(format!("{base}/v2/{repo}/manifests/{d}"))
        .header("Content-Type", IMAGE)
        .body(m)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    d
}

#[tokio::test]
#[ignore = "measurement: cargo test --test server_manifest_load -- --ignored --nocapture"]
async fn forty_concurrent_large_manifest_puts_memory() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let serve = Serve::start(&[]);
    let base = format!("http://{}", serve.addr());
    let c = reqwest::Client::new();
    let config = push_blob(&c, &base, "big", b"{}").await;
    let layer = push_blob(&c, &base, "big", b"layer").await;
    let manifests: Vec<Vec<u8>> = (0..40)
        .map(|n| large_manifest(&config, &layer, n, None))
        .collect();
    println!(
        "manifest size: {:.1} MiB",
        manifests[0].len() as f64 / 1048576.0
    );
    let pid = serve.pid();
    let before = proc_status_kib(pid, "VmRSS");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for m in manifests {
        let (c, base) = (c.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            put_manifest(&c, &base, "big", m).await
        }));
    }
    let mut peak = before;
    while !tasks.iter().all(|t| t.is_finished()) {
        peak = peak.max(proc_status_kib(pid, "VmRSS"));
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(started.elapsed() < Duration::from_secs(600));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!(
        "40 concurrent PUTs of {LAYERS}-layer manifests: {took:?}; RSS before {} MiB, peak {} MiB (VmHWM {} MiB), 2 s after {} MiB",
        before / 1024,
        peak / 1024,
        proc_status_kib(pid, "VmHWM") / 1024,
        proc_status_kib(pid, "VmRSS") / 1024
    );
}

#[tokio::test]
#[ignore = "measurement: cargo test --test server_manifest_load -- --ignored --nocapture"]
async fn referrers_query_over_120_large_manifests() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let serve = Serve::start(&[]);
    let base = format!("http://{}", serve.addr());
    let c = reqwest::Client::new();
    let config = push_blob(&c, &base, "big", b"{}").await;
    let layer = push_blob(&c, &base, "big", b"layer").await;
    let subject_bytes = large_manifest(&config, &layer, 1_000_000, None);
    let subject = (
        put_manifest(&c, &base, "big", subject_bytes.clone()).await,
        subject_bytes.len(),
    );
    let started = Instant::now();
    for n in 0..120 {
        put_manifest(
            &c,
            &base,
            "big",
            large_manifest(&config, &layer, n, Some(&subject)),
        )
        .await;
    }
    println!("pushed 120 referrers in {:?}", started.elapsed());
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let r = c
            .get(format!("{base}/v2/big/referrers/{}", subject.0))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        assert_eq!(v["manifests"].as_array().unwrap().len(), 120);
        times.push(t.elapsed());
    }
    println!("referrers query over 120 manifests of 3.2 MiB: {times:?}");
}
