//! The object-storage backend: registry:2's `s3` driver layout in an S3
//! bucket (AWS S3, MinIO, Ceph RGW, R2, SeaweedFS), through `object_store`.
//!
//! Keys map one to one onto object names under an optional prefix (registry:2's
//! `rootdirectory`), so both servers share a bucket. S3 has no rename and no
//! append; how this backend does without them is written down in
//! `docs/storage-backend.md` ("Where there is no append" in particular):
//!
//! - `append(K)` writes one *segment* object `DIR/.tmp-append-NAME/OFFSET`
//!   per call (OFFSET = the size before the call, zero-padded). A body that
//!   ends within [`PART_SIZE`] bytes is one conditional `PUT`; a longer one
//!   is a multipart upload of [`PART_SIZE`] parts sent as they fill, at most
//!   [`PARTS_IN_FLIGHT`] at a time, so memory stays bounded whatever the
//!   size. The segment becomes visible only when complete; a failed body
//!   aborts it, so the upload keeps the size it had.
//! - `stat(K)`/`reader(K)` see `K` (if it exists) followed by its segments.
//! - `commit(K, TO)` is a server-side `CopyObject` when `K` is one piece of
//!   at most 5 GiB (the usual case: one `PATCH` or a monolithic `PUT`),
//!   conditional on `TO` not existing (`If-None-Match: *`); several pieces
//!   are streamed through once into a multipart upload of `TO`. Then `K` and
//!   its segments are deleted.

use std::io;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, BoxStream};
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder, S3ConditionalPut, S3CopyIfNotExists};
use object_store::path::Path;
use object_store::{
    CopyMode, CopyOptions, GetOptions, GetRange, ObjectMeta, ObjectStore, ObjectStoreExt, PutMode,
    PutMultipartOptions, PutOptions, PutPayload, UpdateVersion, WriteMultipart,
};

use super::backend::{Backend, ByteReader, ByteStream, ChunkSink, Coordination, Meta, WalkEntry};

/// Multipart part size: S3 wants at least 5 MiB for every part but the last.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// Parts of one upload being sent at once: with [`PART_SIZE`], at most
/// `(PARTS_IN_FLIGHT + 1) * 8 MiB` of an upload is in memory.
pub const PARTS_IN_FLIGHT: usize = 2;

/// Requests of a batched operation (`get_many`, `stat_many`, walk reads)
/// in flight at once.
const BATCH_CONCURRENCY: usize = 32;

/// Keys per `DeleteObjects` request is S3's own limit (1,000); this is how
/// many listing or delete requests run at once for `delete_many`.
const DELETE_CONCURRENCY: usize = 8;

/// The largest object S3 copies in one `CopyObject`.
const MAX_COPY_OBJECT: u64 = 5 * 1024 * 1024 * 1024;

/// A segment claim not renewed for this long, with no segment, is a dead
/// writer's: an upload interrupted by a crash resumes after this.
const CLAIM_STALE: Duration = Duration::from_secs(30);

/// How often a writer renews its segment claim.
const CLAIM_RENEW: Duration = Duration::from_secs(10);

/// One writer's right to write one segment (see `claim_segment`).
struct SegmentClaim {
    path: Path,
    e_tag: Option<String>,
    renewed: std::time::Instant,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Where a segment directory's name starts (hidden, see the module doc).
const SEGMENTS: &str = ".tmp-append-";

/// Width of a segment's offset in its name, so names sort by offset.
const OFFSET_WIDTH: usize = 20;

/// A bucket and prefix given as `s3://BUCKET[/PREFIX]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Without leading or trailing `/`; empty for the bucket's root.
    pub prefix: String,
}

/// Why an `s3://` location or the S3 configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum S3ConfigError {
    #[error(
        "{0:?} is not an S3 location: write s3://BUCKET or s3://BUCKET/PREFIX (the bucket must exist)"
    )]
    Location(String),
    #[error(
        "cannot use bucket {bucket:?}: {reason} (credentials, region and endpoint come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION and AWS_ENDPOINT_URL)"
    )]
    Store { bucket: String, reason: String },
}

