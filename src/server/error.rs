//! Errors as the distribution spec's JSON body with the matching status.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::storage::StorageError;
use crate::types::{ErrorCode, ErrorEnvelope, ParseError};

/// An error answered to a client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn unsupported(message: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Unsupported,
            message,
        )
    }

    pub fn not_found() -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::Other("NOT_FOUND".into()),
            "no such route",
        )
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        use StatusCode as S;
        let message = e.to_string();
        let (status, code) = match &e {
            StorageError::Name(ParseError::TagInvalid { .. }) => {
                (S::BAD_REQUEST, ErrorCode::TagInvalid)
            }
            StorageError::Name(_) => (S::BAD_REQUEST, ErrorCode::NameInvalid),
            StorageError::DigestInvalid(_) => (S::BAD_REQUEST, ErrorCode::DigestInvalid),
            StorageError::BlobUnknown(_) => (S::NOT_FOUND, ErrorCode::BlobUnknown),
            StorageError::ManifestUnknown(_) => (S::NOT_FOUND, ErrorCode::ManifestUnknown),
            StorageError::NameUnknown(_) => (S::NOT_FOUND, ErrorCode::NameUnknown),
            StorageError::UploadUnknown => (S::NOT_FOUND, ErrorCode::BlobUploadUnknown),
            StorageError::UploadOffset { .. } | StorageError::UploadBusy => {
                (S::RANGE_NOT_SATISFIABLE, ErrorCode::BlobUploadInvalid)
            }
            StorageError::DigestMismatch(_) => (S::BAD_REQUEST, ErrorCode::DigestInvalid),
            StorageError::SizeMismatch { .. } => (S::BAD_REQUEST, ErrorCode::SizeInvalid),
            StorageError::ManifestInvalid(_) => (S::BAD_REQUEST, ErrorCode::ManifestInvalid),
            StorageError::ManifestBlobUnknown(_) => {
                (S::BAD_REQUEST, ErrorCode::ManifestBlobUnknown)
            }
            StorageError::ManifestTooLarge { .. } => {
                (S::PAYLOAD_TOO_LARGE, ErrorCode::ManifestInvalid)
            }
            StorageError::Io(io) if io.get_ref().is_some_and(|e| e.is::<super::BodyError>()) => {
                // The client sent less or more than it declared, or went away.
                (S::BAD_REQUEST, ErrorCode::SizeInvalid)
            }
            StorageError::Io(io) => {
                // The cause goes to the log, not to the client.
                tracing::error!(error = %io, "storage I/O error");
                return ApiError::new(
                    S::INTERNAL_SERVER_ERROR,
                    ErrorCode::Other("UNKNOWN".into()),
                    "internal storage error",
                );
            }
        };
        ApiError::new(status, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&ErrorEnvelope::single(self.code, self.message))
            .unwrap_or_else(|_| b"{\"errors\":[]}".to_vec());
        let mut resp = (self.status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        resp
    }
}
