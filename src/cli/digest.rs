//! `regctl digest REF`: the manifest digest as stored, nothing else.

use std::io::Write;

use anyhow::Context;
use clap::Args;

use super::Ctx;

#[derive(Debug, Args)]
pub struct DigestArgs {
    /// Image reference: NAME[:TAG] or NAME@DIGEST (a digest is verified)
    pub reference: String,
}

pub async fn run(args: DigestArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let r = ctx.reference(&args.reference)?;
    let d = ctx
        .client
        .resolve_digest(&r)
        .await
        .with_context(|| format!("resolving {r}"))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{d}")?;
    out.flush()?;
    Ok(())
}
