//! Per-repository access rules (`--access FILE`): who may pull, push,
//! delete in which repositories, and who may run the admin collection.
//!
//! ```toml
//! [[allow]]
//! repositories = ["team-a/**"]   # * within a path component, ** across them
//! users = ["alice"]              # "*" any authenticated user; "anonymous" none
//! actions = ["pull", "push", "delete"]
//!
//! [[allow]]
//! users = ["admin"]
//! actions = ["gc"]               # the admin endpoint; repositories not needed
//! ```
//!
//! Everything no rule allows is denied. The file is read at start (a bad
//! file refuses to start) and again on SIGHUP (a bad file keeps the rules
//! in force), each time as a whole, so a request sees either the old rules
//! or the new ones.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use serde::Deserialize;

/// What a request does to a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Pull,
    Push,
    Delete,
    /// The admin garbage collection (`POST /v2/_regctl/gc`).
    Gc,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Push => "push",
            Action::Delete => "delete",
            Action::Gc => "gc",
        }
    }
}

/// Why an access file was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("cannot read the {kind} file {path}: {source}")]
    Read {
        kind: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{kind} file {path}, line {line}: {reason}")]
    Invalid {
        kind: &'static str,
        path: String,
        line: usize,
        reason: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    allow: Vec<toml::Spanned<RawRule>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default)]
    repositories: Vec<toml::Spanned<String>>,
    users: Vec<toml::Spanned<String>>,
    actions: Vec<Action>,
}

/// One `[[allow]]` entry, compiled.
#[derive(Debug)]
struct Rule {
    repositories: Vec<regex::Regex>,
    users: Vec<String>,
    actions: Vec<Action>,
}

/// The rules of one version of the file.
#[derive(Debug)]
pub struct AccessRules {
    rules: Vec<Rule>,
}

/// The 1-based line of a byte offset.
fn line_at(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(1, |before| before.matches('\n').count() + 1)
}

