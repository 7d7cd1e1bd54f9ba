//! `regctl serve --proxy`: a pull-through cache in front of real upstreams
//! on loopback (registry:2 with and without htpasswd, `regctl serve`), and
//! of a tiny upstream in the test that breaks off or corrupts a blob on
//! purpose.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::push::{assert_same_image, get, http, push_image, push_index};
use common::{DistRegistry, Serve, Skopeo, TestImage, TestIndex, proc_status_kib};
use regctl::types::Digest;
use regctl::types::media_type::{MANIFEST_ACCEPT, OCI_CONFIG, OCI_LAYER_TAR_GZIP, OCI_MANIFEST};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Incompressible bytes from a seed (xorshift), fast enough for 64 MiB.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// An OCI image with these layers (any bytes) and a config naming `seed`.
fn image_of(seed: &str, layers: Vec<Vec<u8>>) -> TestImage {
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Labels": {"seed": seed}},
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| Digest::sha256_of(l).to_string()).collect::<Vec<_>>()},
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": Digest::sha256_of(&config).to_string(), "size": config.len()},
        "layers": layers.iter().map(|l| json!({
            "mediaType": OCI_LAYER_TAR_GZIP, "digest": Digest::sha256_of(l).to_string(), "size": l.len()
        })).collect::<Vec<_>>(),
    }))
    .unwrap();
    TestImage {
        digest: Digest::sha256_of(&manifest),
        manifest,
        media_type: OCI_MANIFEST,
        config,
        layers,
    }
}

/// A cache (`regctl serve --proxy ...`) with its own empty Docker config.
struct Cache {
    serve: Serve,
    _dir: tempfile::TempDir,
}

impl Cache {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Cache {
        let dir = tempfile::tempdir().unwrap();
        let docker = dir.path().join("docker");
        std::fs::create_dir_all(&docker).unwrap();
        let docker = docker.to_str().unwrap().to_owned();
        let mut all: Vec<(&str, &str)> = vec![("DOCKER_CONFIG", docker.as_str())];
        all.extend_from_slice(env);
        let serve = Serve::start_with_env(&dir.path().join("root"), args, &all);
        Cache { serve, _dir: dir }
    }

    fn addr(&self) -> &str {
        self.serve.addr()
    }

    fn root(&self) -> &Path {
        self.serve.root()
    }
}

fn v2(root: &Path) -> PathBuf {
    root.join("docker/registry/v2")
}

fn blob_stored(root: &Path, d: &Digest) -> bool {
    v2(root)
        .join("blobs/sha256")
        .join(&d.hex()[..2])
        .join(d.hex())
        .join("data")
        .is_file()
}

fn revision_stored(root: &Path, repo: &str, d: &Digest) -> bool {
    v2(root)
        .join("repositories")
        .join(repo)
        .join("_manifests/revisions/sha256")
        .join(d.hex())
        .join("link")
        .is_file()
}

/// Files left in upload sessions anywhere in the root.
fn upload_files(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, inside: bool, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let here = inside || p.file_name().is_some_and(|n| n == "_uploads");
            if p.is_dir() {
                walk(&p, here, out);
            } else if here {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&v2(root).join("repositories"), false, &mut out);
    out
}

/// Waits (bounded) until `cond` holds.
async fn eventually(what: &str, limit: Duration, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads a whole response body; `Err` when it broke off.
async fn read_body(mut resp: reqwest::Response) -> Result<Vec<u8>, (usize, String)> {
    let mut got = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => got.extend_from_slice(&c),
            Ok(None) => return Ok(got),
            Err(e) => return Err((got.len(), e.to_string())),
        }
    }
}

fn count_lines(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}

#[tokio::test]
async fn a_pull_through_the_cache_has_the_upstream_digests_and_every_platform() {
    let Some(up) = DistRegistry::start(true) else {
        return;
    };
    let img = TestImage::oci("proxy-basic", 2, 200_000);
    push_image(up.addr(), "library/app", "1.0", &img).await;
    let idx = TestIndex::new(
        "proxy-multi",
        &["linux/amd64", "linux/arm64", "linux/arm/v7"],
    );
    push_index(up.addr(), "multi", "latest", &idx).await;
    let cache = Cache::start(&["--proxy", &format!("http://{}", up.addr())], &[]);

    assert_same_image(cache.addr(), "library/app", "1.0", &img).await;
    let (status, _, digest, body) =
        get(cache.addr(), "/v2/multi/manifests/latest", MANIFEST_ACCEPT).await;
    assert_eq!(status, 200);
    assert_eq!(digest, idx.digest.to_string());
    assert_eq!(body, idx.manifest);
    for (platform, child) in &idx.children {
        eprintln!("platform {platform}");
        assert_same_image(cache.addr(), "multi", &child.digest.to_string(), child).await;
    }
    // Same layout: registry:2 itself serves the cache's root.
    let Some(reader) = DistRegistry::start_with_root(cache.root(), false) else {
        return;
    };
    assert_same_image(reader.addr(), "library/app", "1.0", &img).await;
    for (_, child) in &idx.children {
        assert_same_image(reader.addr(), "multi", &child.digest.to_string(), child).await;
    }
    let (status, _, digest, _) =
        get(reader.addr(), "/v2/multi/manifests/latest", MANIFEST_ACCEPT).await;
    assert_eq!((status, digest), (200, idx.digest.to_string()));
}

