//! `regctl rm REF`: delete a manifest by digest (taking every tag that
//! points to it along), or with `--tag-only` just one tag.
//!
//! The plan names the tags that go, the platform manifests of an index, and
//! the tagged indexes that list the manifest: deleting one of those children
//! breaks the index, so it is refused without `--force`.
//!
//! JSON (`--format json`): `{"reference", "repository", "digest",
//! "mediaType", "tags", "children": [{"digest", "mediaType", "platform"}],
//! "parents": [{"digest", "tags", "platform"}], "dryRun", "deleted"}`; with
//! `--tag-only`: `{"reference", "repository", "digest", "tags": [TAG],
//! "tagOnly": true, "dryRun", "deleted", "throwAway"}`.

use std::io::Write;

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use regctl::client::UntagMethod;
use regctl::ops::remove::{self, LOOKUP_CONCURRENCY, RemovalPlan};
use regctl::ops::resolve;
use regctl::types::{Digest, Platform};

use super::Ctx;
use super::exit::{Refused, Usage};
use super::output::{self, Format};
use super::prompt;

#[derive(Debug, Args)]
pub struct RmArgs {
    /// NAME:TAG or NAME@DIGEST
    pub reference: String,
    /// Do not ask for confirmation
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Only show what would be deleted
    #[arg(long)]
    pub dry_run: bool,
    /// Remove only this tag; keep the manifest and its other tags
    #[arg(long)]
    pub tag_only: bool,
    /// Delete the image of this platform (os/arch[/variant]) out of the index
    /// REF names (refused without --force: it breaks the index)
    #[arg(long, value_name = "PLATFORM", conflicts_with = "tag_only")]
    pub platform: Option<String>,
    /// Delete even a manifest that a tagged index lists (that index then
    /// fails to pull for its platform)
    #[arg(long)]
    pub force: bool,
    /// Output format [default: table on a terminal, else plain]
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RmJson<'a> {
    reference: String,
    #[serde(flatten)]
    plan: &'a RemovalPlan,
    dry_run: bool,
    deleted: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UntagJson {
    reference: String,
    repository: String,
    digest: Digest,
    tags: Vec<String>,
    tag_only: bool,
    dry_run: bool,
    deleted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    throw_away: Option<Digest>,
}

pub async fn run(args: RmArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let r = ctx.reference(&args.reference)?;
    if r.tag().is_none() && r.digest().is_none() {
        return Err(Usage(format!(
            "{:?} names neither a tag nor a digest: pass NAME:TAG or NAME@DIGEST (regctl rm never assumes :latest)",
            args.reference
        ))
        .into());
    }
    let platform = args.platform.as_deref().map(Platform::parse).transpose()?;
    let json = output::resolve(args.format) == Format::Json;
    let client = &ctx.client;
    let repo = r.repo_only();
    let mut out = std::io::stdout().lock();

    if args.tag_only {
        let Some(tag) = r.tag() else {
            return Err(Usage("--tag-only needs a reference with a tag (NAME:TAG)".into()).into());
        };
        let digest = resolve::digest(client, &r, None).await?;
        let mut report = UntagJson {
            reference: r.to_string(),
            repository: repo.to_string(),
            digest: digest.clone(),
            tags: vec![tag.to_owned()],
            tag_only: true,
            dry_run: args.dry_run,
            deleted: false,
            throw_away: None,
        };
        if !json {
            writeln!(
                out,
                "will remove tag {repo}:{tag} (manifest {digest} and its other tags stay)"
            )?;
            out.flush()?;
        }
        if !args.dry_run {
            prompt::confirm_destructive(&format!("Remove tag {repo}:{tag}?"), args.yes)?;
            let method = client
                .untag(&r, &digest)
                .await
                .with_context(|| format!("removing tag {repo}:{tag}"))?;
            report.deleted = true;
            if let UntagMethod::ThrowAwayManifest { throwaway } = method {
                report.throw_away = Some(throwaway);
            }
            if !json {
                match &report.throw_away {
                    None => writeln!(out, "removed tag {repo}:{tag}")?,
                    Some(throwaway) => writeln!(
                        out,
                        "removed tag {repo}:{tag} (moved onto throw-away manifest {throwaway}, then deleted it)"
                    )?,
                }
            }
        }
        if json {
            output::write_json(&mut out, &report)?;
        }
        out.flush()?;
        return Ok(());
    }

    let target = resolve::manifest(client, &r, platform.as_ref()).await?;
    let plan = remove::plan(client, &repo, &target, LOOKUP_CONCURRENCY)
        .await
        .with_context(|| {
            format!(
                "finding the tags and indexes of {repo} that point to {}",
                target.digest()
            )
        })?;
    let digest = &plan.digest;
    if !json {
        show_plan(&mut out, &plan, args.force)?;
        out.flush()?;
    }
    let refused = !plan.parents.is_empty() && !args.force;
    if args.dry_run {
        if json {
            output::write_json(
                &mut out,
                &RmJson {
                    reference: r.to_string(),
                    plan: &plan,
                    dry_run: true,
                    deleted: false,
                },
            )?;
        }
        out.flush()?;
        return Ok(());
    }
    if refused {
        return Err(Refused(refusal(&plan)).into());
    }
    let others: Vec<&str> = plan
        .tags
        .iter()
        .map(String::as_str)
        .filter(|t| Some(*t) != r.tag())
        .collect();
    let question = if others.is_empty() {
        format!("Delete {repo}@{}?", digest.short())
    } else {
        format!(
            "Delete {repo}@{} and {} ({})?",
            digest.short(),
            super::output::plural(others.len(), "other tag", "other tags"),
            others.join(", ")
        )
    };
    prompt::confirm_destructive(&question, args.yes)?;
    if let Some(tag) = r.tag() {
        let tag_ref = repo.with_tag(tag)?;
        // With --platform the tag names the index, not what is deleted.
        let expected = if plan.tags.iter().any(|t| t == tag) {
            digest
        } else {
            target_parent_of(&plan, tag).unwrap_or(digest)
        };
        client
            .ensure_unmoved(&tag_ref, expected)
            .await
            .with_context(|| format!("re-checking {tag_ref} before deleting"))?;
    }
    client
        .manifest_delete(&repo, digest)
        .await
        .with_context(|| format!("deleting {repo}@{digest}"))?;
    if json {
        output::write_json(
            &mut out,
            &RmJson {
                reference: r.to_string(),
                plan: &plan,
                dry_run: false,
                deleted: true,
            },
        )?;
    } else {
        writeln!(out, "deleted {repo}@{digest}")?;
    }
    out.flush()?;
    Ok(())
}

/// The index digest `tag` named when the plan was made, if it is a parent.
fn target_parent_of<'a>(plan: &'a RemovalPlan, tag: &str) -> Option<&'a Digest> {
    plan.parents
        .iter()
        .find(|p| p.tags.iter().any(|t| t == tag))
        .map(|p| &p.digest)
}

