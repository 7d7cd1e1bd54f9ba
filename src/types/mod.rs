//! Shared data types: references, digests, media types, manifests and the
//! spec's error body, and the content check every layer uses. No I/O, no
//! HTTP.

pub mod digest;
pub mod gc;
pub mod image_ref;
pub mod manifest;
pub mod media_type;
pub mod oci_error;
pub mod reference;
pub mod time;
pub mod verify;

pub use digest::{Algorithm, Digest, DigestError, DigestMismatch, Digester};
pub use image_ref::{ImageRef, ImageRefError};
pub use manifest::{
    ContainerConfig, Descriptor, ImageConfig, ImageIndex, ImageManifest, Manifest, ManifestBody,
    ManifestError, ManifestOutline, Platform,
};
pub use media_type::MediaType;
pub use oci_error::{ErrorCode, ErrorEnvelope, OciError};
pub use reference::{ParseError, Reference};
pub use verify::{Verifier, VerifyError, VerifyingStream};
