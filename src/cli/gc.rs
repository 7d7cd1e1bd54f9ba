//! `regctl gc`: garbage collection offline over a storage root, online
//! through a running `regctl serve`, or by driving registry:2's collector in
//! its container. One plan display, one summary, `--format json`.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{ArgGroup, Args};
use serde::Serialize;

use regctl::client::ErrorKind;
use regctl::ops::gc::{ContainerGc, OfflineRoot};
use regctl::storage::StorageUrl;
use regctl::types::gc::{GcOptions, GcPlan, GcReport, GcSummary, LinkKind};

use super::exit::{Unsupported, Usage};
use super::output::{self, Format, human_size, plural};
use super::{Ctx, prompt};

/// Items of one kind listed before "… and N more".
const LISTED: usize = 20;

/// Online collections keep what was written in the last hour by default.
const ONLINE_MIN_AGE: Duration = Duration::from_secs(3600);

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["registry", "root", "storage", "container", "exec"])))]
pub struct GcArgs {
    /// A running `regctl serve` (HOST:PORT) to collect online
    #[arg(value_name = "REGISTRY")]
    pub registry: Option<String>,
    /// Collect offline over this storage root (registry:2's rootdirectory,
    /// the directory holding docker/registry/v2)
    #[arg(long, value_name = "DIR", conflicts_with_all = ["registry", "container", "exec"])]
    pub root: Option<PathBuf>,
    /// Collect offline over this storage: file:///PATH (as --root PATH) or
    /// s3://BUCKET[/PREFIX] (AWS environment for credentials and endpoint;
    /// no server may write to the bucket meanwhile: with servers running,
    /// collect online through one of them instead)
    #[arg(long, value_name = "URL", conflicts_with_all = ["registry", "root", "container", "exec"])]
    pub storage: Option<String>,
    /// Run registry:2's own collector in this container
    /// (`docker exec NAME registry garbage-collect CONFIG`)
    #[arg(long, value_name = "NAME", conflicts_with = "registry")]
    pub container: Option<String>,
    /// Command prefix to reach registry:2 instead of `docker exec NAME`,
    /// split on spaces (e.g. "podman exec reg", "kubectl exec -n ci reg --")
    #[arg(long, value_name = "PREFIX", conflicts_with = "registry")]
    pub exec: Option<String>,
    /// registry:2's configuration file inside the container (with
    /// --container/--exec; named so as not to clash with the global --config)
    #[arg(
        long,
        value_name = "PATH",
        default_value = "/etc/docker/registry/config.yml"
    )]
    pub registry_config: String,
    /// Also remove manifests no tag reaches; children of a tagged index and
    /// referrers (signatures, SBOMs) of a kept manifest are always kept
    #[arg(long)]
    pub delete_untagged: bool,
    /// Remove repositories left with no tags and no manifests, so they leave
    /// the catalog
    #[arg(long)]
    pub prune_empty_repos: bool,
    /// Keep blobs and manifests written less than DURATION ago (e.g. 1h)
    /// [default: 0 with --root, 1h online]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub min_age: Option<Duration>,
    /// Only show the plan
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// With --root: collect even though a server holds the root or uploads
    /// look in progress
    #[arg(long)]
    pub force: bool,
    /// Output format: table (the plan and a summary for people, the
    /// default), json (the plan and the summary) or plain (a line per item
    /// removed: `manifest|blob|link|upload|repository<TAB>…`, then
    /// `key<TAB>value` summary lines)
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

/// `--format json`: the plan (absent for registry:2's collector) and what
/// was done.
#[derive(Serialize)]
struct JsonReport<'a> {
    plan: Option<&'a GcPlan>,
    summary: &'a GcSummary,
    seconds: f64,
}

pub async fn run(args: GcArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let format = output::resolve_report(args.format);
    let json = format == Format::Json;
    let started = Instant::now();
    if args.container.is_some() || args.exec.is_some() {
        return run_container(&args, json, started).await;
    }
    let opts = GcOptions {
        delete_untagged: args.delete_untagged,
        prune_empty_repos: args.prune_empty_repos,
        min_age: args
            .min_age
            .unwrap_or(if args.root.is_some() || args.storage.is_some() {
                Duration::ZERO
            } else {
                ONLINE_MIN_AGE
            }),
    };
    let mut out = std::io::stdout().lock();
    let mut answering = Duration::ZERO;
    let storage = match (&args.root, &args.storage) {
        (Some(root), _) => Some(StorageUrl::Dir(root.clone())),
        (None, Some(url)) => Some(StorageUrl::parse(url)?),
        (None, None) => None,
    };
    let report = if let Some(storage) = &storage {
        let root = OfflineRoot::open_storage(storage, args.force).await?;
        let planned = root.plan(&opts, args.force).await?;
        if format == Format::Table {
            show_plan(&mut out, planned.plan())?;
        }
        if args.dry_run || planned.plan().is_empty() {
            nothing_done(planned.keep(), args.dry_run)
        } else {
            let asking = Instant::now();
            confirm(planned.plan(), args.yes)?;
            answering = asking.elapsed();
            planned.sweep().await?
        }
    } else {
        let registry = ctx.registry(args.registry.as_deref().unwrap_or_default())?;
        let plan = online(ctx, &registry, &opts, true).await?;
        if format == Format::Table {
            show_plan(&mut out, &plan.plan)?;
        }
        if args.dry_run || plan.plan.is_empty() {
            nothing_done(plan, args.dry_run)
        } else {
            let asking = Instant::now();
            confirm(&plan.plan, args.yes)?;
            answering = asking.elapsed();
            online(ctx, &registry, &opts, false).await?
        }
    };
    // The collection's time, not the time a person took to answer.
    let seconds = (started.elapsed() - answering).as_secs_f64();
    if json {
        output::write_json(
            &mut out,
            &JsonReport {
                plan: Some(&report.plan),
                summary: &report.summary,
                seconds,
            },
        )?;
    } else if format == Format::Plain {
        plain_plan(&mut out, &report.plan)?;
        plain_summary(&mut out, &report.summary, seconds)?;
    } else {
        writeln!(
            out,
            "{}",
            summary_line(&report.summary, Some(&report.plan), opts.min_age, seconds)
        )?;
    }
    out.flush()?;
    Ok(())
}

