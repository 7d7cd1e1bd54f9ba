//! `Link: <url>; rel="next"` pagination for `_catalog` and `tags/list`,
//! one page at a time ([`Pager`]) so a huge catalog is printed as it
//! arrives instead of being held in memory.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use reqwest::Method;
use reqwest::header::LINK;
use serde::Deserialize;
use url::Url;

use super::auth::{CATALOG_SCOPE, repository_scope};
use super::error::{ClientError, Result};
use super::transport::{Client, Request, read_limited};
use crate::types::{ErrorCode, Reference};

/// Catalog page asked for when the user sets none: registry:2's maximum.
const DEFAULT_CATALOG_PAGE: usize = 1000;

/// Largest page body read into memory.
const MAX_PAGE_BODY: usize = 64 * 1024 * 1024;

#[derive(Deserialize)]
struct CatalogPage {
    #[serde(default)]
    repositories: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct TagsPage {
    // registry:2 answers `"tags": null` once every tag is deleted.
    #[serde(default)]
    tags: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listing {
    Catalog,
    Tags,
}

impl Listing {
    fn parse(self, body: &[u8], url: &str) -> Result<Vec<String>> {
        let invalid = |what: &str, e: serde_json::Error| ClientError::InvalidResponse {
            url: url.to_owned(),
            reason: format!("not a {what}: {e}"),
        };
        match self {
            Listing::Catalog => serde_json::from_slice::<CatalogPage>(body)
                .map(|p| p.repositories.unwrap_or_default())
                .map_err(|e| invalid("catalog", e)),
            Listing::Tags => serde_json::from_slice::<TagsPage>(body)
                .map(|p| p.tags.unwrap_or_default())
                .map_err(|e| invalid("tag list", e)),
        }
    }
}

/// Reads a paged listing page by page. Stops with [`ClientError::Paging`]
/// when the server's links would never end (a page or link that repeats,
/// a `last` that does not advance) or leave https for plain http.
pub struct Pager {
    client: Client,
    registry: String,
    scope: String,
    listing: Listing,
    next: Option<Url>,
    /// The first URL without `n`, tried once if the registry refuses the
    /// page size regctl picked itself.
    fallback: Option<Url>,
    remaining: Option<usize>,
    // Hashes only, so that memory stays flat however many pages there are.
    fetched: HashSet<u64>,
    pages: HashSet<u64>,
}

fn hash_of(v: &impl Hash) -> u64 {
    let mut h = DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

fn last_param(url: &Url) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == "last")
        .map(|(_, v)| v.into_owned())
}

impl Client {
    /// The repositories of `/v2/_catalog`, page by page, at most `limit`.
    /// `page_size` sets `n` (default: registry:2's maximum, 1000).
    pub fn catalog_pager(
        &self,
        registry: &str,
        page_size: Option<usize>,
        limit: Option<usize>,
    ) -> Result<Pager> {
        let first = self.url(registry, "_catalog")?;
        // Without a page size, ask for registry:2's largest page: its default
        // of 100 makes a 10,000-repository catalog 100 walks of its tree.
        let n = page_size.unwrap_or(match limit {
            Some(l) if l <= DEFAULT_CATALOG_PAGE => l,
            _ => DEFAULT_CATALOG_PAGE,
        });
        let mut url = first.clone();
        url.query_pairs_mut().append_pair("n", &n.to_string());
        let fallback = page_size.is_none().then_some(first);
        Ok(self.pager(
            registry,
            CATALOG_SCOPE,
            Listing::Catalog,
            url,
            fallback,
            limit,
        ))
    }

    /// The tags of a repository, page by page.
    pub fn tags_pager(&self, repo: &Reference, page_size: Option<usize>) -> Result<Pager> {
        let mut url = self.url(repo.registry(), &format!("{}/tags/list", repo.repository()))?;
        if let Some(n) = page_size {
            url.query_pairs_mut().append_pair("n", &n.to_string());
        }
        let scope = repository_scope(repo.repository(), "pull");
        Ok(self.pager(repo.registry(), &scope, Listing::Tags, url, None, None))
    }

    /// Every repository of the catalog (all pages), or the first `limit`.
    pub async fn catalog(
        &self,
        registry: &str,
        page_size: Option<usize>,
        limit: Option<usize>,
    ) -> Result<Vec<String>> {
        self.catalog_pager(registry, page_size, limit)?
            .collect()
            .await
    }

    /// Every tag of a repository (all pages). A repository whose tags were
    /// all deleted has none (registry:2 says `null`).
    pub async fn tags(&self, repo: &Reference, page_size: Option<usize>) -> Result<Vec<String>> {
        self.tags_pager(repo, page_size)?.collect().await
    }

