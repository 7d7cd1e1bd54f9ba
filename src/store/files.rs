//! Read access to the files of an image layout, wherever they are: a
//! directory, or entries inside a tar read in place (never unpacked).
//! OCI layouts and docker archives are read through this, so the same reader
//! serves `oci:` and `oci-archive:`.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::TryStreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::{BlobStream, StoreError};

const READ_CHUNK: usize = 256 * 1024;
/// Symlink hops followed inside an archive before giving up on a loop.
const MAX_LINK_HOPS: usize = 16;

#[async_trait]
pub(crate) trait LayoutFiles: Send + Sync {
    fn location(&self) -> String;

    /// A small file read whole (`index.json`, a manifest, a config);
    /// `None` when absent; an error when bigger than `limit`.
    async fn read_small(&self, path: &str, limit: usize) -> Result<Option<Bytes>, StoreError>;

    /// A file streamed, with its size; `None` when absent.
    async fn open(&self, path: &str) -> Result<Option<(BlobStream, u64)>, StoreError>;
}

/// Paths named by a layout's own metadata are untrusted: relative, no `..`.
fn checked_relative(location: &str, path: &str) -> Result<String, StoreError> {
    let normal = normalize(path);
    match normal {
        Some(p) if !p.is_empty() => Ok(p),
        _ => Err(StoreError::Invalid {
            location: location.to_owned(),
            kind: "image layout",
            reason: format!("path {path:?} leaves the layout"),
        }),
    }
}

/// Lexically normalises a relative path (`./a//b/../c` -> `a/c`); `None`
/// if it climbs above its root.
fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

fn too_large(location: &str, path: &str, size: u64, limit: usize) -> StoreError {
    StoreError::Invalid {
        location: location.to_owned(),
        kind: "image layout",
        reason: format!("{path} is {size} bytes, more than the {limit}-byte limit for metadata"),
    }
}

/// An OCI layout directory.
pub(crate) struct DirFiles {
    root: PathBuf,
}

impl DirFiles {
    pub(crate) fn new(root: &Path) -> Self {
        DirFiles {
            root: root.to_owned(),
        }
    }

    fn path(&self, rel: &str) -> Result<PathBuf, StoreError> {
        Ok(self.root.join(checked_relative(&self.location(), rel)?))
    }
}

fn absent_is_none<T>(r: std::io::Result<T>) -> std::io::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[async_trait]
impl LayoutFiles for DirFiles {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    async fn read_small(&self, rel: &str, limit: usize) -> Result<Option<Bytes>, StoreError> {
        let path = self.path(rel)?;
        let Some(file) = absent_is_none(tokio::fs::File::open(&path).await)
            .map_err(StoreError::io(&path, "open"))?
        else {
            return Ok(None);
        };
        let mut data = Vec::new();
        // One byte over the limit is enough to know it is too big.
        file.take(limit as u64 + 1)
            .read_to_end(&mut data)
            .await
            .map_err(StoreError::io(&path, "read"))?;
        if data.len() > limit {
            return Err(too_large(&self.location(), rel, data.len() as u64, limit));
        }
        Ok(Some(Bytes::from(data)))
    }

    async fn open(&self, rel: &str) -> Result<Option<(BlobStream, u64)>, StoreError> {
        let path = self.path(rel)?;
        let Some(file) = absent_is_none(tokio::fs::File::open(&path).await)
            .map_err(StoreError::io(&path, "open"))?
        else {
            return Ok(None);
        };
        let size = file
            .metadata()
            .await
            .map_err(StoreError::io(&path, "stat"))?
            .len();
        let err_path = path.clone();
        let stream =
            ReaderStream::with_capacity(file, READ_CHUNK).map_err(move |source| StoreError::Io {
                path: err_path.clone(),
                action: "read",
                source,
            });
        Ok(Some((Box::pin(stream), size)))
    }
}

#[derive(Debug, Clone)]
enum TarEntry {
    File {
        offset: u64,
        size: u64,
    },
    /// A symbolic link (target relative to the link's directory) or a hard
    /// link (target relative to the archive root), already normalised.
    Link(String),
}

/// The files of a tar archive, indexed by one pass over its headers; reads
/// seek to an entry's data, so nothing is unpacked or held in memory.
pub(crate) struct TarFiles {
    archive: PathBuf,
    entries: HashMap<String, TarEntry>,
}

impl TarFiles {
    pub(crate) async fn scan(archive: &Path) -> Result<Self, StoreError> {
        let path = archive.to_owned();
        tokio::task::spawn_blocking(move || Self::scan_blocking(path))
            .await
            .map_err(|e| StoreError::Backend(Box::new(e)))?
    }

