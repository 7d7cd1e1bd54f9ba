//! `regctl logout REGISTRY`.

use std::io::Write;

use anyhow::Context;
use clap::Args;

use regctl::client::DockerConfig;

use super::{Ctx, registry_arg};

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Registry host[:port]
    #[arg(value_name = "REGISTRY")]
    pub server: String,
}

pub async fn run(args: LogoutArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let registry = registry_arg(&args.server)?;
    let path = ctx
        .settings
        .docker_config
        .value
        .clone()
        .context("cannot find a home directory for Docker's config.json; set DOCKER_CONFIG")?;
    let mut cfg = DockerConfig::load(&path)?;
    let found = cfg.erase(&registry)?;
    let mut out = std::io::stdout().lock();
    if found {
        cfg.save()?;
        writeln!(out, "Removed credentials for {registry}")?;
    } else {
        writeln!(out, "Not logged in to {registry}")?;
    }
    out.flush()?;
    Ok(())
}
