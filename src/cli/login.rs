//! `regctl login REGISTRY`: check credentials against `/v2/`, then save them
//! in Docker's config.json (or its credential helper).

use std::io::{Read, Write};

use anyhow::Context;
use clap::Args;

use regctl::client::{Credential, DockerConfig, ErrorKind, Secret};

use super::exit::{LoginRejected, Usage};
use super::{Ctx, prompt};

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Registry host[:port]
    #[arg(value_name = "REGISTRY")]
    pub server: String,
    /// User name
    #[arg(short, long)]
    pub username: Option<String>,
    /// Read the password from stdin
    #[arg(long)]
    pub password_stdin: bool,
}

pub async fn run(args: LoginArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let registry = ctx.registry(&args.server)?;
    let username = match args.username {
        Some(u) => u,
        None if prompt::interactive() && !args.password_stdin => prompt::input("Username")?,
        None => return Err(Usage("pass the user name with -u USER".into()).into()),
    };
    if username.is_empty() || username.contains(':') {
        return Err(Usage("the user name must be non-empty and contain no ':'".into()).into());
    }
    let password = if args.password_stdin {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading the password from stdin")?;
        s.trim_end_matches(['\n', '\r']).to_owned()
    } else if prompt::interactive() {
        prompt::password("Password")?
    } else {
        return Err(Usage(
            "no terminal to ask for the password on: pass --password-stdin and pipe it in".into(),
        )
        .into());
    };
    if password.is_empty() {
        return Err(Usage("the password is empty".into()).into());
    }
    let cred = Credential::Basic {
        username,
        password: Secret::new(password),
    };
    ctx.client.set_credential(&registry, cred.clone());
    match ctx.client.ping(&registry).await {
        Ok(()) => {}
        Err(source) if source.kind() == ErrorKind::Auth => {
            return Err(LoginRejected { registry, source }.into());
        }
        Err(e) => return Err(e).with_context(|| format!("logging in to {registry}")),
    }
    let path = ctx.docker_config_path()?;
    let mut cfg = DockerConfig::load(&path)?;
    cfg.store(&registry, &cred)?;
    cfg.save()?;
    let mut out = std::io::stdout().lock();
    match cfg.helper_for(&registry) {
        Some(h) => writeln!(
            out,
            "Login succeeded: credentials for {registry} saved with docker-credential-{h}"
        )?,
        None => writeln!(
            out,
            "Login succeeded: credentials for {registry} saved in {}",
            path.display()
        )?,
    }
    out.flush()?;
    Ok(())
}