    fn scan_blocking(archive: PathBuf) -> Result<Self, StoreError> {
        let location = archive.display().to_string();
        let invalid = |reason: String| StoreError::Invalid {
            location: location.clone(),
            kind: "tar archive",
            reason,
        };
        let file = std::fs::File::open(&archive).map_err(StoreError::io(&archive, "open"))?;
        let mut tar = tar::Archive::new(file);
        let mut entries = HashMap::new();
        let iter = tar
            .entries_with_seek()
            .map_err(|e| invalid(e.to_string()))?;
        for entry in iter {
            let entry = entry.map_err(|e| invalid(e.to_string()))?;
            let raw_path = entry.path().map_err(|e| invalid(e.to_string()))?;
            let raw_path = raw_path.to_string_lossy().into_owned();
            let Some(name) = normalize(&raw_path) else {
                return Err(invalid(format!("entry {raw_path:?} leaves the archive")));
            };
            let kind = entry.header().entry_type();
            let value = if kind.is_file() || kind == tar::EntryType::Continuous {
                TarEntry::File {
                    offset: entry.raw_file_position(),
                    size: entry.size(),
                }
            } else if kind.is_symlink() || kind.is_hard_link() {
                let target = entry
                    .link_name()
                    .map_err(|e| invalid(e.to_string()))?
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let joined = if kind.is_symlink() && !target.starts_with('/') {
                    match name.rsplit_once('/') {
                        Some((dir, _)) => format!("{dir}/{target}"),
                        None => target,
                    }
                } else {
                    target
                };
                match normalize(&joined) {
                    Some(t) => TarEntry::Link(t),
                    // A link out of the archive is simply not followed.
                    None => continue,
                }
            } else {
                continue;
            };
            // Later entries replace earlier ones, as when extracting.
            entries.insert(name, value);
        }
        Ok(TarFiles { archive, entries })
    }

    /// Follows links to a regular file: (offset, size).
    fn find(&self, rel: &str) -> Result<Option<(u64, u64)>, StoreError> {
        let mut name = checked_relative(&self.location(), rel)?;
        for _ in 0..MAX_LINK_HOPS {
            match self.entries.get(&name) {
                None => return Ok(None),
                Some(TarEntry::File { offset, size }) => return Ok(Some((*offset, *size))),
                Some(TarEntry::Link(target)) => name = target.clone(),
            }
        }
        Err(StoreError::Invalid {
            location: self.location(),
            kind: "tar archive",
            reason: format!("{rel} is a link loop"),
        })
    }

    async fn open_at(&self, offset: u64) -> Result<tokio::fs::File, StoreError> {
        let mut file = tokio::fs::File::open(&self.archive)
            .await
            .map_err(StoreError::io(&self.archive, "open"))?;
        file.seek(SeekFrom::Start(offset))
            .await
            .map_err(StoreError::io(&self.archive, "seek"))?;
        Ok(file)
    }

    /// Blocking read of an entry's bytes, for hashing in `spawn_blocking`.
    pub(crate) fn reader_blocking(
        &self,
        rel: &str,
    ) -> Result<Option<impl Read + use<>>, StoreError> {
        let Some((offset, size)) = self.find(rel)? else {
            return Ok(None);
        };
        let mut file =
            std::fs::File::open(&self.archive).map_err(StoreError::io(&self.archive, "open"))?;
        file.seek(SeekFrom::Start(offset))
            .map_err(StoreError::io(&self.archive, "seek"))?;
        Ok(Some(file.take(size)))
    }

    pub(crate) fn archive(&self) -> &Path {
        &self.archive
    }
}

#[async_trait]
impl LayoutFiles for TarFiles {
    fn location(&self) -> String {
        self.archive.display().to_string()
    }

    async fn read_small(&self, rel: &str, limit: usize) -> Result<Option<Bytes>, StoreError> {
        let Some((offset, size)) = self.find(rel)? else {
            return Ok(None);
        };
        if size > limit as u64 {
            return Err(too_large(&self.location(), rel, size, limit));
        }
        let mut data = Vec::new();
        self.open_at(offset)
            .await?
            .take(size)
            .read_to_end(&mut data)
            .await
            .map_err(StoreError::io(&self.archive, "read"))?;
        if (data.len() as u64) < size {
            return Err(StoreError::Invalid {
                location: self.location(),
                kind: "tar archive",
                reason: format!("{rel} is truncated"),
            });
        }
        Ok(Some(Bytes::from(data)))
    }

    async fn open(&self, rel: &str) -> Result<Option<(BlobStream, u64)>, StoreError> {
        let Some((offset, size)) = self.find(rel)? else {
            return Ok(None);
        };
        let reader = self.open_at(offset).await?.take(size);
        let err_path = self.archive.clone();
        let stream =
            ReaderStream::with_capacity(reader, READ_CHUNK).map_err(move |source| StoreError::Io {
                path: err_path.clone(),
                action: "read",
                source,
            });
        Ok(Some((Box::pin(stream), size)))
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn normalize_keeps_paths_inside_the_root() {
        assert_eq!(normalize("./a//b/../c").as_deref(), Some("a/c"));
        assert_eq!(
            normalize("/blobs/sha256/x").as_deref(),
            Some("blobs/sha256/x")
        );
        assert_eq!(normalize("a/../../etc/passwd"), None);
        assert_eq!(normalize("..").as_deref(), None);
    }
}