#[tokio::test]
async fn twenty_cold_pulls_of_a_large_layer_fetch_it_once() {
    let Some(up) = DistRegistry::start(true) else {
        return;
    };
    let layer = noise(20, 64 * 1024 * 1024);
    let layer_digest = Digest::sha256_of(&layer);
    let img = image_of("twenty", vec![layer]);
    push_image(up.addr(), "big/app", "1", &img).await;
    let cache = Cache::start(&["--proxy", &format!("http://{}", up.addr())], &[]);
    let before = up.access_log();
    let addr = cache.addr().to_owned();
    // The cache's anonymous memory, sampled while the pulls run.
    let pid = cache.serve.pid();
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while sampling.load(Ordering::SeqCst) {
                peak = peak.max(proc_status_kib(pid, "RssAnon"));
                std::thread::sleep(Duration::from_millis(20));
            }
            peak
        })
    };
    let started = Instant::now();
    let mut clients = Vec::new();
    for i in 0..24 {
        let addr = addr.clone();
        let layer_digest = layer_digest.clone();
        clients.push(tokio::spawn(async move {
            let c = http();
            let m = c
                .get(format!("http://{addr}/v2/big/app/manifests/1"))
                .header("Accept", MANIFEST_ACCEPT)
                .send()
                .await
                .unwrap();
            assert_eq!(m.status().as_u16(), 200);
            let resp = c
                .get(format!("http://{addr}/v2/big/app/blobs/{layer_digest}"))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), 200);
            if i >= 20 {
                // Four clients walk away after the first bytes.
                let mut resp = resp;
                let _ = resp.chunk().await;
                return None;
            }
            let body = read_body(resp).await.expect("a complete body");
            Some((Digest::sha256_of(&body), started.elapsed()))
        }));
    }
    let mut done = 0;
    for c in clients {
        if let Some((d, took)) = c.await.unwrap() {
            assert_eq!(d, layer_digest);
            done += 1;
            eprintln!("client done after {took:?}");
        }
    }
    assert_eq!(done, 20);
    let took = started.elapsed();
    sampling.store(false, Ordering::SeqCst);
    eprintln!(
        "20 cold pulls of 64 MiB through the cache: {took:?}; cache peak anonymous memory {} KiB",
        sampler.join().unwrap()
    );
    let log = up.access_log();
    let log = &log[before.len()..];
    let blob_gets = count_lines(log, &format!("\"GET /v2/big/app/blobs/{layer_digest} "));
    assert_eq!(blob_gets, 1, "upstream blob GETs:\n{log}");
    assert_eq!(
        count_lines(log, "\"HEAD /v2/big/app/manifests/1 "),
        1,
        "{log}"
    );
    eventually("the blob is stored", Duration::from_secs(20), || {
        blob_stored(cache.root(), &layer_digest) && upload_files(cache.root()).is_empty()
    })
    .await;
    // Warm: served from the cache, upstream not asked.
    assert_same_image(cache.addr(), "big/app", "1", &img).await;
    let log = up.access_log();
    assert_eq!(
        count_lines(&log, &format!("\"GET /v2/big/app/blobs/{layer_digest} ")),
        1
    );
}

/// What the test upstream does with the layer.
const GOOD: u8 = 0;
/// Sends half the layer, then waits for [`Upstream::kill`].
const HALF_THEN_DIE: u8 = 1;
/// Closes every connection at once (a dead upstream that still accepts).
const DEAD: u8 = 2;
/// Sends the layer with one byte flipped.
const CORRUPT: u8 = 3;
/// Answers manifest requests 429 with `Retry-After: 30`.
const RATE_LIMITED: u8 = 4;

