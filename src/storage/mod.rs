//! registry:2's on-disk layout, shared by `regctl serve` and the offline
//! garbage collector. No HTTP here: handlers translate to and from it.

pub mod aws_profile;
pub mod backend;
pub mod cluster;
// The backend contract as checks any backend's tests call (the S3 one
// from `tests/`, against a real server), hence public but hidden.
#[doc(hidden)]
pub mod contract;
pub mod error;
pub mod fs;
pub mod gc;
pub mod gc_coordinator;
pub mod lock;
pub mod paths;
pub mod registry;
pub mod s3;
pub mod url;

pub use backend::{Backend, ByteReader, ByteStream, Leaf, Meta, WalkEntry};
pub use error::StorageError;
pub use fs::FsBackend;
pub use lock::{LockError, RootLock};
pub use paths::{RepoName, TagName, UploadId};
pub use registry::{
    ManifestRef, OpenBlob, PutManifest, Registry, RepositoryScan, StoredManifest, byte_stream,
    catalog_order,
};
pub use s3::{S3Backend, S3Location};
pub use url::{StorageUrl, StorageUrlError};