impl S3Location {
    /// Parses `s3://BUCKET[/PREFIX]`. The prefix is registry:2's
    /// `rootdirectory`: keys live under `PREFIX/docker/registry/v2/`.
    pub fn parse(url: &str) -> Result<Self, S3ConfigError> {
        let bad = || S3ConfigError::Location(url.to_owned());
        let rest = url.strip_prefix("s3://").ok_or_else(bad)?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.');
        let prefix = prefix.trim_matches('/');
        let prefix_ok = prefix.split('/').all(|c| {
            !c.is_empty()
                && c != "."
                && c != ".."
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        }) || prefix.is_empty();
        if !bucket_ok || !prefix_ok || url.contains('?') || url.contains('#') {
            return Err(bad());
        }
        Ok(S3Location {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }
}

impl std::fmt::Display for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

/// Stores keys as objects of one bucket, under a prefix.
#[derive(Debug, Clone)]
pub struct S3Backend {
    store: Arc<AmazonS3>,
    location: S3Location,
}

impl S3Backend {
    /// Connects to `location` with the standard AWS environment: keys,
    /// session token, region (default `us-east-1`) and endpoint. A custom
    /// endpoint is addressed path-style; plain http is allowed only when the
    /// endpoint itself says `http://`. Nothing is contacted yet.
    ///
    /// The profile of the AWS shared files (`AWS_PROFILE`, default
    /// `default`) fills in what the environment does not set.
    pub fn from_env(location: S3Location) -> Result<Self, S3ConfigError> {
        let vars = std::env::vars()
            .filter(|(k, v)| k.starts_with("AWS_") && !v.is_empty())
            .collect();
        let vars =
            super::aws_profile::complete(vars, dirs::home_dir().as_deref()).map_err(|e| {
                S3ConfigError::Store {
                    bucket: location.bucket.clone(),
                    reason: e.to_string(),
                }
            })?;
        Self::from_vars(location, vars)
    }

    /// [`S3Backend::from_env`] with the variables given (`AWS_*` names;
    /// others are ignored): what tests and several stores in one process use.
    pub fn from_vars(
        location: S3Location,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, S3ConfigError> {
        let vars: std::collections::HashMap<String, String> = vars
            .into_iter()
            .filter(|(k, v)| k.starts_with("AWS_") && !v.is_empty())
            .collect();
        let mut builder = AmazonS3Builder::new();
        for (key, value) in &vars {
            // Unknown AWS_ variables (AWS_PROFILE, AWS_CA_BUNDLE...) were
            // read by `from_env` or are for other tools.
            if let Ok(config) = key.to_ascii_lowercase().parse() {
                builder = builder.with_config(config, value);
            }
        }
        builder = builder
            .with_bucket_name(&location.bucket)
            .with_virtual_hosted_style_request(false)
            .with_conditional_put(S3ConditionalPut::ETagMatch)
            // Write-once commit: `CopyObject` with `If-None-Match: *` (one
            // request, and a metadata-only copy on SeaweedFS: 2.5x faster
            // than `UploadPartCopy` measured here).
            .with_copy_if_not_exists(S3CopyIfNotExists::HeaderWithStatus(
                "If-None-Match".into(),
                "*".into(),
                reqwest::StatusCode::PRECONDITION_FAILED,
            ));
        if !vars.contains_key("AWS_REGION") && !vars.contains_key("AWS_DEFAULT_REGION") {
            builder = builder.with_region("us-east-1");
        }
        let endpoint = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT"]
            .iter()
            .find_map(|k| vars.get(*k));
        if let Some(endpoint) = endpoint {
            builder = builder
                .with_allow_http(endpoint.starts_with("http://"))
                .with_endpoint(endpoint);
        }
        let store = builder.build().map_err(|e| S3ConfigError::Store {
            bucket: location.bucket.clone(),
            reason: e.to_string(),
        })?;
        Ok(S3Backend {
            store: Arc::new(store),
            location,
        })
    }

    pub fn location(&self) -> &S3Location {
        &self.location
    }

    /// The object name of a key (the empty key: the prefix itself).
    fn path(&self, key: &str) -> Path {
        // Keys come from `paths`, built from validated names.
        debug_assert!(key.is_empty() || !key.split('/').any(|c| c == ".." || c.is_empty()));
        match (self.location.prefix.is_empty(), key.is_empty()) {
            (_, true) => Path::from(self.location.prefix.as_str()),
            (true, false) => Path::from(key),
            (false, false) => Path::from(format!("{}/{key}", self.location.prefix)),
        }
    }

    /// The key of an object name (what [`S3Backend::path`] made it from).
    fn key_of<'a>(&self, path: &'a Path) -> &'a str {
        let s = path.as_ref();
        if self.location.prefix.is_empty() {
            s
        } else {
            s.strip_prefix(self.location.prefix.as_str())
                .and_then(|s| s.strip_prefix('/'))
                .unwrap_or(s)
        }
    }

    /// The directory holding `key`'s segments.
    fn segments_dir(&self, key: &str) -> Path {
        let (dir, name) = key.rsplit_once('/').unwrap_or(("", key));
        if dir.is_empty() {
            self.path(&format!("{SEGMENTS}{name}"))
        } else {
            self.path(&format!("{dir}/{SEGMENTS}{name}"))
        }
    }

    /// The error, as an `io::Error` naming the object.
    fn err(&self, key: &str, e: object_store::Error) -> io::Error {
        let kind = match &e {
            object_store::Error::NotFound { .. } => io::ErrorKind::NotFound,
            object_store::Error::AlreadyExists { .. }
            | object_store::Error::Precondition { .. } => io::ErrorKind::AlreadyExists,
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => io::ErrorKind::PermissionDenied,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(
            kind,
            format!("s3://{}/{}: {e}", self.location.bucket, self.path(key)),
        )
    }

    async fn head(&self, key: &str) -> io::Result<Option<ObjectMeta>> {
        match self.store.head(&self.path(key)).await {
            Ok(m) => Ok(Some(m)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err(key, e)),
        }
    }

    /// Every object under `dir/` (recursively), in no particular order.
    async fn list_all(&self, dir: &Path) -> io::Result<Vec<ObjectMeta>> {
        self.store
            .list(Some(dir))
            .try_collect()
            .await
            .map_err(|e| self.err(self.key_of(dir), e))
    }

    /// `key` as stored: the object itself (if any) then its segments, each
    /// with the offset it starts at. `None` when neither exists.
    ///
    /// A key with content of its own never has segments (`append` moves it
    /// into the first segment), so a non-empty object costs one `HEAD`: a
    /// blob's size or a link's presence is one request.
    async fn pieces(&self, key: &str) -> io::Result<Option<Vec<Piece>>> {
        let base = self.head(key).await?;
        if let Some(meta) = base.as_ref().filter(|m| m.size > 0) {
            return Ok(Some(vec![Piece {
                start: 0,
                meta: meta.clone(),
            }]));
        }
        let segments = self.list_all(&self.segments_dir(key)).await?;
        if base.is_none() && segments.is_empty() {
            return Ok(None);
        }
        let mut pieces = Vec::new();
        let mut end = 0u64;
        if let Some(base) = base {
            end = base.size;
            pieces.push(Piece {
                start: 0,
                meta: base,
            });
        }
        let mut segments: Vec<(u64, ObjectMeta)> = segments
            .into_iter()
            .filter_map(|m| {
                let offset = m.location.filename()?.parse::<u64>().ok()?;
                Some((offset, m))
            })
            .collect();
        segments.sort_unstable_by_key(|(offset, _)| *offset);
        for (offset, meta) in segments {
            // Segments are written at the size the key had: anything else
            // is a gap or an overlap that no sequence of appends produces.
            if offset != end {
                return Err(io::Error::other(format!(
                    "s3://{}/{}: segment at byte {offset} does not follow the {end} bytes before it (two appends to one upload at once?)",
                    self.location.bucket,
                    self.path(key)
                )));
            }
            end += meta.size;
            pieces.push(Piece {
                start: offset,
                meta,
            });
        }
        Ok(Some(pieces))
    }

    /// The bytes `range` of one object, streamed.
    async fn object_stream(
        store: Arc<AmazonS3>,
        path: Path,
        range: Range<u64>,
    ) -> object_store::Result<BoxStream<'static, object_store::Result<Bytes>>> {
        let opts = GetOptions {
            range: Some(GetRange::Bounded(range)),
            ..Default::default()
        };
        Ok(store.get_opts(&path, opts).await?.into_stream())
    }

    /// Writes `body` as the object `path`, created only if it does not
    /// exist: one `PUT` for a body shorter than a part, a streamed multipart
    /// upload otherwise. Nothing is visible until the whole body is stored.
    async fn write_object(
        &self,
        key: &str,
        path: &Path,
        mut body: ByteStream,
        sink: &mut dyn ChunkSink,
    ) -> io::Result<u64> {
        let mut first = BytesMut::new();
        let mut written = 0u64;
        // Gather up to one part: most bodies (links, manifests, small
        // layers) end here and take a single conditional PUT.
        while first.len() < PART_SIZE {
            match body.next().await {
                Some(Ok(chunk)) => {
                    sink.chunk(&chunk);
                    written += chunk.len() as u64;
                    first.extend_from_slice(&chunk);
                }
                Some(Err(e)) => return Err(e),
                None => {
                    let opts = PutOptions::from(PutMode::Create);
                    self.store
                        .put_opts(path, PutPayload::from(first.freeze()), opts)
                        .await
                        .map_err(|e| self.err(key, e))?;
                    return Ok(written);
                }
            }
        }
        // A multipart upload cannot be completed conditionally: a claim,
        // created conditionally, keeps two requests (on two servers) from
        // writing one segment.
        let mut claim = self.claim_segment(key, path).await?;
        let upload = self
            .store
            .put_multipart_opts(path, PutMultipartOptions::default())
            .await
            .map_err(|e| self.err(key, e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        writer.put(first.freeze());
        let result: io::Result<()> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk?;
                sink.chunk(&chunk);
                written += chunk.len() as u64;
                writer
                    .wait_for_capacity(PARTS_IN_FLIGHT)
                    .await
                    .map_err(|e| self.err(key, e))?;
                writer.put(chunk);
                self.renew_claim(key, &mut claim).await?;
            }
            Ok(())
        }
        .await;
        match result {
            Ok(()) => {
                writer.finish().await.map_err(|e| self.err(key, e))?;
                Ok(written)
            }
            Err(e) => {
                // Aborted: the parts sent so far are dropped by the store
                // and no object appears.
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(key, error = %abort, "could not abort a failed multipart upload");
                }
                Err(e)
            }
        }
    }

