//! Manifests, indexes, descriptors and image configs.
//!
//! A [`Manifest`] keeps the exact bytes it was read from: its digest is the
//! hash of those bytes, and copying or serving it must never re-encode them.
//! The typed views are tolerant (unknown fields are ignored) because
//! registries accept manifests that stricter schema crates reject.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use super::digest::Digest;
use super::media_type::MediaType;

/// The largest manifest regctl reads or accepts (the spec's recommended limit).
pub const MAX_MANIFEST_SIZE: usize = 4 * 1024 * 1024;

/// A content descriptor: what a manifest says about a blob or child manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: MediaType,
    pub digest: Digest,
    pub size: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
}

impl Descriptor {
    pub fn new(media_type: MediaType, digest: Digest, size: i64) -> Self {
        Descriptor {
            media_type,
            digest,
            size,
            platform: None,
            artifact_type: None,
            annotations: None,
            urls: None,
        }
    }
}

/// An image platform, e.g. `linux/arm64/v8`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(
        default,
        rename = "os.version",
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
}

/// Why a platform string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid platform {0:?}: expected os/arch or os/arch/variant, e.g. linux/amd64 or linux/arm64/v8"
)]
pub struct PlatformParseError(pub String);

impl Platform {
    /// Parses `os/arch[/variant]`.
    pub fn parse(s: &str) -> Result<Self, PlatformParseError> {
        let parts: Vec<&str> = s.split('/').collect();
        if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
            return Err(PlatformParseError(s.to_owned()));
        }
        Ok(Platform {
            os: parts[0].to_owned(),
            architecture: parts[1].to_owned(),
            variant: parts.get(2).map(|v| (*v).to_owned()),
            os_version: None,
        })
    }

    /// Whether this platform satisfies a wanted one; a wanted platform
    /// without a variant matches any variant.
    pub fn matches(&self, wanted: &Platform) -> bool {
        self.os == wanted.os
            && self.architecture == wanted.architecture
            && (wanted.variant.is_none() || self.variant == wanted.variant)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// An OCI image manifest or Docker schema2 manifest (same shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<MediaType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// An OCI image index or Docker manifest list (same shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<MediaType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// A Docker schema1 manifest: only what is needed to find its blobs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schema1Manifest {
    pub schema_version: u32,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub tag: String,
    #[serde(default)]
    pub fs_layers: Vec<Schema1Layer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schema1Layer {
    pub blob_sum: Digest,
}

/// The parsed content of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
// Manifests are handled one at a time, never in large arrays, so boxing the
// bigger variants would cost an allocation for nothing.
#[allow(clippy::large_enum_variant)]
pub enum ManifestBody {
    Image(ImageManifest),
    Index(ImageIndex),
    Schema1(Schema1Manifest),
}

/// Why manifest bytes are not a usable manifest.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest is {size} bytes, more than the {MAX_MANIFEST_SIZE}-byte limit")]
    TooLarge { size: usize },
    #[error("manifest is not valid JSON for {media_type}: {source}")]
    Invalid {
        media_type: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "manifest has no recognisable media type (mediaType field {field:?}, Content-Type {content_type:?})"
    )]
    UnknownMediaType {
        field: Option<String>,
        content_type: Option<String>,
    },
    #[error("manifest mediaType field {field} contradicts the declared type {declared}")]
    MediaTypeMismatch { field: String, declared: String },
    #[error("manifest schemaVersion is {0}, expected 2")]
    SchemaVersion(u32),
}

/// A manifest with its exact bytes, digest and media type.
#[derive(Debug, Clone)]
pub struct Manifest {
    raw: Bytes,
    digest: Digest,
    media_type: MediaType,
    body: ManifestBody,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    schema_version: Option<u32>,
    // Only whether these are present matters: skipped, not built as trees
    // (an index's `manifests` may hold thousands of entries).
    #[serde(default)]
    manifests: Option<IgnoredAny>,
    #[serde(default)]
    config: Option<IgnoredAny>,
    #[serde(default)]
    fs_layers: Option<IgnoredAny>,
}

