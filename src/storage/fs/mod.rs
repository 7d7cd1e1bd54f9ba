//! The filesystem backend: registry:2's `filesystem` driver layout.

use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::durable;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::backend::{Backend, ByteReader, ByteStream, ChunkSink, Leaf, Meta};

mod walks;

/// Body frames queued for the writer thread (frames are 16–64 KiB).
const APPEND_QUEUE: usize = 64;

/// Writes gathered from body frames.
const APPEND_BUFFER: usize = 1024 * 1024;

/// Bytes of an upload after which the kernel is asked to start writing
/// them out (see [`start_writeback`]).
const WRITEBACK_EVERY: usize = 8 * 1024 * 1024;

/// Asks the kernel to start writing a file's dirty pages now, without
/// waiting: a large upload then reaches the disk while it arrives, and the
/// `fsync` at commit has little left to do. Advisory; errors are ignored.
#[cfg(target_os = "linux")]
fn start_writeback(file: &std::fs::File) {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid open descriptor; offset 0 and length 0 mean the whole
    // file; SYNC_FILE_RANGE_WRITE only starts writeback of dirty pages.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &std::fs::File) {}

/// Objects at least this large are streamed from a memory map.
const MMAP_MIN: u64 = 1024 * 1024;

/// A large object as slices of a memory map: the body is written to the
/// socket straight from the page cache, one copy fewer than `read` (blob
/// GET: 2,700 MiB/s instead of 2,000; registry:2, with `sendfile`, 2,300).
/// `None` (read it instead) for small objects or where mapping fails.
///
/// Objects are never modified in place: blobs and manifests are written to
/// a temporary file and renamed, and deleted by unlinking, which leaves a
/// live mapping intact. Only someone truncating a file inside the storage
/// root behind the server's back could make a mapped read fault; the root
/// is trusted (see the README's Security section).
fn mapped(file: &std::fs::File, offset: u64, len: Option<u64>, chunk: usize) -> Option<ByteStream> {
    let size = file.metadata().ok()?.len();
    let end = len.map_or(size, |l| offset.saturating_add(l).min(size));
    if end.saturating_sub(offset) < MMAP_MIN {
        return None;
    }
    // SAFETY: see above: the file is never truncated or rewritten while
    // the server runs; the map lives as long as the last chunk sliced from it.
    let map = unsafe { memmap2::Mmap::map(file) }.ok()?;
    let _ = map.advise(memmap2::Advice::Sequential);
    let data = Bytes::from_owner(map).slice(offset as usize..end as usize);
    let chunks = (0..data.len()).step_by(chunk.max(1)).map(move |i| {
        let j = (i + chunk).min(data.len());
        Ok(data.slice(i..j))
    });
    Some(Box::pin(futures_util::stream::iter(chunks)))
}

/// Stores keys as files under a root directory.
#[derive(Debug, Clone)]
pub struct FsBackend {
    root: PathBuf,
}

impl FsBackend {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FsBackend { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> PathBuf {
        // Keys come from `paths`, built from validated names; this guard
        // makes a mistake there fail closed instead of escaping the root.
        debug_assert!(!key.split('/').any(|c| c == ".." || c.is_empty()));
        self.root.join(key)
    }
}

fn meta_of(m: &std::fs::Metadata) -> Meta {
    Meta {
        size: m.len(),
        modified: m.modified().unwrap_or(std::time::UNIX_EPOCH),
        is_dir: m.is_dir(),
    }
}

/// A small file's content (links, manifests): `std::fs::read` without its
/// `statx` for a size hint, and the buffer exactly the content's size.
fn read_small(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut buf = [0u8; 16 * 1024];
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => return Ok(buf[..filled].to_vec()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let mut data = buf.to_vec();
    file.read_to_end(&mut data)?;
    Ok(data)
}

/// [`Backend::delete`] on the calling (blocking) thread.
fn delete_blocking(path: &Path) -> io::Result<()> {
    let Some(meta) = not_found_is_none(std::fs::symlink_metadata(path)).map_err(|e| at(path, e))?
    else {
        return Ok(());
    };
    let r = if meta.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    not_found_is_none(r).map(drop).map_err(|e| at(path, e))
}

/// [`Backend::delete_many_with_leaf`] of one directory: `unlink` of the
/// leaf and `rmdir`, two calls where a listing delete takes ten; anything
/// else (more in it, no directory there) goes the general way.
fn delete_dir_with_leaf(path: &Path, leaf: &str) -> io::Result<()> {
    let leaf_removed = match std::fs::remove_file(path.join(leaf)) {
        Ok(()) => true,
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(_) => return delete_blocking(path),
    };
    match std::fs::remove_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound && !leaf_removed => Ok(()),
        Err(_) => delete_blocking(path),
    }
}

/// Threads one [`Backend::delete_many`] batch is spread over. A delete is
/// a few metadata syscalls that mostly wait on the filesystem's locks and
/// journal, not on the CPU, so a few run well side by side even on 2 cores.
const DELETE_THREADS: usize = 8;

/// Deletes `paths` on up to [`DELETE_THREADS`] threads (from the calling
/// blocking thread); the first error is returned once all are done.
fn delete_in_parallel(
    paths: &[PathBuf],
    delete: impl Fn(&Path) -> io::Result<()> + Sync,
) -> io::Result<()> {
    let threads = DELETE_THREADS.min(paths.len().div_ceil(32)).max(1);
    if threads == 1 {
        return paths.iter().try_for_each(|p| delete(p));
    }
    let share = paths.len().div_ceil(threads);
    let delete = &delete;
    std::thread::scope(|scope| {
        let workers: Vec<_> = paths
            .chunks(share)
            .map(|part| scope.spawn(move || part.iter().try_for_each(|p| delete(p))))
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join()
                .unwrap_or_else(|_| Err(io::Error::other("a delete thread panicked")))
        })
    })
}

