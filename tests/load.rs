//! Load: 200 concurrent clients push and pull against one `regctl serve`
//! for a bounded time (LOAD_SECONDS, 15 by default; the benchmark runs 60).
//! Every request must succeed and the server's memory must stay flat.
//! The figures are printed; no timing is asserted.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Serve, TestImage};
use regctl::types::Digest;

const CLIENTS: usize = 200;

fn rss_kib(pid: u32) -> u64 {
    common::proc_status_kib(pid, "VmRSS")
}

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    errors: AtomicU64,
}

async fn expect(
    counts: &Counts,
    what: &str,
    r: reqwest::Result<reqwest::Response>,
    want: u16,
) -> Option<reqwest::Response> {
    counts.requests.fetch_add(1, Ordering::Relaxed);
    match r {
        Ok(r) if r.status().as_u16() == want => Some(r),
        Ok(r) => {
            counts.errors.fetch_add(1, Ordering::Relaxed);
            eprintln!("{what}: {}", r.status());
            None
        }
        Err(e) => {
            counts.errors.fetch_add(1, Ordering::Relaxed);
            eprintln!("{what}: {e}");
            None
        }
    }
}

async fn push(
    c: &reqwest::Client,
    counts: &Counts,
    addr: &str,
    repo: &str,
    tag: &str,
    img: &TestImage,
) {
    for b in img.blobs() {
        let d = Digest::sha256_of(b);
        let head = c
            .head(format!("http://{addr}/v2/{repo}/blobs/{d}"))
            .send()
            .await;
        counts.requests.fetch_add(1, Ordering::Relaxed);
        if head.as_ref().is_ok_and(|h| h.status().is_success()) {
            continue;
        }
        let Some(r) = expect(
            counts,
            "POST upload",
            c.post(format!("http://{addr}/v2/{repo}/blobs/uploads/"))
                .send()
                .await,
            202,
        )
        .await
        else {
            return;
        };
        let loc = r.headers()["location"].to_str().unwrap().to_owned();
        let url = if loc.starts_with("http") {
            loc
        } else {
            format!("http://{addr}{loc}")
        };
        let sep = if url.contains('?') { '&' } else { '?' };
        expect(
            counts,
            "PUT blob",
            c.put(format!("{url}{sep}digest={d}"))
                .body(b.to_vec())
                .send()
                .await,
            201,
        )
        .await;
    }
    expect(
        counts,
        "PUT manifest",
        c.put(format!("http://{addr}/v2/{repo}/manifests/{tag}"))
            .header("Content-Type", img.media_type)
            .body(img.manifest.clone())
            .send()
            .await,
        201,
    )
    .await;
}

async fn pull(
    c: &reqwest::Client,
    counts: &Counts,
    addr: &str,
    repo: &str,
    tag: &str,
    img: &TestImage,
) {
    let Some(r) = expect(
        counts,
        "GET manifest",
        c.get(format!("http://{addr}/v2/{repo}/manifests/{tag}"))
            .header("Accept", img.media_type)
            .send()
            .await,
        200,
    )
    .await
    else {
        return;
    };
    if r.bytes().await.ok().as_deref() != Some(img.manifest.as_slice()) {
        counts.errors.fetch_add(1, Ordering::Relaxed);
    }
    for b in img.blobs() {
        let d = Digest::sha256_of(b);
        if let Some(r) = expect(
            counts,
            "GET blob",
            c.get(format!("http://{addr}/v2/{repo}/blobs/{d}"))
                .send()
                .await,
            200,
        )
        .await
            && r.bytes().await.ok().as_deref() != Some(b)
        {
            counts.errors.fetch_add(1, Ordering::Relaxed);
            eprintln!("GET blob {d}: wrong bytes");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_clients_push_and_pull_without_errors() {
    let seconds: u64 = std::env::var("LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let serve = Serve::start(&[]);
    let addr = serve.addr().to_owned();
    let pid = serve.pid();
    let _ = rustls::crypto::ring::default_provider().install_default();
    // A pool of images shared by the clients, so pushes also hit blobs
    // that already exist.
    let pool: Arc<Vec<TestImage>> = Arc::new(
        (0..32)
            .map(|i| TestImage::oci(&format!("load-{i}"), 2, 16 * 1024))
            .collect(),
    );
    let counts = Arc::new(Counts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let rss_start = rss_kib(pid);
    let started = Instant::now();

    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let (addr, pool, counts, stop) = (addr.clone(), pool.clone(), counts.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let c = reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap();
            let repo = format!("load/c{}", client % 50);
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let img = &pool[(client + i) % pool.len()];
                let tag = format!("t{}", (client + i) % pool.len());
                push(&c, &counts, &addr, &repo, &tag, img).await;
                pull(&c, &counts, &addr, &repo, &tag, img).await;
                i += 1;
            }
        }));
    }
    let mut rss_peak = rss_start;
    while started.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        rss_peak = rss_peak.max(rss_kib(pid));
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_end = rss_kib(pid);
    let (requests, errors) = (
        counts.requests.load(Ordering::Relaxed),
        counts.errors.load(Ordering::Relaxed),
    );
    println!(
        "load: {CLIENTS} clients for {elapsed:.1} s: {requests} requests ({:.0}/s), {errors} errors; \
         server RSS start {} MB, peak {} MB, end {} MB",
        requests as f64 / elapsed,
        rss_start / 1024,
        rss_peak / 1024,
        rss_end / 1024
    );
    assert_eq!(errors, 0, "requests failed under load");
    assert!(
        requests > CLIENTS as u64,
        "the clients made almost no requests"
    );
    // Flat: bounded by the caches (64 MiB of manifests at most), not by the load.
    assert!(
        rss_peak < rss_start + 160 * 1024,
        "server memory grew from {rss_start} KiB to {rss_peak} KiB"
    );
    // The server still answers.
    let (status, ..) = common::push::get(&addr, "/v2/", "*/*").await;
    assert_eq!(status, 200);
}
