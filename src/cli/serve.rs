//! `regctl serve`: run the embedded registry.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use regctl::server::{self, ServerConfig, TlsFiles};
use regctl::storage::RootLock;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Serve an OCI registry whose data directory uses registry:2's layout.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1", value_name = "HOST")]
    pub addr: String,
    /// Port to listen on (0 picks a free port; the chosen one is printed)
    #[arg(long, short, default_value_t = 5000)]
    pub port: u16,
    /// Storage root, the directory holding docker/registry/v2
    /// [default: $REGCTL_ROOT, else ~/.local/share/regctl/registry]
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Answer DELETE with 405 UNSUPPORTED, like registry:2 with delete disabled
    #[arg(long)]
    pub no_delete: bool,
    /// Refuse every write with 405 UNSUPPORTED
    #[arg(long)]
    pub read_only: bool,
    /// Require Basic authentication against this htpasswd file (bcrypt entries, `htpasswd -B`)
    #[arg(long, value_name = "FILE")]
    pub htpasswd: Option<PathBuf>,
    /// PEM certificate chain for https (with --tls-key)
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for https (with --tls-cert)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Collect garbage online every DURATION (e.g. 24h): keeps untagged
    /// manifests and anything written in the last hour
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub gc_interval: Option<std::time::Duration>,
    /// Keep at most N connections open; more wait to be accepted
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,
    /// Close a connection that sends nothing for this long between requests
    /// (also the time allowed for request headers)
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, hide = true)]
    pub idle_timeout: Option<std::time::Duration>,
    /// Abort a request whose body makes no progress for this long
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, hide = true)]
    pub body_timeout: Option<std::time::Duration>,
    /// Serve /metrics (and /healthz, /readyz) on this address instead of the
    /// registry's, e.g. 127.0.0.1:9102
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_addr: Option<String>,
    /// Serve /metrics without credentials even with --htpasswd
    #[arg(long)]
    pub metrics_public: bool,
    /// Recompute the stored-bytes metrics this often (a du over the root)
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub metrics_refresh: Option<std::time::Duration>,
    /// Access-log format on stderr
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

fn default_root() -> anyhow::Result<PathBuf> {
    if let Some(root) = std::env::var_os("REGCTL_ROOT").filter(|r| !r.is_empty()) {
        return Ok(PathBuf::from(root));
    }
    let data = dirs::data_dir()
        .context("cannot find a data directory for the default root; pass --root DIR")?;
    Ok(data.join("regctl").join("registry"))
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("REGCTL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    let root = match args.root {
        Some(r) => r,
        None => default_root()?,
    };
    std::fs::create_dir_all(&root)
        .with_context(|| format!("cannot create the storage root {}", root.display()))?;
    let root = root.canonicalize().unwrap_or(root);
    // Held for the server's lifetime: `regctl gc --root` will not sweep
    // under a running server, and the server will not start during one.
    // The lock's error says what holds it or why it cannot be created.
    let _lock = RootLock::shared(&root)?;
    let config = ServerConfig {
        root: root.clone(),
        delete_enabled: !args.no_delete,
        read_only: args.read_only,
        htpasswd: args.htpasswd,
        gc_interval: args.gc_interval,
        limits: server::ConnectionLimits {
            idle_timeout: args.idle_timeout.unwrap_or(server::IDLE_TIMEOUT),
            body_timeout: args.body_timeout.unwrap_or(server::BODY_TIMEOUT),
            max_connections: args.max_connections.map(|n| n as usize),
        },
        metrics: server::MetricsConfig {
            public: args.metrics_public,
            separate: args.metrics_addr.is_some(),
            storage_refresh: args
                .metrics_refresh
                .unwrap_or(server::metrics::DEFAULT_STORAGE_REFRESH),
        },
        ..ServerConfig::new(&root)
    };
    let limits = config.limits.clone();
    let (app, metrics_app) = server::routers(config)?;
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        _ => None,
    };
    let bind = if args.addr.contains(':') && !args.addr.starts_with('[') {
        format!("[{}]:{}", args.addr, args.port)
    } else {
        format!("{}:{}", args.addr, args.port)
    };
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .with_context(|| {
            format!("cannot listen on {bind} (is another registry running there? try --port)")
        })?;
    let local = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut out = std::io::stdout();
    // Scripts and tests wait for this exact line.
    let _ = writeln!(
        out,
        "listening on {scheme}://{local} (root: {})",
        root.display()
    );
    if let Some(addr) = &args.metrics_addr {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} for --metrics-addr"))?;
        let local = listener.local_addr()?;
        let _ = writeln!(out, "metrics on http://{local}/metrics");
        tokio::spawn(async move {
            if let Err(e) = server::serve(listener, metrics_app, None, shutdown_signal()).await {
                tracing::error!(error = %e, "the metrics listener failed");
            }
        });
    }
    let _ = out.flush();
    server::serve_with_limits(listener, app, tls, limits, shutdown_signal()).await?;
    Ok(())
}