    /// Claims the segment `path` for one writer: `SEGMENT.claim`, created
    /// only if absent, holding the time it was last renewed. Refused while
    /// another request holds it, or once the segment exists; a claim not
    /// renewed for [`CLAIM_STALE`] whose segment never appeared (its writer
    /// died) is taken over by a conditional replace.
    async fn claim_segment(&self, key: &str, path: &Path) -> io::Result<SegmentClaim> {
        let claim = Path::from(format!("{path}.claim"));
        let now = now_ms();
        let stamp = || PutPayload::from(Bytes::from(now.to_string()));
        let busy = |why: &str| {
            io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("s3://{}/{}: {why}", self.location.bucket, self.path(key)),
            )
        };
        let created = self
            .store
            .put_opts(&claim, stamp(), PutMode::Create.into())
            .await;
        let put = match created {
            Ok(put) => put,
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => {
                if self.head(self.key_of(path)).await?.is_some() {
                    return Err(busy("another request appended at this offset first"));
                }
                let Some((held, version)) = self.get_versioned(self.key_of(&claim)).await? else {
                    return Err(busy("another request is appending to this upload"));
                };
                let since: u64 = std::str::from_utf8(&held)
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(0);
                if now.saturating_sub(since) < CLAIM_STALE.as_millis() as u64 {
                    return Err(busy("another request is appending to this upload"));
                }
                let mode = PutMode::Update(UpdateVersion {
                    e_tag: Some(version),
                    version: None,
                });
                match self.store.put_opts(&claim, stamp(), mode.into()).await {
                    Ok(put) => put,
                    Err(object_store::Error::Precondition { .. }) => {
                        return Err(busy("another request is appending to this upload"));
                    }
                    Err(e) => return Err(self.err(key, e)),
                }
            }
            Err(e) => return Err(self.err(key, e)),
        };
        Ok(SegmentClaim {
            path: claim,
            e_tag: put.e_tag,
            renewed: std::time::Instant::now(),
        })
    }

    /// Renews a claim every [`CLAIM_RENEW`], conditionally: a claim taken
    /// over (this writer stalled past [`CLAIM_STALE`]) fails the append.
    async fn renew_claim(&self, key: &str, claim: &mut SegmentClaim) -> io::Result<()> {
        if claim.renewed.elapsed() < CLAIM_RENEW {
            return Ok(());
        }
        let mode = PutMode::Update(UpdateVersion {
            e_tag: claim.e_tag.clone(),
            version: None,
        });
        let stamp = PutPayload::from(Bytes::from(now_ms().to_string()));
        match self.store.put_opts(&claim.path, stamp, mode.into()).await {
            Ok(put) => {
                claim.e_tag = put.e_tag;
                claim.renewed = std::time::Instant::now();
                Ok(())
            }
            Err(object_store::Error::Precondition { .. }) => Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "s3://{}/{}: this append stalled and another request took its place",
                    self.location.bucket,
                    self.path(key)
                ),
            )),
            Err(e) => Err(self.err(key, e)),
        }
    }

    /// The keys to delete for `key`: the object, everything under it, and
    /// its segments.
    async fn expand_delete(&self, key: &str) -> io::Result<Vec<Path>> {
        let under = self.path(key);
        let segments = self.segments_dir(key);
        let (below, segs) = tokio::try_join!(self.list_all(&under), self.list_all(&segments))?;
        let mut paths: Vec<Path> = below.into_iter().map(|m| m.location).collect();
        paths.extend(segs.into_iter().map(|m| m.location));
        paths.push(under);
        Ok(paths)
    }

    async fn delete_paths(&self, paths: Vec<Path>) -> io::Result<()> {
        let input = stream::iter(paths.into_iter().map(Ok)).boxed();
        let mut results = self.store.delete_stream(input);
        while let Some(r) = results.next().await {
            match r {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.err("", e)),
            }
        }
        Ok(())
    }

    /// A URL that lets its holder GET `key` for `expires_in` without
    /// credentials (blob redirects).
    pub async fn presigned_get(&self, key: &str, expires_in: Duration) -> io::Result<url::Url> {
        use object_store::signer::Signer;
        self.store
            .signed_url(reqwest::Method::GET, &self.path(key), expires_in)
            .await
            .map_err(|e| self.err(key, e))
    }
}

