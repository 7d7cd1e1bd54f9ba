//! `regctl cp` and `regctl tag` between real registries on loopback:
//! `regctl serve` → registry:2 → `regctl serve`, and between registries and
//! local stores (OCI layouts, archives).

mod common;

use common::push::{assert_same_image, get, push_image, push_index, push_referrer};
use common::{DistRegistry, Serve, TestImage, TestIndex, regctl};
use regctl::types::Digest;
use regctl::types::media_type::MANIFEST_ACCEPT;
use serde_json::Value;

fn cp(home: &std::path::Path, src: &str, dst: &str, extra: &[&str]) -> Value {
    let out = regctl(home)
        .args(["cp", src, dst, "--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cp {src} {dst}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn copies_through_registry2_and_back_with_equal_digests() {
    let Some(dist) = DistRegistry::start(true) else {
        return;
    };
    let a = Serve::start(&[]);
    let b = Serve::start(&[]);
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let oci = TestImage::oci("cp-oci", 3, 4096);
    let docker = TestImage::docker("cp-docker", 2, 2048);
    let index = TestIndex::new("cp-index", &["linux/amd64", "linux/arm64/v8"]);
    push_image(a.addr(), "src/oci", "v1", &oci).await;
    push_image(a.addr(), "src/docker", "v1", &docker).await;
    push_index(a.addr(), "src/multi", "latest", &index).await;

    for (repo, tag) in [
        ("src/oci", "v1"),
        ("src/docker", "v1"),
        ("src/multi", "latest"),
    ] {
        let mid = format!("{}/{repo}:{tag}", dist.addr());
        let end = format!("{}/{repo}:{tag}", b.addr());
        let s = cp(h, &format!("{}/{repo}:{tag}", a.addr()), &mid, &[]);
        assert_eq!(s["blobsSkipped"], 0);
        cp(h, &mid, &end, &[]);
    }
    assert_same_image(b.addr(), "src/oci", "v1", &oci).await;
    assert_same_image(b.addr(), "src/docker", "v1", &docker).await;
    let (_, _, digest, body) =
        get(b.addr(), "/v2/src/multi/manifests/latest", MANIFEST_ACCEPT).await;
    assert_eq!(digest, index.digest.to_string());
    assert_eq!(body, index.manifest);
    for (_, child) in &index.children {
        assert_same_image(b.addr(), "src/multi", &child.digest.to_string(), child).await;
    }

    // Again: every blob is already there.
    let s = cp(
        h,
        &format!("{}/src/oci:v1", a.addr()),
        &format!("{}/src/oci:v1", b.addr()),
        &[],
    );
    assert_eq!(
        (s["blobsCopied"].as_u64(), s["blobsSkipped"].as_u64()),
        (Some(0), Some(4))
    );
    assert_eq!(s["bytesCopied"], 0);
}

#[tokio::test]
async fn within_one_registry_blobs_are_mounted_and_tag_moves_nothing() {
    let a = Serve::start(&[]);
    let home = tempfile::tempdir().unwrap();
    let img = TestImage::oci("cp-mount", 2, 1024);
    push_image(a.addr(), "one", "v1", &img).await;
    let s = cp(
        home.path(),
        &format!("{}/one:v1", a.addr()),
        &format!("{}/two:v1", a.addr()),
        &[],
    );
    assert_eq!(s["blobsMounted"], 3);
    assert_eq!(s["blobsCopied"], 0);
    assert_same_image(a.addr(), "two", "v1", &img).await;

    let out = regctl(home.path())
        .args(["tag", &format!("{}/two:v1", a.addr()), "stable"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_same_image(a.addr(), "two", "stable", &img).await;
}

#[tokio::test]
async fn platform_picks_one_manifest_out_of_an_index() {
    let a = Serve::start(&[]);
    let home = tempfile::tempdir().unwrap();
    let index = TestIndex::new(
        "cp-platform",
        &["linux/amd64", "linux/arm64/v8", "linux/arm/v7"],
    );
    push_index(a.addr(), "multi", "latest", &index).await;
    let s = cp(
        home.path(),
        &format!("{}/multi:latest", a.addr()),
        &format!("{}/arm:latest", a.addr()),
        &["--platform", "linux/arm64"],
    );
    let arm = &index.children[1].1;
    assert_eq!(s["digest"], arm.digest.to_string());
    assert_same_image(a.addr(), "arm", "latest", arm).await;
    let out = regctl(home.path())
        .args([
            "cp",
            &format!("{}/multi:latest", a.addr()),
            &format!("{}/x:y", a.addr()),
        ])
        .args(["--platform", "windows/amd64"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("linux/arm64/v8"), "lists what is there: {err}");
}

#[tokio::test]
async fn a_corrupt_source_blob_fails_the_copy_and_leaves_nothing_behind() {
    let a = Serve::start(&[]);
    let b = Serve::start(&[]);
    let home = tempfile::tempdir().unwrap();
    let img = TestImage::oci("cp-corrupt", 1, 8192);
    push_image(a.addr(), "r", "v1", &img).await;
    // Damage the layer on disk behind the source server's back.
    let layer = Digest::sha256_of(&img.layers[0]);
    let hex = layer.hex();
    let path = a.root().join(format!(
        "docker/registry/v2/blobs/sha256/{}/{hex}/data",
        &hex[..2]
    ));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();

    let out = regctl(home.path())
        .args([
            "cp",
            &format!("{}/r:v1", a.addr()),
            &format!("{}/r:v1", b.addr()),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("digest"), "{err}");
    let (status, ..) = get(b.addr(), &format!("/v2/r/blobs/{layer}"), "*/*").await;
    assert_eq!(status, 404, "no wrong blob at the destination");
    let (status, ..) = get(b.addr(), "/v2/r/manifests/v1", MANIFEST_ACCEPT).await;
    assert_eq!(status, 404, "no manifest naming missing content");
    let blob_dir = b.root().join(format!(
        "docker/registry/v2/blobs/sha256/{}/{hex}",
        &hex[..2]
    ));
    assert!(!blob_dir.exists());
}

#[tokio::test]
async fn all_tags_copies_every_tag_and_shared_blobs_once() {
    let a = Serve::start(&[]);
    let b = Serve::start(&[]);
    let home = tempfile::tempdir().unwrap();
    let one = TestImage::oci("cp-all-1", 2, 512);
    let two = TestImage::oci("cp-all-2", 1, 512);
    push_image(a.addr(), "app", "1.0", &one).await;
    push_image(a.addr(), "app", "latest", &one).await;
    push_image(a.addr(), "app", "2.0", &two).await;
    let s = cp(
        home.path(),
        &format!("{}/app", a.addr()),
        &format!("{}/mirror/app", b.addr()),
        &["--all-tags"],
    );
    let list = s.as_array().unwrap();
    assert_eq!(list.len(), 3);
    let copied: u64 = list
        .iter()
        .map(|t| t["blobsCopied"].as_u64().unwrap())
        .sum();
    assert_eq!(copied, 5, "3 blobs of one + 2 of two, each once");
    for (tag, img) in [("1.0", &one), ("latest", &one), ("2.0", &two)] {
        assert_same_image(b.addr(), "mirror/app", tag, img).await;
    }
    let out = regctl(home.path())
        .args([
            "cp",
            "--all-tags",
            &format!("{}/app:1.0", a.addr()),
            &format!("{}/x", b.addr()),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "a tag with --all-tags is a usage error"
    );
}

#[tokio::test]
async fn referrers_come_along_with_their_subject() {
    let a = Serve::start(&[]);
    let b = Serve::start(&[]);
    let home = tempfile::tempdir().unwrap();
    let img = TestImage::oci("cp-referrers", 1, 256);
    push_image(a.addr(), "app", "v1", &img).await;
    let (sig, sig_len) = push_referrer(
        a.addr(),
        "app",
        &img.digest,
        img.manifest.len(),
        "application/vnd.example.sig",
    )
    .await;
    // A referrer of the referrer (e.g. an attestation about the signature).
    let (note, _) = push_referrer(
        a.addr(),
        "app",
        &sig,
        sig_len,
        "application/vnd.example.note",
    )
    .await;

    let s = cp(
        home.path(),
        &format!("{}/app:v1", a.addr()),
        &format!("{}/app:v1", b.addr()),
        &["--referrers"],
    );
    assert_eq!(s["manifests"], 3, "image, signature, note");
    assert_same_image(b.addr(), "app", "v1", &img).await;
    let (_, _, _, body) = get(
        b.addr(),
        &format!("/v2/app/referrers/{}", img.digest),
        "*/*",
    )
    .await;
    let index: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(index["manifests"][0]["digest"], sig.to_string());
    let (_, _, _, body) = get(b.addr(), &format!("/v2/app/referrers/{sig}"), "*/*").await;
    let index: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(index["manifests"][0]["digest"], note.to_string());

    // Without the flag, only the image.
    let c = Serve::start(&[]);
    let s = cp(
        home.path(),
        &format!("{}/app:v1", a.addr()),
        &format!("{}/app:v1", c.addr()),
        &[],
    );
    assert_eq!(s["manifests"], 1);
}

#[test]
fn cp_between_local_stores() {
    use common::image::Artifact;
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let img = TestImage::oci("cp-local", 2, 1024);
    let src = work.path().join("src");
    common::write_oci_layout(&src, &[("v1", Artifact::Image(&img))]);
    let archive = work.path().join("img.tar");
    let out = work.path().join("out");
    let s = cp(
        home.path(),
        &format!("oci:{}:v1", src.display()),
        &format!("oci-archive:{}:v1", archive.display()),
        &[],
    );
    assert_eq!(s["digest"], img.digest.to_string());
    cp(
        home.path(),
        &format!("oci-archive:{}:v1", archive.display()),
        &format!("oci:{}:v1", out.display()),
        &[],
    );
    for blob in img.blobs().into_iter().chain([img.manifest.as_slice()]) {
        let d = Digest::sha256_of(blob);
        let got = std::fs::read(out.join("blobs/sha256").join(d.hex())).unwrap();
        assert_eq!(got, blob);
    }
    // Only a registry can list referrers.
    let res = regctl(home.path())
        .args(["cp", "--referrers"])
        .arg(format!("oci:{}:v1", src.display()))
        .arg(format!("oci:{}:v2", out.display()))
        .output()
        .unwrap();
    assert_eq!(res.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&res.stderr).contains("--referrers needs a registry source"));
}

#[tokio::test]
async fn registry_to_oci_layout_and_back_keeps_digests() {
    let a = Serve::start(&[]);
    let b = Serve::start(&[]);
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let img = TestImage::oci("cp-reg-oci", 3, 4096);
    let index = TestIndex::new("cp-reg-oci-index", &["linux/amd64", "linux/arm64/v8"]);
    push_image(a.addr(), "app", "v1", &img).await;
    push_index(a.addr(), "multi", "latest", &index).await;
    let dir = work.path().join("layout");
    let archive = work.path().join("multi.tar");

    let s = cp(
        home.path(),
        &format!("{}/app:v1", a.addr()),
        &format!("oci:{}:v1", dir.display()),
        &[],
    );
    assert_eq!(s["digest"], img.digest.to_string());
    assert_eq!(s["blobsCopied"], 4);
    for blob in img.blobs().into_iter().chain([img.manifest.as_slice()]) {
        let d = Digest::sha256_of(blob);
        let got = std::fs::read(dir.join("blobs/sha256").join(d.hex())).unwrap();
        assert_eq!(got, blob, "{d} byte-identical in the layout");
    }
    // Back to another registry; the tag defaults to the layout's.
    let s = cp(
        home.path(),
        &format!("oci:{}:v1", dir.display()),
        &format!("{}/back", b.addr()),
        &[],
    );
    assert_eq!(s["destination"], format!("{}/back:v1", b.addr()));
    assert_same_image(b.addr(), "back", "v1", &img).await;

    // A whole index through an oci-archive.
    cp(
        home.path(),
        &format!("{}/multi:latest", a.addr()),
        &format!("oci-archive:{}:latest", archive.display()),
        &[],
    );
    let s = cp(
        home.path(),
        &format!("oci-archive:{}:latest", archive.display()),
        &format!("{}/multi:latest", b.addr()),
        &[],
    );
    assert_eq!(s["digest"], index.digest.to_string());
    let (_, _, digest, body) = get(b.addr(), "/v2/multi/manifests/latest", MANIFEST_ACCEPT).await;
    assert_eq!(digest, index.digest.to_string());
    assert_eq!(body, index.manifest);
    for (_, child) in &index.children {
        assert_same_image(b.addr(), "multi", &child.digest.to_string(), child).await;
    }

    // --all-tags from a registry into a layout.
    push_image(
        a.addr(),
        "app",
        "v2",
        &TestImage::oci("cp-reg-oci-2", 1, 512),
    )
    .await;
    let all = work.path().join("all");
    let s = cp(
        home.path(),
        &format!("{}/app", a.addr()),
        &format!("oci:{}", all.display()),
        &["--all-tags"],
    );
    assert_eq!(s.as_array().map(Vec::len), Some(2));
    let listed: Value =
        serde_json::from_slice(&std::fs::read(all.join("index.json")).unwrap()).unwrap();
    let mut names: Vec<&str> = listed["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .unwrap()
        })
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["v1", "v2"]);
}

#[tokio::test]
async fn registry_to_docker_archive_is_read_by_skopeo_and_copied_back() {
    let Some(skopeo) = common::Skopeo::find() else {
        return;
    };
    let a = Serve::start(&[]);
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let img = TestImage::docker("cp-reg-docker-archive", 2, 8192);
    push_image(a.addr(), "app", "v1", &img).await;
    let tar = work.path().join("d.tar");
    let tar_s = tar.display().to_string();
    let s = cp(
        home.path(),
        &format!("{}/app:v1", a.addr()),
        &format!("docker-archive:{tar_s}"),
        &[],
    );
    assert_eq!(s["digest"], img.digest.to_string());
    // Named after the source, as `docker save` would.
    let inspect = skopeo.run(&[
        "inspect",
        &format!("docker-archive:{tar_s}:{}/app:v1", a.addr()),
    ]);
    let inspect: Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(inspect["Labels"]["seed"], "cp-reg-docker-archive");
    let raw = skopeo.run(&["inspect", "--raw", &format!("docker-archive:{tar_s}")]);
    let raw: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        raw["config"]["digest"],
        Digest::sha256_of(&img.config).to_string(),
        "same config digest"
    );

    // And back into a registry: the image is the same (same config and
    // layers; the manifest is the archive's).
    let s = cp(
        home.path(),
        &format!("docker-archive:{tar_s}"),
        &format!("{}/back:v1", a.addr()),
        &[],
    );
    let (status, _, digest, body) = get(a.addr(), "/v2/back/manifests/v1", MANIFEST_ACCEPT).await;
    assert_eq!(status, 200);
    assert_eq!(digest, s["digest"].as_str().unwrap());
    let m: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        m["config"]["digest"],
        Digest::sha256_of(&img.config).to_string()
    );
    for layer in m["layers"].as_array().unwrap() {
        let (status, ..) = get(
            a.addr(),
            &format!("/v2/back/blobs/{}", layer["digest"].as_str().unwrap()),
            "*/*",
        )
        .await;
        assert_eq!(status, 200);
    }
}

/// `tag SRC DST`: DST is a bare tag or a full reference in SRC's
/// repository; another repository is a usage error that suggests `cp`.
#[tokio::test]
async fn tag_takes_a_bare_tag_or_a_reference_in_the_same_repository() {
    let dist = DistRegistry::start(true);
    let serve = Serve::start(&[]);
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let img = TestImage::oci("tag-forms", 1, 128);
    let mut addrs: Vec<String> = dist.iter().map(|d| d.addr().to_owned()).collect();
    addrs.push(serve.addr().to_owned());
    for addr in &addrs {
        push_image(addr, "busybox", "1.1", &img).await;
        let src = format!("{addr}/busybox:1.1");
        let tag = |dst: &str, extra: &[&str]| {
            regctl(h)
                .args(["tag", &src, dst])
                .args(extra)
                .output()
                .unwrap()
        };
        // A full reference in the same repository.
        let out = tag(&format!("{addr}/busybox:stable3"), &[]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_same_image(addr, "busybox", "stable3", &img).await;
        // With -r, short names: the same repository.
        let out = regctl(h)
            .args(["-r", addr, "tag", "busybox:1.1", "busybox:stable4"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_same_image(addr, "busybox", "stable4", &img).await;
        // A bare tag still works; JSON names what was done.
        let out = tag("stable5", &["--format", "json"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["digest"], img.digest.to_string());
        assert_eq!(v["tag"], "stable5");
        assert_eq!(v["reference"], format!("{addr}/busybox:stable5"));
        assert_same_image(addr, "busybox", "stable5", &img).await;
        // Another repository: usage error pointing at cp, nothing written.
        let out = tag(&format!("{addr}/other:v1"), &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("regctl cp"), "{err}");
        let (status, ..) = get(addr, "/v2/other/manifests/v1", MANIFEST_ACCEPT).await;
        assert_eq!(status, 404);
        // A digest or no tag at all: usage errors.
        for bad in [
            format!("{addr}/busybox@{}", img.digest),
            format!("{addr}/busybox"),
        ] {
            let out = tag(&bad, &[]);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{bad}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// A destination that refuses the first manifest `PUT` with
/// `DIGEST_INVALID`, as registry:2 does while another client is still
/// committing a blob the manifest names (seen with two `cp` of one image at
/// once): the copy asks again and succeeds. Every blob is "already there".
#[tokio::test(flavor = "multi_thread")]
async fn a_manifest_refused_while_a_blob_is_mid_commit_is_pushed_again() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let puts = Arc::new(AtomicUsize::new(0));
    let counter = puts.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let puts = counter.clone();
            tokio::spawn(async move {
                // One request per connection (Connection: close).
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
                    if conn.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let mut first = head.split(' ');
                let (method, path) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
                let length: usize = head
                    .lines()
                    .filter_map(|l| l.split_once(':'))
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.trim().parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0u8; length];
                let _ = conn.read_exact(&mut body).await;
                let (status, headers, reply): (&str, String, String) = match method {
                    "GET" if path == "/v2/" => ("200 OK", String::new(), "{}".into()),
                    "HEAD" if path.starts_with("/v2/app/blobs/") => {
                        ("200 OK", "Content-Length: 1\r\n".into(), String::new())
                    }
                    "PUT" if path.starts_with("/v2/app/manifests/") => {
                        if puts.fetch_add(1, Ordering::SeqCst) == 0 {
                            let e = r#"{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match uploaded content"}]}"#;
                            (
                                "400 Bad Request",
                                "Content-Type: application/json\r\n".into(),
                                e.into(),
                            )
                        } else {
                            let d = Digest::sha256_of(&body);
                            (
                                "201 Created",
                                format!("Docker-Content-Digest: {d}\r\n"),
                                String::new(),
                            )
                        }
                    }
                    _ => ("404 Not Found", String::new(), String::new()),
                };
                let length = if method == "HEAD" {
                    String::new()
                } else {
                    format!("Content-Length: {}\r\n", reply.len())
                };
                let msg = format!(
                    "HTTP/1.1 {status}\r\nConnection: close\r\n{headers}{length}\r\n{reply}"
                );
                let _ = conn.write_all(msg.as_bytes()).await;
                let _ = conn.flush().await;
            });
        }
    });

    let dir = tempfile::tempdir().unwrap();
    let img = TestImage::oci("cp-retry", 1, 128);
    let layout = dir.path().join("layout");
    common::write_oci_layout(&layout, &[("v1", common::image::Artifact::Image(&img))]);
    let out = regctl(dir.path())
        .args([
            "cp",
            &format!("oci:{}:v1", layout.display()),
            &format!("{addr}/app:v1"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        puts.load(Ordering::SeqCst),
        2,
        "refused once, then accepted"
    );
}
