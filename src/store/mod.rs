//! Image stores: one abstraction over every place an image can live, so the
//! copy engine has one path for every pair of kinds (registry, OCI layout
//! directory, OCI archive, docker archive) instead of a special case each.
//!
//! The traits are object-safe (`async_trait`): which kind a `regctl cp`
//! argument names is known only at run time, so the engine takes
//! `&dyn ImageSource` / `Box<dyn ImageDestination>`. The boxed future per
//! call is noise next to the I/O each call does.
//!
//! Every blob that crosses a store boundary goes through
//! [`verified`] ([`crate::types::verify`]): sources verify what they read, destinations
//! verify what they write, so a bad byte fails the copy and nothing
//! unverified is ever named by a digest.

mod archive;
mod docker_archive;
mod error;
mod files;
mod ocidir;
mod registry;

use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;

use crate::types::{
    Descriptor, Digest, ImageRef, Manifest, Verifier, VerifyError, VerifyingStream,
};

pub use archive::{OciArchiveDestination, open_oci_archive};
pub use docker_archive::{DOCKER_LAYER_TAR, DockerArchiveDestination, DockerArchiveSource};
pub use error::StoreError;
pub use ocidir::{OciDirDestination, OciLayoutSource, open_oci_dir};
pub use registry::{RegistryDestination, RegistrySource};

/// `stream` checked against `desc` as it passes: a wrong byte or length is
/// the stream's last item.
pub fn verified<S>(
    stream: S,
    desc: &Descriptor,
) -> VerifyingStream<S, fn(VerifyError) -> StoreError> {
    VerifyingStream::new(stream, Verifier::for_descriptor(desc), StoreError::from)
}

/// A blob's bytes as they arrive.
pub type BlobStream = Pin<Box<dyn Stream<Item = Result<Bytes, StoreError>> + Send>>;

/// Where an image comes from.
#[async_trait]
pub trait ImageSource: Send + Sync {
    /// The store, for messages (`oci:/tmp/layout`).
    fn location(&self) -> String;

    /// The top manifest named `name` (a tag; for docker archives a RepoTag
    /// such as `app:v1`). `None`: the store's only image, an error naming the
    /// choices when there are several.
    async fn resolve(&self, name: Option<&str>) -> Result<Manifest, StoreError>;

    /// A manifest by digest (an index's child), verified.
    async fn manifest(&self, digest: &Digest) -> Result<Manifest, StoreError>;

    /// A blob's bytes. The stream is verified against `desc` (digest and
    /// size) and fails at its end if they do not match.
    async fn blob(&self, desc: &Descriptor) -> Result<BlobStream, StoreError>;

    /// The names `resolve` accepts.
    async fn tags(&self) -> Result<Vec<String>, StoreError>;

    /// Where a destination on the same registry could mount blobs from
    /// (registries only).
    fn mount_origin(&self) -> Option<MountOrigin> {
        None
    }

    /// The referrers listing, for stores that can find the manifests whose
    /// `subject` is a given manifest (registries: the OCI 1.1 API).
    fn referrers(&self) -> Option<&dyn Referrers> {
        None
    }
}

/// A registry repository blobs can be mounted from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOrigin {
    pub registry: String,
    pub repository: String,
}

/// A source capability: listing referrers.
#[async_trait]
pub trait Referrers: Send + Sync {
    /// Descriptors of the manifests whose `subject` is `subject`.
    async fn referrers(&self, subject: &Digest) -> Result<Vec<Descriptor>, StoreError>;
}

/// A destination capability: linking a blob another repository holds
/// instead of transferring it.
#[async_trait]
pub trait BlobMount: Send + Sync {
    /// `Ok(true)` when the blob is now held; `Ok(false)` when `from` cannot
    /// lend it (another registry, or the registry declined).
    async fn mount(&self, desc: &Descriptor, from: &MountOrigin) -> Result<bool, StoreError>;
}

