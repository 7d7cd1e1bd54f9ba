//! Deletion helpers: which tags share a manifest, and removing one tag
//! without removing the manifest (regclient's throw-away manifest technique
//! for registries that refuse `DELETE` by tag).

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};

use super::error::{ClientError, ErrorKind, Result};
use super::transport::Client;
use crate::types::media_type::{MediaType, OCI_EMPTY, OCI_MANIFEST};
use crate::types::{Digest, ErrorCode, Reference};

/// How a tag was removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UntagMethod {
    /// The registry deleted the tag itself (`DELETE /manifests/TAG`).
    DeleteByTag,
    /// The tag was moved onto a throw-away manifest that was then deleted.
    ThrowAwayManifest { throwaway: Digest },
}

/// The manifest a tag points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagTarget {
    pub tag: String,
    pub digest: Digest,
    pub media_type: MediaType,
}

/// The throw-away manifest's config: the OCI empty descriptor's content.
const EMPTY_CONFIG: &[u8] = b"{}";

impl Client {
    /// Tags of `repo` whose manifest digest is `digest`, resolved with at
    /// most `concurrency` requests in flight. Sorted.
    pub async fn tags_pointing_to(
        &self,
        repo: &Reference,
        digest: &Digest,
        concurrency: usize,
    ) -> Result<Vec<String>> {
        Ok(self
            .tag_targets(repo, concurrency)
            .await?
            .into_iter()
            .filter(|t| &t.digest == digest)
            .map(|t| t.tag)
            .collect())
    }

