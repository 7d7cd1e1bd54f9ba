//! Docker's `config.json` credentials: `auths`, identity tokens and the
//! `docker-credential-*` helpers, read and written the way docker does.
//! Unknown fields survive a round trip because the file is kept as a
//! `serde_json::Value`.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::types::reference::DOCKER_HUB;

/// The key docker uses for Docker Hub in `auths` and with helpers.
pub const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";

/// A secret string whose `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Credentials for one registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Basic {
        username: String,
        password: Secret,
    },
    /// An OAuth2 refresh token (docker's `identitytoken`).
    IdentityToken {
        username: String,
        token: Secret,
    },
}

impl Credential {
    pub fn username(&self) -> &str {
        match self {
            Credential::Basic { username, .. } | Credential::IdentityToken { username, .. } => {
                username
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not valid JSON: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: expected a JSON object at the top level")]
    NotAnObject { path: PathBuf },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: auths.{key}.auth is not base64 of user:password")]
    BadAuthField { path: PathBuf, key: String },
    #[error("credential helper {program} {action} failed: {reason}")]
    Helper {
        program: String,
        action: String,
        reason: String,
    },
}

/// The key under which docker stores a registry's credentials.
pub fn auth_key(registry: &str) -> String {
    if registry == DOCKER_HUB {
        DOCKER_HUB_AUTH_KEY.to_owned()
    } else {
        registry.to_owned()
    }
}

/// Reduces an `auths` key to `host[:port]` (docker accepts URLs there).
fn normalize_key(key: &str) -> String {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = k.split('/').next().unwrap_or(k);
    match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            DOCKER_HUB.to_owned()
        }
        h => h.to_owned(),
    }
}

/// The default location: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub fn default_docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    dirs::home_dir().map(|h| h.join(".docker").join("config.json"))
}

/// Docker's `config.json`, kept whole.
#[derive(Debug, Clone)]
pub struct DockerConfig {
    path: PathBuf,
    doc: Map<String, Value>,
    /// `PATH` for finding helpers; the process's own when `None`.
    helper_search_path: Option<std::ffi::OsString>,
}

