//! The registry API: catalog, tags, manifests and blobs, each response
//! checked (status, size limits, digests).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::stream::{self, Stream, StreamExt};
use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION, RANGE};
use serde::Deserialize;
use url::Url;

use super::auth::repository_scope;
use super::error::{ClientError, Result};
use super::transport::{Body, Client, Request, error_chain, error_from_response, read_limited};
use crate::types::media_type::MANIFEST_ACCEPT;
use crate::types::{
    Descriptor, Digest, DigestMismatch, ErrorCode, Manifest, Reference, Verifier, VerifyError,
    VerifyingStream,
};

/// What a manifest `HEAD` tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestHead {
    pub digest: Option<Digest>,
    pub media_type: Option<String>,
    pub size: Option<u64>,
}

const DOCKER_CONTENT_DIGEST: &str = "docker-content-digest";

/// Sent by a registry that processed a pushed manifest's `subject`.
const OCI_SUBJECT: &str = "oci-subject";

/// Attempts of a manifest `PUT` refused for content still being committed.
const MANIFEST_PUT_ATTEMPTS: u32 = 4;

/// Whether a refused manifest `PUT` may succeed a moment later (see
/// [`Client::manifest_put_with_subject`]).
fn settles(e: &ClientError) -> bool {
    matches!(
        e.code(),
        Some(ErrorCode::DigestInvalid | ErrorCode::ManifestBlobUnknown)
    ) || e.status() == Some(500)
}

/// Read-modify-write rounds of a referrers tag index before giving up.
const REFERRERS_TAG_ATTEMPTS: usize = 5;

/// What a manifest `PUT` tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutManifest {
    pub digest: Digest,
    /// The registry answered `OCI-Subject`: it indexes referrers itself.
    pub subject_processed: bool,
}

/// The OCI 1.1 referrers tag scheme's tag for `subject`: `<alg>-<hex>`,
/// cut to the 128 characters a tag may have.
pub fn referrers_tag(subject: &Digest) -> String {
    let mut tag = format!("{}-{}", subject.algorithm().as_str(), subject.hex());
    tag.truncate(128);
    tag
}

/// An image index listing referrers (the API's answer, or the tag scheme's).
#[derive(Debug, Default, Deserialize)]
struct ReferrersIndex {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

impl ReferrersIndex {
    fn to_json(&self) -> std::result::Result<Vec<u8>, serde_json::Error> {
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Out<'a> {
            schema_version: u32,
            media_type: &'a str,
            manifests: &'a [Descriptor],
        }
        serde_json::to_vec(&Out {
            schema_version: 2,
            media_type: crate::types::media_type::OCI_INDEX,
            manifests: &self.manifests,
        })
    }
}

/// The lock serialising this process's updates of one referrers tag.
fn referrers_tag_lock(key: &str) -> std::sync::Arc<tokio::sync::Mutex<()>> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    static LOCKS: OnceLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let mut locks = LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    locks.entry(key.to_owned()).or_default().clone()
}

fn pull(r: &Reference) -> Option<String> {
    Some(repository_scope(r.repository(), "pull"))
}

fn push(r: &Reference) -> Option<String> {
    Some(repository_scope(r.repository(), "pull,push"))
}

fn delete_scope(r: &Reference) -> Option<String> {
    Some(repository_scope(r.repository(), "delete"))
}

fn header_digest(resp: &reqwest::Response) -> Result<Option<Digest>> {
    match resp.headers().get(DOCKER_CONTENT_DIGEST) {
        None => Ok(None),
        Some(v) => {
            let s = v.to_str().unwrap_or("");
            s.trim()
                .parse::<Digest>()
                .map(Some)
                .map_err(|e| ClientError::InvalidResponse {
                    url: resp.url().to_string(),
                    reason: format!("Docker-Content-Digest header: {e}"),
                })
        }
    }
}

impl Client {
    /// `GET /v2/`: whether the registry answers and accepts our credentials.
    pub async fn ping(&self, registry: &str) -> Result<()> {
        let url = self.url(registry, "")?;
        self.send_ok(Request::new(Method::GET, registry, url, None))
            .await
            .map(drop)
    }