/// The manifest's media type: its `mediaType` field, else `content_type`
/// (which must agree with the field when both are given), else inferred
/// from its shape, as registries do for OCI manifests.
pub fn detect_media_type(
    raw: &[u8],
    content_type: Option<&str>,
) -> Result<MediaType, ManifestError> {
    if raw.len() > MAX_MANIFEST_SIZE {
        return Err(ManifestError::TooLarge { size: raw.len() });
    }
    let probe: Probe = serde_json::from_slice(raw).map_err(|source| ManifestError::Invalid {
        media_type: content_type.unwrap_or("manifest").to_owned(),
        source,
    })?;
    media_type_of(probe, content_type)
}

fn media_type_of(probe: Probe, content_type: Option<&str>) -> Result<MediaType, ManifestError> {
    let declared = content_type
        .map(MediaType::parse)
        .filter(MediaType::is_manifest);
    let field = probe.media_type.as_deref().map(MediaType::parse);
    Ok(match (&field, &declared) {
        (Some(f), Some(d)) if f.is_manifest() && f != d => {
            return Err(ManifestError::MediaTypeMismatch {
                field: f.to_string(),
                declared: d.to_string(),
            });
        }
        (Some(f), _) if f.is_manifest() => f.clone(),
        (_, Some(d)) => d.clone(),
        _ if probe.manifests.is_some() => MediaType::OciIndex,
        _ if probe.config.is_some() => MediaType::OciManifest,
        _ if probe.fs_layers.is_some() && probe.schema_version == Some(1) => {
            MediaType::DockerSchema1Signed
        }
        _ => {
            return Err(ManifestError::UnknownMediaType {
                field: probe.media_type,
                content_type: content_type.map(str::to_owned),
            });
        }
    })
}

impl Manifest {
    /// Parses manifest bytes. The media type comes from the manifest's own
    /// `mediaType` field; `content_type` (from HTTP or a descriptor) is used
    /// when the field is absent, and must agree with it when both are given.
    /// The digest is always computed from the bytes (sha256).
    pub fn parse(raw: Bytes, content_type: Option<&str>) -> Result<Self, ManifestError> {
        let digest = Digest::sha256_of(&raw);
        Self::parse_with_digest(raw, content_type, digest)
    }

    /// Like [`Manifest::parse`], with a digest already computed (and verified)
    /// by the caller, possibly with another algorithm.
    pub fn parse_with_digest(
        raw: Bytes,
        content_type: Option<&str>,
        digest: Digest,
    ) -> Result<Self, ManifestError> {
        let media_type = detect_media_type(&raw, content_type)?;
        let invalid = |source| ManifestError::Invalid {
            media_type: media_type.to_string(),
            source,
        };
        let body = if media_type.is_index() {
            let index: ImageIndex = serde_json::from_slice(&raw).map_err(invalid)?;
            if index.schema_version != 2 {
                return Err(ManifestError::SchemaVersion(index.schema_version));
            }
            ManifestBody::Index(index)
        } else if media_type.is_image_manifest() {
            let image: ImageManifest = serde_json::from_slice(&raw).map_err(invalid)?;
            if image.schema_version != 2 {
                return Err(ManifestError::SchemaVersion(image.schema_version));
            }
            ManifestBody::Image(image)
        } else {
            ManifestBody::Schema1(serde_json::from_slice(&raw).map_err(invalid)?)
        };
        Ok(Manifest {
            raw,
            digest,
            media_type,
            body,
        })
    }

    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    pub fn media_type(&self) -> &MediaType {
        &self.media_type
    }

    pub fn body(&self) -> &ManifestBody {
        &self.body
    }

    pub fn size(&self) -> usize {
        self.raw.len()
    }

