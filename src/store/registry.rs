//! A registry repository as an image store, over the registry client: the
//! same traits as the local stores, plus what only a registry can do
//! (cross-repository mounts, the referrers API).

use async_trait::async_trait;
use futures_util::{StreamExt, TryStreamExt};

use super::{
    BlobMount, BlobStream, ImageDestination, ImageSource, MountOrigin, Placement, Referrers,
    StoreError,
};
use crate::client::Client;
use crate::types::{Descriptor, Digest, Manifest, Reference};

/// Reads images from one registry repository.
pub struct RegistrySource {
    client: Client,
    reference: Reference,
}

impl RegistrySource {
    /// `reference` names the repository and, optionally, the image that
    /// `resolve(None)` returns (its tag or digest; `latest` without either).
    pub fn new(client: Client, reference: Reference) -> Self {
        RegistrySource { client, reference }
    }

    fn repo(&self) -> Reference {
        self.reference.repo_only()
    }
}

#[async_trait]
impl ImageSource for RegistrySource {
    fn location(&self) -> String {
        self.reference.to_string()
    }

    async fn resolve(&self, name: Option<&str>) -> Result<Manifest, StoreError> {
        let r = match name {
            None => self.reference.clone(),
            Some(name) => match name.parse::<Digest>() {
                Ok(d) => self.repo().with_digest(d),
                Err(_) => self
                    .repo()
                    .with_tag(name)
                    .map_err(|e| StoreError::Unsupported {
                        location: self.location(),
                        reason: e.to_string(),
                    })?,
            },
        };
        Ok(self.client.manifest_get(&r).await?)
    }

    async fn manifest(&self, digest: &Digest) -> Result<Manifest, StoreError> {
        Ok(self
            .client
            .manifest_get(&self.repo().with_digest(digest.clone()))
            .await?)
    }

    async fn blob(&self, desc: &Descriptor) -> Result<BlobStream, StoreError> {
        // The client's stream verifies digest and size and resumes broken
        // downloads; hashing again here would only cost time.
        let stream = self
            .client
            .blob_get_sized(&self.repo(), &desc.digest, u64::try_from(desc.size).ok())
            .await?;
        Ok(Box::pin(stream.map_err(StoreError::from)))
    }

    async fn tags(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.client.tags(&self.repo(), None).await?)
    }

    fn mount_origin(&self) -> Option<MountOrigin> {
        Some(MountOrigin {
            registry: self.reference.registry().to_owned(),
            repository: self.reference.repository().to_owned(),
        })
    }

    fn referrers(&self) -> Option<&dyn Referrers> {
        Some(self)
    }
}

#[async_trait]
impl Referrers for RegistrySource {
    async fn referrers(&self, subject: &Digest) -> Result<Vec<Descriptor>, StoreError> {
        Ok(self.client.referrers(&self.repo(), subject).await?)
    }
}

/// Writes images into one registry repository. Blobs and manifests go
/// straight to the registry, manifests last, so `commit` has nothing left
/// to do; a failed copy leaves only unreferenced blobs.
pub struct RegistryDestination {
    client: Client,
    repo: Reference,
}

impl RegistryDestination {
    pub fn new(client: Client, repository: &Reference) -> Self {
        RegistryDestination {
            client,
            repo: repository.repo_only(),
        }
    }
}

#[async_trait]
impl ImageDestination for RegistryDestination {
    fn location(&self) -> String {
        self.repo.to_string()
    }

    async fn has_blob(&self, desc: &Descriptor) -> Result<bool, StoreError> {
        Ok(self
            .client
            .blob_head(&self.repo, &desc.digest)
            .await?
            .is_some())
    }

    async fn put_blob(&self, desc: &Descriptor, data: BlobStream) -> Result<(), StoreError> {
        let size = u64::try_from(desc.size).map_err(|_| StoreError::Unsupported {
            location: self.location(),
            reason: format!("blob {} has a negative size", desc.digest),
        })?;
        let body = data.map(|chunk| chunk.map_err(std::io::Error::other));
        Ok(self
            .client
            .blob_put(&self.repo, &desc.digest, size, body)
            .await?)
    }

    async fn put_manifest(
        &self,
        manifest: &Manifest,
        placement: Placement<'_>,
    ) -> Result<(), StoreError> {
        let reference = match placement {
            Placement::Top { name: Some(name) } => name.to_owned(),
            Placement::Child | Placement::Top { name: None } => manifest.digest().to_string(),
        };
        let put = self
            .client
            .manifest_put_with_subject(
                &self.repo,
                &reference,
                manifest.media_type().as_str(),
                manifest.raw().clone(),
            )
            .await?;
        // A registry without the referrers API (registry:2) did not index
        // the subject: keep the OCI 1.1 referrers tag scheme up to date,
        // so the artifact can be found (and copied back) from there.
        if let Some(subject) = manifest.subject()
            && !put.subject_processed
        {
            let mut referrer = manifest.descriptor();
            referrer.artifact_type = manifest.artifact_type();
            referrer.annotations = manifest.annotations().cloned();
            self.client
                .referrers_tag_add(&self.repo, &subject.digest, referrer)
                .await?;
        }
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        Ok(())
    }

    fn blob_mount(&self) -> Option<&dyn BlobMount> {
        Some(self)
    }
}

#[async_trait]
impl BlobMount for RegistryDestination {
    async fn mount(&self, desc: &Descriptor, from: &MountOrigin) -> Result<bool, StoreError> {
        if from.registry != self.repo.registry() || from.repository == self.repo.repository() {
            return Ok(false);
        }
        Ok(self
            .client
            .blob_mount(&self.repo, &desc.digest, &from.repository)
            .await?)
    }
}
