//! `regctl tag SRC NEWTAG`: put the same manifest under another tag of the
//! same repository, without moving any layer.

use std::io::Write;

use anyhow::Context;
use clap::Args;

use super::Ctx;

#[derive(Debug, Args)]
pub struct TagArgs {
    /// Existing image: NAME[:TAG] or NAME@DIGEST
    pub source: String,
    /// The new tag
    pub tag: String,
}

pub async fn run(args: TagArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let src = ctx.reference(&args.source)?;
    let dst = src.with_tag(&args.tag)?;
    let manifest = ctx
        .client
        .manifest_get(&src)
        .await
        .with_context(|| format!("reading {src}"))?;
    let digest = ctx
        .client
        .manifest_put(
            &src.repo_only(),
            &args.tag,
            manifest.media_type().as_str(),
            manifest.raw().clone(),
        )
        .await
        .with_context(|| format!("tagging {dst}"))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "tagged {} as {dst}", digest)?;
    out.flush()?;
    Ok(())
}