    /// What every tag of `repo` points to (digest and media type), with at
    /// most `concurrency` requests in flight; sorted by tag. A tag deleted
    /// between the listing and its lookup is left out.
    pub async fn tag_targets(
        &self,
        repo: &Reference,
        concurrency: usize,
    ) -> Result<Vec<TagTarget>> {
        let tags = self.tags(repo, None).await?;
        let results: Vec<Result<Option<TagTarget>>> = stream::iter(tags)
            .map(|tag| async move {
                let r = repo
                    .with_tag(&tag)
                    .map_err(|e| ClientError::InvalidResponse {
                        url: repo.to_string(),
                        reason: format!("the registry listed an invalid tag: {e}"),
                    })?;
                let head = match self.manifest_head(&r).await {
                    Ok(h) => h,
                    Err(e) if e.is_not_found() => return Ok(None),
                    Err(e) => return Err(e),
                };
                let (digest, media_type) = match (head.digest, head.media_type) {
                    (Some(d), Some(m)) => (d, MediaType::from(m.as_str())),
                    // A registry that leaves either out of a HEAD answer.
                    _ => match self.manifest_get(&r).await {
                        Ok(m) => (m.digest().clone(), m.media_type().clone()),
                        Err(e) if e.is_not_found() => return Ok(None),
                        Err(e) => return Err(e),
                    },
                };
                Ok(Some(TagTarget {
                    tag,
                    digest,
                    media_type,
                }))
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        let mut out = Vec::new();
        for r in results {
            if let Some(t) = r? {
                out.push(t);
            }
        }
        out.sort_by(|a, b| a.tag.cmp(&b.tag));
        Ok(out)
    }

    /// Removes the tag of `r` (which must have one) but keeps the manifest
    /// it points to, and that manifest's other tags. `expected` is the digest
    /// the tag must still point to; if it moved, nothing is changed.
    pub async fn untag(&self, r: &Reference, expected: &Digest) -> Result<UntagMethod> {
        let Some(tag) = r.tag() else {
            return Err(ClientError::InvalidResponse {
                url: r.to_string(),
                reason: "no tag to remove".into(),
            });
        };
        let tag_ref = r
            .repo_only()
            .with_tag(tag)
            .map_err(|e| ClientError::InvalidResponse {
                url: r.to_string(),
                reason: e.to_string(),
            })?;
        self.ensure_unmoved(&tag_ref, expected).await?;
        match self.manifest_delete_tag(r, tag).await {
            Ok(()) => return Ok(UntagMethod::DeleteByTag),
            Err(e) if refuses_tag_delete(&e) => {}
            Err(e) => return Err(e),
        }
        let repo = r.repo_only();
        // Is deletion enabled at all? Deleting a digest nobody has writes
        // nothing: 404 means yes, 405/UNSUPPORTED means disabled.
        let nobody = Digest::sha256_of(uuid::Uuid::new_v4().as_bytes());
        match self.manifest_delete(&repo, &nobody).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() && e.kind() != ErrorKind::Unsupported => {}
            Err(e) => return Err(e),
        }
        // Build a manifest nobody else can point to (unique annotation), and
        // prove deletion works on it *before* moving the tag, so a registry
        // that refuses deletes never ends up with the tag moved.
        let config_digest = self
            .blob_put_bytes(&repo, Bytes::from_static(EMPTY_CONFIG))
            .await?;
        let manifest = throwaway_manifest(&config_digest, tag);
        let probe = self
            .manifest_put(
                &repo,
                &Digest::sha256_of(&manifest).to_string(),
                OCI_MANIFEST,
                manifest.clone(),
            )
            .await?;
        self.manifest_delete(&repo, &probe).await?;
        self.ensure_unmoved(&tag_ref, expected).await?;
        let throwaway = self
            .manifest_put(&repo, tag, OCI_MANIFEST, manifest)
            .await?;
        self.manifest_delete(&repo, &throwaway).await?;
        Ok(UntagMethod::ThrowAwayManifest { throwaway })
    }

    /// Fails with [`ClientError::TagMoved`] if `tag_ref` no longer resolves to `expected`.
    pub async fn ensure_unmoved(&self, tag_ref: &Reference, expected: &Digest) -> Result<()> {
        let now = self.resolve_digest(tag_ref).await?;
        if &now != expected {
            return Err(ClientError::TagMoved {
                reference: tag_ref.to_string(),
                expected: expected.to_string(),
                now: now.to_string(),
            });
        }
        Ok(())
    }
}

/// Whether a `DELETE` by tag failed because the registry doesn't support
/// deleting by tag (registry:2 says DIGEST_INVALID or UNSUPPORTED).
fn refuses_tag_delete(e: &ClientError) -> bool {
    matches!(
        e.code(),
        Some(ErrorCode::DigestInvalid | ErrorCode::Unsupported | ErrorCode::ManifestUnknown)
    ) || matches!(e.status(), Some(400 | 405 | 501))
}

fn throwaway_manifest(config: &Digest, tag: &str) -> Bytes {
    let nonce = uuid::Uuid::new_v4();
    let body = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_EMPTY, "digest": config.to_string(), "size": EMPTY_CONFIG.len()},
        "layers": [],
        "annotations": {
            "org.opencontainers.image.description": "regctl: throw-away manifest used to remove a tag",
            "dev.regctl.untag": format!("{tag} {nonce}"),
        },
    });
    Bytes::from(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Manifest;

    #[test]
    fn throwaway_manifests_are_valid_and_unique() {
        let cfg = Digest::sha256_of(EMPTY_CONFIG);
        let a = throwaway_manifest(&cfg, "v1");
        let b = throwaway_manifest(&cfg, "v1");
        assert_ne!(a, b);
        let m = Manifest::parse(a, None).unwrap();
        assert_eq!(m.blobs(), vec![&cfg]);
        assert_eq!(m.media_type().as_str(), OCI_MANIFEST);
    }

    #[test]
    fn recognises_registry2_refusals() {
        let err = |status, code: &str| ClientError::Registry {
            method: "DELETE".into(),
            url: "u".into(),
            status,
            errors: vec![crate::types::OciError::new(ErrorCode::parse(code), "")],
        };
        assert!(refuses_tag_delete(&err(400, "DIGEST_INVALID")));
        assert!(refuses_tag_delete(&err(405, "UNSUPPORTED")));
        assert!(!refuses_tag_delete(&err(401, "UNAUTHORIZED")));
    }
}