    /// A descriptor pointing at this manifest.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor::new(
            self.media_type.clone(),
            self.digest.clone(),
            self.raw.len() as i64,
        )
    }

    /// The `subject` this manifest refers to (OCI 1.1 referrers).
    pub fn subject(&self) -> Option<&Descriptor> {
        match &self.body {
            ManifestBody::Image(m) => m.subject.as_ref(),
            ManifestBody::Index(i) => i.subject.as_ref(),
            ManifestBody::Schema1(_) => None,
        }
    }

    /// The artifact type as the referrers API reports it: `artifactType`,
    /// else the config's media type for an image manifest.
    pub fn artifact_type(&self) -> Option<String> {
        match &self.body {
            ManifestBody::Image(m) => m
                .artifact_type
                .clone()
                .or_else(|| Some(m.config.media_type.to_string())),
            ManifestBody::Index(i) => i.artifact_type.clone(),
            ManifestBody::Schema1(_) => None,
        }
    }

    pub fn annotations(&self) -> Option<&BTreeMap<String, String>> {
        match &self.body {
            ManifestBody::Image(m) => m.annotations.as_ref(),
            ManifestBody::Index(i) => i.annotations.as_ref(),
            ManifestBody::Schema1(_) => None,
        }
    }

    /// Blobs this manifest needs (config and layers; schema1 blob sums).
    /// Foreign layers that carry `urls` are included: callers decide.
    pub fn blobs(&self) -> Vec<&Digest> {
        match &self.body {
            ManifestBody::Image(m) => std::iter::once(&m.config.digest)
                .chain(m.layers.iter().map(|l| &l.digest))
                .collect(),
            ManifestBody::Index(_) => Vec::new(),
            ManifestBody::Schema1(s) => s.fs_layers.iter().map(|l| &l.blob_sum).collect(),
        }
    }

    /// Child manifests of an index.
    pub fn children(&self) -> &[Descriptor] {
        match &self.body {
            ManifestBody::Index(i) => &i.manifests,
            _ => &[],
        }
    }
}

/// A string of the manifest's bytes, borrowed when it has no escapes.
#[derive(Debug, Clone)]
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(Visit)
    }
}

/// A digest in the manifest's bytes: checked, not copied.
#[derive(Debug, Clone)]
struct DigestText<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for DigestText<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Text(s) = Text::deserialize(d)?;
        s.parse::<Digest>().map_err(serde::de::Error::custom)?;
        Ok(DigestText(s))
    }
}

impl DigestText<'_> {
    fn digest(&self) -> Option<Digest> {
        self.0.parse().ok()
    }
}

/// A descriptor as far as the outline needs it: required fields present,
/// the digest well-formed; optional fields are skipped.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OutlineDescriptor<'a> {
    #[serde(borrow)]
    media_type: Text<'a>,
    #[serde(borrow)]
    digest: DigestText<'a>,
    #[allow(dead_code)]
    size: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OutlineSchema1Layer<'a> {
    #[serde(borrow)]
    blob_sum: DigestText<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OutlineFields<'a> {
    #[serde(default)]
    schema_version: Option<u32>,
    #[serde(default)]
    artifact_type: Option<String>,
    #[serde(borrow, default)]
    config: Option<OutlineDescriptor<'a>>,
    #[serde(borrow, default)]
    layers: Option<Vec<OutlineDescriptor<'a>>>,
    #[serde(borrow, default)]
    manifests: Option<Vec<OutlineDescriptor<'a>>>,
    #[serde(borrow, default)]
    fs_layers: Option<Vec<OutlineSchema1Layer<'a>>>,
    #[serde(default)]
    subject: Option<Descriptor>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

/// [`OutlineFields`] without the lists, which are skipped unread, and
/// with what [`Probe`] looks at, so one pass finds the media type too.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HeadFields<'a> {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<IgnoredAny>,
    #[serde(default)]
    fs_layers: Option<IgnoredAny>,
    #[serde(default)]
    schema_version: Option<u32>,
    #[serde(default)]
    artifact_type: Option<String>,
    #[serde(borrow, default)]
    config: Option<OutlineDescriptor<'a>>,
    #[serde(default)]
    subject: Option<Descriptor>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

