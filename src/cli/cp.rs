//! `regctl cp SRC DST`: copy an image (or a whole multi-arch index) between
//! any two image stores (registries, OCI layouts, archives), streaming, with
//! progress bars on a terminal.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use clap::{Args, ValueEnum};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use regctl::ops::copy::{self, BlobOutcome, CopyObserver, CopyOptions};
use regctl::store;
use regctl::types::image_ref::ImageRef;
use regctl::types::{Digest, Platform};

use super::Ctx;
use super::exit::Usage;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SummaryFormat {
    /// One line for people.
    Text,
    /// The summary as JSON: `{"source","destination","digest","manifests","blobsCopied",
    /// "blobsSkipped","blobsMounted","bytesCopied","seconds"}`; with --all-tags an array of them.
    Json,
}

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Source: NAME[:TAG], NAME@DIGEST, oci:DIR[:TAG], oci-archive:FILE[:TAG] or
    /// docker-archive:FILE[:NAME:TAG]
    pub source: String,
    /// Destination: NAME[:TAG] (without a tag, the source's tag; with neither, by digest),
    /// or an oci:, oci-archive: or docker-archive: store
    pub destination: String,
    /// Copy only this platform out of a multi-arch index (os/arch[/variant])
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Blobs transferred at once
    #[arg(long, short = 'j', default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// Also copy the artifacts that refer to the image (OCI 1.1 `subject`: signatures, SBOMs)
    #[arg(long)]
    pub referrers: bool,
    /// Copy every tag of the source repository (SRC and DST name repositories)
    #[arg(long)]
    pub all_tags: bool,
    /// Summary format
    #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
    pub format: SummaryFormat,
}

/// Draws a bar per blob in flight and one for the total bytes.
struct Bars {
    multi: MultiProgress,
    total: ProgressBar,
    blobs: Mutex<HashMap<Digest, ProgressBar>>,
}

