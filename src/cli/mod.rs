//! Command-line interface: argument parsing (clap), rendering and prompts.

mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Container-registry client, admin tool and embedded OCI registry.
#[derive(Debug, Parser)]
#[command(name = "regctl", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run an OCI registry on registry:2's on-disk layout
    Serve(serve::ServeArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("regctl: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("regctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}