/// What a registry needs from a manifest, read without building a
/// [`Descriptor`] per layer: digests stay slices of the manifest's bytes.
/// A 3.2 MiB manifest of 22,000 layers takes ~0.5 MiB this way instead of
/// ~16 MiB as a [`Manifest`]. It accepts what [`Manifest::parse_with_digest`]
/// accepts, except that it does not check the optional fields of the
/// descriptors it lists (platform, annotations, urls).
#[derive(Debug)]
pub struct ManifestOutline<'a> {
    media_type: MediaType,
    fields: OutlineFields<'a>,
}

impl<'a> ManifestOutline<'a> {
    pub fn parse(raw: &'a [u8], content_type: Option<&str>) -> Result<Self, ManifestError> {
        let media_type = detect_media_type(raw, content_type)?;
        let invalid = |source| ManifestError::Invalid {
            media_type: media_type.to_string(),
            source,
        };
        let fields: OutlineFields<'a> = serde_json::from_slice(raw).map_err(invalid)?;
        let shape_error =
            |what: &str| invalid(serde::de::Error::custom(format!("missing field `{what}`")));
        if media_type.is_index() || media_type.is_image_manifest() {
            let version = fields
                .schema_version
                .ok_or_else(|| shape_error("schemaVersion"))?;
            if version != 2 {
                return Err(ManifestError::SchemaVersion(version));
            }
            if media_type.is_index() && fields.manifests.is_none() {
                return Err(shape_error("manifests"));
            }
            if media_type.is_image_manifest() && fields.config.is_none() {
                return Err(shape_error("config"));
            }
        } else if fields.schema_version.is_none() {
            return Err(shape_error("schemaVersion"));
        }
        Ok(ManifestOutline { media_type, fields })
    }

    /// Only what the referrers API shows (subject, artifact type,
    /// annotations) of a manifest that was checked when it was stored: its
    /// blob and child lists are skipped, not read ([`Self::blobs`] and
    /// [`Self::children`] are then empty).
    pub fn parse_head(raw: &'a [u8], content_type: Option<&str>) -> Result<Self, ManifestError> {
        if raw.len() > MAX_MANIFEST_SIZE {
            return Err(ManifestError::TooLarge { size: raw.len() });
        }
        let head: HeadFields<'a> =
            serde_json::from_slice(raw).map_err(|source| ManifestError::Invalid {
                media_type: content_type.unwrap_or("manifest").to_owned(),
                source,
            })?;
        let probe = Probe {
            media_type: head.media_type,
            schema_version: head.schema_version,
            manifests: head.manifests,
            config: head.config.as_ref().map(|_| IgnoredAny),
            fs_layers: head.fs_layers,
        };
        let media_type = media_type_of(probe, content_type)?;
        let fields = OutlineFields {
            schema_version: head.schema_version,
            artifact_type: head.artifact_type,
            config: head.config,
            subject: head.subject,
            annotations: head.annotations,
            ..OutlineFields::default()
        };
        Ok(ManifestOutline { media_type, fields })
    }

    pub fn media_type(&self) -> &MediaType {
        &self.media_type
    }

    fn is_index(&self) -> bool {
        self.media_type.is_index()
    }

    fn is_image(&self) -> bool {
        self.media_type.is_image_manifest()
    }

    /// As [`Manifest::subject`].
    pub fn subject(&self) -> Option<&Descriptor> {
        if self.is_index() || self.is_image() {
            self.fields.subject.as_ref()
        } else {
            None
        }
    }

    /// As [`Manifest::artifact_type`].
    pub fn artifact_type(&self) -> Option<String> {
        if self.is_image() {
            self.fields.artifact_type.clone().or_else(|| {
                let config = self.fields.config.as_ref()?;
                Some(MediaType::parse(&config.media_type.0).to_string())
            })
        } else if self.is_index() {
            self.fields.artifact_type.clone()
        } else {
            None
        }
    }

