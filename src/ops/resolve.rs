//! What a reference names, resolved for a command: the digest, or the
//! manifest (for one platform with `--platform`), with a "not found" that
//! says which tag or digest is missing from which repository instead of the
//! registry's bare `HEAD …: HTTP 404`.

use crate::client::{Client, ClientError};
use crate::store::{ImageSource, RegistrySource, StoreError};
use crate::types::{Digest, Manifest, Platform, Reference};

use super::platform::{self, PlatformError};

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The registry has no such tag, digest or repository. The client's
    /// error is kept for the exit code, not repeated in the message.
    #[error("{what}")]
    NotFound {
        what: String,
        /// `REGISTRY/REPOSITORY`, for the hint.
        repository: String,
        cause: ClientError,
    },
    #[error(transparent)]
    Client(ClientError),
    #[error(transparent)]
    Platform(PlatformError),
}

impl ResolveError {
    /// The registry client's error behind this one, if any (for exit codes).
    pub fn client_error(&self) -> Option<&ClientError> {
        match self {
            ResolveError::NotFound { cause, .. } | ResolveError::Client(cause) => Some(cause),
            ResolveError::Platform(e) => e.client_error(),
        }
    }

    fn from_client(r: &Reference, e: ClientError) -> Self {
        if !e.is_not_found() {
            return ResolveError::Client(e);
        }
        let repository = r.repo_only().to_string();
        let what = match (e.code(), r.digest(), r.tag_or_latest()) {
            (Some(crate::types::ErrorCode::NameUnknown), _, _) => {
                format!("repository {repository} not found")
            }
            (_, Some(d), _) => format!("manifest {d} not found in {repository}"),
            (_, None, Some(tag)) => {
                format!("tag {tag} not found in {repository} (or the repository does not exist)")
            }
            _ => format!("{r} not found"),
        };
        // The registry's own code, when it sent one, for those who search it.
        let what = match e.code() {
            Some(code) => format!("{what} ({code})"),
            None => what,
        };
        ResolveError::NotFound {
            what,
            repository,
            cause: e,
        }
    }

    fn from_platform(r: &Reference, e: PlatformError) -> Self {
        match e {
            PlatformError::Store(StoreError::Registry(c)) => Self::from_client(r, c),
            other => ResolveError::Platform(other),
        }
    }
}

/// The digest `r` names (a digest in `r` is verified by fetching); with
/// `platform`, the digest of that platform's image under it.
pub async fn digest(
    client: &Client,
    r: &Reference,
    platform: Option<&Platform>,
) -> Result<Digest, ResolveError> {
    match platform {
        None => client
            .resolve_digest(r)
            .await
            .map_err(|e| ResolveError::from_client(r, e)),
        Some(_) => Ok(manifest(client, r, platform).await?.digest().clone()),
    }
}

/// The manifest `r` names; with `platform`, that platform's image under it
/// (an index's child, or the single image itself if it is for `platform`).
pub async fn manifest(
    client: &Client,
    r: &Reference,
    platform: Option<&Platform>,
) -> Result<Manifest, ResolveError> {
    let top = client
        .manifest_get(r)
        .await
        .map_err(|e| ResolveError::from_client(r, e))?;
    match platform {
        None => Ok(top),
        Some(wanted) => {
            let src = RegistrySource::new(client.clone(), r.clone());
            platform::select(&src as &dyn ImageSource, top, wanted)
                .await
                .map_err(|e| ResolveError::from_platform(r, e))
        }
    }
}
