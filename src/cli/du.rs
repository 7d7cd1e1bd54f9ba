//! `regctl du [REGISTRY | REPO]`, `regctl du --root DIR [REPO]`: storage use.
//!
//! JSON (`--format json`), a registry: `{"registry", "repositories": [{"name",
//! "tags", "total", "unique", "shared"}], "total"}` plus, with `--root`,
//! `"unreferenced"` and `"untaggedOnly"` (bytes `gc` and `gc
//! --delete-untagged` would free), and for a pull-through cache's root
//! (`serve --proxy`) `"cached"` (bytes only cached repositories reference)
//! and `"pushed"`. A repository: `{"repository", "tags":
//! [{"name", "digest", "total", "unique", "shared"}]}`. Sizes in bytes.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use regctl::ops::du::{self, ApiSource, RegistryUsage, StorageSource, Usage, UsageSource};
use regctl::storage::gc::RepositoryContents;
use regctl::storage::{FsBackend, Registry, StorageUrl, gc};
use regctl::types::Platform;
use regctl::types::gc::GcOptions;

use super::Ctx;
use super::exit::Usage as UsageErr;
use super::output::{self, Format, human_size};

#[derive(Debug, Args)]
pub struct DuArgs {
    /// A registry (host[:port]) for use per repository, or a repository for
    /// use per tag [default: the default registry]
    #[arg(value_name = "REGISTRY|REPO")]
    pub target: Option<String>,
    /// Read a storage root directly (registry:2's rootdirectory); also
    /// reports the bytes nothing references. REGISTRY|REPO is then a
    /// repository of that root
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Read a storage directly, as --root: file:///PATH or
    /// s3://BUCKET[/PREFIX] (AWS environment for credentials and endpoint)
    #[arg(long, value_name = "URL", conflicts_with = "root")]
    pub storage: Option<String>,
    /// Count only this platform's image of each tag (os/arch[/variant]);
    /// tags without one are left out
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Output format [default: table on a terminal, else plain]
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RegistryJson<'a> {
    registry: &'a str,
    repositories: &'a [Usage],
    total: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    unreferenced: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    untagged_only: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cached: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pushed: Option<u64>,
}

#[derive(Serialize)]
struct RepositoryJson<'a> {
    repository: &'a str,
    tags: &'a [Usage],
}

/// Whether an argument names a registry rather than a repository.
fn is_registry(s: &str) -> bool {
    let host = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s)
        .trim_end_matches('/');
    !host.contains('/') && (host.contains(':') || host.contains('.') || host == "localhost")
}

pub async fn run(args: DuArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let format = output::resolve(args.format);
    let platform = args.platform.as_deref().map(Platform::parse).transpose()?;
    let platform = platform.as_ref();
    let storage = match (&args.root, &args.storage) {
        (Some(root), _) => Some(StorageUrl::Dir(root.clone())),
        (None, Some(url)) => Some(StorageUrl::parse(url)?),
        (None, None) => None,
    };
    if let Some(storage) = &storage {
        let backend = match storage {
            StorageUrl::Dir(root) => {
                regctl::ops::gc::check_root(root)?;
                Arc::new(FsBackend::new(root)) as Arc<dyn regctl::storage::Backend>
            }
            StorageUrl::S3(_) => {
                let backend = storage.open()?;
                let name = storage.to_string();
                regctl::ops::gc::check_storage(backend.as_ref(), &name).await?;
                backend
            }
        };
        let registry = Registry::new(backend);
        let src = StorageSource::new(&registry);
        return match &args.target {
            Some(repo) => per_tag(&src, repo, platform, format).await,
            None => {
                let name = match storage {
                    StorageUrl::Dir(root) => root.display().to_string(),
                    other => other.to_string(),
                };
                // One read of the root: the collector's scan hands each
                // repository to the usage count as it goes.
                let (contents, scanned) = tokio::sync::mpsc::channel(SCANNED_AHEAD);
                let usage = async {
                    du::registry_usage_scanned(&src, scanned, platform)
                        .await
                        .with_context(|| format!("measuring {name}"))
                };
                let (collectable, usage) = tokio::join!(collectable(&registry, contents), usage);
                let split = cache_split(&registry, &src).await?;
                per_repository(usage?, &name, format, Some(collectable?), split)
            }
        };
    }
    let target = args
        .target
        .clone()
        .unwrap_or_else(|| ctx.settings.default_registry.value.clone());
    if is_registry(&target) {
        let registry = ctx.registry(&target)?;
        let src = ApiSource {
            client: &ctx.client,
            registry: registry.clone(),
        };
        per_repository(
            measure(&src, &registry, platform).await?,
            &registry,
            format,
            None,
            None,
        )
    } else {
        let r = ctx.reference(&target)?;
        if r.tag().is_some() || r.digest().is_some() {
            return Err(UsageErr(format!(
                "{target:?}: give a repository (no tag or digest); du reports every tag"
            ))
            .into());
        }
        let src = ApiSource {
            client: &ctx.client,
            registry: r.registry().to_owned(),
        };
        per_tag(&src, r.repository(), platform, format).await
    }
}

