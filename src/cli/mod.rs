//! Command-line interface: argument parsing (clap), rendering and prompts.

mod completions;
mod config;
mod cp;
mod digest;
mod docs;
mod du;
mod examples;
mod exit;
mod gc;
mod inspect;
mod login;
mod logout;
mod ls;
mod output;
mod prompt;
mod prune;
mod rm;
mod serve;
mod settings;
mod tag;
mod tags;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use regctl::client::Client;
use regctl::types::reference::{Scheme, split_scheme};
use regctl::types::{ImageRef, Reference};

use settings::{GlobalInput, Settings, Source};

/// Container-registry client, admin tool and embedded OCI registry.
#[derive(Debug, Parser)]
#[command(name = "regctl", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Registry for references without a host (default: config file's
    /// default_registry, else docker.io)
    #[arg(
        short = 'r',
        long,
        env = "REGCTL_REGISTRY",
        hide_env_values = true,
        global = true,
        value_name = "HOST"
    )]
    pub registry: Option<String>,
    /// Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Allow plain http to any registry (loopback registries use http by default)
    #[arg(long, global = true)]
    pub insecure: bool,
    /// Trust this certificate (PEM) for TLS: a CA, or the registry's own
    /// self-signed certificate; repeatable
    #[arg(long, global = true, value_name = "FILE")]
    pub ca_cert: Vec<PathBuf>,
    /// Give up on a registry that makes no progress for this long
    /// (connecting, or between reads; not a cap on long transfers), e.g.
    /// 30s, 2m [default: 30s]
    #[arg(long, env = "REGCTL_TIMEOUT", global = true, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Log HTTP requests to stderr (never credentials or tokens)
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the repositories of a registry (/v2/_catalog, all pages)
    Ls(ls::LsArgs),
    /// List the tags of a repository (all pages)
    Tags(tags::TagsArgs),
    /// Print the digest of a manifest as the registry stores it
    Digest(digest::DigestArgs),
    /// Show a manifest: media type, digest, size, platforms, config and layers
    Inspect(inspect::InspectArgs),
    /// Delete a manifest (and every tag pointing to it), or only one tag
    Rm(rm::RmArgs),
    /// Copy an image or a whole multi-arch index between registries, OCI layouts and archives
    #[command(alias = "copy")]
    Cp(cp::CpArgs),
    /// Delete old tags of a repository: keep the newest N, drop those older than a duration
    Prune(prune::PruneArgs),
    /// Storage use per repository (or per tag): total, unique and shared bytes
    Du(du::DuArgs),
    /// Collect garbage: offline over a storage root, online on a running
    /// regctl serve, or with registry:2's collector in its container
    Gc(gc::GcArgs),
    /// Put an image under another tag of its repository (no layers move)
    Tag(tag::TagArgs),
    /// Save credentials for a registry in Docker's config.json
    Login(login::LoginArgs),
    /// Remove saved credentials for a registry
    Logout(logout::LogoutArgs),
    /// Show the effective settings and where each came from
    Config(config::ConfigArgs),
    /// Print a shell completion script
    Completions(completions::CompletionsArgs),
    /// Run an OCI registry on registry:2's on-disk layout
    Serve(Box<serve::ServeArgs>),
    /// Write the completion scripts and man pages (for maintainers)
    #[command(hide = true)]
    GenerateDocs(docs::DocsArgs),
    /// Print completion candidates for the words of a command line (used by
    /// the scripts of `regctl completions`)
    #[command(name = "__complete", hide = true)]
    Complete(completions::CompleteArgs),
}

/// Global options that mean nothing to a command, hidden from its help (and
/// its completions and man page); they are still accepted.
const UNUSED_GLOBALS: &[(&str, &[&str])] = &[
    (
        "serve",
        &[
            "registry", "config", "insecure", "ca_cert", "timeout", "verbose",
        ],
    ),
    (
        "completions",
        &[
            "registry", "config", "insecure", "ca_cert", "timeout", "verbose",
        ],
    ),
    (
        "logout",
        &[
            "registry", "config", "insecure", "ca_cert", "timeout", "verbose",
        ],
    ),
    // login takes the registry as its argument.
    ("login", &["registry"]),
];