/// Runs filesystem work on the blocking pool: one hop for a whole batch.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(io::Error::other)?
}

fn not_found_is_none<T>(r: io::Result<T>) -> io::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The error naming the file it happened on (same kind), so that a
/// message such as "Permission denied" says where.
fn at(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

async fn ensure_parent(path: &Path) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    Ok(())
}

#[async_trait]
impl Backend for FsBackend {
    async fn get(&self, key: &str) -> io::Result<Option<Bytes>> {
        let path = self.path(key);
        not_found_is_none(tokio::fs::read(&path).await)
            .map(|o| o.map(Bytes::from))
            .map_err(|e| at(&path, e))
    }

    async fn put(&self, key: &str, data: Bytes) -> io::Result<()> {
        let path = self.path(key);
        blocking(move || durable::write(&path, &data)).await
    }

    async fn stat(&self, key: &str) -> io::Result<Option<Meta>> {
        let path = self.path(key);
        let m = not_found_is_none(tokio::fs::metadata(&path).await).map_err(|e| at(&path, e))?;
        Ok(m.as_ref().map(meta_of))
    }

    async fn reader(
        &self,
        key: &str,
        offset: u64,
        len: Option<u64>,
    ) -> io::Result<Option<ByteReader>> {
        let Some(mut f) = not_found_is_none(tokio::fs::File::open(self.path(key)).await)? else {
            return Ok(None);
        };
        if offset > 0 {
            f.seek(io::SeekFrom::Start(offset)).await?;
        }
        Ok(Some(match len {
            Some(n) => Box::pin(f.take(n)),
            None => Box::pin(f),
        }))
    }

