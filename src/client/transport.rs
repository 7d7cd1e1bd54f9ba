//! HTTP transport: one reqwest client per registry (its scheme, CA
//! certificates and proxy), authentication on 401 shared by concurrent
//! requests, retries with backoff, and translation of failures into
//! [`ClientError`].
//!
//! Credentials go only to the registry's own origin (scheme, host, port)
//! and to the token realm it names; a request to any other origin (a
//! `Link` to another host) is sent without them.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode};
use url::Url;

use super::auth::{CachedToken, Challenge, TokenResponse, parse_www_authenticate};
use super::creds::{Credential, DockerConfig, Secret, default_docker_config_path};
use super::error::{ClientError, Result};
use super::retry::{Outcome, RetryPolicy};
use crate::types::ErrorEnvelope;
use crate::types::reference::{Scheme, is_loopback_registry, registry_api_host};

/// Largest error or token body read into memory.
const MAX_SMALL_BODY: usize = 1024 * 1024;

/// `--timeout` when none is set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a loopback registry gets to answer the https probe before it is
/// taken to speak plain http (a minimal server may not answer a TLS
/// handshake at all). A TLS handshake on loopback takes milliseconds.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// How the client is set up; built by the CLI from flags, env and config file.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Every registry may be spoken to over plain http (`--insecure`).
    pub insecure_all: bool,
    /// Registries marked insecure in the configuration file.
    pub insecure_registries: HashSet<String>,
    /// Registries explicitly marked `insecure = false`: https even on loopback.
    pub secure_registries: HashSet<String>,
    /// CA certificates trusted for every registry (`--ca-cert`).
    pub ca_certs: Vec<PathBuf>,
    /// CA certificates trusted for one registry (config file).
    pub registry_ca_certs: HashMap<String, Vec<PathBuf>>,
    /// Docker's per-registry certificate directory (`/etc/docker/certs.d`):
    /// `DIR/HOST[:PORT]/*.crt` are trusted for that registry.
    pub docker_certs_dir: Option<PathBuf>,
    /// Pull mirrors: registry -> mirror hosts tried first for reads made
    /// through the `*_pull` methods (never for resolving what to delete).
    pub mirrors: HashMap<String, Vec<String>>,
    /// Docker `config.json` for credentials; `None` means no credentials.
    pub docker_config: Option<PathBuf>,
    /// Longest wait without progress: for a connection, and for each read
    /// from the server (`--timeout`). Not a cap on long transfers.
    pub timeout: Duration,
    pub retry: RetryPolicy,
    pub user_agent: String,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            insecure_all: false,
            insecure_registries: HashSet::new(),
            secure_registries: HashSet::new(),
            ca_certs: Vec::new(),
            registry_ca_certs: HashMap::new(),
            docker_certs_dir: Some(PathBuf::from("/etc/docker/certs.d")),
            mirrors: HashMap::new(),
            docker_config: default_docker_config_path(),
            timeout: DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
            user_agent: format!("regctl/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthMode {
    Basic,
    Bearer,
}

/// The registry client. Cheap to clone; clones share connections and tokens.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

/// A registry's Bearer token endpoint, from its last challenge.
#[derive(Debug, Clone)]
struct Realm {
    realm: String,
    service: Option<String>,
}

/// How a registry's scheme was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SchemeChoice {
    /// Fixed: given with `http://`/`https://`, configured, or learned.
    Fixed(Scheme),
    /// A loopback registry not yet spoken to: https, and plain http if it
    /// answers TLS with HTTP (as docker does).
    HttpsThenHttp,
}

