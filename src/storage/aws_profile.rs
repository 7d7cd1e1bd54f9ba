//! The AWS shared configuration files (`~/.aws/credentials`, `~/.aws/config`)
//! for an S3 store, as the AWS CLI and SDKs read them: the profile named by
//! `AWS_PROFILE` (or `default`) supplies the keys, session token, region and
//! endpoint that the environment does not set. The environment always wins,
//! and keys are taken from a profile only when the environment has none.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("{path}: cannot read the AWS {what} file: {source}")]
    Read {
        path: PathBuf,
        what: &'static str,
        source: std::io::Error,
    },
    #[error(
        "AWS_PROFILE={0:?} names no profile in {1} (add a [{0}] section there, or unset AWS_PROFILE)"
    )]
    Missing(String, String),
}

/// Keys a profile may give, and the variable each stands for.
const CREDENTIALS: [(&str, &str); 3] = [
    ("aws_access_key_id", "AWS_ACCESS_KEY_ID"),
    ("aws_secret_access_key", "AWS_SECRET_ACCESS_KEY"),
    ("aws_session_token", "AWS_SESSION_TOKEN"),
];
const SETTINGS: [(&str, &str); 2] = [
    ("region", "AWS_REGION"),
    ("endpoint_url", "AWS_ENDPOINT_URL"),
];

/// `vars` (the `AWS_*` environment) completed from the profile's files;
/// `home` is where `.aws/` lives unless `AWS_SHARED_CREDENTIALS_FILE` or
/// `AWS_CONFIG_FILE` say otherwise.
pub fn complete(
    mut vars: HashMap<String, String>,
    home: Option<&Path>,
) -> Result<HashMap<String, String>, ProfileError> {
    let named = vars.get("AWS_PROFILE").cloned();
    let profile = named.clone().unwrap_or_else(|| "default".to_owned());
    let file = |var: &str, name: &str| {
        vars.get(var)
            .map(PathBuf::from)
            .or_else(|| home.map(|h| h.join(".aws").join(name)))
    };
    let credentials_path = file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    let config_path = file("AWS_CONFIG_FILE", "config");
    let credentials = read(credentials_path.as_deref(), "credentials")?;
    let config = read(config_path.as_deref(), "config")?;
    // In `config` a profile other than the default is `[profile NAME]`.
    let config_section = if profile == "default" {
        profile.clone()
    } else {
        format!("profile {profile}")
    };
    let from_credentials = credentials.get(&profile);
    let from_config = config.get(&config_section);
    if from_credentials.is_none() && from_config.is_none() {
        if named.is_some() {
            let files = [credentials_path, config_path]
                .iter()
                .flatten()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" or ");
            return Err(ProfileError::Missing(profile, files));
        }
        return Ok(vars);
    }
    let lookup = |key: &str| {
        from_credentials
            .and_then(|s| s.get(key))
            .or_else(|| from_config.and_then(|s| s.get(key)))
            .cloned()
    };
    if !vars.contains_key("AWS_ACCESS_KEY_ID") {
        for (key, var) in CREDENTIALS {
            if let Some(value) = lookup(key) {
                vars.insert(var.to_owned(), value);
            }
        }
    }
    for (key, var) in SETTINGS {
        let set = vars.contains_key(var)
            || (var == "AWS_REGION" && vars.contains_key("AWS_DEFAULT_REGION"));
        if !set && let Some(value) = lookup(key) {
            vars.insert(var.to_owned(), value);
        }
    }
    Ok(vars)
}

type Sections = HashMap<String, HashMap<String, String>>;

/// An INI file's sections; a missing file has none.
fn read(path: Option<&Path>, what: &'static str) -> Result<Sections, ProfileError> {
    let Some(path) = path else {
        return Ok(Sections::new());
    };
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(parse(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Sections::new()),
        Err(source) => Err(ProfileError::Read {
            path: path.to_owned(),
            what,
            source,
        }),
    }
}

fn parse(text: &str) -> Sections {
    let mut sections = Sections::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
            sections.entry(name.clone()).or_default();
            current = Some(name);
        } else if let (Some(section), Some((key, value))) = (&current, line.split_once('=')) {
            sections
                .entry(section.clone())
                .or_default()
                .insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    sections
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn home() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".aws")).unwrap();
        std::fs::write(
            dir.path().join(".aws/credentials"),
            "[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key = sdefault\n\n\
             # a comment\n[ci]\naws_access_key_id=AKCI\naws_secret_access_key=sci\naws_session_token = tci\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join(".aws/config"),
            "[default]\nregion = eu-west-1\n[profile ci]\nregion = us-west-2\nendpoint_url = http://127.0.0.1:8333\n",
        )
        .unwrap();
        dir
    }

    #[test]
    fn the_default_profile_fills_what_the_environment_lacks() {
        let home = home();
        let out = complete(vars(&[]), Some(home.path())).unwrap();
        assert_eq!(out["AWS_ACCESS_KEY_ID"], "AKDEFAULT");
        assert_eq!(out["AWS_SECRET_ACCESS_KEY"], "sdefault");
        assert_eq!(out["AWS_REGION"], "eu-west-1");
        assert!(!out.contains_key("AWS_ENDPOINT_URL"));
    }

    #[test]
    fn a_named_profile_reads_both_files_and_the_environment_wins() {
        let home = home();
        let out = complete(
            vars(&[("AWS_PROFILE", "ci"), ("AWS_REGION", "ap-south-1")]),
            Some(home.path()),
        )
        .unwrap();
        assert_eq!(out["AWS_ACCESS_KEY_ID"], "AKCI");
        assert_eq!(out["AWS_SESSION_TOKEN"], "tci");
        assert_eq!(out["AWS_REGION"], "ap-south-1");
        assert_eq!(out["AWS_ENDPOINT_URL"], "http://127.0.0.1:8333");
        // Keys in the environment are never mixed with a profile's.
        let out = complete(
            vars(&[("AWS_PROFILE", "ci"), ("AWS_ACCESS_KEY_ID", "AKENV")]),
            Some(home.path()),
        )
        .unwrap();
        assert_eq!(out["AWS_ACCESS_KEY_ID"], "AKENV");
        assert!(!out.contains_key("AWS_SECRET_ACCESS_KEY"));
    }

    #[test]
    fn a_profile_that_is_not_there_is_named() {
        let home = home();
        let err = complete(vars(&[("AWS_PROFILE", "prod")]), Some(home.path())).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("\"prod\"") && msg.contains(".aws/credentials"),
            "{msg}"
        );
        // No files and no AWS_PROFILE: nothing changes.
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(complete(vars(&[]), Some(empty.path())).unwrap(), vars(&[]));
    }
}