    /// Reads on one blocking thread straight into the chunks handed to the
    /// body: one copy and one thread hop per chunk fewer than a tokio
    /// `File` behind a `ReaderStream`.
    async fn stream(
        &self,
        key: &str,
        offset: u64,
        len: Option<u64>,
        chunk: usize,
    ) -> io::Result<Option<ByteStream>> {
        let path = self.path(key);
        let opened = tokio::task::spawn_blocking(move || -> io::Result<Option<std::fs::File>> {
            let Some(mut f) = not_found_is_none(std::fs::File::open(path))? else {
                return Ok(None);
            };
            if offset > 0 {
                std::io::Seek::seek(&mut f, io::SeekFrom::Start(offset))?;
            }
            Ok(Some(f))
        })
        .await
        .map_err(io::Error::other)??;
        let Some(file) = opened else {
            return Ok(None);
        };
        if let Some(stream) = mapped(&file, offset, len, chunk) {
            return Ok(Some(stream));
        }
        // A few chunks in flight keep the disk and the socket both busy.
        let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(4);
        tokio::task::spawn_blocking(move || {
            let mut file = std::io::Read::take(file, len.unwrap_or(u64::MAX));
            loop {
                let mut buf = bytes::BytesMut::zeroed(chunk);
                let n = match std::io::Read::read(&mut file, &mut buf) {
                    Ok(0) => return,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                };
                buf.truncate(n);
                // The receiver is gone when the client hung up.
                if tx.blocking_send(Ok(buf.freeze())).is_err() {
                    return;
                }
            }
        });
        Ok(Some(Box::pin(futures_util::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|item| (item, rx)) },
        ))))
    }

    /// Hashing (the sink, on the caller's task) and writing (a blocking
    /// thread fed through a queue) overlap, so an upload goes at the pace of
    /// the slower of the two rather than their sum.
    async fn append(
        &self,
        key: &str,
        mut body: ByteStream,
        sink: &mut dyn ChunkSink,
    ) -> io::Result<u64> {
        let path = self.path(key);
        ensure_parent(&path).await?;
        let start = match tokio::fs::metadata(&path).await {
            Ok(m) => m.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e),
        };
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(APPEND_QUEUE);
        let target = path.clone();
        let writer = tokio::task::spawn_blocking(move || -> io::Result<()> {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&target)?;
            // Request bodies arrive in small frames: gather them into large writes.
            let mut out = std::io::BufWriter::with_capacity(APPEND_BUFFER, &file);
            let mut unsynced = 0usize;
            while let Some(chunk) = rx.blocking_recv() {
                std::io::Write::write_all(&mut out, &chunk)?;
                unsynced += chunk.len();
                if unsynced >= WRITEBACK_EVERY {
                    std::io::Write::flush(&mut out)?;
                    start_writeback(&file);
                    unsynced = 0;
                }
            }
            std::io::Write::flush(&mut out)
        });
        let mut written = 0u64;
        let mut failure = None;
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(chunk) => {
                    sink.chunk(&chunk);
                    written += chunk.len() as u64;
                    // A closed queue means the writer failed; its error follows.
                    if tx.send(chunk).await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        drop(tx);
        let wrote = writer.await.map_err(io::Error::other)?;
        if let Some(e) = failure.or(wrote.err()) {
            // All or nothing: a chunk that failed half-way (the client went
            // away, sent too much) is cut off again, so the object keeps the
            // size it had and the client can resume from there.
            let cut = tokio::fs::OpenOptions::new().write(true).open(&path).await;
            if let Err(t) = match cut {
                Ok(f) => f.set_len(start).await,
                Err(t) => Err(t),
            } {
                tracing::warn!(key, error = %t, "could not cut a failed append back");
            }
            return Err(e);
        }
        Ok(written)
    }

    async fn commit(&self, from: &str, to: &str) -> io::Result<()> {
        let (from, to) = (self.path(from), self.path(to));
        blocking(move || {
            std::fs::File::open(&from)
                .and_then(|f| f.sync_all())
                .map_err(|e| at(&from, e))?;
            durable::rename(&from, &to)
        })
        .await
    }

    async fn list(&self, prefix: &str) -> io::Result<Vec<String>> {
        // One trip to the blocking pool per directory (tokio's `read_dir`
        // makes several): a catalog walk lists every repository directory.
        let dir = self.path(prefix);
        tokio::task::spawn_blocking(move || {
            let Some(rd) = not_found_is_none(std::fs::read_dir(&dir)).map_err(|e| at(&dir, e))?
            else {
                return Ok(Vec::new());
            };
            let mut names = Vec::new();
            for entry in rd {
                if let Some(name) = entry.map_err(|e| at(&dir, e))?.file_name().to_str()
                    && !name.starts_with(durable::TEMP_PREFIX)
                {
                    names.push(name.to_owned());
                }
            }
            names.sort_unstable();
            Ok(names)
        })
        .await
        .map_err(io::Error::other)?
    }

    async fn delete(&self, key: &str) -> io::Result<()> {
        let path = self.path(key);
        blocking(move || delete_blocking(&path)).await
    }

    async fn leaves(
        &self,
        prefix: &str,
        depth: usize,
        leaf: &str,
        read_up_to: u64,
    ) -> io::Result<Vec<Leaf>> {
        let (base, leaf) = (self.path(prefix), leaf.to_owned());
        blocking(move || walks::leaves_blocking(&base, depth, &leaf, read_up_to)).await
    }

    async fn dirs_holding(&self, prefix: &str, marker: &str) -> io::Result<Vec<String>> {
        let (base, marker) = (self.path(prefix), marker.to_owned());
        blocking(move || walks::dirs_holding_blocking(&base, &marker)).await
    }

    async fn get_many(&self, keys: Vec<String>) -> io::Result<Vec<Option<Bytes>>> {
        let paths: Vec<PathBuf> = keys.iter().map(|k| self.path(k)).collect();
        blocking(move || {
            paths
                .iter()
                .map(|p| {
                    not_found_is_none(read_small(p))
                        .map(|o| o.map(Bytes::from))
                        .map_err(|e| at(p, e))
                })
                .collect()
        })
        .await
    }

    async fn stat_many(&self, keys: Vec<String>) -> io::Result<Vec<Option<Meta>>> {
        let paths: Vec<PathBuf> = keys.iter().map(|k| self.path(k)).collect();
        blocking(move || {
            paths
                .iter()
                .map(|p| {
                    not_found_is_none(std::fs::metadata(p))
                        .map(|m| m.as_ref().map(meta_of))
                        .map_err(|e| at(p, e))
                })
                .collect()
        })
        .await
    }

    async fn delete_many(&self, keys: Vec<String>) -> io::Result<()> {
        let paths: Vec<PathBuf> = keys.iter().map(|k| self.path(k)).collect();
        blocking(move || delete_in_parallel(&paths, delete_blocking)).await
    }

    async fn delete_many_with_leaf(&self, keys: Vec<String>, leaf: &str) -> io::Result<()> {
        let paths: Vec<PathBuf> = keys.iter().map(|k| self.path(k)).collect();
        let leaf = leaf.to_owned();
        blocking(move || delete_in_parallel(&paths, |p| delete_dir_with_leaf(p, &leaf))).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Count(u64);
    impl ChunkSink for Count {
        fn chunk(&mut self, d: &[u8]) {
            self.0 += d.len() as u64;
        }
    }

    fn stream(parts: &[&'static [u8]]) -> ByteStream {
        let items: Vec<io::Result<Bytes>> =
            parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        Box::pin(futures_util::stream::iter(items))
    }

    #[tokio::test]
    async fn fs_backend_meets_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        crate::storage::contract::check_all(&FsBackend::new(dir.path())).await;
    }

    /// Only the required operations, forwarded: the trait's default
    /// `walk`, `get_many`, `stat_many` and `delete_many` (what a new
    /// backend starts from) meet the contract too.
    struct Minimal(FsBackend);

    #[async_trait]
    impl Backend for Minimal {
        async fn get(&self, key: &str) -> io::Result<Option<Bytes>> {
            self.0.get(key).await
        }
        async fn put(&self, key: &str, data: Bytes) -> io::Result<()> {
            self.0.put(key, data).await
        }
        async fn stat(&self, key: &str) -> io::Result<Option<Meta>> {
            self.0.stat(key).await
        }
        async fn reader(
            &self,
            key: &str,
            offset: u64,
            len: Option<u64>,
        ) -> io::Result<Option<ByteReader>> {
            self.0.reader(key, offset, len).await
        }
        async fn append(
            &self,
            key: &str,
            body: ByteStream,
            sink: &mut dyn ChunkSink,
        ) -> io::Result<u64> {
            self.0.append(key, body, sink).await
        }
        async fn commit(&self, from: &str, to: &str) -> io::Result<()> {
            self.0.commit(from, to).await
        }
        async fn list(&self, prefix: &str) -> io::Result<Vec<String>> {
            self.0.list(prefix).await
        }
        async fn delete(&self, key: &str) -> io::Result<()> {
            self.0.delete(key).await
        }
    }

    #[tokio::test]
    async fn default_batched_operations_meet_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        crate::storage::contract::check_all(&Minimal(FsBackend::new(dir.path()))).await;
    }

    #[tokio::test]
    async fn put_get_append_commit_list_delete() {
        let dir = tempfile::tempdir().unwrap();
        let b = FsBackend::new(dir.path());
        assert!(b.get("a/b").await.unwrap().is_none());
        b.put("a/b", Bytes::from_static(b"x")).await.unwrap();
        assert_eq!(b.get("a/b").await.unwrap().unwrap(), "x");
        let mut sink = Count(0);
        let n = b
            .append("u/data", stream(&[b"he", b"llo"]), &mut sink)
            .await
            .unwrap();
        assert_eq!((n, sink.0), (5, 5));
        b.append("u/data", stream(&[b"!"]), &mut sink)
            .await
            .unwrap();
        b.commit("u/data", "blobs/x/data").await.unwrap();
        assert_eq!(b.get("blobs/x/data").await.unwrap().unwrap(), "hello!");
        let mut r = b.reader("blobs/x/data", 1, Some(3)).await.unwrap().unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).await.unwrap();
        assert_eq!(s, "ell");
        assert_eq!(b.list("a").await.unwrap(), vec!["b"]);
        assert!(b.list("missing").await.unwrap().is_empty());
        b.delete("a").await.unwrap();
        b.delete("a").await.unwrap();
        assert!(b.stat("a/b").await.unwrap().is_none());
        // A stream that fails half-way leaves the object as it was.
        let failing: ByteStream = Box::pin(futures_util::stream::iter([
            Ok(Bytes::from_static(b"more")),
            Err(io::Error::other("client went away")),
        ]));
        assert!(b.append("blobs/x/data", failing, &mut sink).await.is_err());
        assert_eq!(b.get("blobs/x/data").await.unwrap().unwrap(), "hello!");
        // No temporary files are left behind by atomic puts.
        assert!(
            std::fs::read_dir(dir.path().join("u"))
                .unwrap()
                .next()
                .is_none()
        );
    }

    async fn collect(s: ByteStream) -> Vec<u8> {
        let parts: Vec<Bytes> = futures_util::TryStreamExt::try_collect(s).await.unwrap();
        parts.concat()
    }

    #[tokio::test]
    async fn streams_small_and_mapped_objects_with_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let b = FsBackend::new(dir.path());
        let big: Vec<u8> = (0..3 * 1024 * 1024 + 17).map(|i| (i % 251) as u8).collect();
        b.put("big", Bytes::from(big.clone())).await.unwrap();
        b.put("small", Bytes::from_static(b"0123456789"))
            .await
            .unwrap();
        // Whole, from an offset to the end, and a window: mapped (>= 1 MiB).
        let whole = b.stream("big", 0, None, 256 * 1024).await.unwrap().unwrap();
        assert_eq!(collect(whole).await, big);
        let tail = b
            .stream("big", 1000, None, 256 * 1024)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(collect(tail).await, &big[1000..]);
        let window = b
            .stream("big", 5, Some(2 * 1024 * 1024), 300_000)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(collect(window).await, &big[5..5 + 2 * 1024 * 1024]);
        // Small: read; a length past the end stops at the end.
        let small = b.stream("small", 2, Some(100), 4).await.unwrap().unwrap();
        assert_eq!(collect(small).await, b"23456789");
        assert!(b.stream("missing", 0, None, 4).await.unwrap().is_none());
    }
}