struct Inner {
    opts: ClientOptions,
    docker_config: Option<DockerConfig>,
    http: Mutex<HashMap<String, reqwest::Client>>,
    creds: Mutex<HashMap<String, Option<Credential>>>,
    overrides: Mutex<HashMap<String, Credential>>,
    modes: Mutex<HashMap<String, AuthMode>>,
    tokens: Mutex<HashMap<(String, String), CachedToken>>,
    realms: Mutex<HashMap<String, Realm>>,
    /// Schemes given explicitly or learned, per registry, for the process.
    schemes: Mutex<HashMap<String, Scheme>>,
    /// One authentication at a time per registry, so that a 401 seen by
    /// several concurrent requests leads to one token or Basic retry.
    auth_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// One scheme probe at a time per registry.
    probe_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// A request body: replayable bytes, or a one-shot stream.
pub(crate) enum Body {
    Empty,
    Bytes(Bytes),
    /// Sent once; a 401 or a retryable failure is not retried.
    Stream(Option<reqwest::Body>),
}

/// One registry request.
pub(crate) struct Request {
    pub method: Method,
    pub registry: String,
    pub url: Url,
    /// Token scope, e.g. `repository:a:pull`.
    pub scope: Option<String>,
    pub headers: HeaderMap,
    pub body: Body,
}

impl Request {
    pub fn new(method: Method, registry: &str, url: Url, scope: Option<String>) -> Self {
        Request {
            method,
            registry: registry.to_owned(),
            url,
            scope,
            headers: HeaderMap::new(),
            body: Body::Empty,
        }
    }

    pub fn header(mut self, name: reqwest::header::HeaderName, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.insert(name, v);
        }
        self
    }

    pub fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these maps cannot leave them inconsistent.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Client {
    pub fn new(opts: ClientOptions) -> Result<Self> {
        // Several callers may race to install it; losing is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let docker_config = match &opts.docker_config {
            Some(p) => Some(DockerConfig::load(p)?),
            None => None,
        };
        Ok(Client {
            inner: Arc::new(Inner {
                opts,
                docker_config,
                http: Mutex::new(HashMap::new()),
                creds: Mutex::new(HashMap::new()),
                overrides: Mutex::new(HashMap::new()),
                modes: Mutex::new(HashMap::new()),
                tokens: Mutex::new(HashMap::new()),
                realms: Mutex::new(HashMap::new()),
                schemes: Mutex::new(HashMap::new()),
                auth_locks: Mutex::new(HashMap::new()),
                probe_locks: Mutex::new(HashMap::new()),
            }),
        })
    }

    pub fn options(&self) -> &ClientOptions {
        &self.inner.opts
    }

    /// Uses these credentials for `registry` instead of the Docker config's
    /// (what `login` checks before saving).
    pub fn set_credential(&self, registry: &str, cred: Credential) {
        lock(&self.inner.overrides).insert(registry.to_owned(), cred);
        lock(&self.inner.creds).remove(registry);
        lock(&self.inner.tokens).retain(|(r, _), _| r != registry);
    }

    /// Speaks `scheme` to `registry` from now on (an explicit `http://` or
    /// `https://` on the command line). It wins over the configuration.
    pub fn set_scheme(&self, registry: &str, scheme: Scheme) {
        lock(&self.inner.schemes).insert(registry.to_owned(), scheme);
    }

    /// The scheme given with [`Client::set_scheme`] or learned, if any.
    pub fn fixed_scheme(&self, registry: &str) -> Option<Scheme> {
        lock(&self.inner.schemes).get(registry).copied()
    }

    fn scheme_choice(&self, registry: &str) -> SchemeChoice {
        if let Some(s) = self.fixed_scheme(registry) {
            return SchemeChoice::Fixed(s);
        }
        let o = &self.inner.opts;
        if o.insecure_all || o.insecure_registries.contains(registry) {
            return SchemeChoice::Fixed(Scheme::Http);
        }
        if !o.secure_registries.contains(registry) && is_loopback_registry(registry) {
            return SchemeChoice::HttpsThenHttp;
        }
        SchemeChoice::Fixed(Scheme::Https)
    }

    /// `http(s)://HOST/v2/` for a registry.
    pub fn base_url(&self, registry: &str) -> Result<Url> {
        let scheme = match self.scheme_choice(registry) {
            SchemeChoice::Fixed(s) => s.as_str(),
            SchemeChoice::HttpsThenHttp => "https",
        };
        let s = format!("{scheme}://{}/v2/", registry_api_host(registry));
        Url::parse(&s).map_err(|e| ClientError::InvalidResponse {
            url: s,
            reason: format!("not a valid URL: {e}"),
        })
    }

    /// `base_url(registry)` joined with a path under `/v2/`.
    pub(crate) fn url(&self, registry: &str, path: &str) -> Result<Url> {
        let base = self.base_url(registry)?;
        base.join(path).map_err(|e| ClientError::InvalidResponse {
            url: format!("{base}{path}"),
            reason: format!("not a valid URL: {e}"),
        })
    }

