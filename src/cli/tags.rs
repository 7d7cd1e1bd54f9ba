//! `regctl tags REPO`.
//!
//! JSON (`--format json`): `{"repository": "HOST/NAME", "tags": ["1.0", "latest"]}`
//! (`tags` is `[]`, never null, for a repository without tags).

use std::io::Write;

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use super::Ctx;
use super::exit::Usage;
use super::output::{self, Format};

#[derive(Debug, Args)]
pub struct TagsArgs {
    /// Repository, e.g. localhost:5000/busybox or busybox
    pub repo: String,
    /// Ask the registry for N tags per page
    #[arg(long, value_name = "N")]
    pub page_size: Option<usize>,
    /// Output format [default: table on a terminal, else plain]
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

/// `tags` as JSON.
#[derive(Debug, Serialize)]
pub struct TagsJson<'a> {
    pub repository: String,
    pub tags: &'a [String],
}

pub async fn run(args: TagsArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let r = ctx.reference(&args.repo)?;
    if r.tag().is_some() || r.digest().is_some() {
        return Err(Usage(format!(
            "{:?} names a tag or digest: `regctl tags` takes a repository, e.g. {}",
            args.repo,
            r.repo_only()
        ))
        .into());
    }
    let context = || format!("listing tags of {r}");
    let mut pager = ctx
        .client
        .tags_pager(&r, args.page_size)
        .with_context(context)?;
    let format = output::resolve(args.format);
    if format == Format::Plain {
        // Page by page, as `ls` does.
        while let Some(page) = pager.next_page().await.with_context(context)? {
            let mut out = std::io::stdout().lock();
            for t in &page {
                writeln!(out, "{t}")?;
            }
            out.flush()?;
        }
        return Ok(());
    }
    let tags = pager.collect().await.with_context(context)?;
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => output::write_json(
            &mut out,
            &TagsJson {
                repository: r.to_string(),
                tags: &tags,
            },
        )?,
        Format::Plain | Format::Table => {
            let t = output::table(&["TAG"], tags.iter().map(|t| vec![t.clone()]));
            output::write_table(&mut out, &t)?;
        }
    }
    out.flush()?;
    Ok(())
}