/// The report of a run that removed nothing: a dry run says "would
/// remove", a real run with an empty plan says it removed nothing.
fn nothing_done(mut report: GcReport, dry_run: bool) -> GcReport {
    report.summary.dry_run = dry_run;
    report
}

async fn online(
    ctx: &Ctx,
    registry: &str,
    opts: &GcOptions,
    dry_run: bool,
) -> anyhow::Result<GcReport> {
    ctx.client
        .collect_garbage(registry, opts, dry_run)
        .await
        .map_err(|e| {
            let no_endpoint = matches!(e.status(), Some(404 | 405)) && e.kind() != ErrorKind::Auth;
            if no_endpoint {
                // The registry's 404/405 says nothing more: leave it out, so
                // no not-found hint follows.
                return Unsupported(format!(
                    "{registry} has no online garbage collection (it answered HTTP {} to \
                     /v2/_regctl/gc: it is not `regctl serve`); for registry:2 run its own \
                     collector with `regctl gc --container NAME`, or stop it and run \
                     `regctl gc --root DIR` on its storage",
                    e.status().unwrap_or_default()
                ))
                .into();
            }
            anyhow::Error::new(e).context(format!("collecting garbage on {registry}"))
        })
}

fn confirm(plan: &GcPlan, yes: bool) -> anyhow::Result<()> {
    prompt::confirm_destructive(
        &format!(
            "Remove {}, {} ({}), {}?",
            plural(plan.manifests.len(), "manifest", "manifests"),
            plural(plan.blobs.len(), "blob", "blobs"),
            human_size(plan.bytes()),
            plural(plan.repositories.len(), "repository", "repositories")
        ),
        yes,
    )
}

fn show_plan(out: &mut impl Write, plan: &GcPlan) -> anyhow::Result<()> {
    writeln!(
        out,
        "scanned {}: {} kept, {} in use",
        plural(plan.repositories_scanned, "repository", "repositories"),
        plural(plan.manifests_kept, "manifest", "manifests"),
        plural(plan.blobs_marked, "blob", "blobs")
    )?;
    for w in &plan.warnings {
        writeln!(out, "warning: {w}")?;
    }
    if plan.is_empty() {
        writeln!(out, "nothing to collect")?;
        return Ok(());
    }
    section(
        out,
        "manifests to delete",
        plan.manifests
            .iter()
            .map(|m| format!("{}@{}", m.repository, m.digest)),
    )?;
    section(
        out,
        &format!("blobs to delete ({})", human_size(plan.bytes())),
        plan.blobs
            .iter()
            .map(|b| format!("{} {}", b.digest, human_size(b.size))),
    )?;
    section(
        out,
        "links to remove (pointing at nothing)",
        plan.links.iter().map(|l| {
            let kind = match l.kind {
                LinkKind::Layer => "layer",
                LinkKind::Revision => "revision",
                LinkKind::Tag => "tag",
            };
            format!("{} {kind} {}", l.repository, l.name)
        }),
    )?;
    section(
        out,
        "abandoned uploads to remove",
        plan.uploads
            .iter()
            .map(|u| format!("{} {} {}", u.repository, u.id, human_size(u.size))),
    )?;
    section(
        out,
        "repositories to remove (no tags, no manifests)",
        plan.repositories.iter().cloned(),
    )?;
    Ok(())
}

fn section(
    out: &mut impl Write,
    title: &str,
    items: impl ExactSizeIterator<Item = String>,
) -> anyhow::Result<()> {
    let n = items.len();
    if n == 0 {
        return Ok(());
    }
    writeln!(out, "{title}: {n}")?;
    for item in items.take(LISTED) {
        writeln!(out, "  {item}")?;
    }
    if n > LISTED {
        writeln!(out, "  … and {} more (--format json lists all)", n - LISTED)?;
    }
    Ok(())
}