    /// Manifests whose `subject` is `digest` (OCI 1.1 referrers API). A
    /// registry without the API (404 from `/v2/NAME/referrers/DIGEST`, e.g.
    /// registry:2) is read through the referrers tag scheme: the index
    /// tagged `sha256-<hex>`; no such tag means no referrers.
    pub async fn referrers(&self, repo: &Reference, digest: &Digest) -> Result<Vec<Descriptor>> {
        let url = self.url(
            repo.registry(),
            &format!("{}/referrers/{digest}", repo.repository()),
        )?;
        let url_s = url.to_string();
        let req = Request::new(Method::GET, repo.registry(), url, pull(repo))
            .header(ACCEPT, crate::types::media_type::OCI_INDEX);
        let resp = self.send(req).await?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(self
                .referrers_tag_index(repo, digest)
                .await?
                .map(|(index, _)| index.manifests)
                .unwrap_or_default());
        }
        if !resp.status().is_success() {
            return Err(error_from_response("GET", resp).await);
        }
        let body = read_limited(resp, crate::types::manifest::MAX_MANIFEST_SIZE, &url_s).await?;
        let index: ReferrersIndex =
            serde_json::from_slice(&body).map_err(|e| ClientError::InvalidResponse {
                url: url_s,
                reason: format!("referrers index: {e}"),
            })?;
        Ok(index.manifests)
    }

    /// The referrers tag scheme's index for `subject` and its digest, or
    /// `None` when the tag does not exist.
    async fn referrers_tag_index(
        &self,
        repo: &Reference,
        subject: &Digest,
    ) -> Result<Option<(ReferrersIndex, Digest)>> {
        let tag_ref = repo
            .repo_only()
            .with_tag(&referrers_tag(subject))
            .map_err(|e| ClientError::InvalidResponse {
                url: repo.to_string(),
                reason: format!("referrers tag for {subject}: {e}"),
            })?;
        let mut attempt = 1;
        let manifest = loop {
            match self.manifest_get(&tag_ref).await {
                Ok(m) => break m,
                Err(e) if e.is_not_found() => return Ok(None),
                // registry:2 answers a bare 500 while another client
                // rewrites the tag; it settles in a moment.
                Err(e) if attempt < MANIFEST_PUT_ATTEMPTS && e.status() == Some(500) => {
                    tokio::time::sleep(std::time::Duration::from_millis(100 * u64::from(attempt)))
                        .await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        };
        let index: ReferrersIndex =
            serde_json::from_slice(manifest.raw()).map_err(|e| ClientError::InvalidResponse {
                url: tag_ref.to_string(),
                reason: format!("referrers tag index: {e}"),
            })?;
        Ok(Some((index, manifest.digest().clone())))
    }

    /// Adds `referrer` to the referrers tag scheme's index of `subject` (for
    /// a registry that did not process the manifest's `subject`): reads the
    /// index tagged `sha256-<hex>` (none yet: an empty one), adds the
    /// descriptor unless present, pushes it back, and reads it again to
    /// check that no concurrent update dropped the entry (retrying a few
    /// times if one did). Updates from this process to one subject are
    /// serialised; across processes the scheme has no locking (OCI 1.1 says
    /// so), and re-running the copy re-adds a lost entry.
    pub async fn referrers_tag_add(
        &self,
        repo: &Reference,
        subject: &Digest,
        referrer: Descriptor,
    ) -> Result<()> {
        let repo = repo.repo_only();
        let tag = referrers_tag(subject);
        let key = format!("{}/{}:{tag}", repo.registry(), repo.repository());
        let lock = referrers_tag_lock(&key);
        let _held = lock.lock().await;
        let mut last_seen = Vec::new();
        for _attempt in 0..REFERRERS_TAG_ATTEMPTS {
            let mut index = self
                .referrers_tag_index(&repo, subject)
                .await?
                .map(|(index, _)| index)
                .unwrap_or_default();
            if !index.manifests.iter().any(|d| d.digest == referrer.digest) {
                index.manifests.push(referrer.clone());
                let body =
                    Bytes::from(index.to_json().map_err(|e| ClientError::InvalidResponse {
                        url: key.clone(),
                        reason: format!("cannot encode the referrers tag index: {e}"),
                    })?);
                self.manifest_put(&repo, &tag, crate::types::media_type::OCI_INDEX, body)
                    .await?;
            }
            let check = self.referrers_tag_index(&repo, subject).await?;
            match check {
                Some((index, _)) if index.manifests.iter().any(|d| d.digest == referrer.digest) => {
                    return Ok(());
                }
                other => {
                    last_seen = other
                        .map(|(i, _)| {
                            i.manifests
                                .into_iter()
                                .map(|d| d.digest.to_string())
                                .collect()
                        })
                        .unwrap_or_default();
                }
            }
        }
        Err(ClientError::InvalidResponse {
            url: key,
            reason: format!(
                "the referrers tag index kept losing {} to concurrent updates ({REFERRERS_TAG_ATTEMPTS} \
                 attempts; it now lists: {})",
                referrer.digest,
                last_seen.join(", ")
            ),
        })
    }

    /// `HEAD` a manifest with the full Accept list (so the registry reports
    /// the digest of what it stores, not of a schema1 conversion).
    pub async fn manifest_head(&self, r: &Reference) -> Result<ManifestHead> {
        let url = self.manifest_url(r, &r.manifest_reference())?;
        let req =
            Request::new(Method::HEAD, r.registry(), url, pull(r)).header(ACCEPT, MANIFEST_ACCEPT);
        let resp = self.send_ok(req).await?;
        let digest = header_digest(&resp)?;
        let media_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let size = resp
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        Ok(ManifestHead {
            digest,
            media_type,
            size,
        })
    }

    /// Fetches a manifest's exact bytes, at most `MAX_MANIFEST_SIZE`, and
    /// verifies them against the requested digest and `Docker-Content-Digest`.
    pub async fn manifest_get(&self, r: &Reference) -> Result<Manifest> {
        let url = self.manifest_url(r, &r.manifest_reference())?;
        let url_s = url.to_string();
        let req =
            Request::new(Method::GET, r.registry(), url, pull(r)).header(ACCEPT, MANIFEST_ACCEPT);
        let resp = self.send_ok(req).await?;
        let announced = header_digest(&resp)?;
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let limit = crate::types::manifest::MAX_MANIFEST_SIZE;
        let raw = read_limited(resp, limit, &url_s)
            .await
            .map_err(|e| match e {
                ClientError::InvalidResponse { url, .. } => {
                    ClientError::ManifestTooLarge { url, limit }
                }
                other => other,
            })?;
        let check = |d: &Digest| {
            d.verify(&raw)
                .map_err(|mismatch| ClientError::DigestMismatch {
                    url: url_s.clone(),
                    mismatch,
                })
        };
        if let Some(want) = r.digest() {
            check(want)?;
        }
        if let Some(h) = &announced {
            check(h)?;
        }
        let digest = r
            .digest()
            .cloned()
            .or(announced)
            .unwrap_or_else(|| Digest::sha256_of(&raw));
        // Only sha256 ids are what people compare; keep the requested one if
        // it used another algorithm.
        Manifest::parse_with_digest(raw, content_type.as_deref(), digest).map_err(|source| {
            ClientError::Manifest {
                url: url_s.clone(),
                source,
            }
        })
    }

    /// Where to pull `r` from: its configured mirrors, then `r` itself.
    pub fn pull_sources(&self, r: &Reference) -> Vec<Reference> {
        let mut out = Vec::new();
        if let Some(mirrors) = self.options().mirrors.get(r.registry()) {
            for m in mirrors {
                if let Ok(mr) = Reference::new(m, r.repository(), r.tag(), r.digest().cloned()) {
                    out.push(mr);
                }
            }
        }
        out.push(r.clone());
        out
    }

    /// [`Client::manifest_get`] trying mirrors first; returns the manifest
    /// and the reference it came from. The origin's error is returned when
    /// every source fails.
    pub async fn manifest_get_pull(&self, r: &Reference) -> Result<(Manifest, Reference)> {
        let sources = self.pull_sources(r);
        let last = sources.len().saturating_sub(1);
        for (i, src) in sources.into_iter().enumerate() {
            match self.manifest_get(&src).await {
                Ok(m) => return Ok((m, src)),
                Err(e) if i == last => return Err(e),
                Err(e) => {
                    tracing::debug!(target: "regctl::http", "mirror {} failed, next source: {e}", src.registry())
                }
            }
        }
        Err(ClientError::InvalidResponse {
            url: r.to_string(),
            reason: "no source to pull from".into(),
        })
    }

    /// The digest of the manifest as stored. A reference with a digest is
    /// verified by fetching and hashing, never trusted.
    pub async fn resolve_digest(&self, r: &Reference) -> Result<Digest> {
        if r.digest().is_some() {
            return Ok(self.manifest_get(r).await?.digest().clone());
        }
        match self.manifest_head(r).await?.digest {
            Some(d) => Ok(d),
            None => Ok(self.manifest_get(r).await?.digest().clone()),
        }
    }

    /// Stores a manifest under `reference` (a tag or its digest); returns
    /// its digest, checked against the registry's answer.
    pub async fn manifest_put(
        &self,
        repo: &Reference,
        reference: &str,
        media_type: &str,
        raw: Bytes,
    ) -> Result<Digest> {
        Ok(self
            .manifest_put_with_subject(repo, reference, media_type, raw)
            .await?
            .digest)
    }

    /// [`Client::manifest_put`], also telling whether the registry
    /// processed the manifest's `subject` (its `OCI-Subject` answer): when
    /// it did not, the caller maintains the referrers tag scheme.
    ///
    /// A `PUT` refused because something the manifest names is still being
    /// committed by another client — registry:2 answers `DIGEST_INVALID` or
    /// a bare 500 while a concurrent push of the same blob or manifest
    /// finishes, `regctl serve` `MANIFEST_BLOB_UNKNOWN` while a collection
    /// sweeps — is sent again a few times, shortly after: a manifest `PUT`
    /// is idempotent.
    pub async fn manifest_put_with_subject(
        &self,
        repo: &Reference,
        reference: &str,
        media_type: &str,
        raw: Bytes,
    ) -> Result<PutManifest> {
        let mut attempt = 1;
        loop {
            match self
                .manifest_put_once(repo, reference, media_type, raw.clone())
                .await
            {
                Err(e) if attempt < MANIFEST_PUT_ATTEMPTS && settles(&e) => {
                    tracing::debug!(target: "regctl::http", "manifest {reference} refused ({e}); what it names may be mid-commit, sending it again");
                    tokio::time::sleep(std::time::Duration::from_millis(100 * u64::from(attempt)))
                        .await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn manifest_put_once(
        &self,
        repo: &Reference,
        reference: &str,
        media_type: &str,
        raw: Bytes,
    ) -> Result<PutManifest> {
        if raw.len() > crate::types::manifest::MAX_MANIFEST_SIZE {
            return Err(ClientError::ManifestTooLarge {
                url: reference.to_owned(),
                limit: crate::types::manifest::MAX_MANIFEST_SIZE,
            });
        }
        let digest = Digest::sha256_of(&raw);
        let url = self.manifest_url(repo, reference)?;
        let url_s = url.to_string();
        let req = Request::new(Method::PUT, repo.registry(), url, push(repo))
            .header(CONTENT_TYPE, media_type)
            .body(Body::Bytes(raw));
        let resp = self.send_ok(req).await?;
        if let Some(h) = header_digest(&resp)?
            && h.algorithm() == digest.algorithm()
            && h != digest
        {
            return Err(ClientError::DigestMismatch {
                url: url_s,
                mismatch: DigestMismatch {
                    expected: digest,
                    actual: h,
                },
            });
        }
        let subject_processed = resp.headers().contains_key(OCI_SUBJECT);
        Ok(PutManifest {
            digest,
            subject_processed,
        })
    }

    /// `DELETE /v2/NAME/manifests/DIGEST`: removes the manifest and, on
    /// registry:2, every tag pointing to it.
    pub async fn manifest_delete(&self, repo: &Reference, digest: &Digest) -> Result<()> {
        let url = self.manifest_url(repo, &digest.to_string())?;
        let req = Request::new(Method::DELETE, repo.registry(), url, delete_scope(repo));
        self.send_ok(req).await.map(drop)
    }

    /// `DELETE /v2/NAME/manifests/TAG` (spec 1.1; registry:2 refuses it).
    pub async fn manifest_delete_tag(&self, repo: &Reference, tag: &str) -> Result<()> {
        let url = self.manifest_url(repo, tag)?;
        let req = Request::new(Method::DELETE, repo.registry(), url, delete_scope(repo));
        self.send_ok(req).await.map(drop)
    }

    fn manifest_url(&self, r: &Reference, reference: &str) -> Result<Url> {
        self.url(
            r.registry(),
            &format!("{}/manifests/{reference}", r.repository()),
        )
    }

    fn blob_url(&self, r: &Reference, digest: &Digest) -> Result<Url> {
        self.url(r.registry(), &format!("{}/blobs/{digest}", r.repository()))
    }

    /// A blob's size, or `None` when the repository doesn't have it.
    pub async fn blob_head(&self, repo: &Reference, digest: &Digest) -> Result<Option<u64>> {
        let url = self.blob_url(repo, digest)?;
        let resp = self
            .send(Request::new(Method::HEAD, repo.registry(), url, pull(repo)))
            .await?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(error_from_response("HEAD", resp).await);
        }
        Ok(resp
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok()))
    }

    /// Streams a blob. The stream ends with an error if the content does not
    /// hash to `digest` (so a consumer must not commit before the end).
    pub async fn blob_get(&self, repo: &Reference, digest: &Digest) -> Result<BlobStream> {
        self.blob_get_sized(repo, digest, None).await
    }

    /// [`Client::blob_get`] for a blob of known size (a descriptor's): the
    /// stream also fails if the content is longer or shorter.
    ///
    /// When the body breaks mid-way (connection dropped, body error, early
    /// end), the stream asks again for the rest with `Range: bytes=N-` and
    /// carries on if the server answers 206; a server that ignores ranges
    /// (200) sends the blob again and the first N bytes are skipped. The
    /// digest is verified over everything delivered. Attempts are bounded
    /// by the retry policy.
    pub async fn blob_get_sized(
        &self,
        repo: &Reference,
        digest: &Digest,
        expected_size: Option<u64>,
    ) -> Result<BlobStream> {
        let url = self.blob_url(repo, digest)?;
        let url_s = url.to_string();
        let resp = self
            .send_ok(Request::new(
                Method::GET,
                repo.registry(),
                url.clone(),
                pull(repo),
            ))
            .await?;
        let size = resp.content_length().or(expected_size);
        let state = Resume {
            client: self.clone(),
            registry: repo.registry().to_owned(),
            scope: pull(repo),
            url,
            url_s: url_s.clone(),
            body: Some(Box::pin(resp.bytes_stream())),
            offset: 0,
            skip: 0,
            expected: expected_size,
            retries: 0,
            done: false,
        };
        Ok(BlobStream::new(
            Box::pin(stream::unfold(state, Resume::next)),
            digest,
            size,
            url_s,
        ))
    }

    /// Reads a whole (small) blob into memory, verified, at most `limit` bytes.
    pub async fn blob_get_bytes(
        &self,
        repo: &Reference,
        digest: &Digest,
        limit: usize,
    ) -> Result<Bytes> {
        let mut s = self.blob_get(repo, digest).await?;
        let mut buf = bytes::BytesMut::new();
        while let Some(chunk) = s.next().await {
            let chunk = chunk?;
            if buf.len() + chunk.len() > limit {
                return Err(ClientError::InvalidResponse {
                    url: s.url.clone(),
                    reason: format!("blob exceeds the {limit}-byte limit"),
                });
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }

    /// Uploads a blob monolithically (`POST` then `PUT ?digest=`), streaming
    /// `body`. The registry verifies the digest; we check its answer.
    pub async fn blob_put<S>(
        &self,
        repo: &Reference,
        digest: &Digest,
        size: u64,
        body: S,
    ) -> Result<()>
    where
        S: Stream<Item = std::result::Result<Bytes, std::io::Error>> + Send + 'static,
    {
        let location = self.start_upload(repo).await?;
        let mut put_url = location;
        put_url
            .query_pairs_mut()
            .append_pair("digest", &digest.to_string());
        let req = Request::new(Method::PUT, repo.registry(), put_url, push(repo))
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_LENGTH, &size.to_string())
            .body(Body::Stream(Some(reqwest::Body::wrap_stream(body))));
        let resp = self.send_ok(req).await?;
        if let Some(h) = header_digest(&resp)?
            && h.algorithm() == digest.algorithm()
            && &h != digest
        {
            return Err(ClientError::DigestMismatch {
                url: resp.url().to_string(),
                mismatch: DigestMismatch {
                    expected: digest.clone(),
                    actual: h,
                },
            });
        }
        Ok(())
    }

    /// Uploads a small blob held in memory; returns its digest.
    pub async fn blob_put_bytes(&self, repo: &Reference, data: Bytes) -> Result<Digest> {
        let digest = Digest::sha256_of(&data);
        let size = data.len() as u64;
        self.blob_put(
            repo,
            &digest,
            size,
            stream::once(async move { Ok::<_, std::io::Error>(data) }),
        )
        .await?;
        Ok(digest)
    }

    /// Cross-repository mount. `Ok(true)` when mounted; `Ok(false)` when the
    /// registry opened an ordinary upload instead (nothing is left open: the
    /// caller then uploads with [`Client::blob_put`]).
    pub async fn blob_mount(&self, repo: &Reference, digest: &Digest, from: &str) -> Result<bool> {
        let mut url = self.url(
            repo.registry(),
            &format!("{}/blobs/uploads/", repo.repository()),
        )?;
        url.query_pairs_mut()
            .append_pair("mount", &digest.to_string())
            .append_pair("from", from);
        let scope = format!(
            "{} {}",
            repository_scope(repo.repository(), "pull,push"),
            repository_scope(from, "pull")
        );
        let resp = self
            .send_ok(Request::new(
                Method::POST,
                repo.registry(),
                url,
                Some(scope),
            ))
            .await?;
        Ok(resp.status() == reqwest::StatusCode::CREATED)
    }

    async fn start_upload(&self, repo: &Reference) -> Result<Url> {
        let url = self.url(
            repo.registry(),
            &format!("{}/blobs/uploads/", repo.repository()),
        )?;
        let req = Request::new(Method::POST, repo.registry(), url.clone(), push(repo))
            .header(CONTENT_LENGTH, "0");
        let resp = self.send_ok(req).await?;
        let loc = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ClientError::InvalidResponse {
                url: url.to_string(),
                reason: "upload started without a Location header".into(),
            })?;
        url.join(loc).map_err(|e| ClientError::InvalidResponse {
            url: url.to_string(),
            reason: format!("upload Location {loc:?} is not a URL: {e}"),
        })
    }
}

/// A blob's bytes as they arrive from the registry, not yet checked.
type RawBlob = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>;

/// A blob's bytes as they arrive, verified against the digest (and the
/// length the registry announced) as they pass.
pub struct BlobStream {
    inner: VerifyingStream<RawBlob, Box<dyn FnMut(VerifyError) -> ClientError + Send>>,
    size: Option<u64>,
    url: String,
}

impl BlobStream {
    fn new(inner: RawBlob, digest: &Digest, size: Option<u64>, url: String) -> Self {
        let blob_url = url.clone();
        let on_error = move |e: VerifyError| match e {
            VerifyError::Digest(mismatch) => ClientError::DigestMismatch {
                url: url.clone(),
                mismatch,
            },
            size @ VerifyError::Size { .. } => ClientError::InvalidResponse {
                url: url.clone(),
                reason: size.to_string(),
            },
        };
        BlobStream {
            inner: VerifyingStream::new(
                inner,
                Verifier::new(digest.clone(), size),
                Box::new(on_error),
            ),
            size,
            url: blob_url,
        }
    }

    /// `Content-Length`, when the registry sent one.
    pub fn size(&self) -> Option<u64> {
        self.size
    }
}

impl Stream for BlobStream {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

type RawBody = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// A blob download that picks up where it broke off.
struct Resume {
    client: Client,
    registry: String,
    scope: Option<String>,
    url: Url,
    url_s: String,
    body: Option<RawBody>,
    /// Bytes delivered so far.
    offset: u64,
    /// Bytes still to drop from a body that restarted from the beginning.
    skip: u64,
    expected: Option<u64>,
    retries: u32,
    done: bool,
}

impl Resume {
    async fn next(mut self) -> Option<(Result<Bytes>, Self)> {
        loop {
            if self.done {
                return None;
            }
            let broke = match self.body.as_mut() {
                None => "no body".to_owned(),
                Some(body) => match body.next().await {
                    Some(Ok(mut chunk)) => {
                        if self.skip > 0 {
                            let n = usize::try_from(self.skip)
                                .unwrap_or(usize::MAX)
                                .min(chunk.len());
                            let _ = chunk.split_to(n);
                            self.skip -= n as u64;
                        }
                        if chunk.is_empty() {
                            continue;
                        }
                        self.offset += chunk.len() as u64;
                        if let Some(size) = self.expected
                            && self.offset > size
                        {
                            self.done = true;
                            return Some((
                                Err(self
                                    .invalid(format!("the blob is longer than its {size} bytes"))),
                                self,
                            ));
                        }
                        return Some((Ok(chunk), self));
                    }
                    Some(Err(e)) => error_chain(&e),
                    None => match self.expected {
                        Some(size) if self.offset < size => {
                            format!("the body ended at byte {} of {size}", self.offset)
                        }
                        _ => {
                            self.done = true;
                            return None;
                        }
                    },
                },
            };
            self.body = None;
            if let Err(e) = self.reconnect(broke).await {
                self.done = true;
                return Some((Err(e), self));
            }
        }
    }

    fn invalid(&self, reason: String) -> ClientError {
        ClientError::InvalidResponse {
            url: self.url_s.clone(),
            reason,
        }
    }

    /// Asks for the rest after the body broke with `reason`.
    async fn reconnect(&mut self, mut reason: String) -> Result<()> {
        let policy = self.client.options().retry.clone();
        loop {
            let Some(delay) = policy.delay(
                self.retries,
                super::retry::Outcome::ConnectionError,
                None,
                std::time::SystemTime::now(),
            ) else {
                let of = self
                    .expected
                    .map(|s| format!(" of {s}"))
                    .unwrap_or_default();
                return Err(ClientError::Transport {
                    url: self.url_s.clone(),
                    reason: format!(
                        "the download broke at byte {}{of} and {} resumed attempt(s) failed; last error: {reason}",
                        self.offset, self.retries
                    ),
                });
            };
            self.retries += 1;
            tracing::debug!(target: "regctl::http", "blob body broke at byte {} ({reason}); resuming in {delay:?}", self.offset);
            tokio::time::sleep(delay).await;
            let mut req = Request::new(
                Method::GET,
                &self.registry,
                self.url.clone(),
                self.scope.clone(),
            );
            if self.offset > 0 {
                req = req.header(RANGE, &format!("bytes={}-", self.offset));
            }
            let resp = match self.client.send(req).await {
                Ok(r) => r,
                Err(e) => {
                    reason = e.to_string();
                    continue;
                }
            };
            let status = resp.status();
            if status == reqwest::StatusCode::PARTIAL_CONTENT {
                let start = resp
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("bytes "))
                    .and_then(|v| v.split('-').next())
                    .and_then(|v| v.trim().parse::<u64>().ok());
                if start != Some(self.offset) {
                    return Err(self.invalid(format!(
                        "asked for bytes from {} and got Content-Range {:?}",
                        self.offset,
                        resp.headers().get(CONTENT_RANGE)
                    )));
                }
                self.skip = 0;
            } else if status.is_success() {
                // Ranges not honoured: the whole blob again.
                self.skip = self.offset;
            } else if policy
                .delay(
                    self.retries,
                    super::retry::Outcome::Status(status.as_u16()),
                    None,
                    std::time::SystemTime::now(),
                )
                .is_some()
            {
                reason = format!("HTTP {}", status.as_u16());
                continue;
            } else {
                return Err(error_from_response("GET", resp).await);
            }
            self.body = Some(Box::pin(resp.bytes_stream()));
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referrers_tags_follow_the_oci_scheme() {
        let d = Digest::sha256_of(b"subject");
        assert_eq!(referrers_tag(&d), format!("sha256-{}", d.hex()));
        crate::types::reference::validate_tag(&referrers_tag(&d)).unwrap();
    }

    #[test]
    fn the_tag_index_lists_descriptors_as_an_oci_index() {
        let index = ReferrersIndex {
            manifests: vec![Descriptor::new(
                crate::types::media_type::OCI_MANIFEST.into(),
                Digest::sha256_of(b"sig"),
                3,
            )],
        };
        let v: serde_json::Value = serde_json::from_slice(&index.to_json().unwrap()).unwrap();
        assert_eq!(v["schemaVersion"], 2);
        assert_eq!(v["mediaType"], crate::types::media_type::OCI_INDEX);
        assert_eq!(v["manifests"][0]["size"], 3);
    }
}
