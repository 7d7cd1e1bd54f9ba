//! The S3 backend against a real S3 server (SeaweedFS on loopback): the
//! backend contract, registry:2's key layout under a prefix, large streamed
//! uploads, and uploads continued by another process.

mod common;

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use common::s3::{S3Bucket, SeaweedFs};
use futures_util::TryStreamExt;
use regctl::storage::backend::{ByteStream, ChunkSink};
use regctl::storage::{Backend, S3Backend, S3Location, contract};

fn backend(bucket: &S3Bucket, prefix: &str) -> S3Backend {
    S3Backend::from_vars(
        S3Location::parse(&bucket.url(prefix)).unwrap(),
        bucket.env(),
    )
    .unwrap()
}

struct Count(u64);
impl ChunkSink for Count {
    fn chunk(&mut self, d: &[u8]) {
        self.0 += d.len() as u64;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_backend_meets_the_contract() {
    let Some(weed) = SeaweedFs::shared() else {
        return;
    };
    let bucket = weed.bucket();
    contract::check_all(&backend(&bucket, "")).await;
    // Under a prefix (registry:2's rootdirectory) too, in the same bucket.
    contract::check_all(&backend(&bucket, "some/root")).await;
}

fn body_of(chunks: Vec<Bytes>) -> ByteStream {
    Box::pin(futures_util::stream::iter(chunks.into_iter().map(Ok)))
}

async fn read(b: &dyn Backend, key: &str, offset: u64, len: Option<u64>) -> Vec<u8> {
    let parts: Vec<Bytes> = b
        .stream(key, offset, len, 64 * 1024)
        .await
        .unwrap()
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    parts.concat()
}

/// Blobs are write-once: a commit to a key that exists keeps what is
/// there (the copy is conditional), and still removes the upload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_never_replaces_an_existing_object() {
    let Some(weed) = SeaweedFs::shared() else {
        return;
    };
    let bucket = weed.bucket();
    let b = backend(&bucket, "root");
    let mut sink = Count(0);
    b.append(
        "u/1/data",
        body_of(vec![Bytes::from_static(b"first")]),
        &mut sink,
    )
    .await
    .unwrap();
    b.commit("u/1/data", "blobs/x/data").await.unwrap();
    b.append(
        "u/2/data",
        body_of(vec![Bytes::from_static(b"second")]),
        &mut sink,
    )
    .await
    .unwrap();
    b.commit("u/2/data", "blobs/x/data").await.unwrap();
    assert_eq!(b.get("blobs/x/data").await.unwrap().unwrap(), "first");
    assert!(b.stat("u/2/data").await.unwrap().is_none());
    // SeaweedFS keeps listing emptied "directories" in delimited listings;
    // the backend hides them (and listings may lag: bounded wait).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let left = b.list("u").await.unwrap();
        if left.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still listed: {left:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Chunks of any size: a body longer than a part goes up as a streamed
/// multipart upload, short ones as single PUTs; reads and ranges cross
/// segment boundaries; a body that fails half-way leaves nothing (not even
/// the parts already sent) and the size as it was; a commit of several
/// segments joins them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_of_any_size_stream_and_join() {
    let Some(weed) = SeaweedFs::shared() else {
        return;
    };
    let bucket = weed.bucket();
    let b = backend(&bucket, "");
    let part = regctl::storage::s3::PART_SIZE;
    let big: Vec<u8> = (0..part * 2 + 12345).map(|i| (i % 251) as u8).collect();
    let chunks: Vec<Bytes> = big.chunks(64 * 1024).map(Bytes::copy_from_slice).collect();
    let mut sink = Count(0);
    b.put("up/data", Bytes::new()).await.unwrap();
    assert_eq!(
        b.append(
            "up/data",
            body_of(vec![Bytes::from_static(b"head")]),
            &mut sink
        )
        .await
        .unwrap(),
        4
    );
    assert_eq!(
        b.append("up/data", body_of(chunks), &mut sink)
            .await
            .unwrap(),
        big.len() as u64
    );
    assert_eq!(sink.0, 4 + big.len() as u64);
    // A failing body, after more than one part has gone up.
    let mut failing: Vec<io::Result<Bytes>> = big
        .chunks(1024 * 1024)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    failing.push(Err(io::Error::other("client went away")));
    let failing: ByteStream = Box::pin(futures_util::stream::iter(failing));
    assert!(b.append("up/data", failing, &mut sink).await.is_err());
    let size = 4 + big.len() as u64;
    assert_eq!(b.stat("up/data").await.unwrap().unwrap().size, size);
    b.append(
        "up/data",
        body_of(vec![Bytes::from_static(b"tail")]),
        &mut sink,
    )
    .await
    .unwrap();
    let mut whole = b"head".to_vec();
    whole.extend_from_slice(&big);
    whole.extend_from_slice(b"tail");
    assert_eq!(read(&b, "up/data", 0, None).await, whole);
    // A window across all three segments.
    assert_eq!(
        read(&b, "up/data", 2, Some(size)).await,
        &whole[2..2 + size as usize]
    );
    // The walk reports the joined size under the key, no segment names.
    let walked = b.walk("up", 0).await.unwrap();
    let keys: Vec<(&str, u64)> = walked
        .iter()
        .map(|e| (e.key.as_str(), e.meta.size))
        .collect();
    assert_eq!(keys, [("data", whole.len() as u64)]);
    b.commit("up/data", "blob/data").await.unwrap();
    assert_eq!(read(&b, "blob/data", 0, None).await, whole);
    assert!(b.stat("up/data").await.unwrap().is_none());
    assert!(b.walk("up", 0).await.unwrap().is_empty());
}

/// Upload state lives in the bucket: an upload started through one
/// process's registry is continued by a second and finished by a third
/// (each its own client of the bucket, nothing shared in memory).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_moves_between_replicas() {
    use regctl::storage::{Registry, RepoName};
    let Some(weed) = SeaweedFs::shared() else {
        return;
    };
    let bucket = weed.bucket();
    let replica = || Registry::new(Arc::new(backend(&bucket, "reg")));
    let (a, b, c) = (replica(), replica(), replica());
    let repo = RepoName::new("team/app").unwrap();
    let id = a.start_upload(&repo).await.unwrap();
    a.append_upload(
        &repo,
        &id,
        Some(0),
        body_of(vec![Bytes::from_static(b"hello ")]),
    )
    .await
    .unwrap();
    let size = b
        .append_upload(
            &repo,
            &id,
            Some(6),
            body_of(vec![Bytes::from_static(b"world")]),
        )
        .await
        .unwrap();
    assert_eq!(size, 11);
    assert_eq!(c.upload_size(&repo, &id).await.unwrap(), 11);
    let digest = regctl::types::Digest::sha256_of(b"hello world");
    c.finish_upload(&repo, &id, &digest, None).await.unwrap();
    assert_eq!(a.repo_blob_size(&repo, &digest).await.unwrap(), Some(11));
    // A wrong offset from a stale client is refused, not appended.
    let id = b.start_upload(&repo).await.unwrap();
    let err = a
        .append_upload(&repo, &id, Some(3), body_of(vec![Bytes::from_static(b"x")]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("starts at byte 3"), "{err}");
}

/// An object with content that is then appended to reads as one: its own
/// bytes first (moved into the first segment), then the appended ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appending_to_an_object_keeps_its_content_first() {
    let Some(weed) = SeaweedFs::shared() else {
        return;
    };
    let bucket = weed.bucket();
    let b = backend(&bucket, "p");
    b.put("k/data", Bytes::from_static(b"abc")).await.unwrap();
    let mut sink = Count(0);
    b.append(
        "k/data",
        body_of(vec![Bytes::from_static(b"def")]),
        &mut sink,
    )
    .await
    .unwrap();
    assert_eq!(b.stat("k/data").await.unwrap().unwrap().size, 6);
    assert_eq!(read(&b, "k/data", 0, None).await, b"abcdef");
    assert_eq!(read(&b, "k/data", 2, Some(2)).await, b"cd");
    assert_eq!(b.list("k").await.unwrap(), ["data"]);
    b.commit("k/data", "done").await.unwrap();
    assert_eq!(b.get("done").await.unwrap().unwrap(), "abcdef");
}

/// Two appends at one offset at once, from two servers (two clients of
/// the bucket), small or larger than a part: one wins whole, the other is
/// refused, and what is stored is exactly the winner's bytes (so a hash
/// kept by the loser can never vouch for them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_appends_at_one_offset_never_mix() {
    let Some(weed) = SeaweedFs::shared() else {
        return;
    };
    let bucket = weed.bucket();
    let (one, two) = (backend(&bucket, "x"), backend(&bucket, "x"));
    let part = regctl::storage::s3::PART_SIZE;
    for (key, size) in [("small/data", 1000), ("large/data", part + 4096)] {
        let a = vec![b'a'; size];
        let b = vec![b'b'; size];
        let chunks =
            |v: &Vec<u8>| -> Vec<Bytes> { v.chunks(65536).map(Bytes::copy_from_slice).collect() };
        let (mut sa, mut sb) = (Count(0), Count(0));
        let (ra, rb) = tokio::join!(
            one.append(key, body_of(chunks(&a)), &mut sa),
            two.append(key, body_of(chunks(&b)), &mut sb),
        );
        assert!(ra.is_ok() != rb.is_ok(), "{key}: {ra:?} {rb:?}");
        let stored = read(&one, key, 0, None).await;
        let winner = if ra.is_ok() { &a } else { &b };
        assert!(
            stored == *winner,
            "{key}: stored bytes are not the winner's"
        );
        assert_eq!(one.stat(key).await.unwrap().unwrap().size, size as u64);
    }
}
