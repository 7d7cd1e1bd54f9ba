//! Requests to an upstream, through the typed client (its authentication,
//! Docker credentials, retries and digest checks), each bounded in time,
//! and what their failures mean for a client of the cache.

use std::time::Duration;

use axum::http::StatusCode;
use reqwest::Method;
use reqwest::header::{ACCEPT, RETRY_AFTER};

use super::{Proxy, Target};
use crate::client::auth::repository_scope;
use crate::client::transport::Request;
use crate::client::{BlobStream, ClientError};
use crate::server::ApiError;
use crate::types::media_type::MANIFEST_ACCEPT;
use crate::types::{Digest, ErrorCode, Manifest};

/// Why the upstream could not answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpstreamError {
    #[error("{what} is not known upstream ({upstream})")]
    NotFound { upstream: String, what: String },
    #[error("{upstream} is rate-limiting this cache (429); retry in {} s", .wait.as_secs().max(1))]
    RateLimited { upstream: String, wait: Duration },
    #[error("{upstream} did not answer within {}", humantime::format_duration(*.after))]
    Timeout { upstream: String, after: Duration },
    #[error("{upstream}: {source}")]
    Client {
        upstream: String,
        #[source]
        source: ClientError,
    },
}

impl UpstreamError {
    /// The answer to the cache's client: the upstream's 404 stays a 404,
    /// a rate limit is a 429 with `Retry-After`, anything else a 502/504
    /// naming the upstream.
    pub(crate) fn to_api(&self, unknown: ErrorCode) -> ApiError {
        let message = format!("pull-through cache: {self}");
        match self {
            UpstreamError::NotFound { .. } => {
                ApiError::new(StatusCode::NOT_FOUND, unknown, message)
            }
            UpstreamError::RateLimited { .. } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::TooManyRequests,
                message,
            ),
            UpstreamError::Timeout { .. } => ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                ErrorCode::Other("UNAVAILABLE".into()),
                message,
            ),
            UpstreamError::Client { .. } => ApiError::new(
                StatusCode::BAD_GATEWAY,
                ErrorCode::Other("UNAVAILABLE".into()),
                message,
            ),
        }
    }

    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            UpstreamError::RateLimited { wait, .. } => Some(*wait),
            _ => None,
        }
    }
}

/// What one `HEAD` of a tag told.
pub(crate) struct TagHead {
    /// `Docker-Content-Digest`, when sent.
    pub digest: Option<Digest>,
}

impl Proxy {
    /// Every upstream call is bounded: the client's timeout applies to each
    /// connect and read, this to the whole call with its retries.
    fn deadline(&self) -> Duration {
        self.config.timeout.saturating_mul(3)
    }

    /// Fails at once while the upstream is backing off after a 429.
    fn check_backoff(&self, t: &Target<'_>) -> Result<(), UpstreamError> {
        match t.upstream.backing_off() {
            Some(wait) => Err(UpstreamError::RateLimited {
                upstream: t.upstream.shown.clone(),
                wait,
            }),
            None => Ok(()),
        }
    }

    async fn bounded<T>(
        &self,
        t: &Target<'_>,
        call: impl std::future::Future<Output = Result<T, ClientError>>,
        what: impl FnOnce() -> String,
    ) -> Result<T, UpstreamError> {
        self.check_backoff(t)?;
        let upstream = t.upstream.shown.clone();
        let result = match tokio::time::timeout(self.deadline(), call).await {
            Err(_) => {
                return Err(UpstreamError::Timeout {
                    upstream,
                    after: self.deadline(),
                });
            }
            Ok(r) => r,
        };
        result.map_err(|source| self.classify(t, source, what))
    }

    fn classify(
        &self,
        t: &Target<'_>,
        source: ClientError,
        what: impl FnOnce() -> String,
    ) -> UpstreamError {
        let upstream = t.upstream.shown.clone();
        if source.is_not_found() {
            return UpstreamError::NotFound {
                upstream,
                what: what(),
            };
        }
        if source.status() == Some(429) {
            t.upstream.back_off(super::DEFAULT_BACKOFF);
            return UpstreamError::RateLimited {
                upstream,
                wait: super::DEFAULT_BACKOFF,
            };
        }
        if let ClientError::Timeout { after, .. } = source {
            return UpstreamError::Timeout { upstream, after };
        }
        UpstreamError::Client { upstream, source }
    }

    /// One `HEAD` of a tag: its digest, the rate-limit headers logged, a
    /// 429 turned into a back-off.
    pub(crate) async fn head_tag(
        &self,
        t: &Target<'_>,
        tag: &str,
    ) -> Result<TagHead, UpstreamError> {
        let reference = t.reference(Some(tag), None)?;
        let what = || format!("{}:{tag}", t.remote);
        let url = self
            .client
            .url(
                reference.registry(),
                &format!("{}/manifests/{tag}", reference.repository()),
            )
            .map_err(|source| self.classify(t, source, what))?;
        let request = Request::new(
            Method::HEAD,
            reference.registry(),
            url,
            Some(repository_scope(reference.repository(), "pull")),
        )
        .header(ACCEPT, MANIFEST_ACCEPT);
        let resp = self.bounded(t, self.client.send(request), what).await?;
        let headers = resp.headers();
        if let Some(left) = headers
            .get("ratelimit-remaining")
            .and_then(|v| v.to_str().ok())
        {
            let limit = headers
                .get("ratelimit-limit")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("?");
            tracing::info!(target: "regctl::proxy", upstream = %t.upstream.shown, remaining = left, limit, "upstream rate limit");
        }
        let status = resp.status();
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let wait = headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    crate::client::retry::parse_retry_after(v, std::time::SystemTime::now())
                })
                .unwrap_or(super::DEFAULT_BACKOFF);
            t.upstream.back_off(wait);
            return Err(UpstreamError::RateLimited {
                upstream: t.upstream.shown.clone(),
                wait,
            });
        }
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(UpstreamError::NotFound {
                upstream: t.upstream.shown.clone(),
                what: format!("{}:{tag}", t.remote),
            });
        }
        if !status.is_success() {
            let source = crate::client::transport::error_from_response("HEAD", resp).await;
            return Err(self.classify(t, source, || format!("{}:{tag}", t.remote)));
        }
        let digest = headers
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<Digest>().ok());
        Ok(TagHead { digest })
    }

    /// A manifest by tag or digest, verified against the digest it was
    /// asked by and the one the upstream announced.
    pub(crate) async fn fetch_manifest(
        &self,
        t: &Target<'_>,
        tag: Option<&str>,
        digest: Option<&Digest>,
    ) -> Result<Manifest, UpstreamError> {
        let reference = t.reference(tag, digest)?;
        let what = || reference.to_string();
        self.bounded(t, self.client.manifest_get(&reference), what)
            .await
    }

    /// A blob's size upstream (a `HEAD`); `None` when it has no such blob.
    pub(crate) async fn blob_size(
        &self,
        t: &Target<'_>,
        digest: &Digest,
    ) -> Result<Option<u64>, UpstreamError> {
        let reference = t.reference(None, None)?;
        self.bounded(t, self.client.blob_head(&reference, digest), || {
            format!("blob {digest}")
        })
        .await
    }

    /// Starts a blob download: the response has arrived (its size is known
    /// when the upstream sent one); the body follows, verified at its end.
    pub(crate) async fn open_blob(
        &self,
        t: &Target<'_>,
        digest: &Digest,
    ) -> Result<BlobStream, UpstreamError> {
        let reference = t.reference(None, None)?;
        self.bounded(t, self.client.blob_get(&reference, digest), || {
            format!("blob {digest}")
        })
        .await
    }
}
