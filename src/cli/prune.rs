//! `regctl prune REPO`: tag retention (`--keep N`, `--older-than`,
//! `--match`, `--exclude`), shown as a plan, confirmed, then carried out.
//!
//! JSON (`--format json`): the plan (`repository`, `keep` and `delete`: tags
//! with `digest`, `created`, `reason`; `manifests` deleted with their tags),
//! plus `dryRun` and, after a real run, `summary`.

use std::io::Write;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use clap::Args;
use regex::Regex;
use serde::Serialize;

use regctl::ops::prune::{self, Policy, PrunePlan, PruneSummary, Reason, TagDecision};

use super::Ctx;
use super::exit::Usage;
use super::output::{self, Format, plural};
use super::prompt;

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// The repository (NAME or HOST/NAME)
    pub repository: String,
    /// Keep the newest N of the selected tags (by the image's created time)
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,
    /// Delete only selected tags created longer ago than DURATION (e.g. 30d)
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub older_than: Option<Duration>,
    /// Select only tags matching REGEX (default: every tag)
    #[arg(long = "match", value_name = "REGEX")]
    pub matching: Option<Regex>,
    /// Never select tags matching REGEX
    #[arg(long, value_name = "REGEX")]
    pub exclude: Option<Regex>,
    /// Only show the plan
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Output format: table (the plan for people, the default), json (the
    /// plan, and the summary after a real run) or plain (`keep|delete<TAB>TAG
    /// <TAB>DIGEST<TAB>CREATED<TAB>REASON`, `manifest<TAB>DIGEST` lines, then
    /// `tagsDeleted`/`manifestsDeleted<TAB>N` after a real run)
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonReport<'a> {
    #[serde(flatten)]
    plan: &'a PrunePlan,
    dry_run: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<&'a PruneSummary>,
}

fn reason(r: Reason) -> &'static str {
    match r {
        Reason::NotMatched => "not matched by --match",
        Reason::Excluded => "excluded by --exclude",
        Reason::AgeUnknown => "creation time unknown",
        Reason::Newest => "among the newest (--keep)",
        Reason::TooRecent => "newer than --older-than",
        Reason::Selected => "to delete",
    }
}

/// The JSON name of a reason (`not_matched`, …), for plain lines.
fn reason_key(r: Reason) -> String {
    serde_json::to_value(r)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn plain_line(out: &mut impl Write, verdict: &str, d: &TagDecision) -> anyhow::Result<()> {
    output::write_plain(
        out,
        &[
            verdict,
            &d.tag,
            &d.digest.to_string(),
            d.created.as_deref().unwrap_or("-"),
            &reason_key(d.reason),
        ],
    )
}

fn line(d: &TagDecision) -> String {
    format!(
        "  {:<24} {} {:<30} {}",
        d.tag,
        d.digest.short(),
        d.created.as_deref().unwrap_or("-"),
        reason(d.reason)
    )
}

pub async fn run(args: PruneArgs, ctx: &Ctx) -> anyhow::Result<()> {
    if args.keep.is_none() && args.older_than.is_none() {
        return Err(Usage(
            "say what to keep: --keep N (newest N tags) and/or --older-than DURATION (e.g. 30d)"
                .into(),
        )
        .into());
    }
    let repo = ctx.reference(&args.repository)?;
    if repo.tag().is_some() || repo.digest().is_some() {
        return Err(Usage(format!(
            "{:?}: give a repository without a tag or digest",
            args.repository
        ))
        .into());
    }
    let policy = Policy {
        keep: args.keep,
        older_than: args.older_than,
        matching: args.matching.clone(),
        excluding: args.exclude.clone(),
    };
    let plan = prune::plan(&ctx.client, &repo, &policy, SystemTime::now())
        .await
        .with_context(|| format!("examining the tags of {repo}"))?;
    let format = output::resolve_report(args.format);
    let json = format == Format::Json;
    let mut out = std::io::stdout().lock();
    if format == Format::Plain {
        for d in &plan.keep {
            plain_line(&mut out, "keep", d)?;
        }
        for d in &plan.delete {
            plain_line(&mut out, "delete", d)?;
        }
        for m in &plan.manifests {
            output::write_plain(&mut out, &["manifest", &m.to_string()])?;
        }
        out.flush()?;
    } else if format == Format::Table {
        writeln!(out, "keep {}:", plural(plan.keep.len(), "tag", "tags"))?;
        for d in &plan.keep {
            writeln!(out, "{}", line(d))?;
        }
        writeln!(out, "delete {}:", plural(plan.delete.len(), "tag", "tags"))?;
        for d in &plan.delete {
            writeln!(out, "{}", line(d))?;
        }
        if !plan.manifests.is_empty() {
            writeln!(
                out,
                "manifests deleted with them (no kept tag uses them): {}",
                plan.manifests.len()
            )?;
        }
        out.flush()?;
    }
    let summary = if args.dry_run || plan.delete.is_empty() {
        None
    } else {
        prompt::confirm_destructive(
            &format!(
                "Delete {} of {repo} and {}?",
                plural(plan.delete.len(), "tag", "tags"),
                plural(plan.manifests.len(), "manifest", "manifests")
            ),
            args.yes,
        )?;
        Some(
            prune::apply(&ctx.client, &repo, &plan)
                .await
                .with_context(|| format!("pruning {repo}"))?,
        )
    };
    if json {
        output::write_json(
            &mut out,
            &JsonReport {
                plan: &plan,
                dry_run: args.dry_run,
                summary: summary.as_ref(),
            },
        )?;
    } else if let Some(s) = summary.as_ref().filter(|_| format == Format::Plain) {
        output::write_plain_fields(&mut out, s)?;
    } else if let Some(s) = &summary {
        writeln!(
            out,
            "deleted {} and {} of {repo}",
            plural(s.tags_deleted, "tag", "tags"),
            plural(s.manifests_deleted, "manifest", "manifests")
        )?;
        writeln!(
            out,
            "the space is reclaimed by a garbage collection: `regctl gc {} --delete-untagged` on regctl serve, \
             `regctl gc --root DIR --delete-untagged` on a stopped registry:2's storage, or \
             `regctl gc --container NAME` for registry:2 in a container",
            repo.registry()
        )?;
    }
    out.flush()?;
    Ok(())
}