/// The command-line interface as parsed, shown in `--help`, completed and
/// rendered into man pages: the derived definition plus the examples of
/// `examples.rs` and the per-command view of the global options.
pub fn command() -> clap::Command {
    let cmd = examples::attach(Cli::command());
    let globals: Vec<clap::Arg> = cmd
        .get_arguments()
        .filter(|a| a.is_global_set())
        .cloned()
        .collect();
    // A subcommand that already has an argument does not get the global
    // one copied in when the command is built: a hidden copy hides it.
    let mut cmd = cmd.mut_subcommands(|sub| {
        let hidden = UNUSED_GLOBALS
            .iter()
            .find(|(name, _)| *name == sub.get_name())
            .map_or(&[][..], |(_, ids)| *ids);
        globals
            .iter()
            .filter(|a| hidden.contains(&a.get_id().as_str()))
            .fold(sub, |sub, a| sub.arg(a.clone().global(false).hide(true)))
    });
    cmd.build();
    cmd
}

/// What a command runs with: settings and a client.
pub struct Ctx {
    pub settings: Settings,
    pub client: Client,
}

impl Ctx {
    fn new(settings: Settings) -> anyhow::Result<Self> {
        let client =
            Client::new(settings.client_options()).context("cannot set up the registry client")?;
        Ok(Ctx { settings, client })
    }

    /// Where Docker's `config.json` is, for login and logout.
    pub fn docker_config_path(&self) -> anyhow::Result<std::path::PathBuf> {
        self.settings
            .docker_config
            .value
            .clone()
            .context("cannot find a home directory for Docker's config.json; set DOCKER_CONFIG")
    }

    /// Parses a reference; short names go to the default registry. An
    /// `http://` or `https://` prefix says how to reach its registry.
    pub fn reference(&self, input: &str) -> anyhow::Result<Reference> {
        let (scheme, rest) = split_scheme(input);
        let r = Reference::parse(rest, &self.settings.default_registry.value)?;
        self.use_scheme(r.registry(), scheme, input)?;
        Ok(r)
    }

    /// Parses a registry argument (see [`registry_arg`]), honouring an
    /// `http://` or `https://` prefix.
    pub fn registry(&self, input: &str) -> anyhow::Result<String> {
        let registry = registry_arg(input)?;
        self.use_scheme(&registry, split_scheme(input).0, input)?;
        Ok(registry)
    }

    /// Parses a `cp` location: a store (`oci:`...) or a registry reference,
    /// which may start with `http://` or `https://`.
    pub fn image_ref(&self, input: &str) -> anyhow::Result<ImageRef> {
        let (scheme, rest) = split_scheme(input);
        let parsed = ImageRef::parse(rest, &self.settings.default_registry.value)
            .map_err(|e| exit::Usage(e.to_string()))?;
        if let ImageRef::Registry(r) = &parsed {
            self.use_scheme(r.registry(), scheme, input)?;
        }
        Ok(parsed)
    }

    /// Makes the client speak `scheme` to `registry`; one scheme per
    /// registry and command.
    fn use_scheme(
        &self,
        registry: &str,
        scheme: Option<Scheme>,
        input: &str,
    ) -> anyhow::Result<()> {
        let Some(scheme) = scheme else {
            return Ok(());
        };
        if let Some(before) = self.client.fixed_scheme(registry)
            && before != scheme
        {
            return Err(exit::Usage(format!(
                "{input:?} says {scheme}:// but {registry} was already given as {before}://; \
                 use one scheme per registry"
            ))
            .into());
        }
        self.client.set_scheme(registry, scheme);
        Ok(())
    }
}

