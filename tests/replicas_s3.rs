//! Several `regctl serve --storage s3://` on one bucket acting as one
//! registry: an upload continued on other servers, concurrent tag writes,
//! and an online collection on one server while two others push.

mod common;

use std::time::{Duration, Instant};

use common::TestImage;
use common::push::{assert_same_image, delete_manifest, get, http, push_image};
use common::s3::{S3Bucket, SeaweedFs, ServeProcess, location_url, serve_storage};
use regctl::types::Digest;

/// A server on the test's bucket under the prefix `reg`.
fn replica(bucket: &S3Bucket, home: &std::path::Path) -> ServeProcess {
    serve_storage(bucket, home, &bucket.url("reg"))
}

/// The upload's state is in the bucket: POST on A, PATCH on B, PATCH and
/// status on C, PUT on A; the blob is whole everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_started_on_one_server_finishes_on_others() {
    let Some(weed) = SeaweedFs::shared() else {
        return;
    };
    let bucket = weed.bucket();
    let home = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        replica(&bucket, home.path()),
        replica(&bucket, home.path()),
        replica(&bucket, home.path()),
    );
    let client = http();
    let r = client
        .post(format!("http://{}/v2/up/blobs/uploads/", a.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    // The path of the Location, sent to each server in turn.
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let path = location
        .strip_prefix(&format!("http://{}", a.addr))
        .unwrap_or(&location)
        .to_owned();
    let part1 = vec![b'x'; 300_000];
    let part2 = vec![b'y'; 1000];
    let mut path = path;
    for (server, range, body) in [
        (&b.addr, format!("0-{}", part1.len() - 1), part1.clone()),
        (
            &c.addr,
            format!("{}-{}", part1.len(), part1.len() + part2.len() - 1),
            part2.clone(),
        ),
    ] {
        let r = client
            .patch(location_url(server, &path))
            .header("Content-Range", range)
            .header("Content-Type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 202, "PATCH on {server}");
        let next = r.headers()["location"].to_str().unwrap();
        path = next
            .strip_prefix(&format!("http://{server}"))
            .unwrap_or(next)
            .to_owned();
    }
    let r = client
        .get(location_url(&c.addr, &path))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(
        r.headers()["range"],
        format!("0-{}", part1.len() + part2.len() - 1)
    );
    let mut whole = part1;
    whole.extend_from_slice(&part2);
    whole.extend_from_slice(b"end");
    let d = Digest::sha256_of(&whole);
    let sep = if path.contains('?') { '&' } else { '?' };
    let r = client
        .put(location_url(&a.addr, &format!("{path}{sep}digest={d}")))
        .body("end")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201, "{:?}", r.text().await);
    for server in [&a.addr, &b.addr, &c.addr] {
        let (status, _, _, got) = get(server, &format!("/v2/up/blobs/{d}"), "*/*").await;
        assert_eq!(status, 200, "{server}");
        assert!(got == whole, "{server} serves other bytes");
    }
}

/// Pushes of one tag through two servers at once: the tag ends on one of
/// the pushed manifests, whole, and every server agrees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_tag_writes_leave_one_whole_winner() {
    let Some(weed) = SeaweedFs::shared() else {
        return;
    };
    let bucket = weed.bucket();
    let home = tempfile::tempdir().unwrap();
    let (a, b) = (replica(&bucket, home.path()), replica(&bucket, home.path()));
    let images: Vec<TestImage> = (0..8)
        .map(|i| TestImage::oci(&format!("racer-{i}"), 1, 500))
        .collect();
    let mut pushes = Vec::new();
    for (i, img) in images.iter().enumerate() {
        let addr = if i % 2 == 0 {
            a.addr.clone()
        } else {
            b.addr.clone()
        };
        let img = img.clone();
        pushes.push(tokio::spawn(async move {
            push_image(&addr, "race/app", "latest", &img).await;
        }));
    }
    for p in pushes {
        p.await.unwrap();
    }
    let (_, _, winner_a, _) = get(
        &a.addr,
        "/v2/race/app/manifests/latest",
        regctl::types::media_type::MANIFEST_ACCEPT,
    )
    .await;
    let (_, _, winner_b, _) = get(
        &b.addr,
        "/v2/race/app/manifests/latest",
        regctl::types::media_type::MANIFEST_ACCEPT,
    )
    .await;
    assert_eq!(winner_a, winner_b);
    let winner = images
        .iter()
        .find(|i| i.digest.to_string() == winner_a)
        .unwrap_or_else(|| panic!("the tag names {winner_a}, which nobody pushed"));
    assert_same_image(&b.addr, "race/app", "latest", winner).await;
    // Every pushed manifest stays reachable by digest.
    for img in &images {
        assert_same_image(&a.addr, "race/app", &img.digest.to_string(), img).await;
    }
}

