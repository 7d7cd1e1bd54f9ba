//! The byte store under the registry layout: a narrow key/byte interface
//! (after distribution's `StorageDriver`) so that an object-store backend can
//! replace the filesystem without anything above this trait changing.

use std::io;
use std::pin::Pin;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;
use tokio::io::AsyncRead;

/// A stream of body chunks handed to the backend.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;
/// A reader over stored bytes.
pub type ByteReader = Pin<Box<dyn AsyncRead + Send>>;

/// What `stat` knows about a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub size: u64,
    pub modified: SystemTime,
    pub is_dir: bool,
}

/// One key found by [`Backend::walk`].
#[derive(Debug, Clone)]
pub struct WalkEntry {
    /// The key relative to the walked prefix (`a/b/link`).
    pub key: String,
    pub meta: Meta,
    /// The content of an object of at most the walk's `read_up_to` bytes.
    pub content: Option<Bytes>,
}

/// One directory found by [`Backend::leaves`], with the object at its leaf.
#[derive(Debug, Clone)]
pub struct Leaf {
    /// The directory relative to the prefix (`HEX`, `ab/HEX`).
    pub dir: String,
    /// What [`Backend::stat`] says of `DIR/LEAF`: `None` when it is missing.
    pub meta: Option<Meta>,
    /// Its content, when asked for and at most the limit.
    pub content: Option<Bytes>,
}

/// Receives each chunk written by [`Backend::append`], e.g. to hash it.
pub trait ChunkSink: Send {
    fn chunk(&mut self, data: &[u8]);
}

/// Conditional writes, for several servers coordinating through one store
/// (the collection lease of `cluster.rs`). Only a store shared by several
/// processes has them: a directory is owned by one server (its root lock).
#[async_trait]
pub trait Coordination: Send + Sync {
    /// Writes `key` only if it does not exist; `false` when it does.
    async fn create(&self, key: &str, data: Bytes) -> io::Result<bool>;
    /// The content of `key` and its version (what [`Coordination::replace_if`] takes).
    async fn get_versioned(&self, key: &str) -> io::Result<Option<(Bytes, String)>>;
    /// Replaces `key` only if it is still at `version`; `false` otherwise.
    async fn replace_if(&self, key: &str, data: Bytes, version: &str) -> io::Result<bool>;
}

