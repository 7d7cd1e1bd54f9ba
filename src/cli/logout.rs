//! `regctl logout REGISTRY`.

use std::io::Write;

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
    let path = ctx.docker_config_path()?;
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
