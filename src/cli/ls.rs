//! `regctl ls [REGISTRY]`.
//!
//! JSON (`--format json`): `{"registry": "HOST", "repositories": ["a", "b/c"]}`.

use std::io::Write;

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use super::Ctx;
use super::output::{self, Format};

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Registry (host[:port]); default: the default registry
    #[arg(value_name = "REGISTRY")]
    pub server: Option<String>,
    /// Stop after N repositories
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Ask the registry for N names per page
    #[arg(long, value_name = "N")]
    pub page_size: Option<usize>,
    /// Output format [default: table on a terminal, else plain]
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

/// `ls` as JSON.
#[derive(Debug, Serialize)]
pub struct LsJson<'a> {
    pub registry: &'a str,
    pub repositories: &'a [String],
}

pub async fn run(args: LsArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let registry = match &args.server {
        Some(r) => ctx.registry(r)?,
        None => ctx.settings.default_registry.value.clone(),
    };
    let context = || format!("listing repositories of {registry}");
    let mut pager = ctx
        .client
        .catalog_pager(&registry, args.page_size, args.limit)
        .with_context(context)?;
    let format = output::resolve(args.format);
    if format == Format::Plain {
        // Page by page: a huge catalog is printed as it arrives.
        while let Some(page) = pager.next_page().await.with_context(context)? {
            let mut out = std::io::stdout().lock();
            for r in &page {
                writeln!(out, "{r}")?;
            }
            out.flush()?;
        }
        return Ok(());
    }
    let repos = pager.collect().await.with_context(context)?;
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => output::write_json(
            &mut out,
            &LsJson {
                registry: &registry,
                repositories: &repos,
            },
        )?,
        Format::Plain | Format::Table => {
            let t = output::table(&["REPOSITORY"], repos.iter().map(|r| vec![r.clone()]));
            output::write_table(&mut out, &t)?;
        }
    }
    out.flush()?;
    Ok(())
}