/// A repository glob as an anchored regex: `**` any run of characters,
/// `*` any run within one path component.
pub(crate) fn glob(pattern: &str) -> Result<regex::Regex, String> {
    if pattern.is_empty() {
        return Err("an empty repository pattern matches nothing; write e.g. \"team/**\"".into());
    }
    if let Some(bad) = pattern
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/*".contains(*c)))
    {
        return Err(format!(
            "repository pattern {pattern:?} has {bad:?}; repository names use a-z, 0-9, . _ - / and the patterns * and **"
        ));
    }
    let mut re = String::from("^");
    let mut rest = pattern;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("**") {
            re.push_str(".*");
            rest = r;
        } else if let Some(r) = rest.strip_prefix('*') {
            re.push_str("[^/]*");
            rest = r;
        } else {
            let c = rest.chars().next().unwrap_or_default();
            re.push_str(&regex::escape(&c.to_string()));
            rest = &rest[c.len_utf8()..];
        }
    }
    re.push('$');
    regex::Regex::new(&re).map_err(|e| format!("repository pattern {pattern:?}: {e}"))
}

impl AccessRules {
    /// Parses a file's text; errors name the line and the reason.
    pub fn parse(path: &Path, text: &str) -> Result<AccessRules, AccessError> {
        let invalid = |offset: usize, reason: String| AccessError::Invalid {
            kind: "access",
            path: path.display().to_string(),
            line: line_at(text, offset),
            reason,
        };
        let file: File = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            invalid(offset, e.message().to_owned())
        })?;
        let mut rules = Vec::new();
        for entry in file.allow {
            let at = entry.span().start;
            let raw = entry.into_inner();
            if raw.actions.is_empty() {
                return Err(invalid(at, "this rule allows no actions".into()));
            }
            let needs_repos = raw.actions.iter().any(|a| *a != Action::Gc);
            if needs_repos && raw.repositories.is_empty() {
                return Err(invalid(
                    at,
                    "this rule names no repositories; give repositories = [\"**\"] for all".into(),
                ));
            }
            if raw.users.is_empty() {
                return Err(invalid(
                    at,
                    "this rule names no users; give users = [\"*\"] for any authenticated user"
                        .into(),
                ));
            }
            let mut repositories = Vec::new();
            for r in raw.repositories {
                let re = glob(r.get_ref()).map_err(|reason| invalid(r.span().start, reason))?;
                repositories.push(re);
            }
            let mut users = Vec::new();
            for u in raw.users {
                if u.get_ref().is_empty() || u.get_ref().contains(':') {
                    return Err(invalid(
                        u.span().start,
                        format!("{:?} is no user name", u.get_ref()),
                    ));
                }
                users.push(u.into_inner());
            }
            rules.push(Rule {
                repositories,
                users,
                actions: raw.actions,
            });
        }
        Ok(AccessRules { rules })
    }

    pub fn load(path: &Path) -> Result<AccessRules, AccessError> {
        let text = std::fs::read_to_string(path).map_err(|source| AccessError::Read {
            kind: "access",
            path: path.display().to_string(),
            source,
        })?;
        AccessRules::parse(path, &text)
    }

    /// Whether `user` (`None`: no credentials) may do `action` on `repo`
    /// (ignored for [`Action::Gc`]).
    pub fn allows(&self, user: Option<&str>, action: Action, repo: &str) -> bool {
        self.rules.iter().any(|r| {
            r.actions.contains(&action)
                && r.users.iter().any(|u| match user {
                    None => u == "anonymous",
                    Some(name) => u == "*" || u == name,
                })
                && (action == Action::Gc || r.repositories.iter().any(|g| g.is_match(repo)))
        })
    }
}

/// The rules in force and the file they come from.
pub struct AccessControl {
    path: PathBuf,
    rules: RwLock<Arc<AccessRules>>,
}

impl AccessControl {
    pub fn load(path: &Path) -> Result<AccessControl, AccessError> {
        Ok(AccessControl {
            rules: RwLock::new(Arc::new(AccessRules::load(path)?)),
            path: path.to_owned(),
        })
    }

    /// The rules now in force.
    pub fn current(&self) -> Arc<AccessRules> {
        self.rules.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Re-reads the file; on error the rules in force stay and the error
    /// is returned (and logged).
    pub fn reload(&self) -> Result<(), AccessError> {
        match AccessRules::load(&self.path) {
            Ok(rules) => {
                let count = rules.rules.len();
                *self.rules.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(rules);
                tracing::info!(target: "regctl::access", file = %self.path.display(), rules = count, "access rules reloaded");
                Ok(())
            }
            Err(e) => {
                tracing::error!(target: "regctl::access", error = %e, "access file refused; the previous rules stay in force");
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Result<AccessRules, AccessError> {
        AccessRules::parse(Path::new("access.toml"), text)
    }

    #[test]
    fn globs_match_within_and_across_components() {
        let r = rules(
            "[[allow]]\nrepositories = [\"team-a/*\", \"lib/**\"]\nusers = [\"alice\"]\nactions = [\"pull\"]\n",
        )
        .unwrap();
        assert!(r.allows(Some("alice"), Action::Pull, "team-a/app"));
        assert!(!r.allows(Some("alice"), Action::Pull, "team-a/app/sub"));
        assert!(!r.allows(Some("alice"), Action::Pull, "team-ab/app"));
        assert!(r.allows(Some("alice"), Action::Pull, "lib/x/y/z"));
        assert!(!r.allows(Some("alice"), Action::Push, "lib/x"));
        assert!(!r.allows(Some("bob"), Action::Pull, "lib/x"));
        assert!(!r.allows(None, Action::Pull, "lib/x"));
    }

    #[test]
    fn star_and_anonymous_users() {
        let r = rules(
            "[[allow]]\nrepositories = [\"pub/**\"]\nusers = [\"anonymous\", \"*\"]\nactions = [\"pull\"]\n[[allow]]\nusers = [\"root\"]\nactions = [\"gc\"]\n",
        )
        .unwrap();
        assert!(r.allows(None, Action::Pull, "pub/a"));
        assert!(r.allows(Some("anyone"), Action::Pull, "pub/a"));
        assert!(r.allows(Some("root"), Action::Gc, ""));
        assert!(!r.allows(Some("anyone"), Action::Gc, ""));
        assert!(!r.allows(None, Action::Gc, ""));
    }

    #[test]
    fn bad_files_name_the_line_and_reason() {
        for (text, line, needle) in [
            (
                "[[allow]]\nrepositories = [\"a\"]\nusers = [\"x\"]\nactions = [\"fly\"]\n",
                4,
                "fly",
            ),
            (
                "[[allow]]\nrepositories = [\"a\"]\nuser = [\"x\"]\nactions = [\"pull\"]\n",
                3,
                "user",
            ),
            (
                "\n[[allow]]\nrepositories = [\"A/B\"]\nusers = [\"x\"]\nactions = [\"pull\"]\n",
                3,
                "'A'",
            ),
            (
                "[[allow]]\nusers = [\"x\"]\nactions = [\"pull\"]\n",
                1,
                "no repositories",
            ),
            (
                "[[allow]]\nrepositories = [\"a\"]\nusers = []\nactions = [\"pull\"]\n",
                1,
                "no users",
            ),
            ("[[allow]\n", 1, ""),
        ] {
            match rules(text) {
                Err(AccessError::Invalid {
                    line: l, reason, ..
                }) => {
                    assert_eq!(l, line, "{text:?}: {reason}");
                    assert!(reason.contains(needle), "{text:?}: {reason}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn an_empty_file_denies_everything() {
        let r = rules("").unwrap();
        assert!(!r.allows(Some("alice"), Action::Pull, "a"));
        assert!(!r.allows(None, Action::Pull, "a"));
    }
}
