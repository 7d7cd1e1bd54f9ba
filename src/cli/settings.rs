//! Effective settings: flags, environment, the TOML config file and
//! defaults, each remembered with where it came from (for `regctl config`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use regctl::client::ClientOptions;
use regctl::client::creds::default_docker_config_path;
use regctl::client::transport::DEFAULT_TIMEOUT;
use regctl::types::reference::{DOCKER_HUB, validate_registry};

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "name")]
pub enum Source {
    /// A command-line flag (its name).
    Flag(String),
    /// An environment variable (its name).
    Env(String),
    /// The configuration file.
    File,
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(n) => write!(f, "flag {n}"),
            Source::Env(n) => write!(f, "env {n}"),
            Source::File => f.write_str("config file"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// A value and its source.
#[derive(Debug, Clone, Serialize)]
pub struct Setting<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Setting<T> {
    pub fn new(value: T, source: Source) -> Self {
        Setting { value, source }
    }
}

/// `config.toml`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Registry for references without a host.
    #[serde(default)]
    pub default_registry: Option<String>,
    /// Longest wait without progress, e.g. `"30s"` (as `--timeout`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Per-registry settings, keyed by `host[:port]`.
    #[serde(default)]
    pub registries: BTreeMap<String, RegistryConfig>,
    /// `regctl serve`'s settings (its flags, with `_` for `-`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serve: Option<ServeFileConfig>,
}

/// The `[serve]` section: every `regctl serve` flag, named as the flag with
/// `_` for `-`. Durations are strings (`"24h"`); relative paths are taken
/// from the config file's directory.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServeFileConfig {
    pub addr: Option<String>,
    pub port: Option<u16>,
    pub root: Option<PathBuf>,
    /// `file:///path` or `s3://BUCKET[/PREFIX]` (instead of `root`).
    pub storage: Option<String>,
    pub redirect_blobs: Option<bool>,
    pub no_delete: Option<bool>,
    pub read_only: Option<bool>,
    pub htpasswd: Option<PathBuf>,
    pub access: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub gc_interval: Option<String>,
    pub max_connections: Option<u32>,
    pub idle_timeout: Option<String>,
    pub body_timeout: Option<String>,
    pub log_format: Option<String>,
    pub metrics_addr: Option<String>,
    pub metrics_public: Option<bool>,
    pub metrics_refresh: Option<String>,
    pub notify: Option<Vec<String>>,
    pub notify_timeout: Option<String>,
    pub retention: Option<PathBuf>,
    pub retention_interval: Option<String>,
    pub retention_dry_run: Option<bool>,
    pub no_ui: Option<bool>,
    pub cors_origin: Option<Vec<String>>,
    pub proxy: Option<Vec<String>>,
    pub proxy_ttl: Option<String>,
    pub proxy_timeout: Option<String>,
    pub proxy_username: Option<String>,
    pub proxy_max_age: Option<String>,
    pub proxy_max_size: Option<String>,
    pub proxy_evict_interval: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// Speak plain http to this registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure: Option<bool>,
    /// Extra CA certificate (PEM) trusted for this registry.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename(serialize = "caCert")
    )]
    pub ca_cert: Option<PathBuf>,
    /// A mirror for pulls (`host[:port]`); shown by `regctl config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<String>,
}

/// Global command-line values, as parsed, with their sources.
pub struct GlobalInput {
    pub registry: Option<(String, Source)>,
    pub config: Option<PathBuf>,
    pub insecure: bool,
    pub ca_certs: Vec<PathBuf>,
    /// `--timeout` or `REGCTL_TIMEOUT`, unparsed.
    pub timeout: Option<(String, Source)>,
}

/// A duration shown the way it is written (`30s`, `1m 30s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl Serialize for HumanDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(self.0))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

/// Parses a timeout: `30s`, `2m`, `500ms`, or a bare number of seconds.
pub fn parse_timeout(input: &str) -> Result<Duration, String> {
    let s = input.trim();
    let parsed = match s.parse::<u64>() {
        Ok(secs) => Ok(Duration::from_secs(secs)),
        Err(_) => humantime::parse_duration(s).map_err(|e| e.to_string()),
    };
    match parsed {
        Ok(d) if d.is_zero() => Err(format!(
            "timeout {input:?} must be more than zero; write e.g. 30s, 2m or 500ms"
        )),
        Ok(d) => Ok(d),
        Err(e) => Err(format!(
            "timeout {input:?} is not a duration ({e}); write e.g. 30s, 2m or 500ms"
        )),
    }
}

/// Everything resolved.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all(serialize = "camelCase"))]
pub struct Settings {
    /// The configuration file and whether it exists.
    pub config_file: Setting<Option<PathBuf>>,
    pub config_file_loaded: bool,
    pub default_registry: Setting<String>,
    pub insecure: Setting<bool>,
    pub ca_certs: Setting<Vec<PathBuf>>,
    /// Longest wait without progress (connect, or any read).
    pub timeout: Setting<HumanDuration>,
    pub docker_config: Setting<Option<PathBuf>>,
    pub registries: BTreeMap<String, RegistryConfig>,
    /// The config file's `[serve]` section, and the file's directory (for
    /// relative paths in it).
    #[serde(skip)]
    pub serve: Option<(ServeFileConfig, PathBuf)>,
}

