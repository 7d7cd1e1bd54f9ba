//! Scheduled retention (`--retention FILE`): the `prune` engine applied by
//! the server to its own storage on a schedule, then an online collection.
//!
//! ```toml
//! [[rule]]
//! repositories = ["team-a/**"]   # globs as in the access file
//! keep = 5                       # the newest 5 selected tags stay
//! older_than = "30d"             # and only tags older than this go
//! match = "^v"                   # select only these tags (regex)
//! exclude = "^(latest|stable)$"  # never these
//! ```
//!
//! Each repository follows the first rule whose patterns match it; tags
//! whose age is unknown are never deleted (as `regctl prune`). With
//! `--retention-dry-run` nothing is deleted: what would go is logged and
//! counted.

use std::path::Path;
use std::sync::Weak;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use super::AppState;
use super::access::{AccessError, glob};
use crate::ops::du::StorageSource;
use crate::ops::prune::{self, Policy};
use crate::storage::{ManifestRef, RepoName, TagName};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    rule: Vec<toml::Spanned<RawRule>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    repositories: Vec<String>,
    keep: Option<usize>,
    older_than: Option<String>,
    #[serde(rename = "match")]
    matching: Option<String>,
    exclude: Option<String>,
}

/// One compiled rule.
#[derive(Debug)]
pub struct RetentionRule {
    repositories: Vec<regex::Regex>,
    policy: Policy,
}

/// The rules of a retention file.
#[derive(Debug)]
pub struct RetentionRules {
    rules: Vec<RetentionRule>,
}

impl RetentionRules {
    pub fn load(path: &Path) -> Result<RetentionRules, AccessError> {
        let text = std::fs::read_to_string(path).map_err(|source| AccessError::Read {
            kind: "retention",
            path: path.display().to_string(),
            source,
        })?;
        RetentionRules::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<RetentionRules, AccessError> {
        let invalid = |offset: usize, reason: String| AccessError::Invalid {
            kind: "retention",
            path: path.display().to_string(),
            line: text
                .get(..offset)
                .map_or(1, |b| b.matches('\n').count() + 1),
            reason,
        };
        let file: File = toml::from_str(text)
            .map_err(|e| invalid(e.span().map_or(0, |s| s.start), e.message().to_owned()))?;
        let mut rules = Vec::new();
        for entry in file.rule {
            let at = entry.span().start;
            let raw = entry.into_inner();
            if raw.repositories.is_empty() {
                return Err(invalid(at, "this rule names no repositories".into()));
            }
            if raw.keep.is_none() && raw.older_than.is_none() {
                return Err(invalid(
                    at,
                    "this rule would delete every selected tag; give keep = N or older_than = \"30d\"".into(),
                ));
            }
            let repositories = raw
                .repositories
                .iter()
                .map(|r| glob(r))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|reason| invalid(at, reason))?;
            let older_than = raw
                .older_than
                .as_deref()
                .map(humantime::parse_duration)
                .transpose()
                .map_err(|e| invalid(at, format!("older_than: {e} (write e.g. \"30d\")")))?;
            let regex = |what: &str, s: &Option<String>| {
                s.as_deref()
                    .map(regex::Regex::new)
                    .transpose()
                    .map_err(|e| invalid(at, format!("{what}: {e}")))
            };
            rules.push(RetentionRule {
                repositories,
                policy: Policy {
                    keep: raw.keep,
                    older_than,
                    matching: regex("match", &raw.matching)?,
                    excluding: regex("exclude", &raw.exclude)?,
                },
            });
        }
        Ok(RetentionRules { rules })
    }

    fn policy_for(&self, repo: &str) -> Option<&Policy> {
        self.rules
            .iter()
            .find(|r| r.repositories.iter().any(|g| g.is_match(repo)))
            .map(|r| &r.policy)
    }
}

/// What one pass did (or, dry, would do).
#[derive(Debug, Default)]
pub struct PassSummary {
    pub tags: usize,
    pub manifests: usize,
}

