//! Manifest / index parsing and validation. The first byte picks the
//! declared Content-Type, the rest is the manifest's bytes.
//! Properties: the digest is the sha256 of the exact input bytes, which are
//! kept unchanged; the body's kind agrees with the media type; a typed body
//! serialises to a manifest that parses back to the same body.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use regctl::types::media_type::*;
use regctl::types::{Digest, ImageConfig, Manifest, ManifestBody, Platform};

const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    Some(OCI_MANIFEST),
    Some(OCI_INDEX),
    Some(DOCKER_MANIFEST),
    Some(DOCKER_LIST),
    Some(DOCKER_SCHEMA1),
    Some(DOCKER_SCHEMA1_SIGNED),
    Some(OCI_CONFIG),
    Some("application/json; charset=utf-8"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, raw)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
    let raw = Bytes::copy_from_slice(raw);
    // Image configs come from the same untrusted places.
    let _ = serde_json::from_slice::<ImageConfig>(&raw);
    if let Ok(text) = std::str::from_utf8(&raw)
        && let Ok(p) = Platform::parse(text)
    {
        assert_eq!(Platform::parse(&p.to_string()).as_ref(), Ok(&p));
    }
    let Ok(m) = Manifest::parse(raw.clone(), content_type) else {
        return;
    };
    assert_eq!(m.raw(), &raw);
    assert_eq!(m.digest(), &Digest::sha256_of(&raw));
    assert_eq!(m.size(), raw.len());
    assert!(m.media_type().is_manifest(), "{}", m.media_type());
    let d = m.descriptor();
    assert_eq!((&d.digest, d.size), (m.digest(), raw.len() as i64));
    let _ = (m.subject(), m.artifact_type(), m.annotations(), m.blobs());
    let reencoded = match m.body() {
        ManifestBody::Index(i) => {
            assert!(m.media_type().is_index());
            assert_eq!(i.schema_version, 2);
            assert_eq!(m.children().len(), i.manifests.len());
            serde_json::to_vec(i).expect("an index serialises")
        }
        ManifestBody::Image(i) => {
            assert!(m.media_type().is_image_manifest());
            assert_eq!(i.schema_version, 2);
            assert_eq!(m.blobs().len(), i.layers.len() + 1);
            serde_json::to_vec(i).expect("a manifest serialises")
        }
        ManifestBody::Schema1(s) => {
            assert_eq!(m.blobs().len(), s.fs_layers.len());
            return;
        }
    };
    let again = Manifest::parse(Bytes::from(reencoded), Some(m.media_type().as_str()))
        .unwrap_or_else(|e| panic!("the re-encoded {} does not parse: {e}", m.media_type()));
    assert_eq!(again.media_type(), m.media_type());
    assert_eq!(again.body(), m.body());
});
