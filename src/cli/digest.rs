//! `regctl digest REF`: the manifest digest as stored, nothing else.
//!
//! JSON (`--format json`): `{"reference", "digest"}`, plus `"platform"`
//! with `--platform`.

use std::io::Write;

use clap::Args;
use serde::Serialize;

use regctl::ops::resolve;
use regctl::types::{Digest, Platform};

use super::Ctx;
use super::output::{self, Format};

#[derive(Debug, Args)]
pub struct DigestArgs {
    /// Image reference: NAME[:TAG] or NAME@DIGEST (a digest is verified)
    pub reference: String,
    /// The digest of this platform's image (os/arch[/variant]): an index's
    /// child, or a single image if it is built for it (else an error)
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Output format [default: table on a terminal, else plain; both print
    /// the digest alone]
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DigestJson {
    reference: String,
    digest: Digest,
    #[serde(skip_serializing_if = "Option::is_none")]
    platform: Option<String>,
}

pub async fn run(args: DigestArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let r = ctx.reference(&args.reference)?;
    let platform = args.platform.as_deref().map(Platform::parse).transpose()?;
    let digest = resolve::digest(&ctx.client, &r, platform.as_ref()).await?;
    let mut out = std::io::stdout().lock();
    match output::resolve(args.format) {
        Format::Json => output::write_json(
            &mut out,
            &DigestJson {
                reference: r.to_string(),
                digest,
                platform: platform.map(|p| p.to_string()),
            },
        )?,
        Format::Table | Format::Plain => writeln!(out, "{digest}")?,
    }
    out.flush()?;
    Ok(())
}
