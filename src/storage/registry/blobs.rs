//! Blobs: the global store, links into repositories, verification.

use std::sync::Arc;

use tokio::io::AsyncReadExt;

use super::{Registry, link_bytes};
use crate::storage::backend::{Backend, ByteStream};
use crate::storage::error::{Result, StorageError};
use crate::storage::paths::{self, RepoName};
use crate::types::{Digest, Verifier, VerifyError};

/// How many verified blob digests are remembered (see [`Registry::sound_blob_size`]).
pub(super) const VERIFIED_BLOBS: usize = 100_000;

/// A blob opened by [`Registry::open_blob`].
pub struct OpenBlob {
    pub size: u64,
    digest: Digest,
    backend: Arc<dyn Backend>,
}

impl OpenBlob {
    /// `len` bytes from `offset` (the whole blob: `0, size`), in chunks of
    /// about `chunk` bytes. A blob deleted since it was opened is unknown.
    pub async fn stream(&self, offset: u64, len: u64, chunk: usize) -> Result<ByteStream> {
        self.backend
            .stream(&paths::blob_data(&self.digest), offset, Some(len), chunk)
            .await?
            .ok_or_else(|| StorageError::BlobUnknown(self.digest.clone()))
    }
}

impl Registry {
    /// Size of a blob in the global store, if present.
    pub async fn blob_size(&self, digest: &Digest) -> Result<Option<u64>> {
        Ok(self
            .backend
            .stat(&paths::blob_data(digest))
            .await?
            .filter(|m| !m.is_dir)
            .map(|m| m.size))
    }

    /// Size of a blob as seen from a repository: linked there and present.
    pub async fn repo_blob_size(&self, repo: &RepoName, digest: &Digest) -> Result<Option<u64>> {
        // A client that sees a blob here may rely on it in a manifest later.
        self.gc.touch([digest]);
        if self
            .read_link(&paths::layer_link(repo, digest))
            .await?
            .as_ref()
            != Some(digest)
        {
            return Ok(None);
        }
        self.blob_size(digest).await
    }

    /// Opens a blob of a repository for a GET: checked once (linked here,
    /// present, its content verified) and touched once for a running
    /// collection; `None` when the repository has no such blob. Any range
    /// of it is then streamed by [`OpenBlob::stream`] without checking again.
    pub async fn open_blob(&self, repo: &RepoName, digest: &Digest) -> Result<Option<OpenBlob>> {
        let Some(size) = self.sound_repo_blob_size(repo, digest).await? else {
            return Ok(None);
        };
        Ok(Some(OpenBlob {
            size,
            digest: digest.clone(),
            backend: self.backend.clone(),
        }))
    }

    /// Size of a blob in the global store if its content is what its digest
    /// says; a blob whose bytes do not hash to its digest is treated as
    /// missing (and logged), so the next genuine push replaces it.
    ///
    /// Hashing a blob costs a read of it (~1.5 GB/s with SHA-NI), too much
    /// for every request: each digest is verified once per process and
    /// remembered. Blobs written by this process are verified as they
    /// arrive; those found on disk are checked when first served or pushed.
    pub async fn sound_blob_size(&self, digest: &Digest) -> Result<Option<u64>> {
        let Some(size) = self.blob_size(digest).await? else {
            return Ok(None);
        };
        if self.is_verified(digest) {
            return Ok(Some(size));
        }
        if let Err(mismatch) = self
            .verify_object(&paths::blob_data(digest), digest)
            .await?
        {
            tracing::warn!(
                %digest,
                %mismatch,
                size,
                "stored blob does not match its digest; treating it as missing until it is pushed again"
            );
            return Ok(None);
        }
        self.remember_verified(digest);
        Ok(Some(size))
    }

    pub(super) fn is_verified(&self, digest: &Digest) -> bool {
        self.verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(digest)
    }

    pub(super) fn remember_verified(&self, digest: &Digest) {
        let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if verified.len() >= VERIFIED_BLOBS {
            verified.clear();
        }
        verified.insert(digest.clone());
    }

    /// [`Registry::repo_blob_size`] for a blob about to be served or
    /// mounted: only if its content matches its digest.
    pub async fn sound_repo_blob_size(
        &self,
        repo: &RepoName,
        digest: &Digest,
    ) -> Result<Option<u64>> {
        if self.repo_blob_size(repo, digest).await?.is_none() {
            return Ok(None);
        }
        self.sound_blob_size(digest).await
    }

    /// Makes an existing blob visible in a repository.
    pub async fn link_blob(&self, repo: &RepoName, digest: &Digest) -> Result<()> {
        let _gc = self.gc.writing().await;
        self.gc.touch([digest]);
        self.link_blob_unguarded(repo, digest).await
    }

    pub(super) async fn link_blob_unguarded(&self, repo: &RepoName, digest: &Digest) -> Result<()> {
        self.backend
            .put(&paths::layer_link(repo, digest), link_bytes(digest))
            .await?;
        Ok(())
    }

    /// Cross-repository mount: links `digest` into `repo` if `from` has it.
    pub async fn mount_blob(
        &self,
        repo: &RepoName,
        from: &RepoName,
        digest: &Digest,
    ) -> Result<bool> {
        if self.sound_repo_blob_size(from, digest).await?.is_none() {
            return Ok(false);
        }
        self.link_blob(repo, digest).await?;
        Ok(true)
    }

    /// Removes a blob from a repository (its link); the data stays for the
    /// garbage collector, as in registry:2.
    pub async fn unlink_blob(&self, repo: &RepoName, digest: &Digest) -> Result<()> {
        if self.repo_blob_size(repo, digest).await?.is_none() {
            return Err(StorageError::BlobUnknown(digest.clone()));
        }
        self.backend.delete(&paths::layer_dir(repo, digest)).await?;
        Ok(())
    }

    /// Reads a stored object through a [`Verifier`] for `digest` (uploads
    /// resumed after a restart, blobs found on disk).
    pub(super) async fn verify_object(
        &self,
        key: &str,
        digest: &Digest,
    ) -> Result<std::result::Result<(), VerifyError>> {
        let mut verifier = Verifier::new(digest.clone(), None);
        if let Some(mut r) = self.backend.reader(key, 0, None).await? {
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = r.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                if let Err(e) = verifier.update(&buf[..n]) {
                    return Ok(Err(e));
                }
            }
        }
        Ok(verifier.finish())
    }

    /// Forgets what this process knew of a blob after it was removed: its
    /// cached manifest bytes and that its content was verified.
    pub(in crate::storage) fn forget_blob(&self, digest: &Digest) {
        self.verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(digest);
        let mut cache = self.manifests.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((bytes, _)) = cache.entries.remove(digest) {
            cache.bytes -= bytes.len();
        }
    }
}