    fn credential(&self, registry: &str) -> Result<Option<Credential>> {
        if let Some(c) = lock(&self.inner.overrides).get(registry) {
            return Ok(Some(c.clone()));
        }
        if let Some(c) = lock(&self.inner.creds).get(registry) {
            return Ok(c.clone());
        }
        let found = match &self.inner.docker_config {
            Some(cfg) => cfg.credential(registry)?,
            None => None,
        };
        lock(&self.inner.creds).insert(registry.to_owned(), found.clone());
        Ok(found)
    }

    fn http_client(&self, registry: &str) -> Result<reqwest::Client> {
        if let Some(c) = lock(&self.inner.http).get(registry) {
            return Ok(c.clone());
        }
        let o = &self.inner.opts;
        let mut b = reqwest::Client::builder()
            .user_agent(o.user_agent.clone())
            .connect_timeout(o.timeout)
            .read_timeout(o.timeout);
        // A proxy cannot reach this machine's loopback: never use one for
        // it. Other hosts follow HTTP(S)_PROXY, ALL_PROXY and NO_PROXY.
        if is_loopback_registry(registry) {
            b = b.no_proxy();
        }
        let mut ca_files: Vec<PathBuf> = o.ca_certs.clone();
        if let Some(v) = o.registry_ca_certs.get(registry) {
            ca_files.extend(v.iter().cloned());
        }
        if let Some(dir) = &o.docker_certs_dir {
            let host_dir = dir.join(registry);
            if let Ok(entries) = std::fs::read_dir(&host_dir) {
                let mut found: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "crt"))
                    .collect();
                found.sort();
                ca_files.extend(found);
            }
        }
        let mut certs = Vec::new();
        for path in &ca_files {
            let pem = std::fs::read(path).map_err(|e| ClientError::CaCert {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            let parsed = rustls_pemfile::certs(&mut pem.as_slice())
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| ClientError::CaCert {
                    path: path.clone(),
                    reason: format!("not a PEM certificate: {e}"),
                })?;
            if parsed.is_empty() {
                return Err(ClientError::CaCert {
                    path: path.clone(),
                    reason: "no certificate found in it".into(),
                });
            }
            for cert in &parsed {
                webpki::anchor_from_trusted_cert(cert).map_err(|e| ClientError::CaCert {
                    path: path.clone(),
                    reason: format!("not a usable certificate: {e}"),
                })?;
            }
            certs.extend(parsed);
        }
        if !certs.is_empty() {
            let config = super::tls::client_config(certs).map_err(|e| ClientError::CaCert {
                path: ca_files.first().cloned().unwrap_or_default(),
                reason: e.to_string(),
            })?;
            b = b.tls_backend_preconfigured(config);
        }
        let client = b.build().map_err(|e| ClientError::Transport {
            url: registry.to_owned(),
            reason: format!("cannot set up the HTTP client: {}", error_chain(&e)),
        })?;
        lock(&self.inner.http).insert(registry.to_owned(), client.clone());
        Ok(client)
    }

    fn authorization(&self, registry: &str, scope: Option<&str>) -> Result<Option<String>> {
        let mode = lock(&self.inner.modes).get(registry).copied();
        match mode {
            Some(AuthMode::Basic) => Ok(self.credential(registry)?.and_then(|c| match c {
                Credential::Basic { username, password } => {
                    Some(basic_header(&username, &password))
                }
                Credential::IdentityToken { .. } => None,
            })),
            Some(AuthMode::Bearer) => {
                let key = (registry.to_owned(), scope.unwrap_or("").to_owned());
                Ok(lock(&self.inner.tokens)
                    .get(&key)
                    .filter(|t| t.is_fresh())
                    .map(|t| format!("Bearer {}", t.token.expose())))
            }
            None => Ok(None),
        }
    }

    fn auth_lock(&self, registry: &str) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.inner.auth_locks)
            .entry(registry.to_owned())
            .or_default()
            .clone()
    }

    /// For a loopback registry whose scheme is not known yet, asks `GET
    /// /v2/` over https once (concurrent requests wait for the answer): any
    /// HTTP answer means https; anything but TLS coming back (an HTTP
    /// answer, a hang-up, silence for [`PROBE_TIMEOUT`]) means plain http,
    /// as docker decides. The answer holds for the rest of the process. A
    /// certificate error is returned as it is: that server speaks TLS.
    async fn probe_scheme(&self, registry: &str, http: &reqwest::Client) -> Result<()> {
        if self.scheme_choice(registry) != SchemeChoice::HttpsThenHttp {
            return Ok(());
        }
        let gate = lock(&self.inner.probe_locks)
            .entry(registry.to_owned())
            .or_default()
            .clone();
        let _held = gate.lock().await;
        if self.scheme_choice(registry) != SchemeChoice::HttpsThenHttp {
            return Ok(());
        }
        let mut probe = Request::new(Method::GET, registry, self.url(registry, "")?, None);
        tracing::debug!(target: "regctl::http", "GET {} (is it https?)", probe.url);
        let limit = PROBE_TIMEOUT.min(self.inner.opts.timeout);
        match http.get(probe.url.clone()).timeout(limit).send().await {
            Ok(_) => {
                self.set_scheme(registry, Scheme::Https);
                Ok(())
            }
            Err(e) => {
                let err = self.map_send_error(&probe, &e);
                // Nothing listening yet is left to the request's own retries.
                if self.fall_back_to_http(&mut probe, &err)
                    || matches!(err, ClientError::Connect { .. })
                {
                    Ok(())
                } else {
                    Err(err)
                }
            }
        }
    }

    /// The Authorization header for a request to the registry's own
    /// origin. Once the registry is known to want Bearer tokens, a token for
    /// a new scope is fetched up front (one fetch for concurrent requests),
    /// which saves a 401 and lets one-shot streamed bodies through.
    async fn authorization_for(
        &self,
        registry: &str,
        scope: Option<&str>,
    ) -> Result<Option<String>> {
        if let Some(auth) = self.authorization(registry, scope)? {
            return Ok(Some(auth));
        }
        if lock(&self.inner.modes).get(registry) != Some(&AuthMode::Bearer) {
            return Ok(None);
        }
        let Some(realm) = lock(&self.inner.realms).get(registry).cloned() else {
            return Ok(None);
        };
        let gate = self.auth_lock(registry);
        let _held = gate.lock().await;
        if let Some(auth) = self.authorization(registry, scope)? {
            return Ok(Some(auth));
        }
        self.fetch_and_store_token(registry, scope, &realm, None)
            .await?;
        self.authorization(registry, scope)
    }

    async fn fetch_and_store_token(
        &self,
        registry: &str,
        scope: Option<&str>,
        realm: &Realm,
        challenge_scope: Option<String>,
    ) -> Result<()> {
        let want = scope.map(str::to_owned).or(challenge_scope);
        let (token, life) = self
            .fetch_token(
                registry,
                &realm.realm,
                realm.service.as_deref(),
                want.as_deref(),
            )
            .await?;
        lock(&self.inner.modes).insert(registry.to_owned(), AuthMode::Bearer);
        lock(&self.inner.tokens).insert(
            (registry.to_owned(), scope.unwrap_or("").to_owned()),
            CachedToken::new(token, life),
        );
        Ok(())
    }

    /// Answers a 401's challenge to a request sent with `sent` (its
    /// Authorization header, if any). Returns whether a retry may now
    /// succeed. Concurrent 401s wait for one another here: the first
    /// fetches the token (or switches to Basic), the others reuse it.
    async fn authenticate(
        &self,
        registry: &str,
        scope: Option<&str>,
        headers: &HeaderMap,
        sent: Option<&str>,
    ) -> Result<bool> {
        let gate = self.auth_lock(registry);
        let _held = gate.lock().await;
        // Another request authenticated while this one was in flight.
        if let Some(now) = self.authorization(registry, scope)?
            && Some(now.as_str()) != sent
        {
            return Ok(true);
        }
        let challenges: Vec<Challenge> = headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(parse_www_authenticate)
            .collect();
        let bearer = challenges.iter().find_map(|c| match c {
            Challenge::Bearer {
                realm,
                service,
                scope,
            } => Some((
                Realm {
                    realm: realm.clone(),
                    service: service.clone(),
                },
                scope.clone(),
            )),
            Challenge::Basic { .. } => None,
        });
        if let Some((realm, challenge_scope)) = bearer {
            lock(&self.inner.realms).insert(registry.to_owned(), realm.clone());
            self.fetch_and_store_token(registry, scope, &realm, challenge_scope)
                .await?;
            return Ok(true);
        }
        let basic = challenges
            .iter()
            .any(|c| matches!(c, Challenge::Basic { .. }));
        let has_creds = matches!(self.credential(registry)?, Some(Credential::Basic { .. }));
        // Credentials that were sent and refused are not sent again.
        let sent_basic = sent.is_some_and(|a| a.starts_with("Basic "));
        if basic && has_creds && !sent_basic {
            lock(&self.inner.modes).insert(registry.to_owned(), AuthMode::Basic);
            return Ok(true);
        }
        Ok(false)
    }

    /// Whether `url` is the registry's own origin (scheme, host and port),
    /// the only place its credentials are sent.
    fn is_registry_origin(&self, registry: &str, url: &Url) -> bool {
        self.base_url(registry)
            .is_ok_and(|base| base.origin() == url.origin())
    }

    /// Points a request built before the registry's scheme was learned (by
    /// a concurrent request) at that scheme.
    fn rebase(&self, req: &mut Request) {
        let Ok(base) = self.base_url(&req.registry) else {
            return;
        };
        if base.scheme() != req.url.scheme()
            && base.host_str() == req.url.host_str()
            && base.port() == req.url.port()
        {
            let _ = req.url.set_scheme(base.scheme());
        }
    }

    /// After `err` from an https attempt: if the registry is on loopback,
    /// its scheme was not given, and what came back was not TLS (plain
    /// HTTP, a hang-up, silence; or, with no port given, nothing listens on
    /// 443), switch it to http for the rest of the process. Returns whether
    /// the request should be resent.
    fn fall_back_to_http(&self, req: &mut Request, err: &ClientError) -> bool {
        let plain_answer = match err {
            ClientError::HttpsToHttp { .. }
            | ClientError::Timeout { .. }
            | ClientError::Transport { .. } => true,
            ClientError::Connect { .. } => req.url.port().is_none(),
            // Hung up on the handshake: not a TLS server.
            ClientError::Tls { reason, .. } => reason.contains("handshake eof"),
            _ => false,
        };
        if !plain_answer
            || req.url.scheme() != "https"
            || self.scheme_choice(&req.registry) != SchemeChoice::HttpsThenHttp
            || !self.is_registry_origin(&req.registry, &req.url)
        {
            return false;
        }
        tracing::debug!(target: "regctl::http", "{} does not speak https; using http", req.registry);
        self.set_scheme(&req.registry, Scheme::Http);
        self.rebase(req);
        true
    }

    async fn fetch_token(
        &self,
        registry: &str,
        realm: &str,
        service: Option<&str>,
        scope: Option<&str>,
    ) -> Result<(Secret, Option<Duration>)> {
        let token_err = |status: Option<u16>, reason: String| ClientError::Token {
            realm: realm.to_owned(),
            status,
            reason,
        };
        let mut url = Url::parse(realm)
            .map_err(|e| token_err(None, format!("the realm is not a URL: {e}")))?;
        let realm_host = url.host_str().unwrap_or("").to_owned();
        let http = self.http_client(&realm_host)?;
        let cred = self.credential(registry)?;
        let rb = match &cred {
            Some(Credential::IdentityToken { token, .. }) => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                form.append_pair("grant_type", "refresh_token");
                form.append_pair("refresh_token", token.expose());
                form.append_pair("client_id", "regctl");
                if let Some(s) = service {
                    form.append_pair("service", s);
                }
                for s in scope.into_iter().flat_map(str::split_whitespace) {
                    form.append_pair("scope", s);
                }
                http.post(url.clone())
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .body(form.finish())
            }
            _ => {
                {
                    let mut q = url.query_pairs_mut();
                    if let Some(s) = service {
                        q.append_pair("service", s);
                    }
                    // Several scopes (a cross-repository mount) are
                    // separate `scope` parameters.
                    for s in scope.into_iter().flat_map(str::split_whitespace) {
                        q.append_pair("scope", s);
                    }
                    q.append_pair("client_id", "regctl");
                }
                let rb = http.get(url.clone());
                match &cred {
                    Some(Credential::Basic { username, password }) => {
                        rb.header(AUTHORIZATION, basic_header(username, password))
                    }
                    _ => rb,
                }
            }
        };
        tracing::debug!(target: "regctl::http", "token request {} (scope {:?})", realm, scope);
        let resp = rb
            .send()
            .await
            .map_err(|e| token_err(None, error_chain(&e)))?;
        let status = resp.status();
        let body = read_limited(resp, MAX_SMALL_BODY, realm).await?;
        if !status.is_success() {
            let detail = ErrorEnvelope::parse(&body)
                .and_then(|e| e.errors.first().map(|e| e.to_string()))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect());
            let reason = if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                format!("credentials rejected (HTTP {}): {detail}", status.as_u16())
            } else {
                format!("HTTP {}: {detail}", status.as_u16())
            };
            return Err(token_err(Some(status.as_u16()), reason));
        }
        let parsed: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| token_err(None, format!("the answer is not token JSON: {e}")))?;
        parsed
            .into_token()
            .ok_or_else(|| token_err(None, "the answer has no token".into()))
    }

    /// Sends a request: adds auth (to the registry's own origin only),
    /// answers one 401 challenge, retries transient failures. Returns the
    /// final response whatever its status.
    pub(crate) async fn send(&self, mut req: Request) -> Result<Response> {
        let http = self.http_client(&req.registry)?;
        let policy = self.inner.opts.retry.clone();
        let mut authenticated = false;
        let mut retry = 0u32;
        if self.is_registry_origin(&req.registry, &req.url) {
            self.probe_scheme(&req.registry, &http).await?;
        }
        self.rebase(&mut req);
        loop {
            let replayable = !matches!(req.body, Body::Stream(_));
            let own_origin = self.is_registry_origin(&req.registry, &req.url);
            let auth = if own_origin {
                self.authorization_for(&req.registry, req.scope.as_deref())
                    .await?
            } else {
                None
            };
            let mut rb = http
                .request(req.method.clone(), req.url.clone())
                .headers(req.headers.clone());
            if let Some(auth) = &auth {
                rb = rb.header(AUTHORIZATION, auth);
            }
            let mut streamed = false;
            rb = match &mut req.body {
                Body::Empty => rb,
                Body::Bytes(b) => rb.body(b.clone()),
                Body::Stream(s) => match s.take() {
                    Some(body) => {
                        streamed = true;
                        rb.body(body)
                    }
                    None => {
                        return Err(ClientError::Transport {
                            url: req.url.to_string(),
                            reason: "a streamed body cannot be sent twice".into(),
                        });
                    }
                },
            };
            tracing::debug!(target: "regctl::http", "{} {}", req.method, req.url);
            let result = rb.send().await;
            let resp = match result {
                Ok(r) => r,
                Err(e) => {
                    let err = self.map_send_error(&req, &e);
                    if self.fall_back_to_http(&mut req, &err) && !streamed {
                        continue;
                    }
                    // A connection that failed may be retried; one that
                    // stalled past the timeout is reported at once.
                    let transient = matches!(err, ClientError::Connect { .. });
                    if transient
                        && replayable
                        && let Some(d) =
                            policy.delay(retry, Outcome::ConnectionError, None, SystemTime::now())
                    {
                        tracing::debug!(target: "regctl::http", "retrying in {:?}: {err}", d);
                        retry += 1;
                        tokio::time::sleep(d).await;
                        continue;
                    }
                    return Err(err);
                }
            };
            let status = resp.status();
            tracing::debug!(target: "regctl::http", "{} {} -> {}", req.method, req.url, status.as_u16());
            if status == StatusCode::UNAUTHORIZED && !authenticated && replayable && own_origin {
                authenticated = true;
                if self
                    .authenticate(
                        &req.registry,
                        req.scope.as_deref(),
                        resp.headers(),
                        auth.as_deref(),
                    )
                    .await?
                {
                    continue;
                }
            }
            if replayable {
                let retry_after = resp
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                if let Some(d) = policy.delay(
                    retry,
                    Outcome::Status(status.as_u16()),
                    retry_after.as_deref(),
                    SystemTime::now(),
                ) {
                    tracing::debug!(target: "regctl::http", "retrying in {:?} after HTTP {}", d, status.as_u16());
                    retry += 1;
                    tokio::time::sleep(d).await;
                    continue;
                }
            }
            return Ok(resp);
        }
    }

    /// Sends and turns any non-success status into [`ClientError::Registry`].
    pub(crate) async fn send_ok(&self, req: Request) -> Result<Response> {
        let method = req.method.to_string();
        let resp = self.send(req).await?;
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(error_from_response(&method, resp).await)
        }
    }

    fn map_send_error(&self, req: &Request, e: &reqwest::Error) -> ClientError {
        let url = req.url.to_string();
        let chain = error_chain(e);
        if e.is_timeout() {
            let host = match (req.url.host_str(), req.url.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_owned(),
                (None, _) => req.registry.clone(),
            };
            return ClientError::Timeout {
                url,
                host,
                after: self.inner.opts.timeout,
            };
        }
        if req.url.scheme() == "https"
            && (chain.contains("InvalidContentType") || chain.contains("corrupt message"))
        {
            return ClientError::HttpsToHttp {
                registry: req.registry.clone(),
            };
        }
        // A TLS record where an HTTP status line was expected.
        if req.url.scheme() == "http" && chain.contains("invalid HTTP version parsed") {
            return ClientError::HttpToHttps {
                registry: req.registry.clone(),
            };
        }
        if chain.contains("CaUsedAsEndEntity") {
            return ClientError::Tls {
                url,
                reason: "the server presents a CA certificate (CA:TRUE, e.g. self-signed with \
                         `openssl req -x509`) as its own, and it is not trusted"
                    .to_owned(),
            };
        }
        if chain.contains("certificate") || chain.contains("Certificate") || chain.contains("tls") {
            return ClientError::Tls { url, reason: chain };
        }
        if e.is_connect() {
            if let Some(proxy) = proxy_for(&req.registry, &req.url) {
                return ClientError::Proxy {
                    url,
                    proxy,
                    reason: chain,
                };
            }
            return ClientError::Connect { url, reason: chain };
        }
        ClientError::Transport { url, reason: chain }
    }
}