fn show_plan(out: &mut impl Write, plan: &RemovalPlan, force: bool) -> anyhow::Result<()> {
    writeln!(
        out,
        "will delete manifest {}@{}",
        plan.repository, plan.digest
    )?;
    if plan.tags.is_empty() {
        writeln!(out, "no tag points to it")?;
    } else {
        writeln!(out, "tags deleted with it: {}", plan.tags.join(", "))?;
    }
    if !plan.children.is_empty() {
        writeln!(
            out,
            "it is an index of {} manifest(s); they stay, untagged (`regctl gc --delete-untagged` removes them):",
            plan.children.len()
        )?;
        for c in &plan.children {
            writeln!(
                out,
                "  {} {}",
                c.platform.as_deref().unwrap_or("(no platform)"),
                c.digest
            )?;
        }
    }
    if !plan.parents.is_empty() {
        writeln!(
            out,
            "listed by {} tagged index(es), which break without it:",
            plan.parents.len()
        )?;
        for p in &plan.parents {
            writeln!(
                out,
                "  {} (tags: {}) as {}",
                p.digest,
                p.tags.join(", "),
                p.platform.as_deref().unwrap_or("a platform-less entry")
            )?;
        }
        if !force {
            writeln!(out, "refused without --force")?;
        }
    }
    Ok(())
}

fn refusal(plan: &RemovalPlan) -> String {
    let parents: Vec<String> = plan
        .parents
        .iter()
        .map(|p| {
            format!(
                "index {} (tags: {}){}",
                p.digest,
                p.tags.join(", "),
                p.platform
                    .as_deref()
                    .map(|pl| format!(" lists it as {pl}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    let first_tag = plan
        .parents
        .first()
        .and_then(|p| p.tags.first())
        .map_or("TAG", String::as_str);
    format!(
        "refusing to delete {}@{}: {}; without it that image fails to pull for its platform \
         (MANIFEST_UNKNOWN). Delete the whole index instead (`regctl rm {}:{first_tag}`), or pass \
         --force to delete this manifest anyway",
        plan.repository,
        plan.digest,
        parents.join("; "),
        plan.repository,
    )
}
