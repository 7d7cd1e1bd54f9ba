//! The backend contract (docs/storage-backend.md) as tests any backend can
//! be plugged into: each check takes a `&dyn Backend` over an empty store.
//! `fs/mod.rs` runs them against [`super::FsBackend`]; a new backend adds one
//! test calling [`check_all`].

use std::io;

use bytes::Bytes;
use futures_util::TryStreamExt;
use tokio::io::AsyncReadExt;

use crate::storage::backend::{Backend, ByteStream, ChunkSink};

struct Count(u64);

impl ChunkSink for Count {
    fn chunk(&mut self, data: &[u8]) {
        self.0 += data.len() as u64;
    }
}

fn body(parts: &[&'static [u8]]) -> ByteStream {
    let items: Vec<io::Result<Bytes>> = parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
    Box::pin(futures_util::stream::iter(items))
}

async fn read_all(b: &dyn Backend, key: &str) -> Option<Vec<u8>> {
    let mut r = b.reader(key, 0, None).await.unwrap()?;
    let mut out = Vec::new();
    r.read_to_end(&mut out).await.unwrap();
    Some(out)
}

/// Missing keys are `None` or empty, never errors; deleting nothing is fine.
pub async fn missing_keys_are_absent(b: &dyn Backend) {
    assert!(b.get("c/missing").await.unwrap().is_none());
    assert!(b.stat("c/missing").await.unwrap().is_none());
    assert!(b.reader("c/missing", 0, None).await.unwrap().is_none());
    assert!(b.stream("c/missing", 0, None, 4).await.unwrap().is_none());
    assert!(b.list("c/missing").await.unwrap().is_empty());
    assert!(b.walk("c/missing", 1024).await.unwrap().is_empty());
    b.delete("c/missing").await.unwrap();
    assert_eq!(
        b.get_many(vec!["c/missing".into()]).await.unwrap(),
        vec![None]
    );
}

/// `put` replaces whole: readers see the old or the new object, and a
/// put is visible to the next `get` of the same process (read-after-write).
pub async fn put_replaces_whole_and_reads_back(b: &dyn Backend) {
    b.put("p/link", Bytes::from_static(b"old")).await.unwrap();
    assert_eq!(b.get("p/link").await.unwrap().unwrap(), "old");
    b.put("p/link", Bytes::from_static(b"newer")).await.unwrap();
    assert_eq!(b.get("p/link").await.unwrap().unwrap(), "newer");
    let meta = b.stat("p/link").await.unwrap().unwrap();
    assert_eq!((meta.size, meta.is_dir), (5, false));
    assert!(b.stat("p").await.unwrap().unwrap().is_dir);
    // Concurrent replaces of one key: the result is one of them, whole.
    let (x, y) = tokio::join!(
        b.put("p/race", Bytes::from(vec![b'x'; 64 * 1024])),
        b.put("p/race", Bytes::from(vec![b'y'; 64 * 1024])),
    );
    x.unwrap();
    y.unwrap();
    let got = b.get("p/race").await.unwrap().unwrap();
    assert!(got.iter().all(|c| *c == got[0]) && got.len() == 64 * 1024);
}

/// `append` is all or nothing per call, and `commit` moves the whole
/// object to its final key, replacing what was there.
pub async fn append_is_all_or_nothing_and_commit_moves(b: &dyn Backend) {
    let mut sink = Count(0);
    assert_eq!(
        b.append("u/1/data", body(&[b"he", b"llo"]), &mut sink)
            .await
            .unwrap(),
        5
    );
    assert_eq!(sink.0, 5);
    let failing: ByteStream = Box::pin(futures_util::stream::iter([
        Ok(Bytes::from_static(b" more")),
        Err(io::Error::other("client went away")),
    ]));
    assert!(b.append("u/1/data", failing, &mut sink).await.is_err());
    assert_eq!(b.stat("u/1/data").await.unwrap().unwrap().size, 5);
    b.append("u/1/data", body(&[b"!"]), &mut sink)
        .await
        .unwrap();
    b.commit("u/1/data", "blobs/ab/x/data").await.unwrap();
    assert!(b.stat("u/1/data").await.unwrap().is_none());
    assert_eq!(read_all(b, "blobs/ab/x/data").await.unwrap(), b"hello!");
    // Ranges.
    let parts: Vec<Bytes> = b
        .stream("blobs/ab/x/data", 1, Some(3), 2)
        .await
        .unwrap()
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(parts.concat(), b"ell");
    // Write-once content: committing the same bytes again is fine.
    b.append("u/2/data", body(&[b"hello!"]), &mut sink)
        .await
        .unwrap();
    b.commit("u/2/data", "blobs/ab/x/data").await.unwrap();
    assert_eq!(read_all(b, "blobs/ab/x/data").await.unwrap(), b"hello!");
}

/// `list` names direct children, sorted; `walk` every key below, sorted,
/// with small objects' content; neither shows temporaries.
pub async fn list_and_walk_see_the_tree(b: &dyn Backend) {
    for key in ["w/b/link", "w/a/x/link", "w/a/y", "w/c"] {
        b.put(key, Bytes::from(key.to_owned())).await.unwrap();
    }
    assert_eq!(b.list("w").await.unwrap(), ["a", "b", "c"]);
    let walked = b.walk("w", 8).await.unwrap();
    let keys: Vec<&str> = walked.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["a", "a/x", "a/x/link", "a/y", "b", "b/link", "c"]);
    let content = |k: &str| walked.iter().find(|e| e.key == k).unwrap().content.clone();
    assert_eq!(content("c").unwrap(), "w/c");
    assert!(content("a/x/link").is_none(), "over read_up_to: not read");
    assert!(walked.iter().find(|e| e.key == "a").unwrap().meta.is_dir);
}

