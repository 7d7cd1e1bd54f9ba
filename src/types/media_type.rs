//! Media types of manifests and blobs, and the `Accept` lists that make a
//! registry return the manifest it stores instead of converting it.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_TAR_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// The `Accept` header for a manifest request. Order matters to some
/// registries; schema1 comes last, with a lower quality, so a registry only
/// falls back to it when the manifest exists in no other form.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.docker.distribution.manifest.v1+prettyjws;q=0.5, \
application/vnd.docker.distribution.manifest.v1+json;q=0.5";

/// A media type, with the ones regctl understands named.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MediaType {
    OciManifest,
    OciIndex,
    OciConfig,
    DockerManifest,
    DockerList,
    DockerConfig,
    DockerSchema1,
    DockerSchema1Signed,
    Other(String),
}

impl MediaType {
    /// Parses a media type, ignoring parameters such as `; charset=utf-8`.
    pub fn parse(s: &str) -> Self {
        let base = s.split(';').next().unwrap_or("").trim();
        match base {
            OCI_MANIFEST => MediaType::OciManifest,
            OCI_INDEX => MediaType::OciIndex,
            OCI_CONFIG => MediaType::OciConfig,
            DOCKER_MANIFEST => MediaType::DockerManifest,
            DOCKER_LIST => MediaType::DockerList,
            DOCKER_CONFIG => MediaType::DockerConfig,
            DOCKER_SCHEMA1 => MediaType::DockerSchema1,
            DOCKER_SCHEMA1_SIGNED => MediaType::DockerSchema1Signed,
            other => MediaType::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            MediaType::OciManifest => OCI_MANIFEST,
            MediaType::OciIndex => OCI_INDEX,
            MediaType::OciConfig => OCI_CONFIG,
            MediaType::DockerManifest => DOCKER_MANIFEST,
            MediaType::DockerList => DOCKER_LIST,
            MediaType::DockerConfig => DOCKER_CONFIG,
            MediaType::DockerSchema1 => DOCKER_SCHEMA1,
            MediaType::DockerSchema1Signed => DOCKER_SCHEMA1_SIGNED,
            MediaType::Other(s) => s,
        }
    }

    /// An index of platform manifests (OCI index or Docker manifest list).
    pub fn is_index(&self) -> bool {
        matches!(self, MediaType::OciIndex | MediaType::DockerList)
    }

    /// A single-image manifest (OCI or Docker schema2).
    pub fn is_image_manifest(&self) -> bool {
        matches!(self, MediaType::OciManifest | MediaType::DockerManifest)
    }

    pub fn is_schema1(&self) -> bool {
        matches!(
            self,
            MediaType::DockerSchema1 | MediaType::DockerSchema1Signed
        )
    }

    /// Any manifest type a registry stores under `/manifests/`.
    pub fn is_manifest(&self) -> bool {
        self.is_index() || self.is_image_manifest() || self.is_schema1()
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for MediaType {
    fn from(s: &str) -> Self {
        MediaType::parse(s)
    }
}

impl Serialize for MediaType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for MediaType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(MediaType::parse(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_types_and_ignores_parameters() {
        assert_eq!(MediaType::parse(OCI_INDEX), MediaType::OciIndex);
        assert_eq!(
            MediaType::parse("application/vnd.docker.distribution.manifest.v2+json; charset=utf-8"),
            MediaType::DockerManifest
        );
        assert_eq!(
            MediaType::parse("text/plain"),
            MediaType::Other("text/plain".into())
        );
        assert!(MediaType::DockerList.is_index());
        assert!(MediaType::OciManifest.is_image_manifest());
        assert!(!MediaType::OciConfig.is_manifest());
    }

    #[test]
    fn accept_lists_every_manifest_type() {
        for t in [
            OCI_INDEX,
            OCI_MANIFEST,
            DOCKER_LIST,
            DOCKER_MANIFEST,
            DOCKER_SCHEMA1_SIGNED,
        ] {
            assert!(MANIFEST_ACCEPT.contains(t), "{t}");
        }
    }
}