/// Where a manifest goes in the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement<'a> {
    /// Referenced by a manifest pushed later (an index's child): stored by
    /// digest only.
    Child,
    /// The manifest the destination will name: under `name` (tag or RepoTag)
    /// if given, else by digest alone.
    Top { name: Option<&'a str> },
}

/// Where an image goes. Nothing becomes visible under a name before
/// [`ImageDestination::commit`]; a destination dropped without commit leaves
/// nothing half-written at its path (archives are written whole on commit,
/// blobs go to temporary files first).
#[async_trait]
pub trait ImageDestination: Send + Sync {
    fn location(&self) -> String;

    /// Whether an index (multi-platform image) can be stored; docker
    /// archives hold single images only.
    fn accepts_index(&self) -> bool {
        true
    }

    /// Whether the destination already holds this blob (so the copy skips it).
    async fn has_blob(&self, desc: &Descriptor) -> Result<bool, StoreError>;

    /// Stores a blob, streamed and verified against `desc`: on a digest or
    /// size mismatch it fails and stores nothing. Safe to call concurrently.
    async fn put_blob(&self, desc: &Descriptor, data: BlobStream) -> Result<(), StoreError>;

    /// Stores a manifest's exact bytes. Children before the manifests that
    /// reference them, blobs before their manifest.
    async fn put_manifest(
        &self,
        manifest: &Manifest,
        placement: Placement<'_>,
    ) -> Result<(), StoreError>;

    /// Makes the result visible: writes the index or the archive.
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;

    /// Cross-repository mounts, where the destination can do them.
    fn blob_mount(&self) -> Option<&dyn BlobMount> {
        None
    }
}

/// Opens a store to read from; registries through `client`.
pub async fn open_source_with(
    image: &ImageRef,
    client: &crate::client::Client,
) -> Result<Box<dyn ImageSource>, StoreError> {
    match image {
        ImageRef::Registry(r) => Ok(Box::new(RegistrySource::new(client.clone(), r.clone()))),
        local => open_source(local).await,
    }
}

/// Opens a store to write to; registries through `client`.
pub async fn open_destination_with(
    image: &ImageRef,
    client: &crate::client::Client,
) -> Result<Box<dyn ImageDestination>, StoreError> {
    match image {
        ImageRef::Registry(r) => Ok(Box::new(RegistryDestination::new(client.clone(), r))),
        local => open_destination(local).await,
    }
}

/// Opens a local store (OCI directory or archive) to read from.
/// Registries need a client: see [`open_source_with`].
pub async fn open_source(image: &ImageRef) -> Result<Box<dyn ImageSource>, StoreError> {
    match image {
        ImageRef::OciDir { path, .. } => Ok(Box::new(open_oci_dir(path).await?)),
        ImageRef::OciArchive { path, .. } => Ok(Box::new(open_oci_archive(path).await?)),
        ImageRef::DockerArchive { path, .. } => {
            Ok(Box::new(DockerArchiveSource::open(path).await?))
        }
        ImageRef::Registry(r) => Err(registry_not_local(r)),
    }
}

/// Opens a local store to write to.
pub async fn open_destination(image: &ImageRef) -> Result<Box<dyn ImageDestination>, StoreError> {
    match image {
        ImageRef::OciDir { path, .. } => Ok(Box::new(OciDirDestination::open(path).await?)),
        ImageRef::OciArchive { path, .. } => {
            Ok(Box::new(OciArchiveDestination::create(path).await?))
        }
        ImageRef::DockerArchive { path, .. } => {
            Ok(Box::new(DockerArchiveDestination::create(path).await?))
        }
        ImageRef::Registry(r) => Err(registry_not_local(r)),
    }
}

fn registry_not_local(r: &crate::types::Reference) -> StoreError {
    StoreError::Unsupported {
        location: r.to_string(),
        reason: "a registry is not a local image store; open it with a client (open_source_with)"
            .to_owned(),
    }
}