/// One pass over every repository.
pub async fn run_once(state: &AppState, rules: &RetentionRules, dry_run: bool) -> PassSummary {
    let mut summary = PassSummary::default();
    let repos = match state.registry.scan_repositories().await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(target: "regctl::retention", error = %e, "cannot list repositories");
            return summary;
        }
    };
    let source = StorageSource::new(&state.registry);
    let now = SystemTime::now();
    for name in repos {
        let Some(policy) = rules.policy_for(&name) else {
            continue;
        };
        let decisions = match prune::examine_tags(&source, &name).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(target: "regctl::retention", repository = %name, error = %e, "cannot examine tags");
                continue;
            }
        };
        let plan = prune::decide(name.clone(), decisions, policy, now);
        for d in &plan.delete {
            tracing::info!(target: "regctl::retention", repository = %name, tag = %d.tag, digest = %d.digest, created = d.created.as_deref().unwrap_or("-"), dry_run, "retention deletes a tag");
        }
        if dry_run {
            summary.tags += plan.delete.len();
            summary.manifests += plan.manifests.len();
            continue;
        }
        let Ok(repo) = RepoName::new(&name) else {
            continue;
        };
        let mut deleted_manifests = std::collections::HashSet::new();
        for d in &plan.delete {
            let Ok(tag) = TagName::new(&d.tag) else {
                continue;
            };
            // A tag pushed again since the plan was made stays.
            match state
                .registry
                .resolve(&repo, &ManifestRef::Tag(tag.clone()))
                .await
            {
                Ok(Some(now)) if now == d.digest => {}
                _ => continue,
            }
            let result = if plan.manifests.contains(&d.digest) {
                if !deleted_manifests.insert(d.digest.clone()) {
                    // Deleting the manifest removed this tag too.
                    summary.tags += 1;
                    continue;
                }
                state
                    .registry
                    .delete_manifest(&repo, &d.digest)
                    .await
                    .map(|_| summary.manifests += 1)
            } else {
                state.registry.delete_tag(&repo, &tag).await
            };
            match result {
                Ok(()) => summary.tags += 1,
                Err(e) => {
                    tracing::warn!(target: "regctl::retention", repository = %name, tag = %d.tag, error = %e, "cannot delete")
                }
            }
        }
    }
    summary
}

/// Runs a pass every `every`, then (when something was deleted) an online
/// collection, until the server's state is dropped.
pub async fn run_periodically(
    state: Weak<AppState>,
    rules: RetentionRules,
    every: Duration,
    dry_run: bool,
) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let Some(state) = state.upgrade() else {
            return;
        };
        let pass = run_once(&state, &rules, dry_run).await;
        let m = &state.metrics;
        m.retention_runs.fetch_add(1, Ordering::Relaxed);
        let counter = if dry_run {
            &m.retention_tags_dry
        } else {
            &m.retention_tags
        };
        counter.fetch_add(pass.tags as u64, Ordering::Relaxed);
        tracing::info!(target: "regctl::retention", tags = pass.tags, manifests = pass.manifests, dry_run, "retention pass done");
        if !dry_run && pass.manifests > 0 {
            let opts = crate::types::gc::GcOptions {
                min_age: super::admin::DEFAULT_ONLINE_MIN_AGE,
                ..Default::default()
            };
            if let Err(e) = super::admin::run(&state, &opts, false).await {
                tracing::warn!(target: "regctl::retention", error = ?e, "collection after retention failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_and_bad_ones_name_the_line() {
        let ok = RetentionRules::parse(
            Path::new("r.toml"),
            "[[rule]]\nrepositories = [\"a/**\"]\nkeep = 2\nmatch = \"^v\"\n",
        )
        .unwrap();
        assert_eq!(ok.policy_for("a/b").and_then(|p| p.keep), Some(2));
        assert!(ok.policy_for("b").is_none());
        for (text, line) in [
            ("\n[[rule]]\nrepositories = [\"a\"]\n", 2),
            (
                "[[rule]]\nrepositories = [\"a\"]\nkeep = 1\nolder_than = \"soon\"\n",
                1,
            ),
            ("[[rule]]\nrepositories = [\"a\"]\nkeep = -1\n", 3),
        ] {
            match RetentionRules::parse(Path::new("r.toml"), text) {
                Err(AccessError::Invalid { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }
}