impl Bars {
    fn new() -> Self {
        let multi = MultiProgress::new();
        let total = multi.add(ProgressBar::new(0));
        total.set_style(
            ProgressStyle::with_template(
                "{spinner} total {bytes}/{total_bytes} {bytes_per_sec} [{wide_bar}] {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        total.enable_steady_tick(std::time::Duration::from_millis(200));
        Bars {
            multi,
            total,
            blobs: Mutex::new(HashMap::new()),
        }
    }

    fn blobs(&self) -> std::sync::MutexGuard<'_, HashMap<Digest, ProgressBar>> {
        self.blobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn finish(&self) {
        for (_, bar) in self.blobs().drain() {
            bar.finish_and_clear();
        }
        self.total.finish_and_clear();
        let _ = self.multi.clear();
    }
}

impl CopyObserver for Bars {
    fn blob_started(&self, digest: &Digest, size: u64) {
        self.total.inc_length(size);
        let bar = self
            .multi
            .insert_before(&self.total, ProgressBar::new(size));
        bar.set_style(
            ProgressStyle::with_template("  {prefix} {bytes:>10}/{total_bytes:<10} [{bar:40}]")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(digest.short().to_string());
        self.blobs().insert(digest.clone(), bar);
    }
    fn blob_progress(&self, digest: &Digest, bytes: u64) {
        self.total.inc(bytes);
        if let Some(bar) = self.blobs().get(digest) {
            bar.inc(bytes);
        }
    }
    fn blob_done(&self, digest: &Digest, _size: u64, outcome: BlobOutcome) {
        if let Some(bar) = self.blobs().remove(digest) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        if outcome != BlobOutcome::Copied {
            let _ = self
                .multi
                .println(format!("{} {}", digest.short(), outcome_word(outcome)));
        }
    }
}

fn outcome_word(o: BlobOutcome) -> &'static str {
    match o {
        BlobOutcome::Copied => "copied",
        BlobOutcome::Skipped => "exists",
        BlobOutcome::Mounted => "mounted",
    }
}

/// `image` naming `name` inside its store (a tag, or a RepoTag).
fn with_name(image: &ImageRef, name: Option<&str>) -> anyhow::Result<ImageRef> {
    let name = name.map(str::to_owned);
    Ok(match image {
        ImageRef::Registry(r) => match &name {
            Some(tag) => ImageRef::Registry(r.with_tag(tag)?),
            None => ImageRef::Registry(r.clone()),
        },
        ImageRef::OciDir { path, .. } => ImageRef::OciDir {
            path: path.clone(),
            tag: name,
        },
        ImageRef::OciArchive { path, .. } => ImageRef::OciArchive {
            path: path.clone(),
            tag: name,
        },
        ImageRef::DockerArchive { path, .. } => ImageRef::DockerArchive {
            path: path.clone(),
            reference: name,
        },
    })
}

/// The name the destination gives the image: its own, else (registries)
/// the source's tag, (docker archives) the source's name and tag.
fn destination_name(src: &ImageRef, dst: &ImageRef) -> Option<String> {
    if let Some(name) = dst.name() {
        return Some(name.to_owned());
    }
    match (dst, src) {
        (ImageRef::Registry(_), ImageRef::DockerArchive { reference, .. }) => reference
            .as_deref()
            .and_then(|r| r.rsplit_once(':'))
            .map(|(_, tag)| tag.to_owned()),
        (ImageRef::Registry(_), src) => src.name().map(str::to_owned),
        (ImageRef::DockerArchive { .. }, ImageRef::Registry(r)) => r
            .tag()
            .map(|tag| format!("{}/{}:{tag}", r.registry(), r.repository())),
        _ => None,
    }
}

pub async fn run(args: CpArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let src = ctx.image_ref(&args.source)?;
    let dst = ctx.image_ref(&args.destination)?;
    if let ImageRef::Registry(r) = &dst
        && r.digest().is_some()
    {
        return Err(Usage(format!(
            "destination {:?} names a digest: give a repository and optionally a tag (the digest stays the source's)",
            args.destination
        ))
        .into());
    }
    let src_has_name = match &src {
        ImageRef::Registry(r) => r.tag().is_some() || r.digest().is_some(),
        other => other.name().is_some(),
    };
    if args.all_tags {
        if src_has_name || dst.name().is_some() {
            return Err(Usage(
                "--all-tags copies whole repositories or stores: give SRC and DST without a tag or digest"
                    .into(),
            )
            .into());
        }
        if matches!(dst, ImageRef::DockerArchive { .. }) {
            return Err(Usage(
                "--all-tags cannot write a docker-archive: it holds one image; copy tags one at a time"
                    .into(),
            )
            .into());
        }
    }
    if args.referrers && !src.is_registry() {
        return Err(Usage(format!(
            "--referrers needs a registry source: {src} cannot list the artifacts that refer to an image"
        ))
        .into());
    }
    let platform = args
        .platform
        .as_deref()
        .map(Platform::parse)
        .transpose()
        .map_err(|e| Usage(e.to_string()))?;
    let options = CopyOptions {
        platform,
        jobs: usize::from(args.jobs),
        referrers: args.referrers,
    };
    let dst_name = destination_name(&src, &dst);
    let dst = with_name(&dst, dst_name.as_deref())?;
    let source = store::open_source_with(&src, &ctx.client)
        .await
        .with_context(|| format!("opening {src}"))?;
    let destination = store::open_destination_with(&dst, &ctx.client)
        .await
        .with_context(|| format!("opening {dst}"))?;

    let bars = std::io::stderr()
        .is_terminal()
        .then(|| Arc::new(Bars::new()));
    let observer: Arc<dyn CopyObserver> = match &bars {
        Some(b) => b.clone(),
        None => Arc::new(copy::Quiet),
    };
    let results = if args.all_tags {
        copy::copy_all_tags(&*source, destination, &options, observer).await
    } else {
        // A registry source resolves its own reference (tag or digest).
        let src_name = if src.is_registry() { None } else { src.name() };
        copy::copy_image(
            &*source,
            src_name,
            destination,
            dst_name.as_deref(),
            &options,
            observer,
        )
        .await
        .map(|s| vec![(dst_name.clone().unwrap_or_default(), s)])
    };
    if let Some(b) = &bars {
        b.finish();
    }
    let results = results.with_context(|| format!("copying {src} to {dst}"))?;
    let mut out = std::io::stdout().lock();
    let mut json = Vec::new();
    for (tag, summary) in &results {
        let (src, dst) = if args.all_tags {
            (with_name(&src, Some(tag))?, with_name(&dst, Some(tag))?)
        } else {
            (src.clone(), dst.clone())
        };
        match args.format {
            SummaryFormat::Json => json.push(summary_json(&src, &dst, summary)?),
            SummaryFormat::Text => write_summary(&mut out, &src, &dst, summary)?,
        }
    }
    if args.format == SummaryFormat::Json {
        // One document: the summary, or with --all-tags an array of them.
        let doc = if args.all_tags {
            serde_json::Value::Array(json)
        } else {
            json.pop().unwrap_or_default()
        };
        super::output::write_json(&mut out, &doc)?;
    }
    out.flush()?;
    Ok(())
}

fn summary_json(
    src: &dyn std::fmt::Display,
    dst: &dyn std::fmt::Display,
    summary: &copy::CopySummary,
) -> anyhow::Result<serde_json::Value> {
    let mut v = serde_json::to_value(summary)?;
    v["source"] = src.to_string().into();
    v["destination"] = dst.to_string().into();
    v["seconds"] = summary.elapsed.as_secs_f64().into();
    Ok(v)
}

fn write_summary(
    out: &mut impl Write,
    src: &dyn std::fmt::Display,
    dst: &dyn std::fmt::Display,
    summary: &copy::CopySummary,
) -> anyhow::Result<()> {
    let seconds = summary.elapsed.as_secs_f64();
    writeln!(
        out,
        "copied {src} to {dst} ({}): {}; blobs {} copied, {} skipped, {} mounted; {} in {seconds:.2} s ({})",
        summary.digest,
        super::output::plural(summary.manifests, "manifest", "manifests"),
        summary.blobs_copied,
        summary.blobs_skipped,
        summary.blobs_mounted,
        super::output::human_size(summary.bytes_copied),
        super::output::human_rate(summary.bytes_copied, seconds),
    )?;
    Ok(())
}
