//! The filesystem backend: registry:2's `filesystem` driver layout.

use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::backend::{Backend, ByteReader, ByteStream, ChunkSink, Meta};

const APPEND_BUFFER: usize = 1024 * 1024;

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

fn not_found_is_none<T>(r: io::Result<T>) -> io::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

async fn ensure_parent(path: &Path) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    Ok(())
}

/// fsync of a directory makes a rename inside it durable.
async fn sync_dir(dir: &Path) -> io::Result<()> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
        .await
        .map_err(io::Error::other)?
}

#[async_trait]
impl Backend for FsBackend {
    async fn get(&self, key: &str) -> io::Result<Option<Bytes>> {
        not_found_is_none(tokio::fs::read(self.path(key)).await).map(|o| o.map(Bytes::from))
    }

    async fn put(&self, key: &str, data: Bytes) -> io::Result<()> {
        let path = self.path(key);
        ensure_parent(&path).await?;
        let tmp = path.with_file_name(format!(".tmp-{}", uuid::Uuid::new_v4()));
        let result = async {
            let mut f = tokio::fs::File::create(&tmp).await?;
            f.write_all(&data).await?;
            f.sync_all().await?;
            tokio::fs::rename(&tmp, &path).await
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result
    }

    async fn stat(&self, key: &str) -> io::Result<Option<Meta>> {
        let m = not_found_is_none(tokio::fs::metadata(self.path(key)).await)?;
        Ok(m.map(|m| Meta {
            size: m.len(),
            modified: m.modified().unwrap_or(std::time::UNIX_EPOCH),
            is_dir: m.is_dir(),
        }))
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

    async fn append(
        &self,
        key: &str,
        mut body: ByteStream,
        sink: &mut dyn ChunkSink,
    ) -> io::Result<u64> {
        let path = self.path(key);
        ensure_parent(&path).await?;
        let f = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .await?;
        let start = f.metadata().await?.len();
        // Each tokio file write is a trip to the blocking pool; request
        // bodies arrive in small frames, so gather them into large writes.
        let mut f = tokio::io::BufWriter::with_capacity(APPEND_BUFFER, f);
        let mut written = 0u64;
        let result = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk?;
                f.write_all(&chunk).await?;
                sink.chunk(&chunk);
                written += chunk.len() as u64;
            }
            f.flush().await
        }
        .await;
        if let Err(e) = result {
            // All or nothing: a chunk that failed half-way (the client went
            // away, sent too much) is cut off again, so the object keeps the
            // size it had and the client can resume from there. The buffer
            // is dropped unwritten.
            if let Err(t) = f.get_mut().set_len(start).await {
                tracing::warn!(key, error = %t, "could not cut a failed append back");
            }
            return Err(e);
        }
        Ok(written)
    }

    async fn commit(&self, from: &str, to: &str) -> io::Result<()> {
        let from = self.path(from);
        let to = self.path(to);
        tokio::fs::File::open(&from).await?.sync_all().await?;
        ensure_parent(&to).await?;
        tokio::fs::rename(&from, &to).await?;
        if let Some(parent) = to.parent() {
            sync_dir(parent).await?;
        }
        Ok(())
    }

    async fn list(&self, prefix: &str) -> io::Result<Vec<String>> {
        let Some(mut rd) = not_found_is_none(tokio::fs::read_dir(self.path(prefix)).await)? else {
            return Ok(Vec::new());
        };
        let mut names = Vec::new();
        while let Some(entry) = rd.next_entry().await? {
            if let Some(name) = entry.file_name().to_str()
                && !name.starts_with(".tmp-")
            {
                names.push(name.to_owned());
            }
        }
        names.sort_unstable();
        Ok(names)
    }

    async fn delete(&self, key: &str) -> io::Result<()> {
        let path = self.path(key);
        let Some(meta) = not_found_is_none(tokio::fs::symlink_metadata(&path).await)? else {
            return Ok(());
        };
        let r = if meta.is_dir() {
            tokio::fs::remove_dir_all(&path).await
        } else {
            tokio::fs::remove_file(&path).await
        };
        not_found_is_none(r).map(drop)
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
}