/// A key/byte store. Keys are `/`-separated relative paths built by
/// [`super::paths`]; a key that does not exist is `Ok(None)`, never an error.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The whole content of a small object (links, manifests).
    async fn get(&self, key: &str) -> io::Result<Option<Bytes>>;
    /// Replaces a small object atomically: readers see old or new, never part.
    async fn put(&self, key: &str, data: Bytes) -> io::Result<()>;
    async fn stat(&self, key: &str) -> io::Result<Option<Meta>>;
    /// Reads `len` bytes (or to the end) starting at `offset`.
    async fn reader(
        &self,
        key: &str,
        offset: u64,
        len: Option<u64>,
    ) -> io::Result<Option<ByteReader>>;
    /// The same bytes as [`Backend::reader`], as a stream of chunks of about
    /// `chunk` bytes (what an HTTP body wants). Backends may do better than
    /// wrapping the reader.
    async fn stream(
        &self,
        key: &str,
        offset: u64,
        len: Option<u64>,
        chunk: usize,
    ) -> io::Result<Option<ByteStream>> {
        Ok(self
            .reader(key, offset, len)
            .await?
            .map(|r| Box::pin(tokio_util::io::ReaderStream::with_capacity(r, chunk)) as ByteStream))
    }
    /// Appends a stream to an object, creating it; returns the bytes written.
    /// Every chunk is shown to `sink` as it goes by. On error the object is
    /// cut back to its size before the call (best effort), so a failed
    /// chunk leaves nothing half-written and an upload resumes from the size
    /// `stat` reports.
    async fn append(
        &self,
        key: &str,
        body: ByteStream,
        sink: &mut dyn ChunkSink,
    ) -> io::Result<u64>;
    /// Makes `from` durable and moves it to `to`, replacing `to` atomically.
    async fn commit(&self, from: &str, to: &str) -> io::Result<()>;
    /// Names directly under a prefix, sorted; empty when it does not exist.
    async fn list(&self, prefix: &str) -> io::Result<Vec<String>>;
    /// Deletes a key and everything under it; deleting nothing is fine.
    async fn delete(&self, key: &str) -> io::Result<()>;

    /// Every key under `prefix`, recursively, directories included (with
    /// `is_dir`; a directory's size and time are not meaningful), sorted by key; objects of at most `read_up_to` bytes come
    /// with their content (a walk reads links as it goes). Empty when the
    /// prefix does not exist. A backend does this in as few round trips as
    /// it can: garbage collection and `du` walk a whole root with it.
    async fn walk(&self, prefix: &str, read_up_to: u64) -> io::Result<Vec<WalkEntry>> {
        let mut out = Vec::new();
        let mut pending = vec![String::new()];
        while let Some(rel) = pending.pop() {
            let dir = if rel.is_empty() {
                prefix.to_owned()
            } else {
                format!("{prefix}/{rel}")
            };
            for name in self.list(&dir).await? {
                let key = if rel.is_empty() {
                    name.clone()
                } else {
                    format!("{rel}/{name}")
                };
                let Some(meta) = self.stat(&format!("{dir}/{name}")).await? else {
                    continue;
                };
                let content = if !meta.is_dir && meta.size <= read_up_to {
                    self.get(&format!("{dir}/{name}")).await?
                } else {
                    None
                };
                if meta.is_dir {
                    pending.push(key.clone());
                }
                out.push(WalkEntry { key, meta, content });
            }
        }
        out.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// The directories exactly `depth` levels under `prefix`, each with
    /// the object at `DIR/leaf` (`leaf` may hold `/`) and, when that is at
    /// most `read_up_to` bytes, its content; sorted by directory, empty
    /// when the prefix does not exist. This is the shape of registry:2's
    /// layout: `revisions/sha256` is `HEX/link` at depth 1, `tags` is
    /// `TAG/current/link`, `blobs/sha256` is `ab/HEX/data` at depth 2.
    /// What a walk would list besides (tag histories, a blob's siblings of
    /// `data`) is not read: a filesystem looks the leaf up by name instead
    /// of listing each directory of the last level.
    async fn leaves(
        &self,
        prefix: &str,
        depth: usize,
        leaf: &str,
        read_up_to: u64,
    ) -> io::Result<Vec<Leaf>> {
        let entries = self.walk(prefix, 0).await?;
        let objects: std::collections::HashMap<&str, &Meta> = entries
            .iter()
            .filter(|e| !e.meta.is_dir)
            .map(|e| (e.key.as_str(), &e.meta))
            .collect();
        let mut out: Vec<Leaf> = entries
            .iter()
            .filter(|e| e.meta.is_dir && e.key.split('/').count() == depth)
            .map(|e| Leaf {
                meta: objects
                    .get(format!("{}/{leaf}", e.key).as_str())
                    .copied()
                    .cloned(),
                dir: e.key.clone(),
                content: None,
            })
            .collect();
        let small: Vec<usize> = (0..out.len())
            .filter(|i| out[*i].meta.as_ref().is_some_and(|m| m.size <= read_up_to))
            .collect();
        let keys = small
            .iter()
            .map(|i| format!("{prefix}/{}/{leaf}", out[*i].dir))
            .collect();
        for (i, content) in small.into_iter().zip(self.get_many(keys).await?) {
            out[i].content = content;
        }
        Ok(out)
    }

    /// Every directory under `prefix` (the prefix itself left out) that
    /// holds a key named `marker`, relative to the prefix and sorted;
    /// directories whose names start with `_` or `.` are not descended
    /// into. How the catalog finds repositories (`_manifests`).
    async fn dirs_holding(&self, prefix: &str, marker: &str) -> io::Result<Vec<String>> {
        let hidden = |dir: &str| {
            dir.split('/')
                .any(|c| c.starts_with('_') || c.starts_with('.'))
        };
        let mut out: Vec<String> = self
            .walk(prefix, 0)
            .await?
            .into_iter()
            .filter_map(|e| {
                let dir = e.key.strip_suffix(marker)?.strip_suffix('/')?;
                (!hidden(dir)).then(|| dir.to_owned())
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// The content of many small objects at once, in the order asked
    /// (`None` where a key does not exist).
    async fn get_many(&self, keys: Vec<String>) -> io::Result<Vec<Option<Bytes>>> {
        let mut out = Vec::with_capacity(keys.len());
        for key in &keys {
            out.push(self.get(key).await?);
        }
        Ok(out)
    }

    /// What [`Backend::stat`] says of many keys, in the order asked.
    async fn stat_many(&self, keys: Vec<String>) -> io::Result<Vec<Option<Meta>>> {
        let mut out = Vec::with_capacity(keys.len());
        for key in &keys {
            out.push(self.stat(key).await?);
        }
        Ok(out)
    }

    /// Conditional writes, when several servers may share this store.
    fn coordination(&self) -> Option<&dyn Coordination> {
        None
    }

    /// Whether one [`Backend::walk`] of a large prefix is cheaper than a
    /// `list` per directory (an object store lists 1,000 keys a request,
    /// whatever their depth; a filesystem reads directory by directory).
    fn prefers_walk(&self) -> bool {
        false
    }

    /// Deletes many keys (each as [`Backend::delete`]) in as few round
    /// trips as the backend can.
    async fn delete_many(&self, keys: Vec<String>) -> io::Result<()> {
        for key in &keys {
            self.delete(key).await?;
        }
        Ok(())
    }

    /// [`Backend::delete_many`] of directories that normally hold only
    /// `leaf` (a link, a blob's `data`): what the collector removes. A
    /// filesystem removes the leaf and the directory by name instead of
    /// listing each directory first; anything else found there is removed
    /// too, as `delete_many` would.
    async fn delete_many_with_leaf(&self, keys: Vec<String>, leaf: &str) -> io::Result<()> {
        let _ = leaf;
        self.delete_many(keys).await
    }
}
