//! Two requests on one upload session, and clients that stop half-way
//! (issue 12, item 1). Requests go over raw sockets so the second one can
//! be timed inside the first.

mod common;

use std::time::{Duration, Instant};

use common::Serve;
use common::raw::{RawConn, raw};
use regctl::types::Digest;

/// A new upload session in `repo`; its path.
async fn session(addr: &str, repo: &str) -> String {
    let a = raw(
        addr,
        "POST",
        &format!("/v2/{repo}/blobs/uploads/"),
        &[],
        b"",
    )
    .await;
    assert_eq!(a.status, 202, "{a:?}");
    a.header("location").unwrap().to_owned()
}

/// `path` with `?digest=` (or `&digest=`) appended.
fn with_digest(path: &str, d: &Digest) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}digest={d}")
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// The upload's size as the server reports it.
async fn upload_size(addr: &str, location: &str) -> u64 {
    let a = raw(addr, "GET", location, &[], b"").await;
    assert_eq!(a.status, 204, "{a:?}");
    let range = a.header("range").unwrap();
    let end: u64 = range.split_once('-').unwrap().1.parse().unwrap();
    if end == 0 { 0 } else { end + 1 }
}

/// Whatever a GET of the blob answers, it never serves bytes that do not
/// hash to the digest asked for.
async fn assert_never_served_wrong(addr: &str, repo: &str, d: &Digest) -> u16 {
    let a = raw(addr, "GET", &format!("/v2/{repo}/blobs/{d}"), &[], b"").await;
    if a.status == 200 {
        assert_eq!(
            Digest::sha256_of(&a.body),
            *d,
            "GET {d} served {} bytes that hash to something else",
            a.body.len()
        );
    }
    a.status
}

