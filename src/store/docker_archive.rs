//! `docker-archive:`, the `docker save` / `docker load` format: a tar with
//! `manifest.json` (`[{Config, RepoTags, Layers}]`), the config, and layer
//! files (`<id>/layer.tar`, `<hex>.tar`, or `blobs/sha256/<hex>` since
//! docker 25), usually uncompressed.
//!
//! Reading synthesises a Docker schema2 manifest from the config and the
//! layers as they are stored: an uncompressed layer keeps its own digest
//! (its DiffID) with the honest media type
//! `application/vnd.docker.image.rootfs.diff.tar`. (skopeo instead labels it
//! gzip and recompresses while copying; regctl copies bytes unchanged.)
//!
//! Writing stores the blobs as given (gzip layers stay gzip, which both
//! `docker load` and skopeo accept) under `blobs/sha256/<hex>`, the layout
//! docker 25 writes, so config digest and DiffIDs are preserved.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::archive::{pack, staging_dir};
use super::files::{LayoutFiles, TarFiles};
use super::ocidir::{OciDirDestination, blob_path, write_atomic};
use super::{BlobStream, ImageDestination, ImageSource, Placement, StoreError, verified};
use crate::types::media_type::{DOCKER_CONFIG, DOCKER_LAYER_TAR_GZIP, OCI_CONFIG};
use crate::types::reference::DOCKER_HUB;
use crate::types::{
    Algorithm, Descriptor, Digest, Digester, ImageManifest, Manifest, ManifestBody, MediaType,
    Reference,
};

/// An uncompressed Docker layer.
pub const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
const MANIFEST_FILE: &str = "manifest.json";
const MAX_MANIFEST_JSON: usize = 16 * 1024 * 1024;
/// Image configs carry history and can be large, but not this large.
const MAX_CONFIG_SIZE: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone, Deserialize, Serialize)]
struct ArchiveEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

#[derive(Deserialize)]
struct ConfigRootfs {
    rootfs: Option<Rootfs>,
}

#[derive(Deserialize)]
struct Rootfs {
    #[serde(default)]
    diff_ids: Vec<Digest>,
}

/// Canonical form of a RepoTag for comparison (`app` == `docker.io/library/app:latest`).
fn canonical(name: &str) -> Option<String> {
    let r = Reference::parse(name, DOCKER_HUB).ok()?;
    let tag = r.tag_or_latest()?.to_owned();
    Some(format!("{}/{}:{tag}", r.registry(), r.repository()))
}

#[derive(Default)]
struct Prepared {
    manifests: HashMap<Digest, Manifest>,
    /// Where each blob of a prepared image is in the archive.
    blobs: HashMap<Digest, String>,
}

/// Reads a `docker-archive:` file in place.
pub struct DockerArchiveSource {
    files: Arc<TarFiles>,
    entries: Vec<ArchiveEntry>,
    prepared: Mutex<Prepared>,
}