fn default_config_path() -> Option<(PathBuf, Source)> {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        return Some((
            PathBuf::from(x).join("regctl").join("config.toml"),
            Source::Env("XDG_CONFIG_HOME".into()),
        ));
    }
    dirs::config_dir().map(|d| (d.join("regctl").join("config.toml"), Source::Default))
}

fn load_file(path: &Path, required: bool) -> anyhow::Result<Option<FileConfig>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(None),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read config file {}", path.display()));
        }
    };
    let cfg: FileConfig = toml::from_str(&text)
        .with_context(|| format!("config file {} is invalid", path.display()))?;
    if let Some(r) = &cfg.default_registry {
        validate_registry(r)
            .with_context(|| format!("config file {}: default_registry", path.display()))?;
    }
    if let Some(t) = &cfg.timeout {
        parse_timeout(t).map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))?;
    }
    for (host, rc) in &cfg.registries {
        validate_registry(host)
            .with_context(|| format!("config file {}: [registries.\"{host}\"]", path.display()))?;
        if let Some(m) = &rc.mirror {
            validate_registry(m).with_context(|| {
                format!(
                    "config file {}: [registries.\"{host}\"] mirror",
                    path.display()
                )
            })?;
        }
    }
    Ok(Some(cfg))
}

impl Settings {
    pub fn resolve(input: GlobalInput) -> anyhow::Result<Settings> {
        let (config_path, config_source) = match &input.config {
            Some(p) => (Some(p.clone()), Source::Flag("--config".into())),
            None => match default_config_path() {
                Some((p, s)) => (Some(p), s),
                None => (None, Source::Default),
            },
        };
        let file = match &config_path {
            Some(p) => load_file(p, input.config.is_some())?,
            None => None,
        };
        let loaded = file.is_some();
        let file = file.unwrap_or_default();

        let default_registry = match input.registry {
            Some((r, src)) => {
                validate_registry(&r).context("--registry / REGCTL_REGISTRY")?;
                Setting::new(r, src)
            }
            None => match &file.default_registry {
                Some(r) => Setting::new(r.clone(), Source::File),
                None => Setting::new(DOCKER_HUB.to_owned(), Source::Default),
            },
        };
        let insecure = if input.insecure {
            Setting::new(true, Source::Flag("--insecure".into()))
        } else {
            Setting::new(false, Source::Default)
        };
        let ca_certs = if input.ca_certs.is_empty() {
            Setting::new(Vec::new(), Source::Default)
        } else {
            for p in &input.ca_certs {
                if !p.is_file() {
                    bail!("--ca-cert {}: no such file", p.display());
                }
            }
            Setting::new(input.ca_certs, Source::Flag("--ca-cert".into()))
        };
        let timeout = match (&input.timeout, &file.timeout) {
            (Some((t, src)), _) => {
                let d = parse_timeout(t).map_err(|e| anyhow::anyhow!("{src}: {e}"))?;
                Setting::new(HumanDuration(d), src.clone())
            }
            (None, Some(t)) => Setting::new(
                HumanDuration(parse_timeout(t).map_err(anyhow::Error::msg)?),
                Source::File,
            ),
            (None, None) => Setting::new(HumanDuration(DEFAULT_TIMEOUT), Source::Default),
        };
        let docker_config = match std::env::var_os("DOCKER_CONFIG").filter(|v| !v.is_empty()) {
            Some(_) => Setting::new(
                default_docker_config_path(),
                Source::Env("DOCKER_CONFIG".into()),
            ),
            None => Setting::new(default_docker_config_path(), Source::Default),
        };
        Ok(Settings {
            config_file: Setting::new(config_path.clone(), config_source),
            config_file_loaded: loaded,
            default_registry,
            insecure,
            ca_certs,
            timeout,
            docker_config,
            registries: file.registries,
            serve: file.serve.map(|serve| {
                let dir = config_path
                    .as_deref()
                    .and_then(Path::parent)
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                (serve, dir)
            }),
        })
    }

    pub fn client_options(&self) -> ClientOptions {
        let mut insecure_registries = HashSet::new();
        let mut secure_registries = HashSet::new();
        let mut mirrors: HashMap<String, Vec<String>> = HashMap::new();
        let mut registry_ca_certs: HashMap<String, Vec<PathBuf>> = HashMap::new();
        for (host, rc) in &self.registries {
            match rc.insecure {
                Some(true) => insecure_registries.insert(host.clone()),
                Some(false) => secure_registries.insert(host.clone()),
                None => false,
            };
            if let Some(m) = &rc.mirror {
                mirrors.entry(host.clone()).or_default().push(m.clone());
            }
            if let Some(ca) = &rc.ca_cert {
                registry_ca_certs
                    .entry(host.clone())
                    .or_default()
                    .push(ca.clone());
            }
        }
        ClientOptions {
            insecure_all: self.insecure.value,
            insecure_registries,
            secure_registries,
            ca_certs: self.ca_certs.value.clone(),
            registry_ca_certs,
            mirrors,
            docker_config: self.docker_config.value.clone(),
            timeout: self.timeout.value.0,
            ..ClientOptions::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_as_durations_or_seconds_and_refuse_zero() {
        assert_eq!(parse_timeout("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_timeout("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_timeout("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_timeout(" 7 "), Ok(Duration::from_secs(7)));
        for bad in ["0", "0s", "soon", "", "-1s"] {
            let e = parse_timeout(bad).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")) && e.contains("30s"), "{e}");
        }
        assert_eq!(HumanDuration(Duration::from_secs(90)).to_string(), "1m 30s");
    }
}