fn summary_line(s: &GcSummary, plan: Option<&GcPlan>, min_age: Duration, seconds: f64) -> String {
    let verb = if s.dry_run { "would remove" } else { "removed" };
    let bytes = s
        .bytes_freed
        .map_or_else(|| "size unknown".to_owned(), human_size);
    let mut line = format!(
        "gc: {verb} {}, {} ({bytes}), {}, {}, {} in {seconds:.2} s",
        plural(s.manifests_removed, "manifest", "manifests"),
        plural(s.blobs_removed, "blob", "blobs"),
        plural(s.repositories_removed, "repository", "repositories"),
        plural(s.links_removed, "link", "links"),
        plural(s.uploads_removed, "upload", "uploads"),
    );
    if s.skipped_in_use > 0 {
        line.push_str(&format!(
            "; kept {} a push used meanwhile",
            plural(s.skipped_in_use, "item", "items")
        ));
    }
    if let Some(plan) = plan.filter(|p| p.young_blobs_kept > 0) {
        line.push_str(&format!(
            "; kept {} ({}) younger than --min-age {} (a push may still \
             reference them; pass a smaller --min-age to collect them)",
            plural(
                plan.young_blobs_kept,
                "unreferenced blob",
                "unreferenced blobs"
            ),
            human_size(plan.young_bytes_kept),
            humantime::format_duration(min_age)
        ));
    }
    line
}

async fn run_container(args: &GcArgs, json: bool, started: Instant) -> anyhow::Result<()> {
    if args.prune_empty_repos {
        return Err(Usage(
            "registry:2's collector cannot remove empty repositories; run `regctl gc --root DIR \
             --prune-empty-repos` on its storage instead"
                .into(),
        )
        .into());
    }
    let prefix = match (&args.exec, &args.container) {
        (Some(exec), _) => exec.split_whitespace().map(str::to_owned).collect(),
        (None, Some(name)) => ContainerGc::docker_exec(name),
        (None, None) => Vec::new(),
    };
    if prefix.is_empty() {
        return Err(
            Usage("--exec needs a command prefix, e.g. \"docker exec registry\"".into()).into(),
        );
    }
    let plan_run = ContainerGc {
        prefix,
        config: args.registry_config.clone(),
        delete_untagged: args.delete_untagged,
        dry_run: true,
    };
    let mut err = std::io::stderr();
    let echo = |line: &str| {
        let _ = writeln!(err, "{line}");
    };
    let dry = plan_run
        .run(echo)
        .await
        .with_context(|| "planning with registry:2's collector")?;
    let summary = if args.dry_run || (dry.blobs_removed == 0 && dry.manifests_removed == 0) {
        dry
    } else {
        prompt::confirm_destructive(
            &format!(
                "Let registry:2 remove {} and {}?",
                plural(dry.manifests_removed, "manifest", "manifests"),
                plural(dry.blobs_removed, "blob", "blobs")
            ),
            args.yes,
        )?;
        let mut err = std::io::stderr();
        ContainerGc {
            dry_run: false,
            ..plan_run
        }
        .run(|line| {
            let _ = writeln!(err, "{line}");
        })
        .await
        .with_context(|| "collecting with registry:2's collector")?
    };
    let seconds = started.elapsed().as_secs_f64();
    let mut out = std::io::stdout().lock();
    if json {
        output::write_json(
            &mut out,
            &JsonReport {
                plan: None,
                summary: &summary,
                seconds,
            },
        )?;
    } else if output::resolve_report(args.format) == Format::Plain {
        plain_summary(&mut out, &summary, seconds)?;
    } else {
        writeln!(
            out,
            "{}",
            summary_line(&summary, None, Duration::ZERO, seconds)
        )?;
    }
    out.flush()?;
    Ok(())
}

/// `--format plain`: a line per item the collection removes (or would),
/// buffered (stdout is line-buffered).
fn plain_plan(out: &mut impl Write, plan: &GcPlan) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    let out = &mut out;
    for m in &plan.manifests {
        output::write_plain(out, &["manifest", &m.repository, &m.digest.to_string()])?;
    }
    for b in &plan.blobs {
        output::write_plain(out, &["blob", &b.digest.to_string(), &b.size.to_string()])?;
    }
    for l in &plan.links {
        let kind = match l.kind {
            LinkKind::Layer => "layer",
            LinkKind::Revision => "revision",
            LinkKind::Tag => "tag",
        };
        output::write_plain(out, &["link", &l.repository, kind, &l.name])?;
    }
    for u in &plan.uploads {
        output::write_plain(out, &["upload", &u.repository, &u.id, &u.size.to_string()])?;
    }
    for r in &plan.repositories {
        output::write_plain(out, &["repository", r])?;
    }
    for w in &plan.warnings {
        output::write_plain(out, &["warning", w])?;
    }
    out.flush()?;
    Ok(())
}

/// `--format plain`: the summary as `key<TAB>value` lines, keys as in the JSON.
fn plain_summary(out: &mut impl Write, s: &GcSummary, seconds: f64) -> anyhow::Result<()> {
    output::write_plain_fields(out, s)?;
    output::write_plain(out, &["seconds", &format!("{seconds:.3}")])
}
