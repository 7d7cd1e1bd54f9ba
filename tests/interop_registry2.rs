//! On-disk interoperability with the real registry:2 (`docker-registry`):
//! each server serves what the other wrote, byte for byte.

mod common;

use common::push::{get, push_image, push_index};
use common::{DistRegistry, Serve, TestImage, TestIndex};
use regctl::types::media_type::MANIFEST_ACCEPT;
use serde_json::Value;

struct Content {
    oci: TestImage,
    docker: TestImage,
    index: TestIndex,
}

fn content() -> Content {
    Content {
        oci: TestImage::oci("interop-oci", 2, 2048),
        docker: TestImage::docker("interop-docker", 2, 1024),
        index: TestIndex::new("interop-index", &["linux/amd64", "linux/arm64/v8"]),
    }
}

async fn seed(addr: &str, c: &Content) {
    push_image(addr, "apps/oci", "v1", &c.oci).await;
    push_image(addr, "apps/oci", "doomed", &c.docker).await;
    push_image(addr, "a/b/c/docker", "1.0", &c.docker).await;
    push_index(addr, "multi", "latest", &c.index).await;
    // A deleted tag: registry:2 refuses DELETE by tag, so delete by digest
    // an image tagged only there.
    let url = format!("http://{addr}/v2/apps/oci/manifests/{}", c.docker.digest);
    let r = reqwest::Client::new().delete(url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 202);
}

async fn json(addr: &str, path: &str) -> Value {
    let (status, _, _, body) = get(addr, path, "application/json").await;
    assert_eq!(status, 200, "{path}");
    serde_json::from_slice(&body).unwrap()
}

/// Everything seeded is readable from `addr`, identical to what was pushed.
async fn check(addr: &str, c: &Content) {
    let catalog = json(addr, "/v2/_catalog").await;
    assert_eq!(
        catalog["repositories"],
        serde_json::json!(["a/b/c/docker", "apps/oci", "multi"])
    );
    let tags = json(addr, "/v2/apps/oci/tags/list").await;
    assert_eq!(tags["tags"], serde_json::json!(["v1"]));
    let images = [
        ("apps/oci", "v1", &c.oci),
        ("a/b/c/docker", "1.0", &c.docker),
    ];
    for (repo, tag, img) in images {
        let (status, ct, digest, body) = get(
            addr,
            &format!("/v2/{repo}/manifests/{tag}"),
            MANIFEST_ACCEPT,
        )
        .await;
        assert_eq!(status, 200, "{repo}:{tag}");
        assert_eq!(ct, img.media_type);
        assert_eq!(digest, img.digest.to_string());
        assert_eq!(body, img.manifest);
        for blob in img.blobs() {
            let d = regctl::types::Digest::sha256_of(blob);
            let (status, _, _, got) = get(addr, &format!("/v2/{repo}/blobs/{d}"), "*/*").await;
            assert_eq!(status, 200, "{repo} blob {d}");
            assert_eq!(got, blob);
        }
    }
    let (status, _, digest, body) = get(addr, "/v2/multi/manifests/latest", MANIFEST_ACCEPT).await;
    assert_eq!((status, digest), (200, c.index.digest.to_string()));
    assert_eq!(body, c.index.manifest);
    for (_, child) in &c.index.children {
        let (status, _, _, body) = get(
            addr,
            &format!("/v2/multi/manifests/{}", child.digest),
            MANIFEST_ACCEPT,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body, child.manifest);
    }
    let (status, ..) = get(
        addr,
        &format!("/v2/apps/oci/manifests/{}", c.docker.digest),
        MANIFEST_ACCEPT,
    )
    .await;
    assert_eq!(status, 404, "the deleted manifest stays deleted");
}

#[tokio::test]
async fn regctl_serves_a_root_written_by_registry2() {
    let Some(dist) = DistRegistry::start(true) else {
        return;
    };
    let c = content();
    seed(dist.addr(), &c).await;
    check(dist.addr(), &c).await;
    let root = dist.root().to_owned();
    let serve = Serve::start_with_root(&root, &[]);
    check(serve.addr(), &c).await;
}

#[tokio::test]
async fn registry2_serves_a_root_written_by_regctl() {
    if !common::require_peer("docker-registry") {
        return;
    }
    let serve = Serve::start(&[]);
    let c = content();
    seed(serve.addr(), &c).await;
    check(serve.addr(), &c).await;
    let dist = DistRegistry::start_with_root(serve.root(), true).unwrap();
    check(dist.addr(), &c).await;
}

#[tokio::test]
async fn a_delete_through_one_server_is_seen_by_the_other() {
    let Some(dist) = DistRegistry::start(true) else {
        return;
    };
    let img = TestImage::oci("shared-delete", 1, 256);
    push_image(dist.addr(), "r", "t", &img).await;
    let serve = Serve::start_with_root(dist.root(), &[]);
    assert_eq!(
        json(serve.addr(), "/v2/r/tags/list").await["tags"],
        serde_json::json!(["t"])
    );
    // A tag registry:2 adds while regctl serve runs shows up at once.
    common::push::push_manifest(dist.addr(), "r", "u", img.media_type, &img.manifest).await;
    assert_eq!(
        json(serve.addr(), "/v2/r/tags/list").await["tags"],
        serde_json::json!(["t", "u"])
    );
    let url = format!("http://{}/v2/r/manifests/{}", serve.addr(), img.digest);
    let r = reqwest::Client::new().delete(url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let (status, ..) = get(dist.addr(), "/v2/r/manifests/t", MANIFEST_ACCEPT).await;
    assert_eq!(status, 404);
    let tags = json(dist.addr(), "/v2/r/tags/list").await;
    assert!(tags["tags"].is_null() || tags["tags"] == serde_json::json!([]));
}

/// Every page of `/v2/_catalog` at `addr`, `n` names at a time, and what
/// `last=` answers for each given name.
async fn catalog_pages(addr: &str, n: usize, lasts: &[&str]) -> (Value, Vec<Value>) {
    let all = json(addr, "/v2/_catalog").await["repositories"].clone();
    let mut pages = Vec::new();
    for last in lasts {
        let v = json(addr, &format!("/v2/_catalog?n={n}&last={last}")).await;
        pages.push(v["repositories"].clone());
    }
    (all, pages)
}

#[tokio::test]
async fn both_servers_list_one_root_in_the_same_catalog_order() {
    let Some(dist) = DistRegistry::start(true) else {
        return;
    };
    let img = TestImage::oci("catalog-order", 1, 64);
    for repo in ["a_b", "a.b", "a-b", "a/b/c", "a/b", "a", "a0", "b/a"] {
        push_image(dist.addr(), repo, "t", &img).await;
    }
    let serve = Serve::start_with_root(dist.root(), &[]);
    let lasts = ["a", "a/b", "a/b/c", "a-b", "a.b", "a/a", "a/c"];
    let theirs = catalog_pages(dist.addr(), 2, &lasts).await;
    let ours = catalog_pages(serve.addr(), 2, &lasts).await;
    assert_eq!(
        theirs.0,
        serde_json::json!(["a", "a/b", "a/b/c", "a-b", "a.b", "a0", "a_b", "b/a"])
    );
    assert_eq!(ours, theirs);
}