/// `leaves` finds the directories at a depth and what lies at the leaf
/// under each (read when small enough), whatever else is beside it.
pub async fn leaves_find_links_by_their_directory(b: &dyn Backend) {
    for (key, data) in [
        ("l/sha256/aa/link", "abc"),
        ("l/sha256/bb/link", "too long to read"),
        ("l/sha256/bb/other", "x"),
        ("l/sha256/cc/nested/y", "x"),
        ("l/top", "a file, not a directory"),
        ("l/tags/t1/current/link", "target"),
        ("l/tags/t1/index/sha256/ab/link", "old"),
    ] {
        b.put(key, Bytes::from(data)).await.unwrap();
    }
    let found = |leaves: Vec<super::Leaf>| -> Vec<(String, Option<u64>, Option<Bytes>)> {
        leaves
            .into_iter()
            .map(|l| (l.dir, l.meta.map(|m| m.size), l.content))
            .collect()
    };
    let one = b.leaves("l/sha256", 1, "link", 4).await.unwrap();
    assert_eq!(
        found(one),
        [
            ("aa".into(), Some(3), Some(Bytes::from("abc"))),
            ("bb".into(), Some(16), None),
            ("cc".into(), None, None),
        ]
    );
    let two = b.leaves("l", 2, "link", 0).await.unwrap();
    assert_eq!(
        found(two),
        [
            ("sha256/aa".into(), Some(3), None),
            ("sha256/bb".into(), Some(16), None),
            ("sha256/cc".into(), None, None),
            ("tags/t1".into(), None, None),
        ]
    );
    let tags = b.leaves("l/tags", 1, "current/link", 64).await.unwrap();
    assert_eq!(
        found(tags),
        [("t1".into(), Some(6), Some(Bytes::from("target")))]
    );
    assert!(
        b.leaves("l/missing", 1, "link", 64)
            .await
            .unwrap()
            .is_empty()
    );
}

/// `dirs_holding` finds directories holding a marker at any depth, nested
/// ones too, without looking inside `_` and `.` names.
pub async fn dirs_holding_finds_nested_markers(b: &dyn Backend) {
    for key in [
        "r/_manifests/top",
        "r/a/_manifests/x",
        "r/a/b/_manifests/y",
        "r/c/d/_manifests/z",
        "r/c/d/_layers/e/_manifests/no",
        "r/_hidden/f/_manifests/no",
        "r/.dot/g/_manifests/no",
        "r/h/plain",
    ] {
        b.put(key, Bytes::from_static(b"x")).await.unwrap();
    }
    assert_eq!(
        b.dirs_holding("r", "_manifests").await.unwrap(),
        ["a", "a/b", "c/d"]
    );
    assert!(
        b.dirs_holding("r/missing", "_manifests")
            .await
            .unwrap()
            .is_empty()
    );
}

/// `delete` removes a key and everything under it; the batched forms do
/// what their one-key forms do.
pub async fn deletes_remove_trees(b: &dyn Backend) {
    // `d/3/keep` keeps `d/3` a prefix with a key under it: an emptied
    // prefix may or may not be listed (a directory on a filesystem, nothing
    // on an object store).
    for key in ["d/1/data", "d/1/extra", "d/2/data", "d/3/data", "d/3/keep"] {
        b.put(key, Bytes::from_static(b"x")).await.unwrap();
    }
    b.delete("d/1").await.unwrap();
    assert!(b.stat("d/1/data").await.unwrap().is_none());
    let stats = b
        .stat_many(vec!["d/1/data".into(), "d/2/data".into()])
        .await
        .unwrap();
    assert!(stats[0].is_none() && stats[1].is_some());
    b.delete_many(vec!["d/2".into(), "d/3/data".into(), "d/none".into()])
        .await
        .unwrap();
    assert_eq!(b.list("d").await.unwrap(), ["3"]);
    assert_eq!(b.list("d/3").await.unwrap(), ["keep"]);

    // Directories holding their leaf, more than it, something else, or
    // nothing; a key that is an object itself.
    for key in [
        "e/1/link",
        "e/2/link",
        "e/2/more/x",
        "e/3/other",
        "e/4",
        "e/5/keep",
    ] {
        b.put(key, Bytes::from_static(b"x")).await.unwrap();
    }
    let gone = ["e/1", "e/2", "e/3", "e/4", "e/missing"];
    b.delete_many_with_leaf(gone.iter().map(|k| k.to_string()).collect(), "link")
        .await
        .unwrap();
    assert_eq!(b.list("e").await.unwrap(), ["5"]);
}

/// Every check, in turn, on one empty store.
pub async fn check_all(b: &dyn Backend) {
    missing_keys_are_absent(b).await;
    put_replaces_whole_and_reads_back(b).await;
    append_is_all_or_nothing_and_commit_moves(b).await;
    list_and_walk_see_the_tree(b).await;
    leaves_find_links_by_their_directory(b).await;
    dirs_holding_finds_nested_markers(b).await;
    deletes_remove_trees(b).await;
}
