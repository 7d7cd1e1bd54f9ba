//! The library client against docker-registry and regctl serve: streaming blob
//! upload/download with verification, cross-repository mount, manifest put,
//! tags sharing a digest, and the tag-moved guard.

mod common;

use bytes::Bytes;
use futures_util::StreamExt;

use regctl::client::{Client, ClientError, ClientOptions};
use regctl::types::{Digest, Reference};

/// docker-registry (when installed) and regctl serve.
fn peers() -> Vec<(String, Box<dyn std::any::Any>)> {
    let mut v: Vec<(String, Box<dyn std::any::Any>)> = Vec::new();
    if let Some(r) = common::DistRegistry::start(true) {
        v.push((r.addr().to_owned(), Box::new(r)));
    }
    let s = common::Serve::start(&[]);
    v.push((s.addr().to_owned(), Box::new(s)));
    v
}

fn client() -> Client {
    Client::new(ClientOptions {
        docker_config: None,
        docker_certs_dir: None,
        ..ClientOptions::default()
    })
    .unwrap()
}

fn reference(s: &str) -> Reference {
    Reference::parse(s, "unused.example").unwrap()
}

/// Pushes a one-layer OCI image with the library; returns its digest.
async fn push(c: &Client, repo: &Reference, tag: &str, seed: &str) -> Digest {
    let config = Bytes::from(format!(
        r#"{{"os":"linux","architecture":"amd64","seed":"{seed}"}}"#
    ));
    let cd = c.blob_put_bytes(repo, config.clone()).await.unwrap();
    let layer = Bytes::from(seed.repeat(100));
    let ld = c.blob_put_bytes(repo, layer.clone()).await.unwrap();
    let m = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{ld}","size":{}}}]}}"#,
        config.len(),
        layer.len()
    );
    c.manifest_put(
        repo,
        tag,
        "application/vnd.oci.image.manifest.v1+json",
        Bytes::from(m),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn blobs_stream_up_and_down_verified_and_mount_across_repositories() {
    for (addr, _peer) in peers() {
        blobs_round_trip(&addr).await;
    }
}

async fn blobs_round_trip(addr: &str) {
    let c = client();
    let repo = reference(&format!("{addr}/blobs/a"));
    // 3 MiB in 64 KiB chunks, never one buffer on the way up.
    let chunk: Vec<u8> = (0..65536u32).map(|i| (i % 251) as u8).collect();
    let mut whole = Vec::new();
    for _ in 0..48 {
        whole.extend_from_slice(&chunk);
    }
    let digest = Digest::sha256_of(&whole);
    let chunks: Vec<Result<Bytes, std::io::Error>> =
        (0..48).map(|_| Ok(Bytes::from(chunk.clone()))).collect();
    assert_eq!(c.blob_head(&repo, &digest).await.unwrap(), None);
    c.blob_put(
        &repo,
        &digest,
        whole.len() as u64,
        futures_util::stream::iter(chunks),
    )
    .await
    .unwrap();
    assert_eq!(
        c.blob_head(&repo, &digest).await.unwrap(),
        Some(whole.len() as u64)
    );
    let mut s = c.blob_get(&repo, &digest).await.unwrap();
    assert_eq!(s.size(), Some(whole.len() as u64));
    let mut got = Vec::new();
    let mut pieces = 0;
    while let Some(piece) = s.next().await {
        got.extend_from_slice(&piece.unwrap());
        pieces += 1;
    }
    assert_eq!(got, whole);
    assert!(pieces > 1, "streamed, not one buffer");

    // Uploading under the wrong digest is refused by the registry.
    let wrong = Digest::sha256_of(b"not this");
    let err = c
        .blob_put(
            &repo,
            &wrong,
            4,
            futures_util::stream::once(async {
                Ok::<_, std::io::Error>(Bytes::from_static(b"data"))
            }),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Registry { .. }), "{err}");

    // Mount into another repository of the same registry.
    let other = reference(&format!("{addr}/blobs/b"));
    assert!(c.blob_mount(&other, &digest, "blobs/a").await.unwrap());
    assert_eq!(
        c.blob_head(&other, &digest).await.unwrap(),
        Some(whole.len() as u64)
    );
    // A missing blob: not found.
    let err = c.blob_get(&other, &wrong).await.err().unwrap();
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn shared_tags_are_found_and_a_moved_tag_stops_deletion() {
    for (addr, _peer) in peers() {
        moving_tags(&addr).await;
    }
}

async fn moving_tags(addr: &str) {
    let c = client();
    let repo = reference(&format!("{addr}/moving"));
    let a = push(&c, &repo, "one", "aaa").await;
    let raw = c
        .manifest_get(&repo.with_tag("one").unwrap())
        .await
        .unwrap();
    assert_eq!(raw.digest(), &a);
    c.manifest_put(&repo, "two", raw.media_type().as_str(), raw.raw().clone())
        .await
        .unwrap();
    let b = push(&c, &repo, "three", "bbb").await;
    assert_eq!(
        c.tags_pointing_to(&repo, &a, 2).await.unwrap(),
        vec!["one", "two"]
    );
    assert_eq!(
        c.tags_pointing_to(&repo, &b, 2).await.unwrap(),
        vec!["three"]
    );

    // "one" moves to b: untag/rm planned against a must stop, changing nothing.
    let one = repo.with_tag("one").unwrap();
    push(&c, &repo, "one", "bbb").await;
    let err = c.untag(&one, &a).await.unwrap_err();
    assert!(matches!(err, ClientError::TagMoved { .. }), "{err}");
    let err = c.ensure_unmoved(&one, &a).await.unwrap_err();
    assert!(err.to_string().contains("moved"), "{err}");
    assert_eq!(c.resolve_digest(&one).await.unwrap(), b);
    assert_eq!(
        c.resolve_digest(&repo.with_tag("two").unwrap())
            .await
            .unwrap(),
        a
    );
}
