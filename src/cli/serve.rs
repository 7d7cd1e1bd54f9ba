//! `regctl serve`: run the embedded registry.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use regctl::server::{self, ServerConfig, TlsFiles};
use regctl::storage::{Backend, RootLock, S3Backend, S3Location, StorageUrl};

use super::settings::{Setting, Settings, Source};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Serve an OCI registry whose data directory uses registry:2's layout.
///
/// Every flag can also be set in the config file's `[serve]` section (the
/// flag's name with `_` for `-`); a flag given here overrides it.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1]
    #[arg(long, value_name = "HOST")]
    pub addr: Option<String>,
    /// Port to listen on (0 picks a free port; the chosen one is printed) [default: 5000]
    #[arg(long, short)]
    pub port: Option<u16>,
    /// Storage root, the directory holding docker/registry/v2
    /// [default: $REGCTL_ROOT, else ~/.local/share/regctl/registry]
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Where the content lives instead of --root: file:///PATH (the same as
    /// --root PATH) or s3://BUCKET[/PREFIX] (registry:2's s3 layout with
    /// rootdirectory PREFIX; credentials, region and endpoint from the AWS
    /// environment). Several servers may share one bucket
    #[arg(long, value_name = "URL", conflicts_with = "root")]
    pub storage: Option<String>,
    /// With --storage s3://: answer blob GETs with a 307 redirect to a
    /// presigned URL of the bucket, valid 15 minutes, so the bytes bypass
    /// the server (clients must reach the bucket's endpoint)
    #[arg(long)]
    pub redirect_blobs: bool,
    /// Answer DELETE with 405 UNSUPPORTED, like registry:2 with delete disabled
    #[arg(long)]
    pub no_delete: bool,
    /// Refuse every write with 405 UNSUPPORTED
    #[arg(long)]
    pub read_only: bool,
    /// Require Basic authentication against this htpasswd file (bcrypt entries, `htpasswd -B`)
    #[arg(long, value_name = "FILE")]
    pub htpasswd: Option<PathBuf>,
    /// Per-repository access rules (TOML; see README "Running in
    /// production"); re-read on SIGHUP
    #[arg(long, value_name = "FILE")]
    pub access: Option<PathBuf>,
    /// PEM certificate chain for https (with --tls-key)
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for https (with --tls-cert)
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Collect garbage online every DURATION (e.g. 24h): keeps untagged
    /// manifests and anything written in the last hour
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub gc_interval: Option<Duration>,
    /// Do not serve the web UI at / (the registry API is unaffected)
    #[arg(long)]
    pub no_ui: bool,
    /// Let web pages from ORIGIN (e.g. https://ui.example.com) call the API
    /// from a browser; repeatable. `*` lets any origin read, without
    /// credentials and without deleting
    #[arg(long, value_name = "ORIGIN")]
    pub cors_origin: Vec<String>,
    /// Keep at most N connections open; more wait to be accepted
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,
    /// Close a connection that sends nothing for this long between requests
    /// (also the time allowed for request headers)
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, hide = true)]
    pub idle_timeout: Option<Duration>,
    /// Abort a request whose body makes no progress for this long
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, hide = true)]
    pub body_timeout: Option<Duration>,
    /// Serve /metrics (and /healthz, /readyz) on this address instead of the
    /// registry's, e.g. 127.0.0.1:9102
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_addr: Option<String>,
    /// Serve /metrics without credentials even with --htpasswd
    #[arg(long)]
    pub metrics_public: bool,
    /// Recompute the stored-bytes metrics this often (a du over the root) [default: 5m]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub metrics_refresh: Option<Duration>,
    /// Post push, pull and delete events to URL (registry:2's notification
    /// envelope); repeatable
    #[arg(long, value_name = "URL")]
    pub notify: Vec<url::Url>,
    /// Time allowed for one notification POST [default: 5s]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub notify_timeout: Option<Duration>,
    /// Retention rules (TOML: repository globs, keep, older_than, match,
    /// exclude) applied on a schedule, then an online collection
    #[arg(long, value_name = "FILE")]
    pub retention: Option<PathBuf>,
    /// How often --retention runs [default: 24h]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub retention_interval: Option<Duration>,
    /// Only log and count what --retention would delete
    #[arg(long)]
    pub retention_dry_run: bool,
    /// Be a pull-through cache of URL: every name (`--proxy URL`, e.g. as
    /// Docker's registry-mirrors entry), or names under PREFIX/ with the
    /// prefix removed upstream (`--proxy hub=https://registry-1.docker.io`;
    /// repeatable; other names are an ordinary registry). Cached names
    /// refuse pushes and deletes
    #[arg(long, value_name = "[PREFIX=]URL")]
    pub proxy: Vec<String>,
    /// Check a cached tag upstream at most this often [default: 5m]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub proxy_ttl: Option<Duration>,
    /// Give up on an upstream that sends nothing for this long [default: 10s]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub proxy_timeout: Option<Duration>,
    /// Log in to the upstreams as USER, with the password from
    /// $REGCTL_PROXY_PASSWORD (otherwise: the credentials of `regctl login
    /// UPSTREAM`, from the Docker config)
    #[arg(long, value_name = "USER")]
    pub proxy_username: Option<String>,
    /// Evict cached images not pulled for this long (e.g. 30d)
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub proxy_max_age: Option<Duration>,
    /// Evict the least recently pulled cached images beyond this size
    /// (e.g. 50GB, 20GiB)
    #[arg(long, value_name = "SIZE", value_parser = server::proxy::parse_size)]
    pub proxy_max_size: Option<u64>,
    /// How often pull times are written down and the cache limits applied [default: 10m]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub proxy_evict_interval: Option<Duration>,
    /// Access-log format on stderr [default: text]
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Print the effective settings (flags over the config file's [serve]
    /// section over defaults), each with where it came from, and exit
    #[arg(long)]
    pub print_config: bool,
}