/// One object of a key's content and where in the content it starts.
struct Piece {
    start: u64,
    meta: ObjectMeta,
}

fn meta_of(m: &ObjectMeta) -> Meta {
    Meta {
        size: m.size,
        modified: SystemTime::from(m.last_modified),
        is_dir: false,
    }
}

/// A prefix has no modification time on S3: it is reported as "now", so a
/// cache validated by a directory's mtime (the tag list's) reads again
/// rather than trusting a time that never changes.
fn dir_meta() -> Meta {
    Meta {
        size: 0,
        modified: SystemTime::now(),
        is_dir: true,
    }
}

fn hidden(key: &str) -> bool {
    key.split('/').any(|c| c.starts_with(".tmp-"))
}

#[async_trait]
impl Backend for S3Backend {
    async fn get(&self, key: &str) -> io::Result<Option<Bytes>> {
        let result = match self.store.get(&self.path(key)).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.err(key, e)),
        };
        match result.bytes().await {
            Ok(b) => Ok(Some(b)),
            // Deleted between the answer's head and its body.
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err(key, e)),
        }
    }

    async fn put(&self, key: &str, data: Bytes) -> io::Result<()> {
        // A single PUT is atomic and acknowledged once durable.
        self.store
            .put(&self.path(key), PutPayload::from(data))
            .await
            .map_err(|e| self.err(key, e))?;
        Ok(())
    }

    async fn stat(&self, key: &str) -> io::Result<Option<Meta>> {
        if let Some(pieces) = self.pieces(key).await? {
            let size = pieces.iter().map(|p| p.meta.size).sum();
            let modified = pieces
                .iter()
                .map(|p| SystemTime::from(p.meta.last_modified))
                .max()
                .unwrap_or(std::time::UNIX_EPOCH);
            return Ok(Some(Meta {
                size,
                modified,
                is_dir: false,
            }));
        }
        // A "directory": some key below it.
        let mut below = self.store.list(Some(&self.path(key)));
        match below.next().await {
            Some(Ok(_)) => Ok(Some(dir_meta())),
            Some(Err(e)) => Err(self.err(key, e)),
            None => Ok(None),
        }
    }

    async fn reader(
        &self,
        key: &str,
        offset: u64,
        len: Option<u64>,
    ) -> io::Result<Option<ByteReader>> {
        Ok(self
            .stream(key, offset, len, 256 * 1024)
            .await?
            .map(|s| Box::pin(tokio_util::io::StreamReader::new(s)) as ByteReader))
    }

    /// Ranged GETs of the pieces the window covers, one after the other,
    /// each streamed from the store as it arrives.
    async fn stream(
        &self,
        key: &str,
        offset: u64,
        len: Option<u64>,
        _chunk: usize,
    ) -> io::Result<Option<ByteStream>> {
        let Some(pieces) = self.pieces(key).await? else {
            return Ok(None);
        };
        let end = len.map_or(u64::MAX, |l| offset.saturating_add(l));
        let ranges: Vec<(Path, Range<u64>)> = pieces
            .into_iter()
            .filter_map(|p| {
                let lo = offset.max(p.start);
                let hi = end.min(p.start + p.meta.size);
                (lo < hi).then(|| (p.meta.location, lo - p.start..hi - p.start))
            })
            .collect();
        let store = self.store.clone();
        let name = format!("s3://{}/{}", self.location.bucket, self.path(key));
        let body = stream::iter(ranges)
            .then(move |(path, range)| {
                let store = store.clone();
                async move { Self::object_stream(store, path, range).await }
            })
            .try_flatten()
            .map_err(move |e| io::Error::other(format!("{name}: {e}")));
        Ok(Some(Box::pin(body)))
    }

    async fn append(
        &self,
        key: &str,
        body: ByteStream,
        sink: &mut dyn ChunkSink,
    ) -> io::Result<u64> {
        let pieces = self.pieces(key).await?.unwrap_or_default();
        let start = pieces.iter().map(|p| p.meta.size).sum::<u64>();
        let segment_at = |offset: u64| {
            Path::from(format!(
                "{}/{offset:0width$}",
                self.segments_dir(key),
                width = OFFSET_WIDTH
            ))
        };
        let base = self.path(key);
        // Content of the key's own becomes the first segment (a server-side
        // copy), so that a non-empty object never also has segments.
        if let [only] = pieces.as_slice()
            && only.meta.location == base
            && only.meta.size > 0
        {
            self.store
                .copy(&base, &segment_at(0))
                .await
                .map_err(|e| self.err(key, e))?;
            self.store
                .delete(&base)
                .await
                .map_err(|e| self.err(key, e))?;
        }
        let segment = segment_at(start);
        let written = self.write_object(key, &segment, body, sink).await?;
        if written == 0 {
            // Nothing to keep: an empty segment would only cost a request
            // on every later stat.
            let _ = self.store.delete(&segment).await;
        }
        Ok(written)
    }

    async fn commit(&self, from: &str, to: &str) -> io::Result<()> {
        let pieces = self.pieces(from).await?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "s3://{}/{}: nothing to commit",
                    self.location.bucket,
                    self.path(from)
                ),
            )
        })?;
        let pieces: Vec<Piece> = pieces.into_iter().filter(|p| p.meta.size > 0).collect();
        let target = self.path(to);
        let created = match pieces.as_slice() {
            [] => self
                .store
                .put_opts(&target, PutPayload::default(), PutMode::Create.into())
                .await
                .map(drop),
            // One `CopyObject` (at most 5 GiB on S3) with `If-None-Match: *`.
            [one] if one.meta.size <= MAX_COPY_OBJECT => {
                self.store
                    .copy_opts(
                        &one.meta.location,
                        &target,
                        CopyOptions::new().with_mode(CopyMode::Create),
                    )
                    .await
            }
            _ => {
                // Several segments, or one too large for `CopyObject`: one
                // pass through this process into a
                // multipart upload (object_store has no UploadPartCopy of
                // several sources). Write-once: skipped if `to` exists.
                if self.head(to).await?.is_none() {
                    let body = self
                        .stream(from, 0, None, PART_SIZE)
                        .await?
                        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, from.to_owned()))?;
                    let upload = self
                        .store
                        .put_multipart_opts(&target, PutMultipartOptions::default())
                        .await
                        .map_err(|e| self.err(to, e))?;
                    copy_into(upload, body)
                        .await
                        .map_err(|e| io::Error::new(e.kind(), format!("{to}: {e}")))?;
                }
                Ok(())
            }
        };
        match created {
            // Write-once: another writer committed the same content first.
            Ok(()) | Err(object_store::Error::AlreadyExists { .. }) => {}
            Err(object_store::Error::Precondition { .. }) => {}
            Err(e) => return Err(self.err(to, e)),
        }
        self.delete(from).await
    }

    /// One delimited listing. Some servers (SeaweedFS) keep showing a
    /// "directory" after the last key under it is deleted, so each prefix
    /// it names is checked to hold a key (concurrently), as the contract's
    /// "an empty prefix does not exist" wants.
    async fn list(&self, prefix: &str) -> io::Result<Vec<String>> {
        let dir = self.path(prefix);
        let listed = self
            .store
            .list_with_delimiter(Some(&dir))
            .await
            .map_err(|e| self.err(prefix, e))?;
        let visible =
            |name: Option<&str>| name.filter(|n| !n.starts_with(".tmp-")).map(str::to_owned);
        let mut names: Vec<String> = listed
            .objects
            .iter()
            .filter_map(|m| visible(m.location.filename()))
            .collect();
        let dirs: Vec<(String, Path)> = listed
            .common_prefixes
            .into_iter()
            .filter_map(|p| {
                let name = p.filename()?;
                // A key that exists only as segments is listed by its name.
                let name = match name.strip_prefix(SEGMENTS) {
                    Some(owner) => owner.to_owned(),
                    None => visible(Some(name))?,
                };
                Some((name, p))
            })
            .collect();
        let held: Vec<Option<String>> = stream::iter(dirs)
            .map(|(name, p)| async move {
                match self.store.list(Some(&p)).next().await {
                    Some(Ok(_)) => Ok(Some(name)),
                    Some(Err(e)) => Err(self.err(self.key_of(&p), e)),
                    None => Ok(None),
                }
            })
            .buffer_unordered(BATCH_CONCURRENCY)
            .try_collect()
            .await?;
        names.extend(held.into_iter().flatten());
        names.sort_unstable();
        names.dedup();
        Ok(names)
    }

    fn coordination(&self) -> Option<&dyn Coordination> {
        Some(self)
    }

    fn prefers_walk(&self) -> bool {
        true
    }

    async fn delete(&self, key: &str) -> io::Result<()> {
        let paths = self.expand_delete(key).await?;
        self.delete_paths(paths).await
    }

    /// One recursive listing (1,000 keys a request), directories made up
    /// from the keys' prefixes, segment sizes added to their key, and small
    /// objects read [`BATCH_CONCURRENCY`] at a time.
    async fn walk(&self, prefix: &str, read_up_to: u64) -> io::Result<Vec<WalkEntry>> {
        let dir = self.path(prefix);
        let objects = self.list_all(&dir).await?;
        let base = format!("{dir}/");
        let mut entries: std::collections::BTreeMap<String, WalkEntry> = Default::default();
        let mut segment_bytes: Vec<(String, ObjectMeta)> = Vec::new();
        for m in objects {
            let Some(rel) = m.location.as_ref().strip_prefix(base.as_str()) else {
                continue;
            };
            let rel = rel.to_owned();
            if let Some((parent, seg)) = segment_owner(&rel) {
                // Claims (`OFFSET.claim`) hold no bytes of the key.
                if rel
                    .rsplit('/')
                    .next()
                    .is_none_or(|n| n.parse::<u64>().is_err())
                {
                    continue;
                }
                let owner = if parent.is_empty() {
                    seg.to_owned()
                } else {
                    format!("{parent}/{seg}")
                };
                segment_bytes.push((owner, m));
                continue;
            }
            if hidden(&rel) {
                continue;
            }
            add_dirs(&mut entries, &rel);
            entries.insert(
                rel.clone(),
                WalkEntry {
                    key: rel,
                    meta: meta_of(&m),
                    content: None,
                },
            );
        }
        for (owner, m) in segment_bytes {
            add_dirs(&mut entries, &owner);
            let entry = entries.entry(owner.clone()).or_insert_with(|| WalkEntry {
                key: owner,
                meta: Meta {
                    size: 0,
                    modified: std::time::UNIX_EPOCH,
                    is_dir: false,
                },
                content: None,
            });
            entry.meta.size += m.size;
            entry.meta.modified = entry.meta.modified.max(SystemTime::from(m.last_modified));
        }
        let small: Vec<String> = entries
            .values()
            .filter(|e| !e.meta.is_dir && e.meta.size <= read_up_to)
            .map(|e| e.key.clone())
            .collect();
        let keys: Vec<String> = small
            .iter()
            .map(|k| {
                if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}/{k}")
                }
            })
            .collect();
        let contents = self.get_many(keys).await?;
        for (key, content) in small.into_iter().zip(contents) {
            if let Some(e) = entries.get_mut(&key) {
                e.content = content;
            }
        }
        Ok(entries.into_values().collect())
    }

    async fn get_many(&self, keys: Vec<String>) -> io::Result<Vec<Option<Bytes>>> {
        stream::iter(keys)
            .map(|k| async move { self.get(&k).await })
            .buffered(BATCH_CONCURRENCY)
            .try_collect()
            .await
    }

    async fn stat_many(&self, keys: Vec<String>) -> io::Result<Vec<Option<Meta>>> {
        stream::iter(keys)
            .map(|k| async move { self.stat(&k).await })
            .buffered(BATCH_CONCURRENCY)
            .try_collect()
            .await
    }

    /// The listings run [`DELETE_CONCURRENCY`] at a time; the keys they
    /// find go out in `DeleteObjects` batches of 1,000.
    async fn delete_many(&self, keys: Vec<String>) -> io::Result<()> {
        let expanded: Vec<Vec<Path>> = stream::iter(keys)
            .map(|k| async move { self.expand_delete(&k).await })
            .buffer_unordered(DELETE_CONCURRENCY)
            .try_collect()
            .await?;
        self.delete_paths(expanded.into_iter().flatten().collect())
            .await
    }
}

