//! `regctl serve` over object storage (`--storage s3://`), against a real S3
//! server (SeaweedFS on loopback): the registry API run on both backends,
//! the command line (`serve`, `du`, `gc` with `--storage`), and several
//! servers on one bucket.

mod common;

use std::time::{Duration, Instant};

use common::push::{assert_same_image, delete_manifest, get, http, push_image, push_referrer};
use common::s3::{S3Bucket, SeaweedFs, location_url, serve_cmd, serve_storage, serve_storage_with};
use common::{TestImage, regctl, run_ok};
use regctl::server::{self, ServerConfig};
use regctl::storage::{S3Backend, S3Location};
use regctl::types::Digest;

/// An in-process server over a directory or a bucket.
struct InProcess {
    addr: String,
    _dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn bucket_backend(bucket: &S3Bucket, prefix: &str) -> S3Backend {
    S3Backend::from_vars(
        S3Location::parse(&bucket.url(prefix)).unwrap(),
        bucket.env(),
    )
    .unwrap()
}

async fn in_process(bucket: Option<S3Backend>) -> InProcess {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::new(dir.path().join("root"));
    config.object_storage = bucket;
    let app = server::router(config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server::serve(listener, app, None, async {
        let _ = rx.await;
    }));
    InProcess {
        addr,
        _dir: dir,
        shutdown: Some(tx),
    }
}

/// Push, pull, ranges, a chunked upload in three requests with an
/// out-of-order chunk refused, tags and catalog, referrers, deletes: what
/// a registry does, the same on every backend.
async fn registry_round_trip(addr: &str) {
    let c = http();
    let img = TestImage::oci("round-trip", 2, 3000);
    push_image(addr, "team/app", "v1", &img).await;
    assert_same_image(addr, "team/app", "v1", &img).await;
    // A range of a blob.
    let layer = &img.layers[0];
    let d = Digest::sha256_of(layer);
    let r = c
        .get(format!("http://{addr}/v2/team/app/blobs/{d}"))
        .header("Range", "bytes=10-109")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 206);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &layer[10..110]);

    // Chunked: POST, PATCH, a wrong-offset PATCH (416), PATCH, PUT.
    let r = c
        .post(format!("http://{addr}/v2/team/app/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let mut location = location_url(addr, r.headers()["location"].to_str().unwrap());
    for (range, body, want) in [
        ("0-4", "hello", 202),
        ("3-7", "xxxxx", 416),
        ("5-10", " world", 202),
    ] {
        let r = c
            .patch(&location)
            .header("Content-Range", range)
            .header("Content-Type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), want, "PATCH {range}");
        if want == 202 {
            location = location_url(addr, r.headers()["location"].to_str().unwrap());
        }
    }
    let r = c.get(&location).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(r.headers()["range"], "0-10");
    let chunked = Digest::sha256_of(b"hello world!");
    let sep = if location.contains('?') { '&' } else { '?' };
    let r = c
        .put(format!("{location}{sep}digest={chunked}"))
        .body("!")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let (status, _, _, got) = get(addr, &format!("/v2/team/app/blobs/{chunked}"), "*/*").await;
    assert_eq!((status, got.as_slice()), (200, b"hello world!".as_slice()));
    // A wrong digest stores nothing.
    let r = c
        .post(format!(
            "http://{addr}/v2/team/app/blobs/uploads/?digest={}",
            Digest::sha256_of(b"other")
        ))
        .body("not other")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let (status, ..) = get(
        addr,
        &format!("/v2/team/app/blobs/{}", Digest::sha256_of(b"not other")),
        "*/*",
    )
    .await;
    assert_eq!(status, 404);

    // Tags and catalog; a second repository and tag.
    let img2 = TestImage::oci("round-trip-2", 1, 100);
    push_image(addr, "team/app", "v2", &img2).await;
    push_image(addr, "other", "latest", &img2).await;
    let (status, _, _, body) = get(addr, "/v2/team/app/tags/list", "*/*").await;
    assert_eq!(status, 200);
    let tags: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(tags["tags"], serde_json::json!(["v1", "v2"]));
    let (_, _, _, body) = get(addr, "/v2/_catalog", "*/*").await;
    let catalog: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        catalog["repositories"],
        serde_json::json!(["other", "team/app"])
    );
    // Moving a tag.
    push_image(addr, "team/app", "v1", &img2).await;
    assert_same_image(addr, "team/app", "v1", &img2).await;

    // Referrers.
    let (sig, _) = push_referrer(
        addr,
        "team/app",
        &img.digest,
        img.manifest.len(),
        "application/example.sig",
    )
    .await;
    let (status, _, _, body) = get(
        addr,
        &format!("/v2/team/app/referrers/{}", img.digest),
        "*/*",
    )
    .await;
    assert_eq!(status, 200);
    let index: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(index["manifests"][0]["digest"], sig.to_string());

    // Deletes: a manifest by digest, then it is unknown; a tag.
    delete_manifest(addr, "team/app", &img.digest).await;
    let (status, ..) = get(
        addr,
        &format!("/v2/team/app/manifests/{}", img.digest),
        regctl::types::media_type::MANIFEST_ACCEPT,
    )
    .await;
    assert_eq!(status, 404);
    delete_manifest(addr, "other", "latest").await;
    let (status, ..) = get(
        addr,
        "/v2/other/manifests/latest",
        regctl::types::media_type::MANIFEST_ACCEPT,
    )
    .await;
    assert_eq!(status, 404);
    // Ready: the probe writes and removes through the backend.
    let (status, _, _, body) = get(addr, "/readyz", "*/*").await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_api_on_a_directory() {
    let s = in_process(None).await;
    registry_round_trip(&s.addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_api_on_a_bucket() {
    let Some(weed) = SeaweedFs::shared() else {
        return;
    };
    let bucket = weed.bucket();
    let s = in_process(Some(bucket_backend(&bucket, "registry"))).await;
    registry_round_trip(&s.addr).await;
    // registry:2's layout under the prefix, read straight from the bucket.
    use regctl::storage::Backend;
    let raw = bucket_backend(&bucket, "");
    assert_eq!(raw.list("").await.unwrap(), ["registry"]);
    let repos = raw
        .list("registry/docker/registry/v2/repositories/team/app")
        .await
        .unwrap();
    // Finished uploads leave nothing behind (no empty "directories").
    assert_eq!(repos, ["_layers", "_manifests"]);
}

/// The command line: `serve --storage`, `--print-config`, a bad bucket and a
/// bad URL refused with their reason, then `du` and `gc` over the bucket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_du_and_gc_take_a_storage_url() {
    let Some(weed) = SeaweedFs::shared() else {
        return;
    };
    let bucket = weed.bucket();
    let home = tempfile::tempdir().unwrap();
    let url = bucket.url("reg");

    let out = serve_cmd(&bucket, home.path(), &["--storage", &url, "--print-config"])
        .output()
        .unwrap();
    let text = run_ok(out);
    assert!(
        text.contains(&format!("storage = \"{url}\"")) && text.contains("--storage"),
        "{text}"
    );
    // A bucket that does not exist, a URL of an unknown kind.
    let out = serve_cmd(
        &bucket,
        home.path(),
        &["--storage", "s3://no-such-bucket-here"],
    )
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("cannot use s3://no-such-bucket-here"), "{err}");
    let out = serve_cmd(&bucket, home.path(), &["--storage", "gs://x"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("s3://BUCKET"),
        "{err}"
    );

    let serve = serve_storage(&bucket, home.path(), &url);
    let kept = TestImage::oci("kept", 1, 2000);
    let dropped = TestImage::oci("dropped", 1, 2000);
    push_image(&serve.addr, "app", "kept", &kept).await;
    push_image(&serve.addr, "app", "dropped", &dropped).await;
    delete_manifest(&serve.addr, "app", &dropped.digest).await;
    drop(serve);

    let mut du = regctl(home.path());
    du.args(["du", "--storage", &url, "--format", "json"]);
    bucket.apply(&mut du);
    let usage: serde_json::Value = serde_json::from_str(&run_ok(du.output().unwrap())).unwrap();
    assert_eq!(usage["repositories"][0]["name"], "app", "{usage}");
    let unique_to_dropped = dropped.layers[0].len() as u64;
    assert!(
        usage["unreferenced"].as_u64().unwrap() >= unique_to_dropped,
        "{usage}"
    );

    let mut gc = regctl(home.path());
    gc.args(["gc", "--storage", &url, "-y", "--format", "json"]);
    bucket.apply(&mut gc);
    let report: serde_json::Value = serde_json::from_str(&run_ok(gc.output().unwrap())).unwrap();
    assert!(
        report["summary"]["blobsRemoved"].as_u64().unwrap() >= 2,
        "{report}"
    );
    // What is kept is whole; what was collected is gone.
    let serve = serve_storage(&bucket, home.path(), &url);
    assert_same_image(&serve.addr, "app", "kept", &kept).await;
    let gone = Digest::sha256_of(&dropped.layers[0]);
    let (status, ..) = get(&serve.addr, &format!("/v2/app/blobs/{gone}"), "*/*").await;
    assert_eq!(status, 404);
}

/// Several servers on one bucket are one registry: a push through A is
/// pulled from B; a tag moved through B is seen by A within the bound the
/// README gives (1 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_bucket_are_one_registry() {
    let Some(weed) = SeaweedFs::shared() else {
        return;
    };
    let bucket = weed.bucket();
    let home = tempfile::tempdir().unwrap();
    let url = bucket.url("");
    let a = serve_storage(&bucket, home.path(), &url);
    let b = serve_storage(&bucket, home.path(), &url);
    let first = TestImage::oci("first", 2, 5000);
    push_image(&a.addr, "shared/app", "latest", &first).await;
    assert_same_image(&b.addr, "shared/app", "latest", &first).await;
    // A reads the tag now (and may cache it); B moves it.
    assert_same_image(&a.addr, "shared/app", "latest", &first).await;
    let second = TestImage::oci("second", 1, 5000);
    push_image(&b.addr, "shared/app", "latest", &second).await;
    let moved = Instant::now();
    loop {
        let (_, _, digest, _) = get(
            &a.addr,
            "/v2/shared/app/manifests/latest",
            regctl::types::media_type::MANIFEST_ACCEPT,
        )
        .await;
        if digest == second.digest.to_string() {
            break;
        }
        assert!(
            moved.elapsed() < Duration::from_secs(1),
            "A still serves the old tag after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "tag move seen by the other server after {:?}",
        moved.elapsed()
    );
    // A manifest deleted through B is unknown on A within 1 s, although A
    // read it (and remembered its revision) a moment ago.
    let by_digest = format!("/v2/shared/app/manifests/{}", second.digest);
    let accept = regctl::types::media_type::MANIFEST_ACCEPT;
    assert_eq!(get(&a.addr, &by_digest, accept).await.0, 200);
    let r = http()
        .delete(format!("http://{}{by_digest}", b.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let deleted = Instant::now();
    while get(&a.addr, &by_digest, accept).await.0 != 404 {
        assert!(
            deleted.elapsed() < Duration::from_millis(1500),
            "A still serves a manifest deleted through B"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "delete seen by the other server after {:?}",
        deleted.elapsed()
    );
}

/// registry:2 (its s3 driver) and `regctl serve --storage` on one bucket and
/// prefix, both ways: what one pushes, the other serves byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry2_and_regctl_share_a_bucket_both_ways() {
    let Some(weed) = SeaweedFs::shared() else {
        return;
    };
    let bucket = weed.bucket();
    let driver = format!(
        "  s3:\n    region: us-east-1\n    regionendpoint: {}\n    bucket: {}\n    rootdirectory: /shared/root\n    forcepathstyle: true\n    secure: false\n    v4auth: true\n    accesskey: {}\n    secretkey: {}\n",
        bucket.endpoint,
        bucket.name,
        bucket.access_key(),
        bucket.secret_key()
    );
    let Some(dist) = common::DistRegistry::start_with_storage(&driver, &bucket.env()) else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let ours = serve_storage(&bucket, home.path(), &bucket.url("shared/root"));

    let from_dist = TestImage::docker("pushed-to-registry2", 2, 40_000);
    push_image(dist.addr(), "interop/a", "v1", &from_dist).await;
    assert_same_image(&ours.addr, "interop/a", "v1", &from_dist).await;

    let from_ours = TestImage::oci("pushed-to-regctl", 2, 40_000);
    push_image(&ours.addr, "interop/b", "v1", &from_ours).await;
    assert_same_image(dist.addr(), "interop/b", "v1", &from_ours).await;
    // registry:2 lists what regctl created, and the reverse.
    for addr in [dist.addr(), ours.addr.as_str()] {
        let (status, _, _, body) = get(addr, "/v2/_catalog", "*/*").await;
        assert_eq!(status, 200);
        let catalog: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            catalog["repositories"],
            serde_json::json!(["interop/a", "interop/b"]),
            "{addr}"
        );
    }
}

/// `--redirect-blobs`: a blob GET is a 307 to a presigned URL of the bucket
/// that works without credentials (ranges too) and names this blob only;
/// a client that follows redirects pulls the image whole; HEAD is answered
/// by the server. Refused without a bucket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_blobs_sends_clients_to_the_bucket() {
    let Some(weed) = SeaweedFs::shared() else {
        return;
    };
    let bucket = weed.bucket();
    let home = tempfile::tempdir().unwrap();
    let out = serve_cmd(&bucket, home.path(), &["--redirect-blobs"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("--storage s3://"),
        "{err}"
    );

    let serve = serve_storage_with(
        &bucket,
        home.path(),
        &bucket.url("r"),
        &["--redirect-blobs"],
    );
    let img = TestImage::oci("redirected", 1, 100_000);
    push_image(&serve.addr, "app", "v1", &img).await;
    let d = Digest::sha256_of(&img.layers[0]);
    let direct = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = direct
        .get(format!("http://{}/v2/app/blobs/{d}", serve.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 307);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.starts_with(&bucket.endpoint), "{to}");
    assert!(
        to.contains("X-Amz-Signature") && to.contains(&d.hex()[..16]),
        "{to}"
    );
    // The URL alone (no credentials) serves the blob, and ranges of it.
    let bytes = direct.get(&to).send().await.unwrap().bytes().await.unwrap();
    assert!(bytes.as_ref() == img.layers[0].as_slice());
    let part = direct
        .get(&to)
        .header("Range", "bytes=5-14")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status().as_u16(), 206);
    assert_eq!(part.bytes().await.unwrap().as_ref(), &img.layers[0][5..15]);
    // A tampered URL (another key) is refused by the bucket.
    let other = to.replace(&d.hex()[..2], "00");
    assert_eq!(
        direct.get(&other).send().await.unwrap().status().as_u16(),
        403
    );
    // HEAD stays on the server; an unknown blob is a 404, not a redirect.
    let r = direct
        .head(format!("http://{}/v2/app/blobs/{d}", serve.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let unknown = Digest::sha256_of(b"unknown");
    let r = direct
        .get(format!("http://{}/v2/app/blobs/{unknown}", serve.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert_same_image(&serve.addr, "app", "v1", &img).await;
}

/// Keys from the AWS shared files' profile when the environment has none:
/// the server checks SigV4, so a wrong secret in the profile fails.
#[tokio::test]
async fn keys_come_from_an_aws_profile() {
    let Some(weed) = SeaweedFs::shared() else {
        return;
    };
    let bucket = weed.bucket();
    let home = tempfile::tempdir().unwrap();
    let aws = home.path().join(".aws");
    std::fs::create_dir_all(&aws).unwrap();
    std::fs::write(
        aws.join("credentials"),
        format!(
            "[ci]\naws_access_key_id = {}\naws_secret_access_key = {}\n[wrong]\naws_access_key_id = {}\naws_secret_access_key = not-the-secret\n",
            bucket.access_key(),
            bucket.secret_key(),
            bucket.access_key()
        ),
    )
    .unwrap();
    let url = bucket.url("reg");
    let serve = serve_storage(&bucket, home.path(), &url);
    let image = TestImage::oci("profiled", 1, 2000);
    push_image(&serve.addr, "app", "v1", &image).await;
    drop(serve);
    let du = |profile: &str| {
        let mut cmd = regctl(home.path());
        for (k, _) in std::env::vars() {
            if k.starts_with("AWS_") {
                cmd.env_remove(k);
            }
        }
        for (k, v) in bucket.env() {
            if k == "AWS_ENDPOINT_URL" || k == "AWS_REGION" {
                cmd.env(k, v);
            }
        }
        cmd.env("AWS_PROFILE", profile)
            .args(["du", "--storage", &url, "--format", "json"])
            .output()
            .unwrap()
    };
    let usage: serde_json::Value = serde_json::from_str(&run_ok(du("ci"))).unwrap();
    assert_eq!(usage["repositories"][0]["name"], "app", "{usage}");
    let wrong = du("wrong");
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        !wrong.status.success() && !err.contains("holds no registry data"),
        "a wrong secret was accepted: {err}"
    );
    let missing = du("nosuch");
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        !missing.status.success() && err.contains("AWS_PROFILE=\"nosuch\""),
        "{err}"
    );
}
