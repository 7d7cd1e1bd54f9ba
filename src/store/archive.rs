//! `oci-archive:`: a tar of an OCI image layout. Read in place through the
//! tar index; written as a layout in a staging directory beside the target,
//! packed into a temporary file on commit and renamed over the target, so
//! the target is either untouched or complete.

use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::files::TarFiles;
use super::ocidir::{OciDirDestination, OciLayoutSource, TEMP_PREFIX};
use super::{BlobStream, ImageDestination, Placement, StoreError};
use crate::types::{Descriptor, Manifest};

/// Opens an `oci-archive:` file for reading.
pub async fn open_oci_archive(path: &Path) -> Result<OciLayoutSource, StoreError> {
    let files = TarFiles::scan(path).await?;
    OciLayoutSource::open("oci-archive", Box::new(files)).await
}

/// A fresh staging directory next to `target` (same filesystem, so the
/// final rename is atomic), removed by its destination's drop.
pub(crate) async fn staging_dir(target: &Path) -> Result<PathBuf, StoreError> {
    let parent = parent_dir(target);
    let name = target
        .file_name()
        .ok_or_else(|| StoreError::Invalid {
            location: target.display().to_string(),
            kind: "archive path",
            reason: "it names no file".to_owned(),
        })?
        .to_string_lossy()
        .into_owned();
    if tokio::fs::metadata(target).await.is_ok_and(|m| m.is_dir()) {
        return Err(StoreError::Invalid {
            location: target.display().to_string(),
            kind: "archive path",
            reason: "it is a directory (for a layout directory use oci:)".to_owned(),
        });
    }
    let dir = parent.join(format!("{TEMP_PREFIX}{name}-{}", uuid::Uuid::new_v4()));
    Ok(dir)
}

fn parent_dir(target: &Path) -> PathBuf {
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Packs the files of `dir` into `target`: `first` in that order, then the
/// rest sorted, with neutral ownership and times so the output depends only
/// on the content. Written to a temporary file, synced, then renamed.
pub(crate) async fn pack(dir: &Path, target: &Path, first: &[&str]) -> Result<(), StoreError> {
    let dir = dir.to_owned();
    let target = target.to_owned();
    let first: Vec<String> = first.iter().map(|s| (*s).to_owned()).collect();
    tokio::task::spawn_blocking(move || pack_blocking(&dir, &target, &first))
        .await
        .map_err(|e| StoreError::Backend(Box::new(e)))?
}

fn pack_blocking(dir: &Path, target: &Path, first: &[String]) -> Result<(), StoreError> {
    let mut files = Vec::new();
    collect_files(dir, "", &mut files)?;
    files.sort();
    files.retain(|f| !first.contains(f));
    let ordered: Vec<&String> = first.iter().chain(files.iter()).collect();

    let temp = parent_dir(target).join(format!("{TEMP_PREFIX}{}", uuid::Uuid::new_v4()));
    let result = (|| {
        let file = std::fs::File::create(&temp).map_err(StoreError::io(&temp, "create"))?;
        let mut tar = tar::Builder::new(std::io::BufWriter::with_capacity(1 << 20, file));
        let mut dirs_done: Vec<String> = Vec::new();
        for rel in ordered {
            // Directory entries first, so extraction gives sane modes.
            let mut prefix = String::new();
            for component in rel
                .split('/')
                .rev()
                .skip(1)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
            {
                prefix.push_str(component);
                prefix.push('/');
                if !dirs_done.contains(&prefix) {
                    let mut h = tar::Header::new_ustar();
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_mode(0o755);
                    h.set_size(0);
                    h.set_mtime(0);
                    h.set_cksum();
                    tar.append_data(&mut h, &prefix, std::io::empty())
                        .map_err(StoreError::io(&temp, "write"))?;
                    dirs_done.push(prefix.clone());
                }
            }
            let src = dir.join(rel);
            let mut f = std::fs::File::open(&src).map_err(StoreError::io(&src, "open"))?;
            let size = f.metadata().map_err(StoreError::io(&src, "stat"))?.len();
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(0o644);
            h.set_size(size);
            h.set_mtime(0);
            h.set_cksum();
            tar.append_data(&mut h, rel, &mut f)
                .map_err(StoreError::io(&temp, "write"))?;
        }
        let mut out = tar.into_inner().map_err(StoreError::io(&temp, "write"))?;
        out.flush().map_err(StoreError::io(&temp, "write"))?;
        let file = out
            .into_inner()
            .map_err(|e| StoreError::io(&temp, "write")(e.into_error()))?;
        file.sync_all().map_err(StoreError::io(&temp, "sync"))?;
        crate::durable::rename(&temp, target).map_err(StoreError::io(target, "rename into place"))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

fn collect_files(root: &Path, rel: &str, out: &mut Vec<String>) -> Result<(), StoreError> {
    let dir = root.join(rel);
    for entry in std::fs::read_dir(&dir).map_err(StoreError::io(&dir, "list"))? {
        let entry = entry.map_err(StoreError::io(&dir, "list"))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(TEMP_PREFIX) {
            continue;
        }
        let child = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let kind = entry.file_type().map_err(StoreError::io(&dir, "list"))?;
        if kind.is_dir() {
            collect_files(root, &child, out)?;
        } else if kind.is_file() {
            out.push(child);
        }
    }
    Ok(())
}

/// Writes an `oci-archive:` file on commit.
pub struct OciArchiveDestination {
    target: PathBuf,
    staging: OciDirDestination,
}

impl OciArchiveDestination {
    pub async fn create(target: &Path) -> Result<Self, StoreError> {
        let staging = OciDirDestination::open(&staging_dir(target).await?).await?;
        Ok(OciArchiveDestination {
            target: target.to_owned(),
            staging,
        })
    }
}

#[async_trait]
impl ImageDestination for OciArchiveDestination {
    fn location(&self) -> String {
        format!("oci-archive:{}", self.target.display())
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
        self.staging.put_manifest(manifest, placement).await
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.staging.write_index().await?;
        pack(
            self.staging.root(),
            &self.target,
            &["oci-layout", "index.json"],
        )
        .await
        // Dropping the staging destination uncommitted removes the directory.
    }
}