/// The settings `serve` runs with, each with its source.
#[derive(Debug)]
struct Effective {
    addr: Setting<String>,
    port: Setting<u16>,
    root: Setting<Option<PathBuf>>,
    /// A bucket (`s3://`) when set; `file://` is folded into `root`.
    storage: Setting<Option<S3Location>>,
    redirect_blobs: Setting<bool>,
    no_delete: Setting<bool>,
    read_only: Setting<bool>,
    htpasswd: Setting<Option<PathBuf>>,
    access: Setting<Option<PathBuf>>,
    tls_cert: Setting<Option<PathBuf>>,
    tls_key: Setting<Option<PathBuf>>,
    gc_interval: Setting<Option<Duration>>,
    max_connections: Setting<Option<u32>>,
    idle_timeout: Setting<Duration>,
    body_timeout: Setting<Duration>,
    metrics_addr: Setting<Option<String>>,
    metrics_public: Setting<bool>,
    metrics_refresh: Setting<Duration>,
    log_format: Setting<LogFormat>,
    notify: Setting<Vec<url::Url>>,
    notify_timeout: Setting<Duration>,
    retention: Setting<Option<PathBuf>>,
    retention_interval: Setting<Duration>,
    retention_dry_run: Setting<bool>,
    no_ui: Setting<bool>,
    cors_origin: Setting<Vec<String>>,
    proxy: Setting<Vec<server::proxy::ProxyRule>>,
    proxy_ttl: Setting<Duration>,
    proxy_timeout: Setting<Duration>,
    proxy_username: Setting<Option<String>>,
    proxy_max_age: Setting<Option<Duration>>,
    proxy_max_size: Setting<Option<u64>>,
    proxy_evict_interval: Setting<Duration>,
}

fn flag(name: &str) -> Source {
    Source::Flag(format!("--{}", name.replace('_', "-")))
}

/// The flag when given, else the file's value, else the default.
fn pick<T>(name: &str, given: Option<T>, file: Option<T>, default: T) -> Setting<T> {
    match (given, file) {
        (Some(v), _) => Setting::new(v, flag(name)),
        (None, Some(v)) => Setting::new(v, Source::File),
        (None, None) => Setting::new(default, Source::Default),
    }
}

/// [`pick`] for settings that may stay unset.
fn pick_opt<T>(name: &str, given: Option<T>, file: Option<T>) -> Setting<Option<T>> {
    match (given, file) {
        (Some(v), _) => Setting::new(Some(v), flag(name)),
        (None, Some(v)) => Setting::new(Some(v), Source::File),
        (None, None) => Setting::new(None, Source::Default),
    }
}

/// A switch: on from the flag, else from the file, else off.
fn pick_switch(name: &str, given: bool, file: Option<bool>) -> Setting<bool> {
    pick(name, given.then_some(true), file, false)
}

