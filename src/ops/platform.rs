//! `--platform`: the image for one platform out of what a reference names.
//! An index answers with its matching child; a single image answers with
//! itself when its config's os/architecture/variant match. Anything else is
//! an error naming the platforms that do exist, never a silent fallback to
//! whatever the reference happened to name.

use futures_util::StreamExt;

use crate::store::{ImageSource, StoreError};
use crate::types::{ImageConfig, Manifest, ManifestBody, Platform};

/// Image configs read to learn a single image's platform: far above any
/// real one, low enough that a hostile registry cannot exhaust memory.
pub const MAX_CONFIG_SIZE: usize = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// Nothing under the reference is for the wanted platform.
    #[error("{location} has no image for platform {wanted}; it has: {available}")]
    NotFound {
        location: String,
        wanted: String,
        available: String,
    },
    /// A single image whose platform cannot be told (an artifact, a
    /// schema1 manifest, a config that is not an image config).
    #[error(
        "{location} is a single {media_type} whose platform cannot be told ({reason}); \
         drop --platform to use it as it is"
    )]
    Unknown {
        location: String,
        media_type: String,
        reason: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PlatformError {
    /// The registry client's error behind this one, if any (for exit codes).
    pub fn client_error(&self) -> Option<&crate::client::ClientError> {
        match self {
            PlatformError::Store(e) => e.client_error(),
            _ => None,
        }
    }
}

/// The platforms an index lists, for messages.
pub fn index_platforms(index: &Manifest) -> Vec<String> {
    index
        .children()
        .iter()
        .filter_map(|d| d.platform.as_ref().map(ToString::to_string))
        .collect()
}

fn list(platforms: &[String]) -> String {
    if platforms.is_empty() {
        "no platforms".to_owned()
    } else {
        platforms.join(", ")
    }
}

/// The image manifest for `wanted` under `top` (read from `src`): the
/// matching child of an index, or `top` itself when it is a single image
/// built for `wanted`.
pub async fn select(
    src: &dyn ImageSource,
    top: Manifest,
    wanted: &Platform,
) -> Result<Manifest, PlatformError> {
    if top.media_type().is_index() {
        let child = top
            .children()
            .iter()
            .find(|d| d.platform.as_ref().is_some_and(|p| p.matches(wanted)));
        return match child {
            Some(child) => Ok(src.manifest(&child.digest).await?),
            None => Err(PlatformError::NotFound {
                location: src.location(),
                wanted: wanted.to_string(),
                available: list(&index_platforms(&top)),
            }),
        };
    }
    let have = image_platform(src, &top).await?;
    if have.matches(wanted) {
        Ok(top)
    } else {
        Err(PlatformError::NotFound {
            location: format!("{} (a single-platform image)", src.location()),
            wanted: wanted.to_string(),
            available: have.to_string(),
        })
    }
}

/// A single image's platform, from its config.
pub async fn image_platform(
    src: &dyn ImageSource,
    m: &Manifest,
) -> Result<Platform, PlatformError> {
    let unknown = |reason: String| PlatformError::Unknown {
        location: src.location(),
        media_type: m.media_type().to_string(),
        reason,
    };
    let ManifestBody::Image(image) = m.body() else {
        return Err(unknown("it has no image config".to_owned()));
    };
    let size = usize::try_from(image.config.size).unwrap_or(usize::MAX);
    if size > MAX_CONFIG_SIZE {
        return Err(unknown(format!(
            "its config is {} bytes, over the {MAX_CONFIG_SIZE}-byte limit",
            image.config.size
        )));
    }
    let mut stream = src.blob(&image.config).await?;
    let mut raw = Vec::with_capacity(size);
    while let Some(chunk) = stream.next().await {
        raw.extend_from_slice(&chunk?);
        if raw.len() > MAX_CONFIG_SIZE {
            return Err(unknown(format!(
                "its config exceeds the {MAX_CONFIG_SIZE}-byte limit"
            )));
        }
    }
    config_platform(&raw)
        .map_err(|reason| unknown(format!("its config {}: {reason}", image.config.digest)))
}

/// The platform an image config names (`os`, `architecture`, `variant`).
pub fn config_platform(raw: &[u8]) -> Result<Platform, String> {
    let config: ImageConfig =
        serde_json::from_slice(raw).map_err(|e| format!("not an image config: {e}"))?;
    if config.os.is_empty() || config.architecture.is_empty() {
        return Err("names no os/architecture".to_owned());
    }
    Ok(Platform {
        os: config.os,
        architecture: config.architecture,
        variant: config.variant,
        os_version: None,
    })
}
