//! Why an image store operation failed, naming the store and the object.

use std::path::PathBuf;

use crate::types::{Digest, DigestMismatch, ManifestError, VerifyError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{location}: {what} not found")]
    NotFound { location: String, what: String },
    #[error("{path}: {action}: {source}")]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("blob {0}")]
    Digest(#[from] DigestMismatch),
    #[error("blob {digest} is {actual} bytes, but its descriptor says {expected}")]
    Size {
        digest: Digest,
        expected: u64,
        actual: u64,
    },
    #[error("{location}: manifest {what}: {source}")]
    Manifest {
        location: String,
        what: String,
        #[source]
        source: ManifestError,
    },
    #[error("{location} is not a valid {kind}: {reason}")]
    Invalid {
        location: String,
        kind: &'static str,
        reason: String,
    },
    #[error("{location}: {reason}")]
    Unsupported { location: String, reason: String },
    #[error("{location} holds several images ({available}); name one, e.g. {example}")]
    Ambiguous {
        location: String,
        available: String,
        example: String,
    },
    /// An error from a store implemented elsewhere.
    #[error(transparent)]
    Backend(Box<dyn std::error::Error + Send + Sync>),
    /// The registry store's client failed.
    #[error(transparent)]
    Registry(#[from] crate::client::ClientError),
}

impl From<VerifyError> for StoreError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::Digest(m) => StoreError::Digest(m),
            VerifyError::Size {
                digest,
                expected,
                actual,
            } => StoreError::Size {
                digest,
                expected,
                actual,
            },
        }
    }
}

impl StoreError {
    /// The registry client's error behind this one, if any (for exit codes).
    pub fn client_error(&self) -> Option<&crate::client::ClientError> {
        match self {
            StoreError::Registry(e) => Some(e),
            _ => None,
        }
    }

    pub(crate) fn io(
        path: impl Into<PathBuf>,
        action: &'static str,
    ) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.into();
        move |source| StoreError::Io {
            path,
            action,
            source,
        }
    }
}