async fn collect(addr: &str) -> serde_json::Value {
    let r = http()
        .post(format!("http://{addr}/v2/_regctl/gc?min_age=0"))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// The proof the issue asks for: a collection on C (minimum age 0, so
/// every unreferenced blob is a candidate) while A and B push images
/// reusing blobs that were unreferenced when it began. Every image pushed
/// is whole afterwards; unreferenced blobs nobody reused are gone; a second
/// collection started meanwhile on A is refused (one lease).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_through_two_servers_survive_a_collection_on_a_third() {
    let Some(weed) = SeaweedFs::shared() else {
        return;
    };
    let bucket = weed.bucket();
    let home = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        replica(&bucket, home.path()),
        replica(&bucket, home.path()),
        replica(&bucket, home.path()),
    );
    // Garbage: images whose manifests are deleted. Half of their layers
    // are pushed again during the collection (reused), half are not.
    let seeds: Vec<TestImage> = (0..6)
        .map(|i| TestImage::oci(&format!("garbage-{i}"), 2, 20_000))
        .collect();
    for img in &seeds {
        push_image(&a.addr, "seed", &img.digest.to_string(), img).await;
        delete_manifest(&a.addr, "seed", &img.digest).await;
    }
    let gc_addr = c.addr.clone();
    let collection = tokio::spawn(async move { collect(&gc_addr).await });
    // The lease is taken at once: a second collection is refused.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let r = http()
        .post(format!("http://{}/v2/_regctl/gc?min_age=0", a.addr))
        .send()
        .await
        .unwrap();
    let refused = r.status().as_u16();
    assert_ne!(refused, 200, "two collections ran at once");
    // Pushes through A and B until the collection ends (bounded).
    let started = Instant::now();
    let mut pushed: Vec<(String, String, TestImage)> = Vec::new();
    let mut round = 0;
    while !collection.is_finished() && started.elapsed() < Duration::from_secs(60) {
        let mut batch = Vec::new();
        for (k, addr) in [&a.addr, &b.addr].into_iter().enumerate() {
            // A new image whose first layer is a reused garbage layer.
            let seed = &seeds[(round * 2 + k) % 3];
            let mut img = TestImage::oci(&format!("live-{round}-{k}"), 1, 3000);
            img = img.with_first_layer(seed.layers[0].clone());
            let repo = format!("live/r{round}-{k}");
            let (addr, repo2, img2) = (addr.clone(), repo.clone(), img.clone());
            batch.push(tokio::spawn(async move {
                push_image(&addr, &repo2, "v1", &img2).await;
            }));
            pushed.push((repo, "v1".to_owned(), img));
        }
        for p in batch {
            p.await.unwrap();
        }
        round += 1;
    }
    let report = collection.await.unwrap();
    eprintln!(
        "collection: {} pushes during it, summary {}",
        pushed.len(),
        report["summary"]
    );
    assert!(
        pushed.len() >= 4,
        "the pushes did not overlap the collection"
    );
    for (repo, tag, img) in &pushed {
        assert_same_image(&b.addr, repo, tag, img).await;
    }
    // What nobody reused is gone (the collection did collect).
    let unused = Digest::sha256_of(&seeds[5].layers[1]);
    let (status, ..) = get(&a.addr, &format!("/v2/seed/blobs/{unused}"), "*/*").await;
    assert_eq!(status, 404, "{}", report["summary"]);
    assert!(report["summary"]["blobsRemoved"].as_u64().unwrap() > 0);
}