    fn pager(
        &self,
        registry: &str,
        scope: &str,
        listing: Listing,
        first: Url,
        fallback: Option<Url>,
        limit: Option<usize>,
    ) -> Pager {
        Pager {
            client: self.clone(),
            registry: registry.to_owned(),
            scope: scope.to_owned(),
            listing,
            next: Some(first),
            fallback,
            remaining: limit,
            fetched: HashSet::new(),
            pages: HashSet::new(),
        }
    }
}

impl Pager {
    /// The next non-empty page, or `None` after the last one.
    pub async fn next_page(&mut self) -> Result<Option<Vec<String>>> {
        let Some(mut url) = self.next.take() else {
            return Ok(None);
        };
        if self.remaining == Some(0) {
            return Ok(None);
        }
        let resp = loop {
            self.fetched.insert(hash_of(&url.as_str()));
            let req = Request::new(
                Method::GET,
                &self.registry,
                url.clone(),
                Some(self.scope.clone()),
            );
            match self.client.send_ok(req).await {
                Ok(r) => break r,
                // A registry that refuses our default page size gets its own.
                Err(e) if e.code() == Some(&ErrorCode::PaginationNumberInvalid) => {
                    match self.fallback.take() {
                        Some(first) => url = first,
                        None => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        };
        self.fallback = None;
        // Where the page really came from (after a scheme probe or a
        // redirect): what its links are relative to and checked against.
        let url = resp.url().clone();
        self.fetched.insert(hash_of(&url.as_str()));
        let next = resp
            .headers()
            .get(LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(|h| next_link(h, &url));
        let body = read_limited(resp, MAX_PAGE_BODY, url.as_str()).await?;
        let mut page = self.listing.parse(&body, url.as_str())?;
        if page.is_empty() {
            return Ok(None);
        }
        if !self.pages.insert(hash_of(&page)) {
            return Err(ClientError::Paging {
                from: url.to_string(),
                to: next.map_or_else(|| "(none)".to_owned(), |n| n.to_string()),
                reason: "the server sent the same page again; its paging would never end".into(),
            });
        }
        if let Some(left) = &mut self.remaining {
            page.truncate(*left);
            *left -= page.len();
        }
        if let Some(next) = next {
            self.check_next(&url, &next)?;
            self.next = Some(next);
        }
        Ok(Some(page))
    }

    /// Reads every remaining page into one list.
    pub async fn collect(mut self) -> Result<Vec<String>> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await? {
            all.extend(page);
        }
        Ok(all)
    }

    fn check_next(&self, current: &Url, next: &Url) -> Result<()> {
        let refuse = |reason: &str| ClientError::Paging {
            from: current.to_string(),
            to: next.to_string(),
            reason: reason.to_owned(),
        };
        if current.scheme() == "https" && next.scheme() != "https" {
            return Err(refuse("it leaves https for an unencrypted connection"));
        }
        if self.fetched.contains(&hash_of(&next.as_str())) {
            return Err(refuse(
                "that page was already read; the server's paging would never end",
            ));
        }
        if let Some(last) = last_param(current)
            && last_param(next).as_deref() == Some(last.as_str())
        {
            return Err(refuse(&format!(
                "its `last` ({last:?}) does not advance; the server's paging would never end"
            )));
        }
        Ok(())
    }
}

/// The `rel="next"` target of a `Link` header, resolved against the URL of
/// the request that returned it (registries send relative links).
pub fn next_link(header: &str, base: &Url) -> Option<Url> {
    for part in split_links(header) {
        let part = part.trim();
        let Some(rest) = part.strip_prefix('<') else {
            continue;
        };
        let Some((target, params)) = rest.split_once('>') else {
            continue;
        };
        let is_next = params.split(';').any(|p| {
            let p = p.trim();
            p.split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("rel")
                    && v.trim()
                        .trim_matches('"')
                        .split_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
            })
        });
        if is_next {
            return base.join(target.trim()).ok();
        }
    }
    None
}

/// Splits on commas that are outside `<...>` (URLs may contain commas).
fn split_links(header: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = false;
    let mut start = 0;
    for (i, c) in header.char_indices() {
        match c {
            '<' => depth = true,
            '>' => depth = false,
            ',' if !depth => {
                parts.push(&header[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&header[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("http://127.0.0.1:5000/v2/_catalog?n=2").unwrap()
    }

    #[test]
    fn resolves_relative_next_links() {
        let next = next_link(r#"</v2/_catalog?last=b&n=2>; rel="next""#, &base()).unwrap();
        assert_eq!(
            next.as_str(),
            "http://127.0.0.1:5000/v2/_catalog?last=b&n=2"
        );
    }

    #[test]
    fn accepts_absolute_and_unquoted_and_picks_next() {
        let h = r#"<https://other/v2/x?a=1,2>; rel=prev, <https://r.io/v2/a/tags/list?last=t>; rel=next"#;
        assert_eq!(
            next_link(h, &base()).unwrap().as_str(),
            "https://r.io/v2/a/tags/list?last=t"
        );
    }

    #[test]
    fn no_next_means_none() {
        assert_eq!(next_link(r#"</v2/x>; rel="prev""#, &base()), None);
        assert_eq!(next_link("garbage", &base()), None);
        assert_eq!(next_link("", &base()), None);
    }
}