fn file_duration(cfg: &str, key: &str, value: Option<&String>) -> anyhow::Result<Option<Duration>> {
    value
        .map(|v| {
            humantime::parse_duration(v).map_err(|e| {
                anyhow::anyhow!(
                    "config file {cfg}: [serve] {key} = {v:?} is not a duration ({e}); write e.g. \"30s\", \"24h\""
                )
            })
        })
        .transpose()
}

fn resolve(args: ServeArgs, settings: &Settings) -> anyhow::Result<Effective> {
    let (file, dir) = settings.serve.clone().unwrap_or_default();
    let cfg = settings
        .config_file
        .value
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    // Relative paths in the file are relative to the file.
    let path = |p: Option<PathBuf>| p.map(|p| if p.is_relative() { dir.join(p) } else { p });
    let log_format = match file.log_format.as_deref() {
        None => None,
        Some(s) => Some(LogFormat::from_str(s, true).map_err(|_| {
            anyhow::anyhow!(
                "config file {cfg}: [serve] log_format = {s:?}: expected \"text\" or \"json\""
            )
        })?),
    };
    let max_connections = match file.max_connections {
        Some(0) => bail!("config file {cfg}: [serve] max_connections = 0: give at least 1"),
        other => other,
    };
    if file.storage.is_some() && file.root.is_some() {
        bail!("config file {cfg}: [serve] sets both storage and root; keep one");
    }
    let storage = match (&args.storage, args.root.is_some(), &file.storage) {
        (Some(url), _, _) => Some((StorageUrl::parse(url)?, flag("storage"))),
        // --root on the command line wins over the file's storage.
        (None, true, _) => None,
        (None, false, Some(url)) => Some((
            StorageUrl::parse(url)
                .with_context(|| format!("config file {cfg}: [serve] storage"))?,
            Source::File,
        )),
        (None, false, None) => None,
    };
    let no_storage = || Setting::new(None, Source::Default);
    let (root, storage) = match storage {
        Some((StorageUrl::Dir(dir), source)) => (Setting::new(Some(dir), source), no_storage()),
        Some((StorageUrl::S3(location), source)) => (
            Setting::new(None, Source::Default),
            Setting::new(Some(location), source),
        ),
        None => (
            match (args.root, path(file.root)) {
                (Some(r), _) => Setting::new(Some(r), flag("root")),
                (None, Some(r)) => Setting::new(Some(r), Source::File),
                (None, None) => match std::env::var_os("REGCTL_ROOT").filter(|r| !r.is_empty()) {
                    Some(r) => {
                        Setting::new(Some(PathBuf::from(r)), Source::Env("REGCTL_ROOT".into()))
                    }
                    None => Setting::new(
                        dirs::data_dir().map(|d| d.join("regctl").join("registry")),
                        Source::Default,
                    ),
                },
            },
            no_storage(),
        ),
    };
    let file_notify = match file.notify {
        None => None,
        Some(urls) => Some(
            urls.iter()
                .map(|u| {
                    url::Url::parse(u)
                        .ok()
                        .filter(|p| matches!(p.scheme(), "http" | "https"))
                        .with_context(|| {
                            format!(
                                "config file {cfg}: [serve] notify: {u:?} is not an http(s) URL"
                            )
                        })
                })
                .collect::<anyhow::Result<Vec<_>>>()?,
        ),
    };
    if let Some(bad) = args
        .notify
        .iter()
        .find(|u| !matches!(u.scheme(), "http" | "https"))
    {
        bail!("--notify {bad}: give an http:// or https:// URL");
    }
    let rules = |values: &[String], origin: &str| {
        values
            .iter()
            .map(|v| {
                v.parse::<server::proxy::ProxyRule>()
                    .with_context(|| format!("{origin}: cannot use {v:?}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()
    };
    let proxy_flags = (!args.proxy.is_empty())
        .then(|| rules(&args.proxy, "--proxy"))
        .transpose()?;
    let proxy_file = file
        .proxy
        .as_ref()
        .map(|v| rules(v, &format!("config file {cfg}: [serve] proxy")))
        .transpose()?;
    let proxy_max_size = file
        .proxy_max_size
        .as_deref()
        .map(|v| {
            server::proxy::parse_size(v)
                .map_err(|e| anyhow::anyhow!("config file {cfg}: [serve] proxy_max_size: {e}"))
        })
        .transpose()?;
    let effective = Effective {
        proxy: pick("proxy", proxy_flags, proxy_file, Vec::new()),
        proxy_ttl: pick(
            "proxy_ttl",
            args.proxy_ttl,
            file_duration(&cfg, "proxy_ttl", file.proxy_ttl.as_ref())?,
            server::proxy::DEFAULT_TTL,
        ),
        proxy_timeout: pick(
            "proxy_timeout",
            args.proxy_timeout,
            file_duration(&cfg, "proxy_timeout", file.proxy_timeout.as_ref())?,
            server::proxy::DEFAULT_UPSTREAM_TIMEOUT,
        ),
        proxy_username: pick_opt("proxy_username", args.proxy_username, file.proxy_username),
        proxy_max_age: pick_opt(
            "proxy_max_age",
            args.proxy_max_age,
            file_duration(&cfg, "proxy_max_age", file.proxy_max_age.as_ref())?,
        ),
        proxy_max_size: pick_opt("proxy_max_size", args.proxy_max_size, proxy_max_size),
        proxy_evict_interval: pick(
            "proxy_evict_interval",
            args.proxy_evict_interval,
            file_duration(
                &cfg,
                "proxy_evict_interval",
                file.proxy_evict_interval.as_ref(),
            )?,
            server::proxy::DEFAULT_EVICT_INTERVAL,
        ),
        retention: pick_opt("retention", args.retention, path(file.retention)),
        retention_interval: pick(
            "retention_interval",
            args.retention_interval,
            file_duration(&cfg, "retention_interval", file.retention_interval.as_ref())?,
            server::DEFAULT_RETENTION_INTERVAL,
        ),
        retention_dry_run: pick_switch(
            "retention_dry_run",
            args.retention_dry_run,
            file.retention_dry_run,
        ),
        notify: pick(
            "notify",
            (!args.notify.is_empty()).then_some(args.notify),
            file_notify,
            Vec::new(),
        ),
        notify_timeout: pick(
            "notify_timeout",
            args.notify_timeout,
            file_duration(&cfg, "notify_timeout", file.notify_timeout.as_ref())?,
            server::notify::DEFAULT_TIMEOUT,
        ),
        addr: pick("addr", args.addr, file.addr, "127.0.0.1".to_owned()),
        port: pick("port", args.port, file.port, 5000),
        root,
        storage,
        redirect_blobs: pick_switch("redirect_blobs", args.redirect_blobs, file.redirect_blobs),
        no_delete: pick_switch("no_delete", args.no_delete, file.no_delete),
        read_only: pick_switch("read_only", args.read_only, file.read_only),
        htpasswd: pick_opt("htpasswd", args.htpasswd, path(file.htpasswd)),
        access: pick_opt("access", args.access, path(file.access)),
        tls_cert: pick_opt("tls_cert", args.tls_cert, path(file.tls_cert)),
        tls_key: pick_opt("tls_key", args.tls_key, path(file.tls_key)),
        gc_interval: pick_opt(
            "gc_interval",
            args.gc_interval,
            file_duration(&cfg, "gc_interval", file.gc_interval.as_ref())?,
        ),
        max_connections: pick_opt("max_connections", args.max_connections, max_connections),
        idle_timeout: pick(
            "idle_timeout",
            args.idle_timeout,
            file_duration(&cfg, "idle_timeout", file.idle_timeout.as_ref())?,
            server::IDLE_TIMEOUT,
        ),
        body_timeout: pick(
            "body_timeout",
            args.body_timeout,
            file_duration(&cfg, "body_timeout", file.body_timeout.as_ref())?,
            server::BODY_TIMEOUT,
        ),
        metrics_addr: pick_opt("metrics_addr", args.metrics_addr, file.metrics_addr),
        metrics_public: pick_switch("metrics_public", args.metrics_public, file.metrics_public),
        metrics_refresh: pick(
            "metrics_refresh",
            args.metrics_refresh,
            file_duration(&cfg, "metrics_refresh", file.metrics_refresh.as_ref())?,
            server::metrics::DEFAULT_STORAGE_REFRESH,
        ),
        log_format: pick("log_format", args.log_format, log_format, LogFormat::Text),
        no_ui: pick_switch("no_ui", args.no_ui, file.no_ui),
        cors_origin: pick(
            "cors_origin",
            (!args.cors_origin.is_empty()).then_some(args.cors_origin),
            file.cors_origin,
            Vec::new(),
        ),
    };
    if effective.redirect_blobs.value && effective.storage.value.is_none() {
        bail!(
            "--redirect-blobs ({}) needs a bucket: give --storage s3://BUCKET[/PREFIX] (a directory has no URLs to redirect to)",
            effective.redirect_blobs.source
        );
    }
    if effective.proxy.value.is_empty() {
        for (set, source) in [
            (
                effective.proxy_max_age.value.is_some(),
                &effective.proxy_max_age.source,
            ),
            (
                effective.proxy_max_size.value.is_some(),
                &effective.proxy_max_size.source,
            ),
            (
                effective.proxy_username.value.is_some(),
                &effective.proxy_username.source,
            ),
        ] {
            if set {
                bail!(
                    "{source} applies to the pull-through cache: give --proxy [PREFIX=]URL (or proxy in [serve]) too"
                );
            }
        }
    }
    match (&effective.tls_cert.value, &effective.tls_key.value) {
        (Some(_), None) => bail!(
            "a TLS certificate is set ({}) but no key; give --tls-key (or tls_key in [serve])",
            effective.tls_cert.source
        ),
        (None, Some(_)) => bail!(
            "a TLS key is set ({}) but no certificate; give --tls-cert (or tls_cert in [serve])",
            effective.tls_key.source
        ),
        _ => {}
    }
    Ok(effective)
}

/// A TOML value, so the output can be pasted into `[serve]`.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn show_path(p: &Option<PathBuf>) -> Option<String> {
    p.as_ref().map(|p| toml_string(&p.display().to_string()))
}

fn show_duration(d: Duration) -> String {
    toml_string(&humantime::format_duration(d).to_string())
}

impl Effective {
    /// `key = value  # source` lines; unset settings are commented out.
    fn render(&self) -> String {
        let mut rows: Vec<(&str, Option<String>, &Source)> = vec![
            (
                "addr",
                Some(toml_string(&self.addr.value)),
                &self.addr.source,
            ),
            ("port", Some(self.port.value.to_string()), &self.port.source),
            ("root", show_path(&self.root.value), &self.root.source),
            (
                "storage",
                self.storage
                    .value
                    .as_ref()
                    .map(|l| toml_string(&l.to_string())),
                &self.storage.source,
            ),
            (
                "no_delete",
                Some(self.no_delete.value.to_string()),
                &self.no_delete.source,
            ),
            (
                "read_only",
                Some(self.read_only.value.to_string()),
                &self.read_only.source,
            ),
            (
                "htpasswd",
                show_path(&self.htpasswd.value),
                &self.htpasswd.source,
            ),
            (
                "tls_cert",
                show_path(&self.tls_cert.value),
                &self.tls_cert.source,
            ),
            (
                "tls_key",
                show_path(&self.tls_key.value),
                &self.tls_key.source,
            ),
            (
                "gc_interval",
                self.gc_interval.value.map(show_duration),
                &self.gc_interval.source,
            ),
            (
                "max_connections",
                self.max_connections.value.map(|n| n.to_string()),
                &self.max_connections.source,
            ),
            (
                "idle_timeout",
                Some(show_duration(self.idle_timeout.value)),
                &self.idle_timeout.source,
            ),
            (
                "body_timeout",
                Some(show_duration(self.body_timeout.value)),
                &self.body_timeout.source,
            ),
            (
                "metrics_addr",
                self.metrics_addr.value.as_deref().map(toml_string),
                &self.metrics_addr.source,
            ),
            (
                "metrics_public",
                Some(self.metrics_public.value.to_string()),
                &self.metrics_public.source,
            ),
            (
                "metrics_refresh",
                Some(show_duration(self.metrics_refresh.value)),
                &self.metrics_refresh.source,
            ),
            (
                "log_format",
                Some(toml_string(match self.log_format.value {
                    LogFormat::Text => "text",
                    LogFormat::Json => "json",
                })),
                &self.log_format.source,
            ),
        ];
        let notify = (!self.notify.value.is_empty()).then(|| {
            let urls: Vec<String> = self
                .notify
                .value
                .iter()
                .map(|u| toml_string(u.as_str()))
                .collect();
            format!("[{}]", urls.join(", "))
        });
        rows.push(("notify", notify, &self.notify.source));
        rows.push((
            "no_ui",
            Some(self.no_ui.value.to_string()),
            &self.no_ui.source,
        ));
        let origins = (!self.cors_origin.value.is_empty()).then(|| {
            let quoted: Vec<String> = self
                .cors_origin
                .value
                .iter()
                .map(|o| toml_string(o))
                .collect();
            format!("[{}]", quoted.join(", "))
        });
        rows.push(("cors_origin", origins, &self.cors_origin.source));
        rows.push((
            "notify_timeout",
            Some(show_duration(self.notify_timeout.value)),
            &self.notify_timeout.source,
        ));
        rows.push((
            "retention",
            show_path(&self.retention.value),
            &self.retention.source,
        ));
        rows.push((
            "retention_interval",
            Some(show_duration(self.retention_interval.value)),
            &self.retention_interval.source,
        ));
        rows.push((
            "retention_dry_run",
            Some(self.retention_dry_run.value.to_string()),
            &self.retention_dry_run.source,
        ));
        let upstreams = (!self.proxy.value.is_empty()).then(|| {
            let quoted: Vec<String> = self
                .proxy
                .value
                .iter()
                .map(|r| toml_string(&r.to_string()))
                .collect();
            format!("[{}]", quoted.join(", "))
        });
        rows.push(("proxy", upstreams, &self.proxy.source));
        rows.push((
            "proxy_ttl",
            Some(show_duration(self.proxy_ttl.value)),
            &self.proxy_ttl.source,
        ));
        rows.push((
            "proxy_timeout",
            Some(show_duration(self.proxy_timeout.value)),
            &self.proxy_timeout.source,
        ));
        rows.push((
            "proxy_username",
            self.proxy_username.value.as_deref().map(toml_string),
            &self.proxy_username.source,
        ));
        rows.push((
            "proxy_max_age",
            self.proxy_max_age.value.map(show_duration),
            &self.proxy_max_age.source,
        ));
        rows.push((
            "proxy_max_size",
            self.proxy_max_size.value.map(|n| n.to_string()),
            &self.proxy_max_size.source,
        ));
        rows.push((
            "proxy_evict_interval",
            Some(show_duration(self.proxy_evict_interval.value)),
            &self.proxy_evict_interval.source,
        ));
        let mut out = String::from("[serve]\n");
        for (key, value, source) in rows {
            let line = match value {
                Some(v) => format!("{key} = {v}"),
                None => format!("# {key} (not set)"),
            };
            out.push_str(&format!("{line:<48} # {source}\n"));
        }
        out
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("REGCTL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// SIGHUP re-reads the access file; a bad one is logged (line and reason)
/// and the rules in force stay.
async fn reload_on_hangup(access: std::sync::Arc<server::access::AccessControl>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP; the access file will not be reloaded");
            return;
        };
        while hangups.recv().await.is_some() {
            // The error is logged by reload itself.
            let _ = access.reload();
        }
    }
    #[cfg(not(unix))]
    let _ = access;
}

/// How long the start-up check of a bucket may take.
const BUCKET_CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// Lists the registry's top level in the bucket: the credentials, region,
/// endpoint and bucket all have to be right for that to answer.
pub(super) async fn check_bucket(location: &S3Location) -> anyhow::Result<S3Backend> {
    let backend = S3Backend::from_env(location.clone())?;
    let listed = tokio::time::timeout(
        BUCKET_CHECK_TIMEOUT,
        backend.list(&regctl::storage::paths::repositories_root()),
    )
    .await;
    match listed {
        Ok(Ok(_)) => Ok(backend),
        Ok(Err(e)) => Err(anyhow::anyhow!(
            "cannot use {location}: {e}\n(check the bucket exists and AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION and AWS_ENDPOINT_URL)"
        )),
        Err(_) => Err(anyhow::anyhow!(
            "cannot use {location}: no answer within {}s (check AWS_ENDPOINT_URL)",
            BUCKET_CHECK_TIMEOUT.as_secs()
        )),
    }
}

pub async fn run(args: ServeArgs, settings: &Settings) -> anyhow::Result<()> {
    let print = args.print_config;
    let eff = resolve(args, settings)?;
    if print {
        let mut out = std::io::stdout();
        let _ = write!(out, "{}", eff.render());
        let _ = out.flush();
        return Ok(());
    }
    init_logging(eff.log_format.value);
    // A bucket: no directory and no root lock (several servers may share
    // it); reached once now so that bad credentials, a missing bucket or a
    // wrong endpoint stop the start with their reason.
    let (root, _lock, shown, bucket) = match &eff.storage.value {
        Some(location) => {
            let bucket = check_bucket(location).await?;
            (PathBuf::new(), None, location.to_string(), Some(bucket))
        }
        None => {
            let root =
                eff.root.value.clone().context(
                    "cannot find a data directory for the default root; pass --root DIR",
                )?;
            std::fs::create_dir_all(&root)
                .with_context(|| format!("cannot create the storage root {}", root.display()))?;
            let root = root.canonicalize().unwrap_or(root);
            // Held for the server's lifetime: `regctl gc --root` will not sweep
            // under a running server, and the server will not start during one.
            // The lock's error says what holds it or why it cannot be created.
            let lock = RootLock::shared(&root)?;
            let shown = root.display().to_string();
            (root, Some(lock), shown, None)
        }
    };
    let config = ServerConfig {
        root: root.clone(),
        delete_enabled: !eff.no_delete.value,
        read_only: eff.read_only.value,
        htpasswd: eff.htpasswd.value.clone(),
        access: eff.access.value.clone(),
        notify: eff.notify.value.clone(),
        notify_timeout: eff.notify_timeout.value,
        retention: eff.retention.value.clone(),
        retention_interval: eff.retention_interval.value,
        retention_dry_run: eff.retention_dry_run.value,
        gc_interval: eff.gc_interval.value,
        ui: !eff.no_ui.value,
        cors_origins: eff.cors_origin.value.clone(),
        limits: server::ConnectionLimits {
            idle_timeout: eff.idle_timeout.value,
            body_timeout: eff.body_timeout.value,
            max_connections: eff.max_connections.value.map(|n| n as usize),
        },
        metrics: server::MetricsConfig {
            public: eff.metrics_public.value,
            separate: eff.metrics_addr.value.is_some(),
            storage_refresh: eff.metrics_refresh.value,
        },
        object_storage: bucket,
        redirect_blobs: eff.redirect_blobs.value,
        proxy: (!eff.proxy.value.is_empty()).then(|| server::proxy::ProxyConfig {
            ttl: eff.proxy_ttl.value,
            timeout: eff.proxy_timeout.value,
            username: eff.proxy_username.value.clone(),
            password: std::env::var("REGCTL_PROXY_PASSWORD")
                .ok()
                .filter(|p| !p.is_empty())
                .map(regctl::client::Secret::new),
            client: settings.client_options(),
            max_age: eff.proxy_max_age.value,
            max_size: eff.proxy_max_size.value,
            evict_interval: eff.proxy_evict_interval.value,
            ..server::proxy::ProxyConfig::new(eff.proxy.value.clone())
        }),
        ..ServerConfig::new(&root)
    };
    let limits = config.limits.clone();
    let server::Apps {
        main: app,
        metrics: metrics_app,
        access,
    } = server::routers(config)?;
    if let Some(access) = access {
        tokio::spawn(reload_on_hangup(access));
    }
    let tls = match (eff.tls_cert.value, eff.tls_key.value) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        _ => None,
    };
    let (addr, port) = (&eff.addr.value, eff.port.value);
    let bind = if addr.contains(':') && !addr.starts_with('[') {
        format!("[{addr}]:{port}")
    } else {
        format!("{addr}:{port}")
    };
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .with_context(|| {
            format!("cannot listen on {bind} (is another registry running there? try --port)")
        })?;
    let local = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut out = std::io::stdout();
    // Scripts and tests wait for this exact line.
    let what = if eff.storage.value.is_some() {
        "storage"
    } else {
        "root"
    };
    let _ = writeln!(out, "listening on {scheme}://{local} ({what}: {shown})");
    if let Some(addr) = &eff.metrics_addr.value {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} for --metrics-addr"))?;
        let local = listener.local_addr()?;
        let _ = writeln!(out, "metrics on http://{local}/metrics");
        tokio::spawn(async move {
            if let Err(e) = server::serve(listener, metrics_app, None, shutdown_signal()).await {
                tracing::error!(error = %e, "the metrics listener failed");
            }
        });
    }
    let _ = out.flush();
    server::serve_with_limits(listener, app, tls, limits, shutdown_signal()).await?;
    Ok(())
}
