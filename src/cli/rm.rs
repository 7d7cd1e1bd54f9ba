//! `regctl rm REF`: delete a manifest by digest (taking every tag that
//! points to it along), or with `--tag-only` just one tag.

use std::io::Write;

use anyhow::Context;
use clap::Args;

use regctl::client::UntagMethod;

use super::Ctx;
use super::exit::Usage;
use super::prompt;

/// Tags resolved at once when looking for tags that share the digest.
const TAG_LOOKUP_CONCURRENCY: usize = 8;

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
    let client = &ctx.client;
    let digest = client
        .resolve_digest(&r)
        .await
        .with_context(|| format!("resolving {r}"))?;
    let repo = r.repo_only();
    let mut out = std::io::stdout().lock();

    if args.tag_only {
        let Some(tag) = r.tag() else {
            return Err(Usage("--tag-only needs a reference with a tag (NAME:TAG)".into()).into());
        };
        writeln!(
            out,
            "will remove tag {repo}:{tag} (manifest {digest} and its other tags stay)"
        )?;
        out.flush()?;
        if args.dry_run {
            return Ok(());
        }
        prompt::confirm_destructive(&format!("Remove tag {repo}:{tag}?"), args.yes)?;
        let method = client
            .untag(&r, &digest)
            .await
            .with_context(|| format!("removing tag {repo}:{tag}"))?;
        match method {
            UntagMethod::DeleteByTag => writeln!(out, "removed tag {repo}:{tag}")?,
            UntagMethod::ThrowAwayManifest { throwaway } => writeln!(
                out,
                "removed tag {repo}:{tag} (moved onto throw-away manifest {throwaway}, then deleted it)"
            )?,
        }
        out.flush()?;
        return Ok(());
    }

    let shared = client
        .tags_pointing_to(&repo, &digest, TAG_LOOKUP_CONCURRENCY)
        .await
        .with_context(|| format!("finding the tags of {repo} that point to {digest}"))?;
    writeln!(out, "will delete manifest {repo}@{digest}")?;
    if shared.is_empty() {
        writeln!(out, "no tag points to it")?;
    } else {
        writeln!(out, "tags deleted with it: {}", shared.join(", "))?;
    }
    let others: Vec<&String> = shared
        .iter()
        .filter(|t| Some(t.as_str()) != r.tag())
        .collect();
    out.flush()?;
    if args.dry_run {
        return Ok(());
    }
    let question = if others.is_empty() {
        format!("Delete {repo}@{}?", digest.short())
    } else {
        format!(
            "Delete {repo}@{} and {} ({})?",
            digest.short(),
            super::output::plural(others.len(), "other tag", "other tags"),
            others
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    prompt::confirm_destructive(&question, args.yes)?;
    if let Some(tag) = r.tag() {
        let tag_ref = repo.with_tag(tag)?;
        client
            .ensure_unmoved(&tag_ref, &digest)
            .await
            .with_context(|| format!("re-checking {tag_ref} before deleting"))?;
    }
    client
        .manifest_delete(&repo, &digest)
        .await
        .with_context(|| format!("deleting {repo}@{digest}"))?;
    writeln!(out, "deleted {repo}@{digest}")?;
    out.flush()?;
    Ok(())
}
