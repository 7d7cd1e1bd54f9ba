//! Cross-origin rules: CORS for external web UIs (`--cors-origin`) and
//! cross-site request forgery protection for every state-changing request
//! a browser sends.
//!
//! Preflight `OPTIONS` is answered here, before authentication: a browser
//! never sends credentials with a preflight, so asking for them (as
//! registry:2 does) makes every authenticated cross-origin call fail.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::SharedState;
use super::error::ApiError;
use crate::types::ErrorCode;

/// The header the built-in UI sends on every call. A cross-site form cannot
/// send a custom header, and a cross-origin script cannot either without a
/// preflight this server only grants to `--cors-origin` origins.
pub const UI_REQUEST_HEADER: &str = "X-Regctl-Request";

/// How long a browser may cache a preflight answer.
const PREFLIGHT_MAX_AGE: &str = "600";

/// Why a `--cors-origin` value cannot be used.
#[derive(Debug, thiserror::Error)]
#[error(
    "--cors-origin {value:?}: {reason} (give an origin such as https://ui.example.com or http://localhost:8080, or * for read-only use)"
)]
pub struct CorsOriginError {
    pub value: String,
    pub reason: &'static str,
}

/// The origins allowed to call the API from a browser.
#[derive(Debug, Clone, Default)]
pub struct Cors {
    /// Exact origins (`scheme://host[:port]`), lower-cased.
    origins: Vec<String>,
    /// `*`: any origin may read, without credentials and without writes.
    any: bool,
}

/// How an origin is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowed {
    /// Named with `--cors-origin`: credentials and DELETE allowed.
    Listed,
    /// Only through `*`: reads without credentials.
    AnyReadOnly,
}

impl Cors {
    pub fn new(values: &[String]) -> Result<Cors, CorsOriginError> {
        let mut cors = Cors::default();
        for value in values {
            let v = value.trim();
            if v == "*" {
                cors.any = true;
                continue;
            }
            cors.origins
                .push(parse_origin(v).ok_or_else(|| CorsOriginError {
                    value: value.clone(),
                    reason: "not an origin: expected scheme://host[:port] with no path",
                })?);
        }
        Ok(cors)
    }

    pub fn is_enabled(&self) -> bool {
        self.any || !self.origins.is_empty()
    }

    pub fn allows(&self, origin: &str) -> Option<Allowed> {
        let lower = origin.to_ascii_lowercase();
        if self.origins.contains(&lower) {
            Some(Allowed::Listed)
        } else if self.any {
            Some(Allowed::AnyReadOnly)
        } else {
            None
        }
    }
}

/// `scheme://host[:port]`, lower-cased, or `None`.
fn parse_origin(v: &str) -> Option<String> {
    let url = url::Url::parse(v).ok()?;
    let plain = v.trim_end_matches('/');
    let ok = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none()
        && !plain.ends_with(':');
    ok.then(|| url.origin().ascii_serialization().to_ascii_lowercase())
}

fn header_str(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether `origin` is this server itself, as the browser reached it.
fn is_own_origin(headers: &HeaderMap, origin: &str) -> bool {
    let Some(host) = header_str(headers, header::HOST) else {
        return false;
    };
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|authority| authority.eq_ignore_ascii_case(host))
}

/// Whether a state-changing request may go on. Clients that are not
/// browsers (docker, skopeo, regctl) send neither `Origin` nor
/// `Sec-Fetch-Site` and are not affected.
fn write_is_allowed(headers: &HeaderMap, allowed: Option<Allowed>) -> bool {
    let origin = header_str(headers, header::ORIGIN);
    let fetch_site = header_str(headers, "sec-fetch-site");
    if origin.is_none() && fetch_site.is_none() {
        return true;
    }
    let same_origin = match origin {
        Some(o) => is_own_origin(headers, o),
        None => fetch_site == Some("same-origin"),
    } && fetch_site.is_none_or(|s| s == "same-origin");
    if same_origin {
        return headers.contains_key(UI_REQUEST_HEADER);
    }
    allowed == Some(Allowed::Listed)
}