/// `If-None-Match: *` and `If-Match: ETAG` on `PUT`.
#[async_trait]
impl Coordination for S3Backend {
    async fn create(&self, key: &str, data: Bytes) -> io::Result<bool> {
        let opts = PutOptions::from(PutMode::Create);
        match self
            .store
            .put_opts(&self.path(key), PutPayload::from(data), opts)
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => Ok(false),
            Err(e) => Err(self.err(key, e)),
        }
    }

    async fn get_versioned(&self, key: &str) -> io::Result<Option<(Bytes, String)>> {
        let result = match self.store.get(&self.path(key)).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.err(key, e)),
        };
        let version = result.meta.e_tag.clone().unwrap_or_default();
        match result.bytes().await {
            Ok(b) => Ok(Some((b, version))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err(key, e)),
        }
    }

    async fn replace_if(&self, key: &str, data: Bytes, version: &str) -> io::Result<bool> {
        let mode = PutMode::Update(UpdateVersion {
            e_tag: Some(version.to_owned()),
            version: None,
        });
        match self
            .store
            .put_opts(
                &self.path(key),
                PutPayload::from(data),
                PutOptions::from(mode),
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::Precondition { .. })
            | Err(object_store::Error::NotFound { .. })
            | Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(self.err(key, e)),
        }
    }
}

