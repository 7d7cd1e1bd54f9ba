//! regctl serve's admin API: online garbage collection.

use reqwest::Method;

use super::error::{ClientError, Result};
use super::transport::{Client, Request, read_limited};
use crate::types::gc::{GcOptions, GcReport};

/// A report lists every blob it removes; allow large registries.
const MAX_REPORT: usize = 256 * 1024 * 1024;

impl Client {
    /// Runs (or, with `dry_run`, plans) a garbage collection on a running
    /// `regctl serve`. Other registries answer 404 or 405: they have no such
    /// endpoint.
    pub async fn collect_garbage(
        &self,
        registry: &str,
        opts: &GcOptions,
        dry_run: bool,
    ) -> Result<GcReport> {
        let query = format!(
            "_regctl/gc?dry_run={dry_run}&delete_untagged={}&prune_empty_repos={}&min_age={}",
            opts.delete_untagged,
            opts.prune_empty_repos,
            opts.min_age.as_secs()
        );
        let url = self.url(registry, &query)?;
        let shown = url.to_string();
        let resp = self
            .send_ok(Request::new(Method::POST, registry, url, None))
            .await?;
        let body = read_limited(resp, MAX_REPORT, &shown).await?;
        serde_json::from_slice(&body).map_err(|e| ClientError::InvalidResponse {
            url: shown,
            reason: format!("not a garbage-collection report: {e}"),
        })
    }
}