    /// As [`Manifest::annotations`].
    pub fn annotations(&self) -> Option<&BTreeMap<String, String>> {
        if self.is_index() || self.is_image() {
            self.fields.annotations.as_ref()
        } else {
            None
        }
    }

    /// As [`Manifest::blobs`], one digest at a time.
    pub fn blobs(&self) -> impl Iterator<Item = Digest> + '_ {
        let image = self.is_image().then(|| {
            self.fields
                .config
                .iter()
                .chain(self.fields.layers.iter().flatten())
                .map(|d| &d.digest)
        });
        let schema1 = (!self.is_image() && !self.is_index())
            .then(|| self.fields.fs_layers.iter().flatten().map(|l| &l.blob_sum));
        image
            .into_iter()
            .flatten()
            .chain(schema1.into_iter().flatten())
            .filter_map(DigestText::digest)
    }

    /// As [`Manifest::children`]: the digests of an index's manifests.
    pub fn children(&self) -> impl Iterator<Item = Digest> + '_ {
        self.is_index()
            .then(|| self.fields.manifests.iter().flatten())
            .into_iter()
            .flatten()
            .filter_map(|d| d.digest.digest())
    }

    /// A descriptor of these bytes for the referrers API: media type,
    /// digest, size, artifact type and annotations.
    pub fn referrer_descriptor(&self, digest: Digest, size: usize) -> Descriptor {
        let mut desc = Descriptor::new(self.media_type.clone(), digest, size as i64);
        desc.artifact_type = self.artifact_type();
        desc.annotations = self.annotations().cloned();
        desc
    }
}

/// The parts of an image config (OCI or Docker) that people inspect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ContainerConfig>,
}