/// A server killed (SIGKILL) while a 24 MiB PATCH streams into it, after
/// several parts went up: nothing of that chunk is visible (the upload
/// holds its earlier chunk only), no blob appears, and the upload resumes
/// on another server from where it stood and finishes verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_chunk_leaves_nothing_and_the_upload_resumes_elsewhere() {
    use regctl::storage::{Backend, S3Backend, S3Location};
    let Some(weed) = SeaweedFs::shared() else {
        return;
    };
    let bucket = weed.bucket();
    let home = tempfile::tempdir().unwrap();
    let (a, b) = (replica(&bucket, home.path()), replica(&bucket, home.path()));
    let client = http();
    let r = client
        .post(format!("http://{}/v2/crash/blobs/uploads/", a.addr))
        .send()
        .await
        .unwrap();
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let path = location
        .strip_prefix(&format!("http://{}", a.addr))
        .unwrap_or(&location)
        .to_owned();
    let first = vec![b'1'; 1000];
    let r = client
        .patch(location_url(&a.addr, &path))
        .header("Content-Range", "0-999")
        .body(first.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let path = {
        let next = r.headers()["location"].to_str().unwrap();
        next.strip_prefix(&format!("http://{}", a.addr))
            .unwrap_or(next)
            .to_owned()
    };
    // 24 MiB declared, 20 MiB sent (two 8 MiB parts go up), then SIGKILL.
    let big: Vec<u8> = (0..24 * 1024 * 1024).map(|i| (i % 253) as u8).collect();
    let range = format!("1000-{}", 1000 + big.len() - 1);
    let mut conn = common::raw::RawConn::open(
        &a.addr,
        "PATCH",
        &path,
        &[
            ("Content-Range", range.as_str()),
            ("Content-Type", "application/octet-stream"),
        ],
        big.len(),
    )
    .await;
    conn.send(&big[..20 * 1024 * 1024]).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(a);
    drop(conn);
    // Seen from B: the first chunk only.
    let r = client
        .get(location_url(&b.addr, &path))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(r.headers()["range"], "0-999");
    // Nothing else in the bucket for it: no blob, no visible part.
    let raw =
        S3Backend::from_vars(S3Location::parse(&bucket.url("reg")).unwrap(), bucket.env()).unwrap();
    let blobs = raw.walk("docker/registry/v2/blobs", 0).await.unwrap();
    assert!(
        blobs.iter().all(|e| e.meta.is_dir),
        "{:?}",
        blobs.iter().map(|e| &e.key).collect::<Vec<_>>()
    );
    let uploads = raw
        .walk("docker/registry/v2/repositories/crash/_uploads", 0)
        .await
        .unwrap();
    let data: Vec<u64> = uploads
        .iter()
        .filter(|e| e.key.ends_with("/data"))
        .map(|e| e.meta.size)
        .collect();
    assert_eq!(data, [1000]);
    // Resumed on B from byte 1000 once the dead server's claim on that
    // chunk went stale (30 s without renewal; refused until then), finished
    // there, verified.
    let killed = Instant::now();
    loop {
        // Refused (an error answer, or the connection closed on the body).
        let refused = match client
            .patch(location_url(&b.addr, &path))
            .header("Content-Range", range.as_str())
            .body(big.clone())
            .send()
            .await
        {
            Ok(r) if r.status().as_u16() == 202 => break,
            Ok(r) => format!("{} {:?}", r.status(), r.text().await),
            Err(e) => e.to_string(),
        };
        assert!(
            killed.elapsed() < Duration::from_secs(60),
            "the upload did not resume: {refused}"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    eprintln!("resumed {:?} after the kill", killed.elapsed());
    let mut whole = first;
    whole.extend_from_slice(&big);
    let d = Digest::sha256_of(&whole);
    let sep = if path.contains('?') { '&' } else { '?' };
    let r = client
        .put(location_url(&b.addr, &format!("{path}{sep}digest={d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201, "{:?}", r.text().await);
    let (status, _, _, got) = get(&b.addr, &format!("/v2/crash/blobs/{d}"), "*/*").await;
    assert_eq!(status, 200);
    assert!(got == whole);
}