/// A minimal upstream serving one image as `app:v1`.
struct Upstream {
    addr: String,
    mode: Arc<AtomicU8>,
    layer_gets: Arc<AtomicUsize>,
    manifest_requests: Arc<AtomicUsize>,
    kill: Arc<tokio::sync::Notify>,
}

impl Upstream {
    async fn start(img: TestImage, mode: u8) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let up = Upstream {
            addr,
            mode: Arc::new(AtomicU8::new(mode)),
            layer_gets: Arc::new(AtomicUsize::new(0)),
            manifest_requests: Arc::new(AtomicUsize::new(0)),
            kill: Arc::new(tokio::sync::Notify::new()),
        };
        let counters = Counters {
            layer_gets: up.layer_gets.clone(),
            manifest_requests: up.manifest_requests.clone(),
        };
        let (m, k) = (up.mode.clone(), up.kill.clone());
        let img = Arc::new(img);
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(answer(
                    conn,
                    img.clone(),
                    m.clone(),
                    counters.clone(),
                    k.clone(),
                ));
            }
        });
        up
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }

    /// Breaks off the blob being sent and stops answering.
    fn kill(&self) {
        self.set(DEAD);
        self.kill.notify_waiters();
    }
}

#[derive(Clone)]
struct Counters {
    layer_gets: Arc<AtomicUsize>,
    manifest_requests: Arc<AtomicUsize>,
}

async fn answer(
    mut conn: TcpStream,
    img: Arc<TestImage>,
    mode: Arc<AtomicU8>,
    counters: Counters,
    kill: Arc<tokio::sync::Notify>,
) {
    let Counters {
        layer_gets,
        manifest_requests,
    } = counters;
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if !matches!(conn.read(&mut byte).await, Ok(1)) || buf.len() > 65536 {
            return;
        }
        buf.push(byte[0]);
    }
    if mode.load(Ordering::SeqCst) == DEAD {
        return;
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let mut first = head.split_whitespace();
    let (method, path) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
    let layer = &img.layers[0];
    let layer_d = Digest::sha256_of(layer);
    let config_d = Digest::sha256_of(&img.config);
    let send = |status: &str, headers: Vec<(&str, String)>| {
        let mut h = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
        for (k, v) in headers {
            h.push_str(&format!("{k}: {v}\r\n"));
        }
        h.push_str("\r\n");
        h
    };
    let body_too = method != "HEAD";
    let (h, body): (String, Vec<u8>) = if path == "/v2/" {
        (
            send("200 OK", vec![("Content-Length", "2".into())]),
            b"{}".to_vec(),
        )
    } else if path.starts_with("/v2/app/manifests/") && mode.load(Ordering::SeqCst) == RATE_LIMITED
    {
        manifest_requests.fetch_add(1, Ordering::SeqCst);
        (
            send(
                "429 Too Many Requests",
                vec![
                    ("Retry-After", "30".into()),
                    ("ratelimit-limit", "100;w=21600".into()),
                    ("ratelimit-remaining", "0;w=21600".into()),
                    ("Content-Length", "0".into()),
                ],
            ),
            Vec::new(),
        )
    } else if path == "/v2/app/manifests/v1" || path == format!("/v2/app/manifests/{}", img.digest)
    {
        manifest_requests.fetch_add(1, Ordering::SeqCst);
        (
            send(
                "200 OK",
                vec![
                    ("Content-Type", img.media_type.into()),
                    ("Docker-Content-Digest", img.digest.to_string()),
                    ("Content-Length", img.manifest.len().to_string()),
                    ("ratelimit-limit", "100;w=21600".into()),
                    ("ratelimit-remaining", "99;w=21600".into()),
                ],
            ),
            img.manifest.clone(),
        )
    } else if path == format!("/v2/app/blobs/{config_d}") {
        (
            send(
                "200 OK",
                vec![("Content-Length", img.config.len().to_string())],
            ),
            img.config.clone(),
        )
    } else if path == format!("/v2/app/blobs/{layer_d}") {
        let h = send("200 OK", vec![("Content-Length", layer.len().to_string())]);
        if !body_too {
            let _ = conn.write_all(h.as_bytes()).await;
            return;
        }
        layer_gets.fetch_add(1, Ordering::SeqCst);
        match mode.load(Ordering::SeqCst) {
            HALF_THEN_DIE => {
                let dying = kill.notified();
                let _ = conn.write_all(h.as_bytes()).await;
                let _ = conn.write_all(&layer[..layer.len() / 2]).await;
                let _ = conn.flush().await;
                dying.await;
                return;
            }
            CORRUPT => {
                let mut bad = layer.clone();
                let last = bad.len() - 1;
                bad[last] ^= 0xff;
                (h, bad)
            }
            _ => (h, layer.clone()),
        }
    } else {
        (
            send("404 Not Found", vec![("Content-Length", "0".into())]),
            Vec::new(),
        )
    };
    let _ = conn.write_all(h.as_bytes()).await;
    if body_too {
        let _ = conn.write_all(&body).await;
    }
    let _ = conn.flush().await;
}

