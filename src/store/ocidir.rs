//! The OCI image layout: `oci-layout`, `index.json` (tags are
//! `org.opencontainers.image.ref.name` annotations) and `blobs/<alg>/<hex>`.
//! Read from a directory or, through [`LayoutFiles`], from inside a tar;
//! written to a directory.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use super::files::{DirFiles, LayoutFiles};
use super::{BlobStream, ImageDestination, ImageSource, Placement, StoreError, verified};
use crate::types::manifest::MAX_MANIFEST_SIZE;
use crate::types::{Descriptor, Digest, Manifest};

pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
const OCI_LAYOUT_FILE: &str = "oci-layout";
const OCI_LAYOUT_CONTENT: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;
const INDEX_FILE: &str = "index.json";
/// index.json grows with tags; this is far above any real one.
const MAX_INDEX_SIZE: usize = 64 * 1024 * 1024;
/// Prefix of temporary files in a layout being written.
pub(crate) const TEMP_PREFIX: &str = ".regctl-tmp-";

pub(crate) fn blob_path(digest: &Digest) -> String {
    format!("blobs/{}/{}", digest.algorithm(), digest.hex())
}

#[derive(Deserialize)]
struct LayoutVersion {
    #[serde(rename = "imageLayoutVersion")]
    image_layout_version: String,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct IndexFile {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

fn ref_name(d: &Descriptor) -> Option<&str> {
    d.annotations
        .as_ref()
        .and_then(|a| a.get(REF_NAME))
        .map(String::as_str)
}

/// Reads an OCI image layout (directory or archive).
pub struct OciLayoutSource {
    kind: &'static str,
    files: Box<dyn LayoutFiles>,
    index: Vec<Descriptor>,
}

/// Opens an `oci:` directory for reading.
pub async fn open_oci_dir(path: &Path) -> Result<OciLayoutSource, StoreError> {
    match tokio::fs::metadata(path).await {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(StoreError::Invalid {
                location: format!("oci:{}", path.display()),
                kind: "OCI image layout",
                reason: "it is not a directory (for a tar file use oci-archive:)".to_owned(),
            });
        }
        Err(source) => {
            return Err(StoreError::Io {
                path: path.to_owned(),
                action: "open the OCI layout directory",
                source,
            });
        }
    }
    OciLayoutSource::open("oci", Box::new(DirFiles::new(path))).await
}

impl OciLayoutSource {
    pub(crate) async fn open(
        kind: &'static str,
        files: Box<dyn LayoutFiles>,
    ) -> Result<Self, StoreError> {
        let location = format!("{kind}:{}", files.location());
        let invalid = |reason: String| StoreError::Invalid {
            location: location.clone(),
            kind: "OCI image layout",
            reason,
        };
        let layout = files
            .read_small(OCI_LAYOUT_FILE, 64 * 1024)
            .await?
            .ok_or_else(|| invalid("it has no oci-layout file".to_owned()))?;
        let version: LayoutVersion = serde_json::from_slice(&layout)
            .map_err(|e| invalid(format!("oci-layout is not valid: {e}")))?;
        if !version.image_layout_version.starts_with("1.") {
            return Err(invalid(format!(
                "imageLayoutVersion {:?} is not supported (expected 1.x)",
                version.image_layout_version
            )));
        }
        let raw = files
            .read_small(INDEX_FILE, MAX_INDEX_SIZE)
            .await?
            .ok_or_else(|| invalid("it has no index.json".to_owned()))?;
        let index: IndexFile = serde_json::from_slice(&raw)
            .map_err(|e| invalid(format!("index.json is not valid: {e}")))?;
        Ok(OciLayoutSource {
            kind,
            files,
            index: index.manifests,
        })
    }

    async fn read_manifest(
        &self,
        digest: &Digest,
        media_type: Option<&str>,
    ) -> Result<Manifest, StoreError> {
        let raw = self
            .files
            .read_small(&blob_path(digest), MAX_MANIFEST_SIZE)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                location: self.location(),
                what: format!("manifest {digest}"),
            })?;
        digest.verify(&raw)?;
        Manifest::parse_with_digest(raw, media_type, digest.clone()).map_err(|source| {
            StoreError::Manifest {
                location: self.location(),
                what: digest.to_string(),
                source,
            }
        })
    }
}