/// For a walked key inside a segment directory (`a/.tmp-append-data/0…`),
/// the directory holding it and the name of the key it belongs to
/// (`("a", "data")`).
fn segment_owner(rel: &str) -> Option<(&str, &str)> {
    let (dir, _offset) = rel.rsplit_once('/')?;
    let (parent, last) = dir.rsplit_once('/').unwrap_or(("", dir));
    let owner = last.strip_prefix(SEGMENTS)?;
    (!hidden(parent)).then_some((parent, owner))
}

/// Adds the directory entries above `rel` (`a`, `a/b` for `a/b/c`).
fn add_dirs(entries: &mut std::collections::BTreeMap<String, WalkEntry>, rel: &str) {
    let mut at = 0;
    while let Some(i) = rel[at..].find('/') {
        let dir = &rel[..at + i];
        entries.entry(dir.to_owned()).or_insert_with(|| WalkEntry {
            key: dir.to_owned(),
            meta: dir_meta(),
            content: None,
        });
        at += i + 1;
    }
}

/// Streams `body` into a multipart upload in parts of [`PART_SIZE`], at
/// most [`PARTS_IN_FLIGHT`] at a time; aborted on any error.
async fn copy_into(
    upload: Box<dyn object_store::MultipartUpload>,
    mut body: ByteStream,
) -> io::Result<()> {
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
    let result: io::Result<()> = async {
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            writer
                .wait_for_capacity(PARTS_IN_FLIGHT)
                .await
                .map_err(io::Error::other)?;
            writer.put(chunk);
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => writer.finish().await.map(drop).map_err(io::Error::other),
        Err(e) => {
            let _ = writer.abort().await;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_or_say_what_to_write() {
        let l = S3Location::parse("s3://my-bucket").unwrap();
        assert_eq!((l.bucket.as_str(), l.prefix.as_str()), ("my-bucket", ""));
        let l = S3Location::parse("s3://my-bucket/some/root/").unwrap();
        assert_eq!(l.prefix, "some/root");
        assert_eq!(l.to_string(), "s3://my-bucket/some/root");
        for bad in [
            "my-bucket",
            "s3://",
            "s3://ab",
            "s3://Upper",
            "s3://b_b_b",
            "s3://bucket/../x",
            "s3://bucket/a//b",
            "s3://bucket/a?x=1",
            "file:///x",
        ] {
            let err = S3Location::parse(bad).unwrap_err().to_string();
            assert!(err.contains("s3://BUCKET"), "{bad}: {err}");
        }
    }

    #[test]
    fn segment_keys_belong_to_their_key() {
        assert_eq!(
            segment_owner("r/_uploads/u/.tmp-append-data/00000000000000000005"),
            Some(("r/_uploads/u", "data"))
        );
        assert_eq!(segment_owner(".tmp-append-x/0"), Some(("", "x")));
        assert_eq!(segment_owner("a/b/link"), None);
        assert!(hidden("a/.tmp-x/b") && !hidden("a/b.tmp-/c"));
    }
}