#[tokio::test]
async fn an_upstream_killed_mid_blob_leaves_nothing_and_the_next_pull_starts_over() {
    let layer = noise(7, 8 * 1024 * 1024);
    let layer_d = Digest::sha256_of(&layer);
    let img = image_of("killed", vec![layer.clone()]);
    let up = Upstream::start(img.clone(), HALF_THEN_DIE).await;
    let cache = Cache::start(
        &[
            "--proxy",
            &format!("http://{}", up.addr),
            "--proxy-timeout",
            "2s",
        ],
        &[],
    );
    let (status, _, _, _) = get(cache.addr(), "/v2/app/manifests/v1", MANIFEST_ACCEPT).await;
    assert_eq!(status, 200);
    let url = format!("http://{}/v2/app/blobs/{layer_d}", cache.addr());
    let mut resp = http().get(&url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.content_length(), Some(layer.len() as u64));
    // The first client gets bytes while the upstream is still sending.
    let mut got = 0usize;
    while got < layer.len() / 4 {
        got += resp
            .chunk()
            .await
            .unwrap()
            .expect("bytes before the kill")
            .len();
    }
    up.kill();
    let rest = read_body(resp).await;
    let (received, error) = rest.expect_err("a body cut short, not a complete one");
    eprintln!(
        "client saw {} of {} bytes, then: {error}",
        got + received,
        layer.len()
    );
    assert!(got + received < layer.len());
    eventually("the upload is discarded", Duration::from_secs(20), || {
        upload_files(cache.root()).is_empty()
    })
    .await;
    assert!(!blob_stored(cache.root(), &layer_d));
    // Still dead: a clean error, soon.
    let t = Instant::now();
    let r = http().get(&url).send().await.unwrap();
    assert!(r.status().is_server_error(), "{}", r.status());
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    // Back: the next pull starts over and gets the genuine blob.
    up.set(GOOD);
    let before = up.layer_gets.load(Ordering::SeqCst);
    let body = read_body(http().get(&url).send().await.unwrap())
        .await
        .unwrap();
    assert!(body == layer);
    assert_eq!(up.layer_gets.load(Ordering::SeqCst), before + 1);
    // Clients may finish before the upload is made durable and moved.
    eventually("the blob is stored", Duration::from_secs(20), || {
        blob_stored(cache.root(), &layer_d)
    })
    .await;
    assert_same_image(cache.addr(), "app", "v1", &img).await;
}

#[tokio::test]
async fn a_corrupt_upstream_blob_is_never_served_whole_nor_cached() {
    let layer = noise(9, 3 * 1024 * 1024);
    let layer_d = Digest::sha256_of(&layer);
    let img = image_of("corrupt", vec![layer.clone()]);
    let up = Upstream::start(img.clone(), CORRUPT).await;
    let cache = Cache::start(&["--proxy", &format!("http://{}", up.addr)], &[]);
    let url = format!("http://{}/v2/app/blobs/{layer_d}", cache.addr());
    for attempt in 1..=2 {
        let resp = http().get(&url).send().await.unwrap();
        // Either refused outright or cut short: never all the bytes.
        if resp.status().is_success() {
            let (received, error) = read_body(resp).await.expect_err("cut short");
            eprintln!("attempt {attempt}: {received} bytes, then {error}");
            assert!(received < layer.len());
        }
        eventually("the upload is discarded", Duration::from_secs(20), || {
            upload_files(cache.root()).is_empty()
        })
        .await;
        assert!(!blob_stored(cache.root(), &layer_d));
    }
    // Each request asked again: nothing bad was kept.
    assert_eq!(up.layer_gets.load(Ordering::SeqCst), 2);
    up.set(GOOD);
    let body = read_body(http().get(&url).send().await.unwrap())
        .await
        .unwrap();
    assert!(body == layer);
    // Clients may finish before the upload is made durable and moved.
    eventually("the blob is stored", Duration::from_secs(20), || {
        blob_stored(cache.root(), &layer_d)
    })
    .await;
}

