//! `regctl cp SRC DST`: copy an image (or a whole multi-arch index) between
//! registries, streaming, with progress bars on a terminal.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use regctl::ops::copy::{self, BlobOutcome, CopyObserver, CopyOptions};
use regctl::ops::store_copy;
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

/// Draws one bar for the bytes of every blob in flight.
struct Bars {
    total: ProgressBar,
}

impl CopyObserver for Bars {
    fn blob_started(&self, _digest: &Digest, size: u64) {
        self.total.inc_length(size);
    }
    fn blob_progress(&self, _digest: &Digest, bytes: u64) {
        self.total.inc(bytes);
    }
    fn blob_done(&self, digest: &Digest, _size: u64, outcome: BlobOutcome) {
        if outcome != BlobOutcome::Copied {
            self.total
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

pub async fn run(args: CpArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let default = &ctx.settings.default_registry.value;
    let src_ref = ImageRef::parse(&args.source, default).map_err(|e| Usage(e.to_string()))?;
    let dst_ref = ImageRef::parse(&args.destination, default).map_err(|e| Usage(e.to_string()))?;
    match (src_ref.is_registry(), dst_ref.is_registry()) {
        (true, true) => {}
        (false, false) => return copy_local(args, &src_ref, &dst_ref).await,
        _ => {
            return Err(Usage(format!(
                "copying between a registry and {} is not supported yet: both sides must be registries, \
                 or both oci:, oci-archive: or docker-archive: stores",
                if src_ref.is_registry() { &args.destination } else { &args.source }
            ))
            .into());
        }
    }
    let src = ctx.reference(&args.source)?;
    let mut dst = ctx.reference(&args.destination)?;
    if args.all_tags && (src.tag().is_some() || src.digest().is_some() || dst.tag().is_some()) {
        return Err(Usage(
            "--all-tags copies whole repositories: give SRC and DST without a tag or digest".into(),
        )
        .into());
    }
    if dst.digest().is_some() {
        return Err(Usage(format!(
            "destination {:?} names a digest: give a repository and optionally a tag (the digest stays the source's)",
            args.destination
        ))
        .into());
    }
    if dst.tag().is_none()
        && let Some(tag) = src.tag()
    {
        dst = dst.with_tag(tag)?;
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
    let bar = std::io::stderr().is_terminal().then(|| {
        let pb = ProgressBar::new(0);
        pb.set_style(
            ProgressStyle::with_template(
                "{spinner} {bytes}/{total_bytes} {bytes_per_sec} [{wide_bar}] {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb
    });
    let observer: Arc<dyn CopyObserver> = match &bar {
        Some(pb) => Arc::new(Bars { total: pb.clone() }),
        None => Arc::new(copy::Quiet),
    };
    let results = if args.all_tags {
        copy::copy_all_tags(&ctx.client, &src, &dst, &options, observer).await
    } else {
        copy::copy_image(&ctx.client, &src, &dst, &options, observer)
            .await
            .map(|s| vec![(dst.tag().unwrap_or_default().to_owned(), s)])
    };
    if let Some(pb) = &bar {
        pb.finish_and_clear();
    }
    let results = results.with_context(|| format!("copying {src} to {dst}"))?;
    let mut out = std::io::stdout().lock();
    let mut json = Vec::new();
    for (tag, summary) in &results {
        let (src, dst) = if args.all_tags {
            (src.with_tag(tag)?, dst.with_tag(tag)?)
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

/// Copies between image stores on this machine (OCI layouts and archives).
async fn copy_local(args: CpArgs, src: &ImageRef, dst: &ImageRef) -> anyhow::Result<()> {
    if args.all_tags || args.referrers {
        return Err(Usage("--all-tags and --referrers apply to registries only".into()).into());
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
        ..CopyOptions::default()
    };
    let source = store::open_source(src)
        .await
        .with_context(|| format!("opening {src}"))?;
    let destination = store::open_destination(dst)
        .await
        .with_context(|| format!("opening {dst}"))?;
    let summary = store_copy::copy_between_stores(
        &*source,
        src.name(),
        destination,
        dst.name(),
        &options,
        Arc::new(copy::Quiet),
    )
    .await
    .with_context(|| format!("copying {src} to {dst}"))?;
    let mut out = std::io::stdout().lock();
    match args.format {
        SummaryFormat::Json => {
            super::output::write_json(&mut out, &summary_json(src, dst, &summary)?)?
        }
        SummaryFormat::Text => write_summary(&mut out, src, dst, &summary)?,
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
        "copied {src} to {dst} ({}): {} manifest(s); blobs {} copied, {} skipped, {} mounted; {} in {seconds:.2} s ({:.1} MB/s)",
        summary.digest,
        summary.manifests,
        summary.blobs_copied,
        summary.blobs_skipped,
        summary.blobs_mounted,
        super::output::human_size(summary.bytes_copied),
        summary.bytes_copied as f64 / 1e6 / seconds.max(1e-9),
    )?;
    Ok(())
}