#[async_trait]
impl ImageSource for OciLayoutSource {
    fn location(&self) -> String {
        format!("{}:{}", self.kind, self.files.location())
    }

    async fn resolve(&self, name: Option<&str>) -> Result<Manifest, StoreError> {
        let chosen = match name {
            Some(name) => {
                let mut found = self.index.iter().filter(|d| ref_name(d) == Some(name));
                let first = found.next().ok_or_else(|| StoreError::NotFound {
                    location: self.location(),
                    what: format!("tag {name:?} (tags: {})", list(&self.tags_now())),
                })?;
                if found.any(|d| d.digest != first.digest) {
                    return Err(StoreError::Invalid {
                        location: self.location(),
                        kind: "OCI image layout",
                        reason: format!("index.json names {name:?} more than once"),
                    });
                }
                first
            }
            None => match self.index.as_slice() {
                [only] => only,
                [] => {
                    return Err(StoreError::NotFound {
                        location: self.location(),
                        what: "any image (index.json is empty)".to_owned(),
                    });
                }
                _ => {
                    let tags = self.tags_now();
                    return Err(StoreError::Ambiguous {
                        location: self.location(),
                        example: format!(
                            "{}:{}",
                            self.location(),
                            tags.first().map_or("TAG", String::as_str)
                        ),
                        available: list(&tags),
                    });
                }
            },
        };
        self.read_manifest(&chosen.digest, Some(chosen.media_type.as_str()))
            .await
    }

    async fn manifest(&self, digest: &Digest) -> Result<Manifest, StoreError> {
        self.read_manifest(digest, None).await
    }

    async fn blob(&self, desc: &Descriptor) -> Result<BlobStream, StoreError> {
        let (stream, _) = self
            .files
            .open(&blob_path(&desc.digest))
            .await?
            .ok_or_else(|| StoreError::NotFound {
                location: self.location(),
                what: format!("blob {}", desc.digest),
            })?;
        Ok(Box::pin(verified(stream, desc)))
    }

    async fn tags(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.tags_now())
    }
}

