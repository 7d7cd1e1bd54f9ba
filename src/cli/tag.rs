//! `regctl tag SRC DST`: put the same manifest under another tag of the
//! same repository, without moving any layer. DST is a bare tag or a full
//! reference in SRC's repository.
//!
//! JSON (`--format json`): `{"source", "reference", "tag", "digest"}`.

use std::io::Write;

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use regctl::ops::resolve;
use regctl::types::{Digest, Reference};

use super::Ctx;
use super::exit::Usage;
use super::output::{self, Format};

#[derive(Debug, Args)]
pub struct TagArgs {
    /// Existing image: NAME[:TAG] or NAME@DIGEST
    pub source: String,
    /// The new tag: a bare tag (stable) or a reference in the same
    /// repository (NAME:stable)
    pub tag: String,
    /// Output format [default: table on a terminal, else plain]
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TagJson {
    source: String,
    reference: String,
    tag: String,
    digest: Digest,
}

/// The reference DST names: a bare tag goes on SRC's repository; a full
/// reference must be in that repository and name a tag.
fn destination(ctx: &Ctx, src: &Reference, dst: &str) -> anyhow::Result<Reference> {
    // A tag holds none of these; a reference with a repository does.
    if !dst.contains(['/', ':', '@']) {
        return Ok(src.with_tag(dst)?);
    }
    let r = ctx.reference(dst)?;
    if r.registry() != src.registry() || r.repository() != src.repository() {
        return Err(Usage(format!(
            "{dst:?} is in repository {}, not {}: `regctl tag` names images within one \
             repository; to put the image in another one, copy it: `regctl cp {src} {r}`",
            r.repo_only(),
            src.repo_only()
        ))
        .into());
    }
    if r.digest().is_some() {
        return Err(Usage(format!(
            "{dst:?} names a digest: give the new tag, as TAG or NAME:TAG"
        ))
        .into());
    }
    match r.tag() {
        Some(_) => Ok(r),
        None => Err(Usage(format!(
            "{dst:?} names no tag: give the new tag, as TAG or NAME:TAG"
        ))
        .into()),
    }
}

pub async fn run(args: TagArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let src = ctx.reference(&args.source)?;
    let dst = destination(ctx, &src, &args.tag)?;
    let tag = dst.tag().unwrap_or_default().to_owned();
    let manifest = resolve::manifest(&ctx.client, &src, None).await?;
    let digest = ctx
        .client
        .manifest_put(
            &src.repo_only(),
            &tag,
            manifest.media_type().as_str(),
            manifest.raw().clone(),
        )
        .await
        .with_context(|| format!("tagging {dst}"))?;
    let mut out = std::io::stdout().lock();
    match output::resolve(args.format) {
        Format::Json => output::write_json(
            &mut out,
            &TagJson {
                source: src.to_string(),
                reference: dst.to_string(),
                tag,
                digest,
            },
        )?,
        Format::Table | Format::Plain => writeln!(out, "tagged {digest} as {dst}")?,
    }
    out.flush()?;
    Ok(())
}