/// Variant 1: while a PATCH is still streaming, a `PUT ?digest=D` on the
/// same session must be refused at once; before the fix it committed the
/// file and the PATCH's later bytes landed in the committed blob.
#[tokio::test]
async fn a_put_during_a_streaming_patch_is_refused_and_nothing_bad_is_served() {
    let serve = Serve::start(&[]);
    let addr = serve.addr();
    let location = session(addr, "attacker").await;
    let real = data(20_000, 1);
    let d = Digest::sha256_of(&real);
    let a = raw(addr, "PATCH", &location, &[], &real).await;
    assert_eq!(a.status, 202, "{a:?}");
    // A second PATCH that streams slowly.
    let extra = data(1_900, 2);
    let mut patch = RawConn::open(addr, "PATCH", &location, &[], extra.len()).await;
    patch.send(&extra[..100]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let put = raw(addr, "PUT", &with_digest(&location, &d), &[], b"").await;
    assert_eq!(put.status, 416, "PUT inside a PATCH: {put:?}");
    assert_eq!(put.code(), "BLOB_UPLOAD_INVALID");
    let cancel = raw(addr, "DELETE", &location, &[], b"").await;
    assert_eq!(cancel.status, 416, "DELETE inside a PATCH: {cancel:?}");
    patch.send(&extra[100..]).await;
    let a = patch.answer().await;
    assert_eq!(a.status, 202, "{a:?}");
    assert_eq!(a.header("range"), Some("0-21899"));
    assert_eq!(assert_never_served_wrong(addr, "attacker", &d).await, 404);
    // The session is free again and holds exactly both chunks.
    let whole = [real, extra].concat();
    let good = Digest::sha256_of(&whole);
    let a = raw(addr, "PUT", &with_digest(&location, &good), &[], b"").await;
    assert_eq!(a.status, 201, "{a:?}");
    let a = raw(addr, "GET", &format!("/v2/attacker/blobs/{good}"), &[], b"").await;
    assert_eq!((a.status, a.body == whole), (200, true));
}

/// Variant 2: a PATCH with body A and a PUT `?digest=sha256(A)` with an
/// equal-length body B. The PUT is refused while the PATCH runs; whatever
/// happens, sha256(A) is never served with other bytes.
#[tokio::test]
async fn an_equal_length_put_racing_a_patch_cannot_commit_other_bytes() {
    let serve = Serve::start(&[]);
    let addr = serve.addr();
    let location = session(addr, "attacker").await;
    let a_bytes = data(80_000, 3);
    let b_bytes = data(80_000, 4);
    let d = Digest::sha256_of(&a_bytes);
    let mut patch = RawConn::open(addr, "PATCH", &location, &[], a_bytes.len()).await;
    patch.send(&a_bytes[..40_000]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let put = raw(addr, "PUT", &with_digest(&location, &d), &[], &b_bytes).await;
    assert_eq!(put.status, 416, "PUT inside a PATCH: {put:?}");
    patch.send(&a_bytes[40_000..]).await;
    let a = patch.answer().await;
    assert_eq!(a.status, 202, "{a:?}");
    assert_ne!(assert_never_served_wrong(addr, "attacker", &d).await, 200);
    // Finishing now commits A, which is what was hashed and is on disk.
    let a = raw(addr, "PUT", &with_digest(&location, &d), &[], b"").await;
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(assert_never_served_wrong(addr, "attacker", &d).await, 200);
}

/// Two PATCHes at once: the second is refused, the first goes through.
#[tokio::test]
async fn a_second_patch_on_a_busy_session_is_refused() {
    let serve = Serve::start(&[]);
    let addr = serve.addr();
    let location = session(addr, "r").await;
    let first = data(10_000, 5);
    let mut patch = RawConn::open(addr, "PATCH", &location, &[], first.len()).await;
    patch.send(&first[..10]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = raw(addr, "PATCH", &location, &[], &data(10_000, 6)).await;
    assert_eq!(second.status, 416, "{second:?}");
    assert_eq!(second.code(), "BLOB_UPLOAD_INVALID");
    patch.send(&first[10..]).await;
    assert_eq!(patch.answer().await.status, 202);
    assert_eq!(upload_size(addr, &location).await, 10_000);
}

/// A PATCH whose client goes away half-way is cut back to the size before
/// it; the session is usable at once (no writer left behind) and the
/// finished blob is exactly the chunks that completed.
#[tokio::test]
async fn a_patch_that_dies_half_way_leaves_the_upload_resumable() {
    let serve = Serve::start(&[]);
    let addr = serve.addr();
    let location = session(addr, "r").await;
    let first = data(30_000, 7);
    assert_eq!(raw(addr, "PATCH", &location, &[], &first).await.status, 202);
    let mut dying = RawConn::open(addr, "PATCH", &location, &[], 50_000).await;
    dying.send(&data(20_000, 8)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(dying);
    // The session is released when the dropped chunk is cut back.
    let deadline = Instant::now() + Duration::from_secs(10);
    let second = data(5_000, 9);
    loop {
        let a = raw(
            addr,
            "PATCH",
            &location,
            &[("Content-Range", "30000-34999")],
            &second,
        )
        .await;
        if a.status == 202 {
            assert_eq!(a.header("range"), Some("0-34999"));
            break;
        }
        assert!(
            a.status == 416 && Instant::now() < deadline,
            "resume after a dropped PATCH: {a:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let whole = [first, second].concat();
    let d = Digest::sha256_of(&whole);
    let a = raw(addr, "PUT", &with_digest(&location, &d), &[], b"").await;
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(assert_never_served_wrong(addr, "r", &d).await, 200);
}

/// A store damaged before the fix (a blob whose bytes do not match its
/// digest) heals: the bad blob is not served, and the next genuine push,
/// into any repository, replaces it.
#[tokio::test]
async fn a_poisoned_blob_is_not_served_and_a_genuine_push_replaces_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let genuine = data(20_000, 10);
    let d = Digest::sha256_of(&genuine);
    {
        // Poison the store the way the race did: the right digest, longer
        // content, linked into a repository.
        let serve = Serve::start_with_root(&root, &[]);
        let a = raw(
            serve.addr(),
            "POST",
            &format!("/v2/attacker/blobs/uploads/?digest={d}"),
            &[],
            &genuine,
        )
        .await;
        assert_eq!(a.status, 201, "{a:?}");
        serve.kill();
    }
    let blob = root.join(format!(
        "docker/registry/v2/blobs/sha256/{}/{}/data",
        &d.hex()[..2],
        d.hex()
    ));
    let mut bad = genuine.clone();
    bad.extend_from_slice(&data(1_900, 11));
    std::fs::write(&blob, &bad).unwrap();
    let serve = Serve::start_with_root(&root, &[]);
    let addr = serve.addr();
    for method in ["GET", "HEAD"] {
        let a = raw(addr, method, &format!("/v2/attacker/blobs/{d}"), &[], b"").await;
        assert_eq!(a.status, 404, "{method} of a poisoned blob: {a:?}");
    }
    // A mount from the poisoned repository does not spread it.
    let a = raw(
        addr,
        "POST",
        &format!("/v2/other/blobs/uploads/?mount={d}&from=attacker"),
        &[],
        b"",
    )
    .await;
    assert_eq!(a.status, 202, "mount of a poisoned blob: {a:?}");
    // The genuine push into another repository replaces the bad bytes.
    let a = raw(
        addr,
        "POST",
        &format!("/v2/genuine/blobs/uploads/?digest={d}"),
        &[],
        &genuine,
    )
    .await;
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(std::fs::read(&blob).unwrap(), genuine);
    for repo in ["genuine", "attacker"] {
        assert_eq!(
            assert_never_served_wrong(addr, repo, &d).await,
            200,
            "{repo}"
        );
    }
}