impl DockerConfig {
    /// Loads the file; a missing file is an empty configuration.
    pub fn load(path: &Path) -> Result<Self, CredentialError> {
        let doc = match std::fs::read(path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Map::new(),
            Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(m)) => m,
                Ok(_) => {
                    return Err(CredentialError::NotAnObject {
                        path: path.to_owned(),
                    });
                }
                Err(source) => {
                    return Err(CredentialError::Parse {
                        path: path.to_owned(),
                        source,
                    });
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
            Err(source) => {
                return Err(CredentialError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        Ok(DockerConfig {
            path: path.to_owned(),
            doc,
            helper_search_path: None,
        })
    }

    /// Looks for `docker-credential-*` helpers in this `PATH` instead of the
    /// process's own.
    pub fn with_helper_search_path(mut self, path: std::ffi::OsString) -> Self {
        self.helper_search_path = Some(path);
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The credential helper configured for a registry, if any
    /// (`credHelpers` first, then `credsStore`).
    pub fn helper_for(&self, registry: &str) -> Option<String> {
        let key = auth_key(registry);
        if let Some(Value::Object(helpers)) = self.doc.get("credHelpers") {
            for (k, v) in helpers {
                if (k == &key || normalize_key(k) == registry)
                    && let Some(name) = v.as_str().filter(|s| !s.is_empty())
                {
                    return Some(name.to_owned());
                }
            }
        }
        self.doc
            .get("credsStore")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }

    /// The `auths` entry for a registry, matching docker's key forms.
    fn auth_entry(&self, registry: &str) -> Option<(&String, &Map<String, Value>)> {
        let Some(Value::Object(auths)) = self.doc.get("auths") else {
            return None;
        };
        let key = auth_key(registry);
        auths
            .iter()
            .filter_map(|(k, v)| v.as_object().map(|o| (k, o)))
            .find(|(k, _)| **k == key)
            .or_else(|| {
                auths
                    .iter()
                    .filter_map(|(k, v)| v.as_object().map(|o| (k, o)))
                    .find(|(k, _)| normalize_key(k) == registry)
            })
    }

    /// Credentials for `registry`: from its helper if one is configured,
    /// else from `auths`.
    pub fn credential(&self, registry: &str) -> Result<Option<Credential>, CredentialError> {
        if let Some(helper) = self.helper_for(registry) {
            return helper_get(self.hp(), &helper, &auth_key(registry));
        }
        let Some((key, entry)) = self.auth_entry(registry) else {
            return Ok(None);
        };
        let bad = || CredentialError::BadAuthField {
            path: self.path.clone(),
            key: key.clone(),
        };
        let (mut username, mut password) = (String::new(), String::new());
        if let Some(auth) = entry
            .get("auth")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|_| bad())?;
            let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
            let (u, p) = decoded.split_once(':').ok_or_else(bad)?;
            username = u.to_owned();
            password = p.to_owned();
        } else {
            if let Some(u) = entry.get("username").and_then(Value::as_str) {
                username = u.to_owned();
            }
            if let Some(p) = entry.get("password").and_then(Value::as_str) {
                password = p.to_owned();
            }
        }
        if let Some(tok) = entry
            .get("identitytoken")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            return Ok(Some(Credential::IdentityToken {
                username,
                token: Secret::new(tok),
            }));
        }
        if username.is_empty() && password.is_empty() {
            return Ok(None);
        }
        Ok(Some(Credential::Basic {
            username,
            password: Secret::new(password),
        }))
    }

    /// Stores credentials (in the helper when one is configured). Call
    /// [`DockerConfig::save`] afterwards.
    pub fn store(&mut self, registry: &str, cred: &Credential) -> Result<(), CredentialError> {
        let key = auth_key(registry);
        if let Some(helper) = self.helper_for(registry) {
            helper_store(self.hp(), &helper, &key, cred)?;
            // docker leaves an empty entry so `docker login` state is visible.
            self.auths_mut().insert(key, Value::Object(Map::new()));
            return Ok(());
        }
        let mut entry = Map::new();
        match cred {
            Credential::Basic { username, password } => {
                let auth = base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{}", password.expose()));
                entry.insert("auth".into(), Value::String(auth));
            }
            Credential::IdentityToken { username, token } => {
                let auth = base64::engine::general_purpose::STANDARD.encode(format!("{username}:"));
                entry.insert("auth".into(), Value::String(auth));
                entry.insert(
                    "identitytoken".into(),
                    Value::String(token.expose().to_owned()),
                );
            }
        }
        // Keep fields of an existing entry (e.g. "email") that we don't manage.
        let auths = self.auths_mut();
        match auths.get_mut(&key) {
            Some(Value::Object(existing)) => {
                existing.remove("username");
                existing.remove("password");
                existing.remove("identitytoken");
                existing.extend(entry);
            }
            _ => {
                auths.insert(key, Value::Object(entry));
            }
        }
        Ok(())
    }

    /// Removes credentials; returns whether anything was there.
    pub fn erase(&mut self, registry: &str) -> Result<bool, CredentialError> {
        let key = auth_key(registry);
        let mut found = false;
        if let Some(helper) = self.helper_for(registry) {
            found |= helper_erase(self.hp(), &helper, &key)?;
        }
        if let Some(Value::Object(auths)) = self.doc.get_mut("auths") {
            let keys: Vec<String> = auths
                .keys()
                .filter(|k| **k == key || normalize_key(k) == registry)
                .cloned()
                .collect();
            for k in keys {
                auths.remove(&k);
                found = true;
            }
        }
        Ok(found)
    }

    fn hp(&self) -> Option<&std::ffi::OsStr> {
        self.helper_search_path.as_deref()
    }

    fn auths_mut(&mut self) -> &mut Map<String, Value> {
        let slot = self
            .doc
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        match slot {
            Value::Object(m) => m,
            // Unreachable: replaced by an object just above.
            _ => unreachable!("auths was just made an object"),
        }
    }

    /// Writes the file atomically (temp file + rename), mode 0600.
    pub fn save(&self) -> Result<(), CredentialError> {
        let err = |source| CredentialError::Write {
            path: self.path.clone(),
            source,
        };
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(err)?;
        let mut json = serde_json::to_vec_pretty(&Value::Object(self.doc.clone()))
            .map_err(|e| err(std::io::Error::other(e)))?;
        json.push(b'\n');
        let mut tmp = tempfile_in(dir).map_err(err)?;
        tmp.1.write_all(&json).map_err(err)?;
        tmp.1.sync_all().map_err(err)?;
        drop(tmp.1);
        crate::durable::rename(&tmp.0, &self.path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp.0);
            err(e)
        })
    }

    /// The whole document (for tests and `regctl config`).
    pub fn document(&self) -> &Map<String, Value> {
        &self.doc
    }
}

fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let path = dir.join(format!(".config.json.{}.tmp", uuid::Uuid::new_v4()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let file = opts.open(&path)?;
    Ok((path, file))
}

fn helper_program(name: &str) -> String {
    format!("docker-credential-{name}")
}

fn run_helper(
    search_path: Option<&std::ffi::OsStr>,
    name: &str,
    action: &str,
    input: &[u8],
) -> Result<(bool, Vec<u8>), CredentialError> {
    let program = helper_program(name);
    let fail = |reason: String| CredentialError::Helper {
        program: program.clone(),
        action: action.to_owned(),
        reason,
    };
    let mut cmd = Command::new(&program);
    if let Some(p) = search_path {
        cmd.env("PATH", p);
    }
    let mut child = cmd
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run it ({e}); is it on PATH?")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input)
            .map_err(|e| fail(format!("writing its input: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| fail(format!("waiting for it: {e}")))?;
    let mut text = out.stdout;
    if !out.status.success() {
        text.extend_from_slice(&out.stderr);
    }
    Ok((out.status.success(), text))
}

fn helper_get(
    sp: Option<&std::ffi::OsStr>,
    name: &str,
    server: &str,
) -> Result<Option<Credential>, CredentialError> {
    let (ok, out) = run_helper(sp, name, "get", server.as_bytes())?;
    if !ok {
        let msg = String::from_utf8_lossy(&out).trim().to_owned();
        // The helper protocol's "not found" answer.
        if msg.contains("credentials not found") {
            return Ok(None);
        }
        return Err(CredentialError::Helper {
            program: helper_program(name),
            action: "get".into(),
            reason: msg,
        });
    }
    let v: Value = serde_json::from_slice(&out).map_err(|e| CredentialError::Helper {
        program: helper_program(name),
        action: "get".into(),
        reason: format!("its output is not the expected JSON: {e}"),
    })?;
    let username = v
        .get("Username")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let secret = v
        .get("Secret")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if username.is_empty() && secret.is_empty() {
        return Ok(None);
    }
    if username == "<token>" {
        return Ok(Some(Credential::IdentityToken {
            username: String::new(),
            token: Secret::new(secret),
        }));
    }
    Ok(Some(Credential::Basic {
        username,
        password: Secret::new(secret),
    }))
}

fn helper_store(
    sp: Option<&std::ffi::OsStr>,
    name: &str,
    server: &str,
    cred: &Credential,
) -> Result<(), CredentialError> {
    let (user, secret) = match cred {
        Credential::Basic { username, password } => (username.as_str(), password.expose()),
        Credential::IdentityToken { token, .. } => ("<token>", token.expose()),
    };
    let body = serde_json::json!({"ServerURL": server, "Username": user, "Secret": secret});
    let (ok, out) = run_helper(sp, name, "store", body.to_string().as_bytes())?;
    if ok {
        Ok(())
    } else {
        Err(CredentialError::Helper {
            program: helper_program(name),
            action: "store".into(),
            reason: String::from_utf8_lossy(&out).trim().to_owned(),
        })
    }
}

fn helper_erase(
    sp: Option<&std::ffi::OsStr>,
    name: &str,
    server: &str,
) -> Result<bool, CredentialError> {
    let (ok, out) = run_helper(sp, name, "erase", server.as_bytes())?;
    if ok {
        return Ok(true);
    }
    let msg = String::from_utf8_lossy(&out).trim().to_owned();
    if msg.contains("credentials not found") {
        return Ok(false);
    }
    Err(CredentialError::Helper {
        program: helper_program(name),
        action: "erase".into(),
        reason: msg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted() {
        let c = Credential::Basic {
            username: "u".into(),
            password: Secret::new("hunter2"),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn round_trip_preserves_unknown_fields_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"auths":{"other.io":{"auth":"eDp5","email":"e@x"}},"psFormat":"table {{.ID}}","proxies":{"default":{"httpProxy":"p"}}}"#,
        )
        .unwrap();
        let mut cfg = DockerConfig::load(&path).unwrap();
        cfg.store(
            "localhost:5000",
            &Credential::Basic {
                username: "alice".into(),
                password: Secret::new("s:cret"),
            },
        )
        .unwrap();
        cfg.save().unwrap();
        let back: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(back["psFormat"], "table {{.ID}}");
        assert_eq!(back["proxies"]["default"]["httpProxy"], "p");
        assert_eq!(back["auths"]["other.io"]["email"], "e@x");
        assert_eq!(back["auths"]["localhost:5000"]["auth"], "YWxpY2U6czpjcmV0");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let cfg = DockerConfig::load(&path).unwrap();
        assert_eq!(
            cfg.credential("localhost:5000").unwrap(),
            Some(Credential::Basic {
                username: "alice".into(),
                password: Secret::new("s:cret")
            })
        );
        assert_eq!(cfg.credential("other.io").unwrap().unwrap().username(), "x");
        let mut cfg = cfg;
        assert!(cfg.erase("localhost:5000").unwrap());
        assert!(!cfg.erase("localhost:5000").unwrap());
        assert_eq!(cfg.credential("localhost:5000").unwrap(), None);
        // No temp files left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn hub_key_identity_token_and_url_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dTpw"},"https://ghcr.io":{"auth":"dTo=","identitytoken":"tok"}}}"#,
        )
        .unwrap();
        let cfg = DockerConfig::load(&path).unwrap();
        assert_eq!(
            cfg.credential("docker.io").unwrap().unwrap().username(),
            "u"
        );
        match cfg.credential("ghcr.io").unwrap().unwrap() {
            Credential::IdentityToken { token, .. } => assert_eq!(token.expose(), "tok"),
            other => panic!("{other:?}"),
        }
        assert_eq!(cfg.credential("quay.io").unwrap(), None);
    }

    #[test]
    fn malformed_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, "{not json").unwrap();
        assert!(matches!(
            DockerConfig::load(&path),
            Err(CredentialError::Parse { .. })
        ));
        std::fs::write(&path, r#"{"auths":{"h":{"auth":"!!!"}}}"#).unwrap();
        let cfg = DockerConfig::load(&path).unwrap();
        assert!(matches!(
            cfg.credential("h"),
            Err(CredentialError::BadAuthField { .. })
        ));
        assert!(DockerConfig::load(&dir.path().join("missing.json")).is_ok());
    }

    /// A real helper script on PATH, speaking the helper protocol.
    #[cfg(unix)]
    #[test]
    fn credential_helper_protocol() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let script = dir.path().join("docker-credential-unittest");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nset -e\nS='{}'\ncase \"$1\" in\n\
                 store) cat > \"$S\" ;;\n\
                 get) read server || true; if [ -f \"$S\" ]; then cat \"$S\"; else echo 'credentials not found in native keychain'; exit 1; fi ;;\n\
                 erase) read server || true; if [ -f \"$S\" ]; then rm \"$S\"; else echo 'credentials not found in native keychain'; exit 1; fi ;;\n\
                 esac\n",
                store.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path_var = format!(
            "{}:{}",
            dir.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let cfg_path = dir.path().join("config.json");
        std::fs::write(&cfg_path, r#"{"credsStore":"unittest"}"#).unwrap();
        let mut cfg = DockerConfig::load(&cfg_path)
            .unwrap()
            .with_helper_search_path(path_var.into());
        assert_eq!(cfg.credential("r.example").unwrap(), None);
        let cred = Credential::Basic {
            username: "bob".into(),
            password: Secret::new("pw"),
        };
        cfg.store("r.example", &cred).unwrap();
        let stored: Value = serde_json::from_slice(&std::fs::read(&store).unwrap()).unwrap();
        assert_eq!(stored["ServerURL"], "r.example");
        assert_eq!(stored["Username"], "bob");
        assert_eq!(cfg.credential("r.example").unwrap(), Some(cred));
        // The secret itself never lands in config.json.
        cfg.save().unwrap();
        assert!(!std::fs::read_to_string(&cfg_path).unwrap().contains("pw"));
        assert!(cfg.erase("r.example").unwrap());
        assert!(!store.exists());
    }
}