impl OciLayoutSource {
    fn tags_now(&self) -> Vec<String> {
        self.index
            .iter()
            .filter_map(ref_name)
            .map(str::to_owned)
            .collect()
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// Removes a temporary file unless disarmed.
struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Streams `data` into `<root>/blobs/<alg>/<hex>` through a temporary file,
/// verified against `desc`; nothing is left behind on failure. Returns the
/// blob's path if this call created it.
pub(crate) async fn write_blob(
    root: &Path,
    desc: &Descriptor,
    data: BlobStream,
) -> Result<Option<PathBuf>, StoreError> {
    let final_path = root.join(blob_path(&desc.digest));
    let mut temp = TempFile {
        path: root.join(format!("{TEMP_PREFIX}{}", uuid::Uuid::new_v4())),
        armed: true,
    };
    let mut file = tokio::fs::File::create(&temp.path)
        .await
        .map_err(StoreError::io(&temp.path, "create"))?;
    let mut verified = verified(data, desc);
    while let Some(chunk) = verified.next().await {
        file.write_all(&chunk?)
            .await
            .map_err(StoreError::io(&temp.path, "write"))?;
    }
    file.sync_all()
        .await
        .map_err(StoreError::io(&temp.path, "sync"))?;
    drop(file);
    let existed = tokio::fs::try_exists(&final_path).await.unwrap_or(false);
    durable_rename(&temp.path, &final_path).await?;
    temp.armed = false;
    Ok((!existed).then_some(final_path))
}

/// Writes `data` to `path` atomically and durably (temporary file, synced,
/// then [`crate::durable::rename`]).
pub(crate) async fn write_atomic(path: &Path, data: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temp = TempFile {
        path: dir.join(format!("{TEMP_PREFIX}{}", uuid::Uuid::new_v4())),
        armed: true,
    };
    let mut file = tokio::fs::File::create(&temp.path)
        .await
        .map_err(StoreError::io(&temp.path, "create"))?;
    file.write_all(data)
        .await
        .map_err(StoreError::io(&temp.path, "write"))?;
    file.sync_all()
        .await
        .map_err(StoreError::io(&temp.path, "sync"))?;
    drop(file);
    durable_rename(&temp.path, path).await?;
    temp.armed = false;
    Ok(())
}

/// [`crate::durable::rename`] off the async threads.
async fn durable_rename(from: &Path, to: &Path) -> Result<(), StoreError> {
    let (from, to) = (from.to_path_buf(), to.to_path_buf());
    let target = to.clone();
    tokio::task::spawn_blocking(move || crate::durable::rename(&from, &to))
        .await
        .map_err(|e| StoreError::Backend(Box::new(e)))?
        .map_err(StoreError::io(&target, "rename into place"))
}

#[derive(Default)]
struct Pending {
    /// Blob files this destination created, removed if it is dropped
    /// without commit.
    created: Vec<PathBuf>,
    /// Top manifests for index.json, in order.
    tops: Vec<Descriptor>,
    committed: bool,
}

/// Writes into an OCI layout directory, new or existing. Blobs are
/// content-addressed files written through temporary files; `index.json` is
/// rewritten atomically on commit. Dropped without commit, it removes the
/// blobs it added (and the directory, if it created it).
pub struct OciDirDestination {
    root: PathBuf,
    created_root: bool,
    state: Mutex<Pending>,
}

impl OciDirDestination {
    pub async fn open(root: &Path) -> Result<Self, StoreError> {
        let location = format!("oci:{}", root.display());
        let created_root = match tokio::fs::metadata(root).await {
            Ok(m) if m.is_dir() => {
                let has_layout = tokio::fs::try_exists(root.join(OCI_LAYOUT_FILE))
                    .await
                    .unwrap_or(false);
                if !has_layout && !dir_is_empty(root).await? {
                    return Err(StoreError::Invalid {
                        location,
                        kind: "OCI image layout",
                        reason: "the directory is not empty and has no oci-layout file; \
                                 name a new or empty directory"
                            .to_owned(),
                    });
                }
                false
            }
            Ok(_) => {
                return Err(StoreError::Invalid {
                    location,
                    kind: "OCI image layout",
                    reason: "it exists and is not a directory (for a tar file use oci-archive:)"
                        .to_owned(),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tokio::fs::create_dir_all(root)
                    .await
                    .map_err(StoreError::io(root, "create directory"))?;
                true
            }
            Err(source) => {
                return Err(StoreError::Io {
                    path: root.to_owned(),
                    action: "open the OCI layout directory",
                    source,
                });
            }
        };
        Ok(OciDirDestination {
            root: root.to_owned(),
            created_root,
            state: Mutex::new(Pending::default()),
        })
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        // A panic elsewhere cannot leave `Pending` inconsistent: each
        // update is a single push or assignment.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes `oci-layout` and `index.json` (merging with what is there).
    pub(crate) async fn write_index(&self) -> Result<(), StoreError> {
        let layout_path = self.root.join(OCI_LAYOUT_FILE);
        if !tokio::fs::try_exists(&layout_path).await.unwrap_or(false) {
            write_atomic(&layout_path, OCI_LAYOUT_CONTENT.as_bytes()).await?;
        }
        let index_path = self.root.join(INDEX_FILE);
        let mut index: serde_json::Value = match tokio::fs::read(&index_path).await {
            Ok(raw) => serde_json::from_slice(&raw).map_err(|e| StoreError::Invalid {
                location: self.location(),
                kind: "OCI image layout",
                reason: format!("index.json is not valid JSON: {e}"),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                serde_json::json!({"schemaVersion": 2, "manifests": []})
            }
            Err(source) => {
                return Err(StoreError::Io {
                    path: index_path,
                    action: "read",
                    source,
                });
            }
        };
        let tops = self.lock().tops.clone();
        let Some(obj) = index.as_object_mut() else {
            return Err(StoreError::Invalid {
                location: self.location(),
                kind: "OCI image layout",
                reason: "index.json is not a JSON object".to_owned(),
            });
        };
        obj.entry("mediaType")
            .or_insert_with(|| crate::types::media_type::OCI_INDEX.into());
        let manifests = obj
            .entry("manifests")
            .or_insert_with(|| serde_json::Value::Array(Vec::new()));
        if !manifests.is_array() {
            *manifests = serde_json::Value::Array(Vec::new());
        }
        if let Some(list) = manifests.as_array_mut() {
            for top in tops {
                let name = ref_name(&top).map(str::to_owned);
                // A tag moves to the new manifest; an untagged manifest is
                // listed once.
                list.retain(|entry| {
                    let entry_name = entry
                        .get("annotations")
                        .and_then(|a| a.get(REF_NAME))
                        .and_then(|n| n.as_str());
                    match &name {
                        Some(n) => entry_name != Some(n.as_str()),
                        None => {
                            entry_name.is_some()
                                || entry.get("digest").and_then(|d| d.as_str())
                                    != Some(top.digest.to_string().as_str())
                        }
                    }
                });
                let value = serde_json::to_value(&top).map_err(|e| StoreError::Invalid {
                    location: self.location(),
                    kind: "OCI image layout",
                    reason: e.to_string(),
                })?;
                list.push(value);
            }
        }
        let raw = serde_json::to_vec(&index).map_err(|e| StoreError::Invalid {
            location: self.location(),
            kind: "OCI image layout",
            reason: e.to_string(),
        })?;
        write_atomic(&index_path, &raw).await
    }

    pub(crate) fn mark_committed(&self) {
        self.lock().committed = true;
    }
}

async fn dir_is_empty(dir: &Path) -> Result<bool, StoreError> {
    let mut entries = tokio::fs::read_dir(dir)
        .await
        .map_err(StoreError::io(dir, "list"))?;
    Ok(entries
        .next_entry()
        .await
        .map_err(StoreError::io(dir, "list"))?
        .is_none())
}

impl Drop for OciDirDestination {
    fn drop(&mut self) {
        let state = self.lock();
        if state.committed {
            return;
        }
        if self.created_root {
            let _ = std::fs::remove_dir_all(&self.root);
        } else {
            for path in &state.created {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

#[async_trait]
impl ImageDestination for OciDirDestination {
    fn location(&self) -> String {
        format!("oci:{}", self.root.display())
    }

    async fn has_blob(&self, desc: &Descriptor) -> Result<bool, StoreError> {
        let path = self.root.join(blob_path(&desc.digest));
        match tokio::fs::metadata(&path).await {
            Ok(m) => Ok(m.is_file() && i64::try_from(m.len()).ok() == Some(desc.size)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(StoreError::Io {
                path,
                action: "stat",
                source,
            }),
        }
    }

    async fn put_blob(&self, desc: &Descriptor, data: BlobStream) -> Result<(), StoreError> {
        if let Some(created) = write_blob(&self.root, desc, data).await? {
            self.lock().created.push(created);
        }
        Ok(())
    }

    async fn put_manifest(
        &self,
        manifest: &Manifest,
        placement: Placement<'_>,
    ) -> Result<(), StoreError> {
        let mut desc = manifest.descriptor();
        let raw = manifest.raw().clone();
        let data: BlobStream = Box::pin(futures_util::stream::once(async move { Ok(raw) }));
        self.put_blob(&desc, data).await?;
        if let Placement::Top { name } = placement {
            if let Some(name) = name {
                desc.annotations
                    .get_or_insert_with(Default::default)
                    .insert(REF_NAME.to_owned(), name.to_owned());
            }
            self.lock().tops.push(desc);
        }
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.write_index().await?;
        self.mark_committed();
        Ok(())
    }
}