#[tokio::test]
async fn with_the_upstream_down_cached_tags_are_served_and_uncached_names_fail_fast() {
    let up = Serve::start(&[]);
    let img = TestImage::oci("down", 1, 50_000);
    push_image(up.addr(), "app", "v1", &img).await;
    let cache = Cache::start(
        &[
            "--proxy",
            &format!("http://{}", up.addr()),
            "--proxy-ttl",
            "1s",
            "--proxy-timeout",
            "2s",
        ],
        &[],
    );
    assert_same_image(cache.addr(), "app", "v1", &img).await;
    up.kill();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // Past the TTL, the check fails: the cached tag is served.
    assert_same_image(cache.addr(), "app", "v1", &img).await;
    let t = Instant::now();
    let (status, _, _, body) = get(cache.addr(), "/v2/app/manifests/v2", MANIFEST_ACCEPT).await;
    let took = t.elapsed();
    eprintln!("uncached tag, upstream refusing connections: {status} after {took:?}");
    assert!((500..600).contains(&status), "{status}");
    assert!(String::from_utf8_lossy(&body).contains("pull-through cache"));
    assert!(took < Duration::from_secs(20), "{took:?}");

    // An upstream that accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap().to_string();
    let held = std::thread::spawn(move || {
        let mut conns = Vec::new();
        silent.set_nonblocking(true).unwrap();
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            if let Ok((c, _)) = silent.accept() {
                conns.push(c);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let stuck = Cache::start(
        &[
            "--proxy",
            &format!("http://{silent_addr}"),
            "--proxy-timeout",
            "1s",
        ],
        &[],
    );
    let t = Instant::now();
    let (status, _, _, _) = get(stuck.addr(), "/v2/app/manifests/v1", MANIFEST_ACCEPT).await;
    let took = t.elapsed();
    eprintln!("uncached tag, silent upstream: {status} after {took:?}");
    assert!((500..600).contains(&status), "{status}");
    assert!(took < Duration::from_secs(20), "{took:?}");
    drop(held);
}

#[tokio::test]
async fn a_tag_moved_upstream_is_seen_after_the_ttl_and_not_before() {
    let Some(up) = DistRegistry::start(true) else {
        return;
    };
    let first = TestImage::oci("moved-1", 1, 10_000);
    let second = TestImage::oci("moved-2", 1, 10_000);
    push_image(up.addr(), "app", "latest", &first).await;
    let cache = Cache::start(
        &[
            "--proxy",
            &format!("http://{}", up.addr()),
            "--proxy-ttl",
            "3s",
        ],
        &[],
    );
    assert_same_image(cache.addr(), "app", "latest", &first).await;
    let checked = Instant::now();
    push_image(up.addr(), "app", "latest", &second).await;
    let (_, _, digest, _) = get(cache.addr(), "/v2/app/manifests/latest", MANIFEST_ACCEPT).await;
    if checked.elapsed() < Duration::from_secs(3) {
        assert_eq!(
            digest,
            first.digest.to_string(),
            "asked upstream within the TTL"
        );
        assert_eq!(
            count_lines(&up.access_log(), "\"HEAD /v2/app/manifests/latest "),
            1
        );
    }
    tokio::time::sleep(Duration::from_millis(3200)).await;
    assert_same_image(cache.addr(), "app", "latest", &second).await;
    assert_eq!(
        count_lines(&up.access_log(), "\"HEAD /v2/app/manifests/latest "),
        2
    );
    // The first image stays reachable by digest.
    assert_same_image(cache.addr(), "app", &first.digest.to_string(), &first).await;
}

#[tokio::test]
async fn prefix_mode_caches_under_the_prefix_and_keeps_local_pushes_beside_it() {
    let Some(up) = DistRegistry::start(true) else {
        return;
    };
    let alpine = TestImage::oci("alpine", 2, 30_000);
    push_image(up.addr(), "library/alpine", "3", &alpine).await;
    let cache = Cache::start(&["--proxy", &format!("hub=http://{}", up.addr())], &[]);
    let own = TestImage::docker("own", 1, 20_000);
    push_image(cache.addr(), "mine/app", "1", &own).await;
    assert_same_image(cache.addr(), "mine/app", "1", &own).await;
    assert_same_image(cache.addr(), "hub/library/alpine", "3", &alpine).await;
    // A name beside the prefix is local (and unknown here).
    let (status, _, _, _) = get(cache.addr(), "/v2/hubx/app/manifests/1", MANIFEST_ACCEPT).await;
    assert_eq!(status, 404);

    let c = http();
    let base = format!("http://{}/v2/hub/library/alpine", cache.addr());
    let refusals = [
        c.put(format!("{base}/manifests/mine"))
            .header("Content-Type", alpine.media_type)
            .body(alpine.manifest.clone()),
        c.post(format!("{base}/blobs/uploads/")),
        c.delete(format!("{base}/manifests/{}", alpine.digest)),
        c.delete(format!(
            "{base}/blobs/{}",
            Digest::sha256_of(&alpine.config)
        )),
    ];
    for req in refusals {
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 405);
        let body = r.text().await.unwrap();
        assert!(
            body.contains("UNSUPPORTED") && body.contains("pull-through cache"),
            "{body}"
        );
    }
    // The upstream saw no write and still has everything.
    let (status, _, _, _) = get(
        up.addr(),
        "/v2/library/alpine/manifests/mine",
        MANIFEST_ACCEPT,
    )
    .await;
    assert_eq!(status, 404);
    assert_same_image(cache.addr(), "hub/library/alpine", "3", &alpine).await;
    let (_, _, _, catalog) = get(cache.addr(), "/v2/_catalog", "application/json").await;
    let catalog: serde_json::Value = serde_json::from_slice(&catalog).unwrap();
    assert_eq!(
        catalog["repositories"],
        json!(["hub/library/alpine", "mine/app"])
    );

    // A blob pushed here is not served under a cached name by its digest
    // alone: the upstream does not have it there.
    let secret = TestImage::oci("secret", 1, 5_000);
    push_image(cache.addr(), "mine/secret", "1", &secret).await;
    let secret_layer = Digest::sha256_of(&secret.layers[0]);
    let (status, _, _, body) = get(
        cache.addr(),
        &format!("/v2/hub/library/alpine/blobs/{secret_layer}"),
        "*/*",
    )
    .await;
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
    // A layer another cached name already holds is linked after a HEAD
    // upstream, not downloaded again.
    let other = image_of("other", vec![alpine.layers[0].clone()]);
    push_image(up.addr(), "library/other", "1", &other).await;
    assert_same_image(cache.addr(), "hub/library/other", "1", &other).await;
    let shared = Digest::sha256_of(&alpine.layers[0]);
    let log = up.access_log();
    assert_eq!(
        count_lines(&log, &format!("\"GET /v2/library/other/blobs/{shared} ")),
        0,
        "{log}"
    );
    // (The test's own push asked too, without a user agent.)
    let from_cache = log
        .lines()
        .filter(|l| l.contains(&format!("\"HEAD /v2/library/other/blobs/{shared} ")))
        .filter(|l| l.contains("regctl/"))
        .count();
    assert_eq!(from_cache, 1, "{log}");

    // du tells the cache's bytes from the pushed ones.
    let home = tempfile::tempdir().unwrap();
    let out = common::regctl(home.path())
        .args(["du", "--format", "json", "--root"])
        .arg(cache.root())
        .output()
        .unwrap();
    let du: serde_json::Value = common::json_of(out);
    let cached = alpine.stored_size() + (other.config.len() + other.manifest.len()) as u64;
    assert_eq!(du["cached"], json!(cached), "{du}");
    assert_eq!(
        du["pushed"],
        json!(own.stored_size() + secret.stored_size()),
        "{du}"
    );

    // A real client copies through the cache.
    let Some(skopeo) = Skopeo::find() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let layout = out.path().join("layout");
    skopeo.copy(
        &format!("docker://{}/hub/library/alpine:3", cache.addr()),
        &format!("oci:{}:copied", layout.display()),
        &[],
    );
    let index = std::fs::read_to_string(layout.join("index.json")).unwrap();
    assert!(index.contains(&alpine.digest.to_string()), "{index}");
}

fn htpasswd(dir: &Path, user: &str, pass: &str) -> PathBuf {
    let path = dir.join("htpasswd");
    std::fs::write(
        &path,
        format!("{user}:{}\n", bcrypt::hash(pass, 4).unwrap()),
    )
    .unwrap();
    path
}

/// Pushes with Basic credentials (the shared helpers push anonymously).
async fn push_image_as(addr: &str, repo: &str, tag: &str, img: &TestImage, user: &str, pass: &str) {
    let c = http();
    for blob in img.blobs() {
        let d = Digest::sha256_of(blob);
        let r = c
            .post(format!("http://{addr}/v2/{repo}/blobs/uploads/"))
            .basic_auth(user, Some(pass))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 202);
        let loc = r.headers()["location"].to_str().unwrap().to_owned();
        let url = if loc.starts_with("http") {
            loc
        } else {
            format!("http://{addr}{loc}")
        };
        let sep = if url.contains('?') { '&' } else { '?' };
        let r = c
            .put(format!("{url}{sep}digest={d}"))
            .basic_auth(user, Some(pass))
            .body(blob.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
    }
    let r = c
        .put(format!("http://{addr}/v2/{repo}/manifests/{tag}"))
        .basic_auth(user, Some(pass))
        .header("Content-Type", img.media_type)
        .body(img.manifest.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
}

#[tokio::test]
async fn an_upstream_that_needs_a_password() {
    let dir = tempfile::tempdir().unwrap();
    let file = htpasswd(dir.path(), "robot", "s3cret-pass");
    let Some(up) = DistRegistry::start_with_htpasswd(&file) else {
        return;
    };
    let img = TestImage::oci("private", 1, 40_000);
    push_image_as(up.addr(), "team/app", "1", &img, "robot", "s3cret-pass").await;
    let url = format!("http://{}", up.addr());

    // No credentials: a clear refusal naming the upstream's answer.
    let anonymous = Cache::start(&["--proxy", &url], &[]);
    let (status, _, _, body) = get(
        anonymous.addr(),
        "/v2/team/app/manifests/1",
        MANIFEST_ACCEPT,
    )
    .await;
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 502, "{body}");
    assert!(
        body.contains("401") || body.contains("UNAUTHORIZED"),
        "{body}"
    );

    // A service account from the flag and the environment.
    let robot = Cache::start(
        &["--proxy", &url, "--proxy-username", "robot"],
        &[("REGCTL_PROXY_PASSWORD", "s3cret-pass")],
    );
    assert_same_image(robot.addr(), "team/app", "1", &img).await;

    // The serving user's Docker config (as `regctl login` writes it).
    let docker = dir.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode("robot:s3cret-pass");
    std::fs::write(
        docker.join("config.json"),
        serde_json::to_vec(&json!({"auths": {up.addr(): {"auth": auth}}})).unwrap(),
    )
    .unwrap();
    let logged_in = Cache::start(
        &["--proxy", &url],
        &[("DOCKER_CONFIG", docker.to_str().unwrap())],
    );
    assert_same_image(logged_in.addr(), "team/app", "1", &img).await;

    // The flag without the password is refused at start.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_regctl"))
        .args(["serve", "--port", "0", "--root"])
        .arg(dir.path().join("r"))
        .args(["--proxy", &url, "--proxy-username", "robot"])
        .env("XDG_CONFIG_HOME", dir.path().join("xdg"))
        .env_remove("REGCTL_PROXY_PASSWORD")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("REGCTL_PROXY_PASSWORD"), "{err}");
}

#[tokio::test]
async fn images_not_pulled_within_max_age_are_evicted_with_only_their_own_blobs() {
    let up = Serve::start(&[]);
    let base = noise(100, 300_000);
    let a = image_of("age-a", vec![base.clone(), noise(101, 200_000)]);
    let b = image_of("age-b", vec![base.clone(), noise(102, 200_000)]);
    push_image(up.addr(), "a", "1", &a).await;
    push_image(up.addr(), "b", "1", &b).await;
    let cache = Cache::start(
        &[
            "--proxy",
            &format!("http://{}", up.addr()),
            "--proxy-max-age",
            "3s",
            "--proxy-evict-interval",
            "1s",
        ],
        &[],
    );
    assert_same_image(cache.addr(), "a", "1", &a).await;
    assert_same_image(cache.addr(), "b", "1", &b).await;
    let a_own = Digest::sha256_of(&a.layers[1]);
    let (root, addr) = (cache.root().to_owned(), cache.addr().to_owned());
    // b keeps being pulled; a does not.
    let deadline = Instant::now() + Duration::from_secs(30);
    while blob_stored(&root, &a_own) {
        assert!(Instant::now() < deadline, "a was not evicted");
        let (status, _, _, _) = get(&addr, "/v2/b/manifests/1", MANIFEST_ACCEPT).await;
        assert_eq!(status, 200);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(!revision_stored(&root, "a", &a.digest));
    assert!(revision_stored(&root, "b", &b.digest));
    for blob in b.blobs() {
        assert!(
            blob_stored(&root, &Digest::sha256_of(blob)),
            "b lost a blob"
        );
    }
    // a comes back from the upstream on the next pull.
    assert_same_image(&addr, "a", "1", &a).await;
}

#[tokio::test]
async fn beyond_max_size_the_least_recently_pulled_go_and_shared_or_pushed_blobs_stay() {
    let up = Serve::start(&[]);
    const MIB: usize = 1024 * 1024;
    let base = noise(200, MIB);
    let imgs: Vec<TestImage> = (0..3)
        .map(|i| {
            image_of(
                &format!("size-{i}"),
                vec![base.clone(), noise(201 + i, MIB)],
            )
        })
        .collect();
    for (i, img) in imgs.iter().enumerate() {
        push_image(up.addr(), &format!("img{i}"), "1", img).await;
    }
    let cache = Cache::start(
        &[
            "--proxy",
            &format!("c=http://{}", up.addr()),
            "--proxy-max-size",
            "2.5MiB",
            "--proxy-evict-interval",
            "1s",
        ],
        &[],
    );
    // A pushed image uses the first cached image's own layer.
    let pinned = image_of("pushed", vec![imgs[0].layers[1].clone()]);
    push_image(cache.addr(), "mine/app", "1", &pinned).await;
    for (i, img) in imgs.iter().enumerate() {
        assert_same_image(cache.addr(), &format!("c/img{i}"), "1", img).await;
        // Pull times are kept in whole seconds.
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let root = cache.root().to_owned();
    let own = |i: usize| Digest::sha256_of(&imgs[i].layers[1]);
    eventually("img1 evicted", Duration::from_secs(30), || {
        !blob_stored(&root, &own(1))
    })
    .await;
    // img0 was older, but evicting it alone freed nothing: img1 went too.
    assert!(!revision_stored(&root, "c/img0", &imgs[0].digest));
    assert!(!revision_stored(&root, "c/img1", &imgs[1].digest));
    assert!(revision_stored(&root, "c/img2", &imgs[2].digest));
    assert!(
        blob_stored(&root, &own(0)),
        "a blob a pushed image uses was removed"
    );
    assert!(
        blob_stored(&root, &Digest::sha256_of(&base)),
        "the shared base was removed"
    );
    assert!(blob_stored(&root, &own(2)));
    assert_same_image(cache.addr(), "mine/app", "1", &pinned).await;
    assert_same_image(cache.addr(), "c/img2", "1", &imgs[2]).await;
}

#[tokio::test]
async fn a_rate_limited_upstream_is_left_alone_and_cached_tags_are_served() {
    let img = image_of("limited", vec![noise(5, 100_000)]);
    let up = Upstream::start(img.clone(), GOOD).await;
    let cache = Cache::start(
        &[
            "--proxy",
            &format!("http://{}", up.addr),
            "--proxy-ttl",
            "1s",
        ],
        &[],
    );
    assert_same_image(cache.addr(), "app", "v1", &img).await;
    up.set(RATE_LIMITED);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // The check after the TTL gets 429: the cached tag is served.
    assert_same_image(cache.addr(), "app", "v1", &img).await;
    let asked = up.manifest_requests.load(Ordering::SeqCst);
    // Backing off: neither the next check nor an uncached tag goes upstream.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_same_image(cache.addr(), "app", "v1", &img).await;
    let r = http()
        .get(format!("http://{}/v2/app/manifests/v2", cache.addr()))
        .header("Accept", MANIFEST_ACCEPT)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    assert!(r.text().await.unwrap().contains("TOOMANYREQUESTS"));
    assert_eq!(up.manifest_requests.load(Ordering::SeqCst), asked);
}

#[test]
fn proxy_settings_come_from_flags_or_the_serve_section() {
    let dir = tempfile::tempdir().unwrap();
    let xdg = dir.path().join("xdg");
    std::fs::create_dir_all(xdg.join("regctl")).unwrap();
    std::fs::write(
        xdg.join("regctl/config.toml"),
        "[serve]\nproxy = [\"hub=https://registry-1.docker.io\"]\nproxy_ttl = \"2m\"\nproxy_max_size = \"20GiB\"\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_regctl"))
            .args(["serve", "--print-config"])
            .args(args)
            .env("XDG_CONFIG_HOME", &xdg)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("proxy = [\"hub=https://registry-1.docker.io\"]"),
        "{text}"
    );
    assert!(text.contains("proxy_ttl = \"2m\""), "{text}");
    assert!(text.contains("proxy_max_size = 21474836480"), "{text}");
    let out = run(&[
        "--proxy",
        "http://127.0.0.1:5001",
        "--proxy-max-age",
        "30days",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("proxy = [\"http://127.0.0.1:5001\"]"),
        "{text}"
    );
    assert!(text.contains("--proxy-max-age"), "{text}");
    for (bad, says) in [
        (vec!["--proxy", "registry-1.docker.io"], "http(s)://HOST"),
        (vec!["--proxy", "Hub=http://x"], "prefix"),
        (vec!["--proxy-max-size", "12 parsecs"], "unknown unit"),
    ] {
        let out = run(&bad);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(err.contains(says), "{bad:?}: {err}");
    }
}