/// For the root of a pull-through cache (`serve --proxy`), the bytes only
/// its cached repositories reference and those of pushed ones.
async fn cache_split(
    registry: &Registry,
    src: &StorageSource<'_>,
) -> anyhow::Result<Option<du::CacheSplit>> {
    let cache = regctl::storage::registry::CacheState::load(registry).await?;
    if cache.cached.is_empty() {
        return Ok(None);
    }
    let split = du::cache_split(src, &|repo| cache.is_cached(repo))
        .await
        .context("measuring the pull-through cache")?;
    Ok(Some(split))
}

/// Repositories the collector's scan may read ahead of the usage count.
const SCANNED_AHEAD: usize = 8;

/// Bytes `gc --root` would free, and what `--delete-untagged` adds; each
/// repository read goes on to `contents`.
async fn collectable(
    registry: &Registry,
    contents: tokio::sync::mpsc::Sender<RepositoryContents>,
) -> anyhow::Result<(u64, u64)> {
    let run = gc::begin(registry)
        .await
        .context("another collection runs in this process")?;
    // Both plans from one walk of the root.
    let mut plans = gc::plans(
        &run,
        &[
            GcOptions::default(),
            GcOptions {
                delete_untagged: true,
                ..GcOptions::default()
            },
        ],
        Some(&contents),
    )
    .await?
    .into_iter();
    let (Some(keep_untagged), Some(drop_untagged)) = (plans.next(), plans.next()) else {
        anyhow::bail!("the collector drew no plan");
    };
    let unreferenced = keep_untagged.plan.bytes();
    Ok((
        unreferenced,
        drop_untagged.plan.bytes().saturating_sub(unreferenced),
    ))
}

async fn measure(
    src: &dyn UsageSource,
    registry: &str,
    platform: Option<&Platform>,
) -> anyhow::Result<RegistryUsage> {
    du::registry_usage(src, platform)
        .await
        .with_context(|| format!("measuring {registry}"))
}

fn per_repository(
    usage: RegistryUsage,
    registry: &str,
    format: Format,
    collectable: Option<(u64, u64)>,
    cache: Option<du::CacheSplit>,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => output::write_json(
            &mut out,
            &RegistryJson {
                registry,
                repositories: &usage.repositories,
                total: usage.total,
                unreferenced: collectable.map(|c| c.0),
                untagged_only: collectable.map(|c| c.1),
                cached: cache.map(|c| c.cached),
                pushed: cache.map(|c| c.pushed),
            },
        )?,
        Format::Plain => {
            for u in &usage.repositories {
                writeln!(out, "{}\t{}\t{}\t{}", u.name, u.total, u.unique, u.shared)?;
            }
        }
        Format::Table => {
            let rows = usage.repositories.iter().map(|u| {
                vec![
                    u.name.clone(),
                    u.tags.unwrap_or(0).to_string(),
                    human_size(u.total),
                    human_size(u.unique),
                    human_size(u.shared),
                ]
            });
            let t = output::table(&["REPOSITORY", "TAGS", "TOTAL", "UNIQUE", "SHARED"], rows);
            output::write_table(&mut out, &t)?;
            writeln!(
                out,
                "\n{} in {} (each blob counted once)",
                human_size(usage.total),
                output::plural(usage.repositories.len(), "repository", "repositories")
            )?;
            if let Some((unreferenced, untagged)) = collectable {
                writeln!(
                    out,
                    "{} referenced by nothing (`regctl gc --root` frees it); {} more only by untagged manifests (`--delete-untagged`)",
                    human_size(unreferenced),
                    human_size(untagged)
                )?;
            }
            if let Some(c) = cache {
                writeln!(
                    out,
                    "{} held only by the pull-through cache (`serve --proxy`), {} by pushed repositories",
                    human_size(c.cached),
                    human_size(c.pushed)
                )?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

async fn per_tag(
    src: &dyn UsageSource,
    repo: &str,
    platform: Option<&Platform>,
    format: Format,
) -> anyhow::Result<()> {
    let tags = du::repository_usage(src, repo, platform)
        .await
        .with_context(|| format!("measuring {repo}"))?;
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => output::write_json(
            &mut out,
            &RepositoryJson {
                repository: repo,
                tags: &tags,
            },
        )?,
        Format::Plain => {
            for u in &tags {
                writeln!(out, "{}\t{}\t{}\t{}", u.name, u.total, u.unique, u.shared)?;
            }
        }
        Format::Table => {
            let rows = tags.iter().map(|u| {
                vec![
                    u.name.clone(),
                    u.digest.as_ref().map(|d| d.short()).unwrap_or_default(),
                    human_size(u.total),
                    human_size(u.unique),
                    human_size(u.shared),
                ]
            });
            let t = output::table(&["TAG", "DIGEST", "TOTAL", "UNIQUE", "SHARED"], rows);
            output::write_table(&mut out, &t)?;
        }
    }
    out.flush()?;
    Ok(())
}
