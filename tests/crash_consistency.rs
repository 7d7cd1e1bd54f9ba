//! Crash consistency: `regctl serve` is SIGKILLed at random moments while
//! concurrent clients push; after every round it restarts on the same root.
//! Every push that received its 201 must be complete and byte-identical,
//! every blob on disk must match its digest, and `gc --root --dry-run` must
//! find no link pointing at nothing.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use common::push::assert_same_image;
use common::{Serve, TestImage, json_of, regctl};
use regctl::types::Digest;

const ROUNDS: usize = 6;
const CLIENTS: usize = 10;

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// A tiny deterministic generator (the seed is printed, so a failure can be
/// replayed by setting CRASH_SEED).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

/// One push; `Ok(())` only when the registry acknowledged the manifest.
async fn push(
    c: &reqwest::Client,
    addr: &str,
    repo: &str,
    tag: &str,
    img: &TestImage,
) -> Result<(), String> {
    for b in img.blobs() {
        let d = Digest::sha256_of(b);
        let r = c
            .post(format!("http://{addr}/v2/{repo}/blobs/uploads/"))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if r.status().as_u16() != 202 {
            return Err(format!("POST {}", r.status()));
        }
        let loc = r.headers()["location"].to_str().unwrap().to_owned();
        let url = if loc.starts_with("http") {
            loc
        } else {
            format!("http://{addr}{loc}")
        };
        let sep = if url.contains('?') { '&' } else { '?' };
        // Two chunks, so kills land between PATCH and PUT too.
        let (first, last) = b.split_at(b.len() / 2);
        let r = c
            .patch(&url)
            .header("Content-Type", "application/octet-stream")
            .body(first.to_vec())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if r.status().as_u16() != 202 {
            return Err(format!("PATCH {}", r.status()));
        }
        let r = c
            .put(format!("{url}{sep}digest={d}"))
            .header("Content-Type", "application/octet-stream")
            .body(last.to_vec())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if r.status().as_u16() != 201 {
            return Err(format!("PUT blob {}", r.status()));
        }
    }
    let r = c
        .put(format!("http://{addr}/v2/{repo}/manifests/{tag}"))
        .header("Content-Type", img.media_type)
        .body(img.manifest.clone())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if r.status().as_u16() == 201 {
        Ok(())
    } else {
        Err(format!("PUT manifest {}", r.status()))
    }
}

/// Every blob file on disk, re-hashed: its content must match its path.
fn verify_blobs_on_disk(root: &std::path::Path) -> usize {
    let dir = root.join("docker/registry/v2/blobs/sha256");
    let mut n = 0;
    for shard in std::fs::read_dir(&dir).unwrap().flatten() {
        for blob in std::fs::read_dir(shard.path()).unwrap().flatten() {
            let data = blob.path().join("data");
            let Ok(bytes) = std::fs::read(&data) else {
                continue;
            };
            let hex = blob.file_name().to_string_lossy().into_owned();
            assert_eq!(
                Digest::sha256_of(&bytes).hex(),
                hex,
                "{} is corrupt",
                data.display()
            );
            n += 1;
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_pushes_survive_sigkill() {
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("CRASH_SEED={seed}");
    let mut rng = Lcg(seed);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let acked: Arc<Mutex<Vec<(String, String, TestImage)>>> = Arc::default();
    let mut attempted = 0;
    let mut kills = 0;

    for round in 0..ROUNDS {
        let serve = Serve::start_with_root(&root, &[]);
        let addr = serve.addr().to_owned();
        let mut clients = Vec::new();
        for client in 0..CLIENTS {
            let (addr, acked) = (addr.clone(), acked.clone());
            attempted += 1;
            clients.push(tokio::spawn(async move {
                let c = http();
                let mut i = 0;
                loop {
                    let img = TestImage::oci(&format!("crash-{round}-{client}-{i}"), 3, 200_000);
                    let (repo, tag) = (format!("crash/c{client}"), format!("r{round}-{i}"));
                    match push(&c, &addr, &repo, &tag, &img).await {
                        Ok(()) => acked.lock().unwrap().push((repo, tag, img)),
                        Err(e) => {
                            if i == 0 {
                                eprintln!("client {client} round {round}: first push failed: {e}");
                            }
                            return i;
                        }
                    }
                    i += 1;
                }
            }));
        }
        // Let some pushes finish, then crash mid-flight.
        tokio::time::sleep(Duration::from_millis(800 + rng.next() % 2500)).await;
        serve.kill();
        kills += 1;
        for c in clients {
            attempted += c.await.unwrap();
        }
    }

    // Restart and check every acknowledged push.
    let serve = Serve::start_with_root(&root, &[]);
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 20,
        "too few pushes were acknowledged ({}) to test anything",
        acked.len()
    );
    let started = Instant::now();
    for (repo, tag, img) in &acked {
        assert_same_image(serve.addr(), repo, tag, img).await;
    }
    serve.terminate();
    let blobs = verify_blobs_on_disk(&root);

    let home = tempfile::tempdir().unwrap();
    let report = json_of(
        regctl(home.path())
            .args(["gc", "--dry-run", "--force", "--format", "json", "--root"])
            .arg(&root)
            .output()
            .unwrap(),
    );
    assert_eq!(
        report["plan"]["links"],
        serde_json::json!([]),
        "links pointing at nothing after crashes"
    );
    assert_eq!(report["plan"]["warnings"], serde_json::json!([]));
    println!(
        "crash consistency: {kills} SIGKILL rounds, {attempted} pushes attempted, {} acknowledged and all intact \
         (checked in {:.1} s), {blobs} blobs on disk verified, {} orphan blobs for gc",
        acked.len(),
        started.elapsed().as_secs_f64(),
        report["plan"]["blobs"].as_array().map_or(0, |b| b.len())
    );
}