impl DockerArchiveSource {
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let files = TarFiles::scan(path).await?;
        let location = format!("docker-archive:{}", path.display());
        let raw = files
            .read_small(MANIFEST_FILE, MAX_MANIFEST_JSON)
            .await?
            .ok_or_else(|| StoreError::Invalid {
                location: location.clone(),
                kind: "docker archive",
                reason: "it has no manifest.json (is it an oci-archive?)".to_owned(),
            })?;
        let entries: Vec<ArchiveEntry> =
            serde_json::from_slice(&raw).map_err(|e| StoreError::Invalid {
                location,
                kind: "docker archive",
                reason: format!("manifest.json is not valid: {e}"),
            })?;
        Ok(DockerArchiveSource {
            files: Arc::new(files),
            entries,
            prepared: Mutex::new(Prepared::default()),
        })
    }

    fn invalid(&self, reason: String) -> StoreError {
        StoreError::Invalid {
            location: self.location(),
            kind: "docker archive",
            reason,
        }
    }

    fn all_tags(&self) -> Vec<String> {
        self.entries
            .iter()
            .flat_map(|e| e.repo_tags.iter().flatten().cloned())
            .collect()
    }

    fn select(&self, name: Option<&str>) -> Result<&ArchiveEntry, StoreError> {
        match name {
            Some(name) => {
                let wanted = canonical(name);
                self.entries
                    .iter()
                    .find(|e| {
                        e.repo_tags
                            .iter()
                            .flatten()
                            .any(|t| t == name || (wanted.is_some() && canonical(t) == wanted))
                    })
                    .ok_or_else(|| StoreError::NotFound {
                        location: self.location(),
                        what: format!("image {name:?} (RepoTags: {})", join(&self.all_tags())),
                    })
            }
            None => match self.entries.as_slice() {
                [only] => Ok(only),
                [] => Err(self.invalid("manifest.json lists no image".to_owned())),
                _ => {
                    let tags = self.all_tags();
                    Err(StoreError::Ambiguous {
                        location: self.location(),
                        example: format!(
                            "{}:{}",
                            self.location(),
                            tags.first().map_or("NAME:TAG", String::as_str)
                        ),
                        available: join(&tags),
                    })
                }
            },
        }
    }

    /// Hashes each layer file (one streaming pass) to learn its digest and
    /// whether it is compressed, then builds the schema2 manifest.
    async fn prepare(&self, entry: &ArchiveEntry) -> Result<Manifest, StoreError> {
        let config = self
            .files
            .read_small(&entry.config, MAX_CONFIG_SIZE)
            .await?
            .ok_or_else(|| self.invalid(format!("config {} is missing", entry.config)))?;
        let config_digest = Digest::sha256_of(&config);
        let rootfs: ConfigRootfs = serde_json::from_slice(&config)
            .map_err(|e| self.invalid(format!("config {} is not valid: {e}", entry.config)))?;
        let diff_ids = rootfs.rootfs.map(|r| r.diff_ids).unwrap_or_default();
        if diff_ids.len() != entry.layers.len() {
            return Err(self.invalid(format!(
                "the config lists {} layer DiffIDs but manifest.json lists {} layers",
                diff_ids.len(),
                entry.layers.len()
            )));
        }
        let files = self.files.clone();
        let paths = entry.layers.clone();
        let scanned = tokio::task::spawn_blocking(move || {
            paths
                .iter()
                .map(|p| scan_layer(&files, p))
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|e| StoreError::Backend(Box::new(e)))??;

        let mut layers = Vec::new();
        let mut blobs = HashMap::new();
        blobs.insert(config_digest.clone(), entry.config.clone());
        for (i, (path, scan)) in entry.layers.iter().zip(scanned).enumerate() {
            let media_type = match scan.compression {
                Compression::None => {
                    let diff_id = diff_ids.get(i);
                    if diff_id != Some(&scan.digest) {
                        return Err(self.invalid(format!(
                            "layer {path} hashes to {}, but the config's DiffID {} says {}",
                            scan.digest,
                            i + 1,
                            diff_id.map_or_else(String::new, ToString::to_string)
                        )));
                    }
                    DOCKER_LAYER_TAR
                }
                Compression::Gzip => DOCKER_LAYER_TAR_GZIP,
                Compression::Zstd => {
                    return Err(StoreError::Unsupported {
                        location: self.location(),
                        reason: format!(
                            "layer {path} is zstd-compressed, which regctl does not read from docker archives"
                        ),
                    });
                }
            };
            let size = i64::try_from(scan.size)
                .map_err(|_| self.invalid(format!("layer {path} is too large")))?;
            layers.push(Descriptor::new(
                MediaType::parse(media_type),
                scan.digest.clone(),
                size,
            ));
            blobs.insert(scan.digest, path.clone());
        }
        let config_size = i64::try_from(config.len()).unwrap_or(i64::MAX);
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: Some(MediaType::DockerManifest),
            artifact_type: None,
            config: Descriptor::new(MediaType::DockerConfig, config_digest, config_size),
            layers,
            subject: None,
            annotations: None,
        };
        let raw = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| self.invalid(format!("cannot encode the manifest: {e}")))?;
        let manifest = Manifest::parse(Bytes::from(raw), Some(MediaType::DockerManifest.as_str()))
            .map_err(|source| StoreError::Manifest {
                location: self.location(),
                what: "synthesised from manifest.json".to_owned(),
                source,
            })?;
        let mut prepared = self
            .prepared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        prepared.blobs.extend(blobs);
        prepared
            .manifests
            .insert(manifest.digest().clone(), manifest.clone());
        Ok(manifest)
    }
}

enum Compression {
    None,
    Gzip,
    Zstd,
}

struct LayerScan {
    digest: Digest,
    size: u64,
    compression: Compression,
}

fn scan_layer(files: &TarFiles, path: &str) -> Result<LayerScan, StoreError> {
    let mut reader = files
        .reader_blocking(path)?
        .ok_or_else(|| StoreError::Invalid {
            location: format!("docker-archive:{}", files.archive().display()),
            kind: "docker archive",
            reason: format!("layer {path} is missing"),
        })?;
    let mut digester = Digester::new(Algorithm::Sha256);
    let mut buf = vec![0u8; 1 << 20];
    let mut head = Vec::new();
    let mut size = 0u64;
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(StoreError::io(files.archive(), "read"))?;
        let Some(chunk) = buf.get(..n) else { break };
        if n == 0 {
            break;
        }
        if head.len() < 4 {
            head.extend(chunk.iter().take(4 - head.len()));
        }
        digester.update(chunk);
        size += n as u64;
    }
    let compression = match head.as_slice() {
        [0x1f, 0x8b, ..] => Compression::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd] => Compression::Zstd,
        _ => Compression::None,
    };
    Ok(LayerScan {
        digest: digester.finish(),
        size,
        compression,
    })
}