/// The runtime part of an image config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::media_type::*;

    fn image_json(media_type: Option<&str>) -> String {
        let mt = media_type
            .map(|m| format!(r#""mediaType":"{m}","#))
            .unwrap_or_default();
        let cfg = Digest::sha256_of(b"{}");
        let layer = Digest::sha256_of(b"layer");
        format!(
            r#"{{"schemaVersion":2,{mt}"config":{{"mediaType":"{OCI_CONFIG}","digest":"{cfg}","size":2}},"layers":[{{"mediaType":"{OCI_LAYER_TAR_GZIP}","digest":"{layer}","size":5}}],"extra":1}}"#
        )
    }

    /// The outline the server stores with agrees with the full parse on
    /// what it reports, and refuses what the full parse refuses.
    #[test]
    fn outline_agrees_with_the_full_parse() {
        let cfg = Digest::sha256_of(b"{}");
        let layer = Digest::sha256_of(b"layer");
        let subject = Digest::sha256_of(b"subject");
        let cases = [
            image_json(None),
            image_json(Some(OCI_MANIFEST)),
            format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","artifactType":"a/b","config":{{"mediaType":"{OCI_CONFIG}","digest":"{cfg}","size":2}},"layers":[{{"mediaType":"x","digest":"{layer}","size":5}},{{"mediaType":"x","digest":"{layer}","size":5}}],"subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{subject}","size":7}},"annotations":{{"k":"v"}}}}"#
            ),
            format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{layer}","size":5}}],"subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{subject}","size":7}}}}"#
            ),
            // Escaped strings are read too (owned, not borrowed).
            format!(
                r#"{{"schemaVersion":2,"config":{{"mediaType":"application\/vnd.oci.image.config.v1+json","digest":"{cfg}","size":2}}}}"#
            ),
            format!(r#"{{"schemaVersion":1,"fsLayers":[{{"blobSum":"{layer}"}}]}}"#),
        ];
        for json in &cases {
            let full = Manifest::parse(Bytes::from(json.clone()), None).unwrap();
            let outline = ManifestOutline::parse(json.as_bytes(), None).unwrap();
            let head = ManifestOutline::parse_head(json.as_bytes(), None).unwrap();
            assert_eq!(outline.media_type(), full.media_type(), "{json}");
            assert_eq!(head.media_type(), full.media_type(), "{json}");
            let blobs: Vec<Digest> = full.blobs().into_iter().cloned().collect();
            assert_eq!(outline.blobs().collect::<Vec<_>>(), blobs, "{json}");
            let children: Vec<Digest> = full.children().iter().map(|c| c.digest.clone()).collect();
            assert_eq!(outline.children().collect::<Vec<_>>(), children, "{json}");
            for o in [&outline, &head] {
                assert_eq!(o.subject(), full.subject(), "{json}");
                assert_eq!(o.artifact_type(), full.artifact_type(), "{json}");
                assert_eq!(o.annotations(), full.annotations(), "{json}");
            }
        }
        let bad_digest = image_json(None).replace(&layer.to_string(), "sha256:xyz");
        let refused = [
            r#"{"schemaVersion":2,"layers":[]}"#.to_owned(),
            r#"{"schemaVersion":3,"config":{"mediaType":"a","digest":"sha256:00","size":1}}"#
                .to_owned(),
            format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}"}}"#),
            bad_digest,
            format!(r#"{{"schemaVersion":2,"config":{{"digest":"{cfg}","size":2}}}}"#),
            "[]".to_owned(),
            "{".to_owned(),
        ];
        for json in &refused {
            assert!(
                Manifest::parse(Bytes::from(json.clone()), None).is_err(),
                "{json}"
            );
            assert!(
                ManifestOutline::parse(json.as_bytes(), None).is_err(),
                "{json}"
            );
        }
    }

    #[test]
    fn parses_image_and_keeps_raw_bytes() {
        let raw = Bytes::from(image_json(Some(OCI_MANIFEST)));
        let m = Manifest::parse(raw.clone(), None).unwrap();
        assert_eq!(m.media_type(), &MediaType::OciManifest);
        assert_eq!(m.raw(), &raw);
        assert_eq!(m.digest(), &Digest::sha256_of(&raw));
        assert_eq!(m.blobs().len(), 2);
        assert_eq!(m.artifact_type().as_deref(), Some(OCI_CONFIG));
    }

    #[test]
    fn infers_type_from_content_type_or_shape() {
        let raw = Bytes::from(image_json(None));
        let m = Manifest::parse(raw.clone(), Some(DOCKER_MANIFEST)).unwrap();
        assert_eq!(m.media_type(), &MediaType::DockerManifest);
        let m = Manifest::parse(raw, None).unwrap();
        assert_eq!(m.media_type(), &MediaType::OciManifest);
    }

    #[test]
    fn rejects_contradicting_media_types() {
        let raw = Bytes::from(image_json(Some(OCI_MANIFEST)));
        let err = Manifest::parse(raw, Some(DOCKER_MANIFEST)).unwrap_err();
        assert!(matches!(err, ManifestError::MediaTypeMismatch { .. }));
    }

    #[test]
    fn parses_index_with_platforms() {
        let child = Digest::sha256_of(b"child");
        let raw = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{child}","size":10,"platform":{{"os":"linux","architecture":"arm64","variant":"v8"}}}}]}}"#
        );
        let m = Manifest::parse(Bytes::from(raw), None).unwrap();
        assert!(m.media_type().is_index());
        let p = m.children()[0].platform.as_ref().unwrap();
        assert_eq!(p.to_string(), "linux/arm64/v8");
        assert!(p.matches(&Platform::parse("linux/arm64").unwrap()));
        assert!(!p.matches(&Platform::parse("linux/arm64/v7").unwrap()));
    }

    #[test]
    fn rejects_garbage_and_oversize() {
        assert!(Manifest::parse(Bytes::from_static(b"not json"), None).is_err());
        assert!(Manifest::parse(Bytes::from_static(b"{}"), None).is_err());
        let big = Bytes::from(vec![b' '; MAX_MANIFEST_SIZE + 1]);
        assert!(matches!(
            Manifest::parse(big, None),
            Err(ManifestError::TooLarge { .. })
        ));
    }

    #[test]
    fn platform_parse_errors() {
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("linux//v8").is_err());
        assert!(Platform::parse("a/b/c/d").is_err());
    }
}