/// The proxy the environment names for `url` (as reqwest reads it:
/// `HTTP(S)_PROXY`, `ALL_PROXY`, `NO_PROXY`), shown without credentials.
/// Loopback registries never use one.
fn proxy_for(registry: &str, url: &Url) -> Option<String> {
    if is_loopback_registry(registry) {
        return None;
    }
    let uri: hyper::Uri = url.as_str().parse().ok()?;
    let intercept = hyper_util::client::proxy::matcher::Matcher::from_env().intercept(&uri)?;
    let proxy = intercept.uri();
    let host = proxy.host()?;
    Some(match proxy.port_u16() {
        Some(p) => format!("{}://{host}:{p}", proxy.scheme_str().unwrap_or("http")),
        None => format!("{}://{host}", proxy.scheme_str().unwrap_or("http")),
    })
}

fn basic_header(username: &str, password: &Secret) -> String {
    let raw = format!("{username}:{}", password.expose());
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// The error and its causes on one line, de-duplicated.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let s = err.to_string();
        // reqwest's outer message repeats the URL the caller already names.
        let redundant = s.starts_with("error sending request for url");
        if !redundant && !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = err.source();
    }
    parts.join(": ")
}

/// Reads a whole body, failing if it exceeds `limit` bytes.
pub(crate) async fn read_limited(mut resp: Response, limit: usize, url: &str) -> Result<Bytes> {
    if let Some(len) = resp.content_length()
        && len > limit as u64
    {
        return Err(ClientError::InvalidResponse {
            url: url.to_owned(),
            reason: format!("body of {len} bytes exceeds the {limit}-byte limit"),
        });
    }
    let mut buf = bytes::BytesMut::new();
    loop {
        let chunk = resp.chunk().await.map_err(|e| ClientError::Transport {
            url: url.to_owned(),
            reason: error_chain(&e),
        })?;
        let Some(chunk) = chunk else { break };
        if buf.len() + chunk.len() > limit {
            return Err(ClientError::InvalidResponse {
                url: url.to_owned(),
                reason: format!("body exceeds the {limit}-byte limit"),
            });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Builds [`ClientError::Registry`] from an error response.
pub(crate) async fn error_from_response(method: &str, resp: Response) -> ClientError {
    let status = resp.status().as_u16();
    let url = resp.url().to_string();
    let body = read_limited(resp, MAX_SMALL_BODY, &url)
        .await
        .unwrap_or_default();
    let errors = ErrorEnvelope::parse(&body)
        .map(|e| e.errors)
        .unwrap_or_default();
    ClientError::Registry {
        method: method.to_owned(),
        url,
        status,
        errors,
    }
}
