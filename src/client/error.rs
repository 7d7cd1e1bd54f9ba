//! The client's one error type. It carries status, registry code and URL so
//! callers (the CLI) choose hints and exit codes without matching strings.

use std::path::PathBuf;

use crate::types::{DigestMismatch, ErrorCode, ManifestError, OciError};

/// What went wrong talking to a registry.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The registry answered with an error status (and usually a JSON body).
    #[error("{}", registry_message(.status, .errors, .method, .url))]
    Registry {
        method: String,
        url: String,
        status: u16,
        errors: Vec<OciError>,
    },
    /// https was used against a server that speaks plain http.
    #[error("{registry}: server gave HTTP response to HTTPS client")]
    HttpsToHttp { registry: String },
    /// Plain http was used against a server that speaks https.
    #[error("{registry}: server answered an http request with TLS: it speaks https")]
    HttpToHttps { registry: String },
    #[error("cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    /// Connecting through the proxy the environment names failed.
    #[error(
        "cannot reach {url} through the proxy {proxy} (from HTTP_PROXY/HTTPS_PROXY/ALL_PROXY): {reason}"
    )]
    Proxy {
        url: String,
        proxy: String,
        reason: String,
    },
    #[error("TLS error talking to {url}: {reason}")]
    Tls { url: String, reason: String },
    /// No progress (connect, or any read) within the `--timeout`.
    #[error("{host} did not answer within {} (request to {url})", humantime::format_duration(*.after))]
    Timeout {
        url: String,
        host: String,
        after: std::time::Duration,
    },
    #[error("request to {url} failed: {reason}")]
    Transport { url: String, reason: String },
    /// Content did not hash to the digest it was requested by or announced with.
    // The mismatch is in the message, not a `source`, so that an error
    // chain does not say it twice.
    #[error("{url}: {mismatch}")]
    DigestMismatch {
        url: String,
        mismatch: DigestMismatch,
    },
    #[error("{url}: manifest is larger than the {limit}-byte limit")]
    ManifestTooLarge { url: String, limit: usize },
    #[error("{url}: {source}")]
    Manifest {
        url: String,
        #[source]
        source: ManifestError,
    },
    #[error("{url}: unexpected response: {reason}")]
    InvalidResponse { url: String, reason: String },
    /// Fetching a Bearer token failed.
    #[error("token request to {realm} failed: {reason}")]
    Token {
        realm: String,
        status: Option<u16>,
        reason: String,
    },
    /// A `Link` to the next page that regctl will not follow.
    #[error("not following the next-page link from {from} to {to}: {reason}")]
    Paging {
        from: String,
        to: String,
        reason: String,
    },
    #[error("cannot use CA certificate {path}: {reason}")]
    CaCert { path: PathBuf, reason: String },
    #[error(transparent)]
    Credentials(#[from] crate::client::creds::CredentialError),
    /// The tag moved to another manifest between planning and deleting.
    #[error("{reference} now points to {now}, not {expected}: it moved, nothing was deleted")]
    TagMoved {
        reference: String,
        expected: String,
        now: String,
    },
}

fn registry_message(status: &u16, errors: &[OciError], method: &str, url: &str) -> String {
    match errors.first() {
        Some(e) => {
            let msg = if e.message.is_empty() {
                e.code.default_message().to_owned()
            } else {
                e.message.clone()
            };
            format!("{}: {msg} (HTTP {status})", e.code)
        }
        None => format!(
            "{method} {url}: HTTP {status} {}",
            http_reason(*status).unwrap_or("")
        )
        .trim_end()
        .to_owned(),
    }
}

fn http_reason(status: u16) -> Option<&'static str> {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
}

/// Broad classes of failure, for exit codes and hints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    Auth,
    Unsupported,
    Network,
    Integrity,
    Other,
}

impl ClientError {
    /// The first registry error code, when the registry sent one.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            ClientError::Registry { errors, .. } => errors.first().map(|e| &e.code),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Registry { status, .. } => Some(*status),
            ClientError::Token { status, .. } => *status,
            _ => None,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            ClientError::Registry { status, errors, .. } => {
                let code = errors.first().map(|e| &e.code);
                match (status, code) {
                    (_, Some(ErrorCode::Unsupported)) | (405, _) => ErrorKind::Unsupported,
                    (_, Some(ErrorCode::Unauthorized | ErrorCode::Denied)) | (401 | 403, _) => {
                        ErrorKind::Auth
                    }
                    (
                        _,
                        Some(
                            ErrorCode::NameUnknown
                            | ErrorCode::ManifestUnknown
                            | ErrorCode::BlobUnknown,
                        ),
                    )
                    | (404, _) => ErrorKind::NotFound,
                    _ => ErrorKind::Other,
                }
            }
            ClientError::Token { status, .. } => match status {
                Some(401 | 403) => ErrorKind::Auth,
                _ => ErrorKind::Network,
            },
            ClientError::HttpsToHttp { .. }
            | ClientError::HttpToHttps { .. }
            | ClientError::Proxy { .. }
            | ClientError::Connect { .. }
            | ClientError::Tls { .. }
            | ClientError::Timeout { .. }
            | ClientError::Transport { .. } => ErrorKind::Network,
            ClientError::DigestMismatch { .. }
            | ClientError::ManifestTooLarge { .. }
            | ClientError::Manifest { .. } => ErrorKind::Integrity,
            _ => ErrorKind::Other,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.kind() == ErrorKind::NotFound
    }
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;
