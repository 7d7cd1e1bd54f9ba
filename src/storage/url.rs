//! `--storage URL`: where a registry's content lives, a directory
//! (`file:///path`, the same as `--root`) or a bucket (`s3://BUCKET[/PREFIX]`).

use std::path::PathBuf;
use std::sync::Arc;

use super::backend::Backend;
use super::fs::FsBackend;
use super::s3::{S3Backend, S3ConfigError, S3Location};

/// A parsed `--storage` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageUrl {
    /// A storage root directory (registry:2's filesystem `rootdirectory`).
    Dir(PathBuf),
    /// A bucket and prefix (registry:2's s3 driver with `rootdirectory`).
    S3(S3Location),
}

#[derive(Debug, thiserror::Error)]
pub enum StorageUrlError {
    #[error(
        "--storage {0:?}: give file:///ABSOLUTE/PATH (a storage root directory) or s3://BUCKET[/PREFIX]"
    )]
    Scheme(String),
    #[error(transparent)]
    S3(#[from] S3ConfigError),
}

impl StorageUrl {
    pub fn parse(s: &str) -> Result<Self, StorageUrlError> {
        if s.starts_with("s3://") {
            return Ok(StorageUrl::S3(S3Location::parse(s)?));
        }
        if let Some(path) = s.strip_prefix("file://") {
            // Only absolute paths (file:///x): `file://host/x` names a host.
            if path.starts_with('/') && path.len() > 1 {
                let decoded = percent_encoding::percent_decode_str(path)
                    .decode_utf8()
                    .map_err(|_| StorageUrlError::Scheme(s.to_owned()))?;
                return Ok(StorageUrl::Dir(PathBuf::from(decoded.as_ref())));
            }
        }
        Err(StorageUrlError::Scheme(s.to_owned()))
    }

    /// The backend over this storage: for a bucket, configured from the
    /// standard AWS environment (nothing is contacted yet).
    pub fn open(&self) -> Result<Arc<dyn Backend>, StorageUrlError> {
        Ok(match self {
            StorageUrl::Dir(root) => Arc::new(FsBackend::new(root)),
            StorageUrl::S3(location) => Arc::new(S3Backend::from_env(location.clone())?),
        })
    }
}

impl std::fmt::Display for StorageUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageUrl::Dir(p) => write!(f, "file://{}", p.display()),
            StorageUrl::S3(l) => l.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_urls_parse_or_say_what_to_give() {
        assert_eq!(
            StorageUrl::parse("file:///var/lib/registry").unwrap(),
            StorageUrl::Dir("/var/lib/registry".into())
        );
        assert_eq!(
            StorageUrl::parse("file:///a%20b").unwrap(),
            StorageUrl::Dir("/a b".into())
        );
        let s3 = StorageUrl::parse("s3://bucket/reg").unwrap();
        assert_eq!(s3.to_string(), "s3://bucket/reg");
        for bad in [
            "/var/lib/registry",
            "file://host/x",
            "file://",
            "gs://b",
            "s3://B",
        ] {
            let e = StorageUrl::parse(bad).unwrap_err().to_string();
            assert!(e.contains("s3://BUCKET"), "{bad}: {e}");
        }
    }
}