/// Where a global option's value came from: its flag or its variable.
fn global_source(matches: &clap::ArgMatches, id: &str, flag: &str, env: &str) -> Source {
    let sub = matches.subcommand().map(|(_, m)| m);
    let src = sub
        .and_then(|m| m.value_source(id))
        .or_else(|| matches.value_source(id));
    match src {
        Some(ValueSource::EnvVariable) => Source::Env(env.into()),
        _ => Source::Flag(flag.into()),
    }
}

pub fn main() -> ExitCode {
    let matches = command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    if let Command::Complete(args) = cli.command {
        completions::complete(args, std::env::var("REGCTL_REGISTRY").ok());
        return ExitCode::SUCCESS;
    }
    if cli.global.verbose {
        let _ = tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_target(false)
            .with_level(false)
            .with_ansi(exit::color_enabled())
            .without_time()
            .with_env_filter(tracing_subscriber::EnvFilter::new("regctl=debug"))
            .try_init();
    }
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
    let input = GlobalInput {
        registry: cli
            .global
            .registry
            .clone()
            .filter(|r| !r.is_empty())
            .map(|r| {
                (
                    r,
                    global_source(&matches, "registry", "--registry", "REGCTL_REGISTRY"),
                )
            }),
        config: cli.global.config.clone(),
        insecure: cli.global.insecure,
        ca_certs: cli.global.ca_cert.clone(),
        timeout: cli
            .global
            .timeout
            .clone()
            .filter(|t| !t.is_empty())
            .map(|t| {
                (
                    t,
                    global_source(&matches, "timeout", "--timeout", "REGCTL_TIMEOUT"),
                )
            }),
    };
    let result = runtime.block_on(run(cli.command, input));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => exit::report(&e),
    }
}

async fn run(command: Command, input: GlobalInput) -> anyhow::Result<()> {
    // Commands that need neither settings nor a client.
    let command = match command {
        Command::Completions(args) => return completions::run(args),
        Command::GenerateDocs(args) => return docs::run(args),
        other => other,
    };
    let settings = Settings::resolve(input)?;
    if let Command::Serve(args) = command {
        return serve::run(*args, &settings).await;
    }
    if let Command::Config(args) = command {
        return config::run(args, &settings);
    }
    let ctx = Ctx::new(settings)?;
    match command {
        Command::Ls(a) => ls::run(a, &ctx).await,
        Command::Tags(a) => tags::run(a, &ctx).await,
        Command::Digest(a) => digest::run(a, &ctx).await,
        Command::Inspect(a) => inspect::run(a, &ctx).await,
        Command::Rm(a) => rm::run(a, &ctx).await,
        Command::Cp(a) => cp::run(a, &ctx).await,
        Command::Tag(a) => tag::run(a, &ctx).await,
        Command::Gc(a) => gc::run(a, &ctx).await,
        Command::Du(a) => du::run(a, &ctx).await,
        Command::Prune(a) => prune::run(a, &ctx).await,
        Command::Login(a) => login::run(a, &ctx).await,
        Command::Logout(a) => logout::run(a, &ctx).await,
        Command::Serve(_)
        | Command::Completions(_)
        | Command::GenerateDocs(_)
        | Command::Complete(_)
        | Command::Config(_) => Ok(()),
    }
}

/// Normalises a registry argument: accepts `https://host/` forms as docker
/// does (the scheme itself is honoured by [`Ctx::registry`]).
pub fn registry_arg(input: &str) -> anyhow::Result<String> {
    let s = split_scheme(input).1;
    let s = s.split('/').next().unwrap_or(s);
    let s = match s {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => "docker.io",
        other => other,
    };
    regctl::types::reference::validate_registry(s).map_err(|_| {
        exit::Usage(format!(
            "invalid registry {input:?}: expected a host name with an optional port, e.g. localhost:5000"
        ))
    })?;
    Ok(s.to_owned())
}