fn insert(resp: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

fn add_vary_origin(resp: &mut Response) {
    resp.headers_mut()
        .append(header::VARY, HeaderValue::from_static("Origin"));
}

fn preflight(origin: &str, allowed: Allowed) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    match allowed {
        Allowed::Listed => {
            insert(&mut resp, "access-control-allow-origin", origin);
            insert(&mut resp, "access-control-allow-credentials", "true");
            insert(
                &mut resp,
                "access-control-allow-methods",
                "GET, HEAD, DELETE, OPTIONS",
            );
            insert(
                &mut resp,
                "access-control-allow-headers",
                "Authorization, Accept, Cache-Control, Content-Type",
            );
        }
        Allowed::AnyReadOnly => {
            insert(&mut resp, "access-control-allow-origin", "*");
            insert(
                &mut resp,
                "access-control-allow-methods",
                "GET, HEAD, OPTIONS",
            );
            insert(
                &mut resp,
                "access-control-allow-headers",
                "Accept, Cache-Control",
            );
        }
    }
    insert(&mut resp, "access-control-max-age", PREFLIGHT_MAX_AGE);
    add_vary_origin(&mut resp);
    resp
}

/// CORS and forgery checks around everything else (authentication too, so
/// a 401 carries the CORS headers an external UI needs to read it).
pub async fn layer(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    let cors = &state.cors;
    let origin = header_str(req.headers(), header::ORIGIN).map(str::to_owned);
    let allowed = origin.as_deref().and_then(|o| cors.allows(o));
    let is_preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if is_preflight && let (Some(origin), Some(allowed)) = (origin.as_deref(), allowed) {
        return preflight(origin, allowed);
    }
    let writes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if writes && !write_is_allowed(req.headers(), allowed) {
        let resp = ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Denied,
            "cross-site request refused: a browser may change this registry only from its own web UI or from an origin given with --cors-origin",
        )
        .into_response();
        return super::refuse(req, resp).await;
    }
    let mut resp = next.run(req).await;
    if let (Some(origin), Some(allowed)) = (origin.as_deref(), allowed) {
        match allowed {
            Allowed::Listed => {
                insert(&mut resp, "access-control-allow-origin", origin);
                insert(&mut resp, "access-control-allow-credentials", "true");
            }
            Allowed::AnyReadOnly => insert(&mut resp, "access-control-allow-origin", "*"),
        }
        insert(
            &mut resp,
            "access-control-expose-headers",
            "Docker-Content-Digest, Link, WWW-Authenticate",
        );
    }
    if cors.is_enabled() {
        add_vary_origin(&mut resp);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_checked_and_normalised() {
        let cors = Cors::new(&[
            "https://UI.example.com".into(),
            "http://localhost:8080/".into(),
        ])
        .unwrap();
        assert_eq!(cors.allows("https://ui.example.com"), Some(Allowed::Listed));
        assert_eq!(cors.allows("http://localhost:8080"), Some(Allowed::Listed));
        assert_eq!(cors.allows("http://localhost:8081"), None);
        assert_eq!(cors.allows("https://evil.example.com"), None);
        for bad in [
            "ui.example.com",
            "https://x/path",
            "ftp://x",
            "https://u@x",
            "",
        ] {
            let e = Cors::new(&[bad.into()]).expect_err(bad);
            assert!(e.to_string().contains("--cors-origin"), "{e}");
        }
        let any = Cors::new(&["*".into()]).unwrap();
        assert_eq!(any.allows("https://a.example"), Some(Allowed::AnyReadOnly));
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn writes_from_browsers_need_the_own_origin_and_header_or_a_listed_origin() {
        // Not a browser: unaffected.
        assert!(write_is_allowed(&headers(&[("host", "r:5000")]), None));
        // The built-in UI.
        let own = [
            ("host", "r:5000"),
            ("origin", "http://r:5000"),
            ("sec-fetch-site", "same-origin"),
        ];
        assert!(!write_is_allowed(&headers(&own), None));
        let mut with_header = own.to_vec();
        with_header.push((UI_REQUEST_HEADER, "1"));
        assert!(write_is_allowed(&headers(&with_header), None));
        // A cross-site form, even carrying the header name somehow.
        let forged = [
            ("host", "r:5000"),
            ("origin", "http://evil"),
            ("sec-fetch-site", "cross-site"),
            (UI_REQUEST_HEADER, "1"),
        ];
        assert!(!write_is_allowed(&headers(&forged), None));
        assert!(!write_is_allowed(
            &headers(&forged),
            Some(Allowed::AnyReadOnly)
        ));
        assert!(write_is_allowed(&headers(&forged), Some(Allowed::Listed)));
        // Sec-Fetch-Site alone (no Origin) saying cross-site.
        assert!(!write_is_allowed(
            &headers(&[("host", "r:5000"), ("sec-fetch-site", "cross-site")]),
            None
        ));
    }
}