fn join(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

#[async_trait]
impl ImageSource for DockerArchiveSource {
    fn location(&self) -> String {
        format!("docker-archive:{}", self.files.location())
    }

    async fn resolve(&self, name: Option<&str>) -> Result<Manifest, StoreError> {
        let entry = self.select(name)?.clone();
        self.prepare(&entry).await
    }

    async fn manifest(&self, digest: &Digest) -> Result<Manifest, StoreError> {
        self.prepared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .manifests
            .get(digest)
            .cloned()
            .ok_or_else(|| StoreError::NotFound {
                location: self.location(),
                what: format!("manifest {digest} (a docker archive holds single images only)"),
            })
    }

    async fn blob(&self, desc: &Descriptor) -> Result<BlobStream, StoreError> {
        let path = self
            .prepared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .blobs
            .get(&desc.digest)
            .cloned()
            .ok_or_else(|| StoreError::NotFound {
                location: self.location(),
                what: format!("blob {}", desc.digest),
            })?;
        let (stream, _) = self
            .files
            .open(&path)
            .await?
            .ok_or_else(|| self.invalid(format!("{path} is missing")))?;
        Ok(Box::pin(verified(stream, desc)))
    }

    async fn tags(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.all_tags())
    }
}

/// Writes a `docker-archive:` file holding one image on commit.
pub struct DockerArchiveDestination {
    target: PathBuf,
    staging: OciDirDestination,
    entry: Mutex<Option<ArchiveEntry>>,
}

impl DockerArchiveDestination {
    pub async fn create(target: &Path) -> Result<Self, StoreError> {
        let staging = OciDirDestination::open(&staging_dir(target).await?).await?;
        Ok(DockerArchiveDestination {
            target: target.to_owned(),
            staging,
            entry: Mutex::new(None),
        })
    }

    fn unsupported(&self, reason: String) -> StoreError {
        StoreError::Unsupported {
            location: self.location(),
            reason,
        }
    }
}

#[async_trait]
impl ImageDestination for DockerArchiveDestination {
    fn location(&self) -> String {
        format!("docker-archive:{}", self.target.display())
    }

    fn accepts_index(&self) -> bool {
        false
    }

    async fn has_blob(&self, desc: &Descriptor) -> Result<bool, StoreError> {
        self.staging.has_blob(desc).await
    }

    async fn put_blob(&self, desc: &Descriptor, data: BlobStream) -> Result<(), StoreError> {
        self.staging.put_blob(desc, data).await
    }

    async fn put_manifest(
        &self,
        manifest: &Manifest,
        placement: Placement<'_>,
    ) -> Result<(), StoreError> {
        let Placement::Top { name } = placement else {
            return Err(self.unsupported(
                "a docker archive holds single images, not indexes; choose one with --platform"
                    .to_owned(),
            ));
        };
        let ManifestBody::Image(image) = manifest.body() else {
            return Err(self.unsupported(format!(
                "a docker archive holds single images; {} is a {} (choose one with --platform)",
                manifest.digest(),
                manifest.media_type()
            )));
        };
        let config_type = image.config.media_type.as_str();
        if config_type != DOCKER_CONFIG && config_type != OCI_CONFIG {
            return Err(self.unsupported(format!(
                "the config is {config_type}, not a container image config; only images fit a docker archive"
            )));
        }
        for layer in &image.layers {
            if !layer.media_type.as_str().contains("tar")
                || layer.media_type.as_str().contains("zstd")
            {
                return Err(self.unsupported(format!(
                    "layer {} is {}, which docker load does not read",
                    layer.digest, layer.media_type
                )));
            }
        }
        let repo_tags = match name {
            Some(n) => {
                let r =
                    Reference::parse(n, DOCKER_HUB).map_err(|e| self.unsupported(e.to_string()))?;
                vec![if r.tag().is_some() {
                    n.to_owned()
                } else {
                    format!("{n}:latest")
                }]
            }
            None => Vec::new(),
        };
        let mut entry = self
            .entry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entry.is_some() {
            return Err(
                self.unsupported("a docker archive written by regctl holds one image".to_owned())
            );
        }
        *entry = Some(ArchiveEntry {
            config: blob_path(&image.config.digest),
            repo_tags: Some(repo_tags),
            layers: image.layers.iter().map(|l| blob_path(&l.digest)).collect(),
        });
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        let entry = self
            .entry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            .ok_or_else(|| self.unsupported("no image was written".to_owned()))?;
        for path in std::iter::once(&entry.config).chain(&entry.layers) {
            if !tokio::fs::try_exists(self.staging.root().join(path))
                .await
                .unwrap_or(false)
            {
                return Err(
                    self.unsupported(format!("{path} was never written (a foreign layer?)"))
                );
            }
        }
        let raw = serde_json::to_vec(&[entry]).map_err(|e| self.unsupported(e.to_string()))?;
        write_atomic(&self.staging.root().join(MANIFEST_FILE), &raw).await?;
        pack(self.staging.root(), &self.target, &[MANIFEST_FILE]).await
    }
}
