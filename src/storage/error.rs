//! Storage errors: what went wrong, in terms the server maps to spec codes.

use std::io;

use crate::types::{Digest, DigestError, DigestMismatch, ParseError, VerifyError};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("invalid name: {0}")]
    Name(#[from] ParseError),
    #[error("invalid digest: {0}")]
    DigestInvalid(#[from] DigestError),
    #[error("blob {0} is unknown")]
    BlobUnknown(Digest),
    #[error("manifest {0} is unknown")]
    ManifestUnknown(String),
    #[error("repository {0} is unknown")]
    NameUnknown(String),
    #[error("upload is unknown (it finished, was cancelled or never existed)")]
    UploadUnknown,
    #[error(
        "another request is using this upload session; wait for it to finish, then check the upload's status and resume"
    )]
    UploadBusy,
    #[error("chunk starts at byte {got}, but the upload holds {expected} bytes")]
    UploadOffset { expected: u64, got: u64 },
    #[error(transparent)]
    DigestMismatch(#[from] DigestMismatch),
    #[error("content is {actual} bytes, but {expected} were declared")]
    SizeMismatch { expected: u64, actual: u64 },
    #[error("manifest is invalid: {0}")]
    ManifestInvalid(String),
    #[error("manifest references {0}, which this repository does not have")]
    ManifestBlobUnknown(Digest),
    #[error("manifest is larger than {limit} bytes")]
    ManifestTooLarge { limit: usize },
    #[error("storage I/O failed: {0}")]
    Io(#[from] io::Error),
}

impl From<VerifyError> for StorageError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::Digest(m) => StorageError::DigestMismatch(m),
            VerifyError::Size {
                expected, actual, ..
            } => StorageError::SizeMismatch { expected, actual },
        }
    }
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;
