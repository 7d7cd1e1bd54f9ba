//! Shared data types: references, digests, media types, manifests and the
//! spec's error body. Pure data: no I/O, no async, no HTTP.

pub mod digest;
pub mod gc;
pub mod image_ref;
pub mod manifest;
pub mod media_type;
pub mod oci_error;
pub mod reference;
pub mod time;

pub use digest::{Algorithm, Digest, DigestError, DigestMismatch, Digester};
pub use image_ref::{ImageRef, ImageRefError};
pub use manifest::{
    ContainerConfig, Descriptor, ImageConfig, ImageIndex, ImageManifest, Manifest, ManifestBody,
    ManifestError, ManifestOutline, Platform,
};
pub use media_type::MediaType;
pub use oci_error::{ErrorCode, ErrorEnvelope, OciError};
pub use reference::{ParseError, Reference};
