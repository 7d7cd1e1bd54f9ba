//! `regctl inspect REF`.
//!
//! JSON (`--format json`), fields in camelCase; absent ones are omitted:
//! ```json
//! { "reference": "HOST/NAME:TAG", "pulledFrom": "MIRROR", "mediaType": "...",
//!   "digest": "sha256:...", "size": 1234,                     // pulledFrom: only when a mirror answered
//!   "index": {"digest": "...", "mediaType": "..."},          // when --platform picked from an index
//!   "platforms": [{"platform": "linux/arm64/v8", "os": "linux", "architecture": "arm64",
//!                  "variant": "v8", "digest": "...", "mediaType": "...", "size": 567}],   // an index
//!   "config": {"digest": "...", "created": "...", "os": "linux", "architecture": "amd64",
//!              "variant": null, "entrypoint": [..], "cmd": [..], "env": [..], "labels": {..}},
//!   "layers": [{"mediaType": "...", "digest": "...", "size": 1}], "totalSize": 1 }   // an image
//! ```

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::{Context, bail};
use clap::Args;
use serde::Serialize;

use regctl::ops::platform;
use regctl::store::{ImageSource, RegistrySource};
use regctl::types::{ImageConfig, Manifest, ManifestBody, Platform};

use super::Ctx;
use super::output::{self, Format, human_size};

/// Largest image config read into memory.
const MAX_CONFIG_SIZE: usize = 16 * 1024 * 1024;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Image reference: NAME[:TAG] or NAME@DIGEST
    pub reference: String,
    /// Pick this platform from an index: os/arch[/variant]
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Print the manifest bytes exactly as served
    #[arg(long, conflicts_with = "format")]
    pub raw: bool,
    /// Output format: table (text for people, the default), json, or plain
    /// (`key<TAB>value` lines, keys as in the JSON)
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InspectJson {
    pub reference: String,
    /// The mirror the manifest was read from, when not the registry itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pulled_from: Option<String>,
    pub media_type: String,
    pub digest: String,
    pub size: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<IndexRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platforms: Option<Vec<PlatformEntry>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<ConfigJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layers: Option<Vec<LayerJson>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_size: Option<u64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexRef {
    pub digest: String,
    pub media_type: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlatformEntry {
    pub platform: Option<String>,
    pub os: Option<String>,
    pub architecture: Option<String>,
    pub variant: Option<String>,
    pub digest: String,
    pub media_type: String,
    pub size: i64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigJson {
    pub digest: String,
    pub created: Option<String>,
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub env: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LayerJson {
    pub media_type: String,
    pub digest: String,
    pub size: i64,
}

pub async fn run(args: InspectArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let r = ctx.reference(&args.reference)?;
    let wanted = args.platform.as_deref().map(Platform::parse).transpose()?;
    // Reads go to a configured mirror first; what was read says where from.
    let (mut manifest, source) = ctx
        .client
        .manifest_get_pull(&r)
        .await
        .with_context(|| format!("fetching the manifest of {r}"))?;
    let mut index = None;
    if let Some(want) = &wanted {
        // The same choice as cp/digest/rm: an index's child, or the single
        // image itself only if it is built for `want`.
        if manifest.media_type().is_index() {
            index = Some(IndexRef {
                digest: manifest.digest().to_string(),
                media_type: manifest.media_type().to_string(),
            });
        }
        let src = RegistrySource::new(ctx.client.clone(), source.clone());
        manifest = platform::select(&src as &dyn ImageSource, manifest, want).await?;
    }
    let mut out = std::io::stdout().lock();
    if args.raw {
        out.write_all(manifest.raw())?;
        out.flush()?;
        return Ok(());
    }
    let mut view = build(ctx, &source, &manifest, index).await?;
    view.reference = r.to_string();
    if source.registry() != r.registry() {
        view.pulled_from = Some(source.registry().to_owned());
    }
    match output::resolve_report(args.format) {
        Format::Json => output::write_json(&mut out, &view)?,
        Format::Plain => render_plain(&mut out, &view)?,
        Format::Table => render_text(&mut out, &view)?,
    }
    out.flush()?;
    Ok(())
}

async fn build(
    ctx: &Ctx,
    r: &regctl::types::Reference,
    m: &Manifest,
    index: Option<IndexRef>,
) -> anyhow::Result<InspectJson> {
    let mut view = InspectJson {
        reference: r.to_string(),
        pulled_from: None,
        media_type: m.media_type().to_string(),
        digest: m.digest().to_string(),
        size: m.size(),
        index,
        platforms: None,
        config: None,
        layers: None,
        total_size: None,
    };
    match m.body() {
        ManifestBody::Index(i) => {
            view.platforms = Some(
                i.manifests
                    .iter()
                    .map(|d| PlatformEntry {
                        platform: d.platform.as_ref().map(ToString::to_string),
                        os: d.platform.as_ref().map(|p| p.os.clone()),
                        architecture: d.platform.as_ref().map(|p| p.architecture.clone()),
                        variant: d.platform.as_ref().and_then(|p| p.variant.clone()),
                        digest: d.digest.to_string(),
                        media_type: d.media_type.to_string(),
                        size: d.size,
                    })
                    .collect(),
            );
        }
        ManifestBody::Image(img) => {
            let raw = ctx
                .client
                .blob_get_bytes(r, &img.config.digest, MAX_CONFIG_SIZE)
                .await
                .with_context(|| format!("fetching the config blob {}", img.config.digest))?;
            let cfg: ImageConfig = serde_json::from_slice(&raw).with_context(|| {
                format!("config blob {} is not an image config", img.config.digest)
            })?;
            let cc = cfg.config.clone().unwrap_or_default();
            view.config = Some(ConfigJson {
                digest: img.config.digest.to_string(),
                created: cfg.created.clone(),
                os: cfg.os.clone(),
                architecture: cfg.architecture.clone(),
                variant: cfg.variant.clone(),
                entrypoint: cc.entrypoint,
                cmd: cc.cmd,
                env: cc.env.unwrap_or_default(),
                labels: cc.labels.unwrap_or_default(),
            });
            let layers: Vec<LayerJson> = img
                .layers
                .iter()
                .map(|l| LayerJson {
                    media_type: l.media_type.to_string(),
                    digest: l.digest.to_string(),
                    size: l.size,
                })
                .collect();
            view.total_size = Some(layers.iter().map(|l| l.size.max(0) as u64).sum());
            view.layers = Some(layers);
        }
        ManifestBody::Schema1(_) => {
            bail!(
                "{r} is a Docker schema1 manifest ({}); regctl shows only its digest",
                m.media_type()
            )
        }
    }
    Ok(view)
}

/// `key<TAB>value…` lines, keys as in the JSON; lists give a line per item.
fn render_plain(out: &mut impl Write, v: &InspectJson) -> anyhow::Result<()> {
    let line = |out: &mut _, fields: &[&str]| output::write_plain(out, fields);
    line(out, &["reference", &v.reference])?;
    if let Some(m) = &v.pulled_from {
        line(out, &["pulledFrom", m])?;
    }
    if let Some(i) = &v.index {
        line(out, &["index", &i.digest, &i.media_type])?;
    }
    line(out, &["mediaType", &v.media_type])?;
    line(out, &["digest", &v.digest])?;
    line(out, &["size", &v.size.to_string()])?;
    for p in v.platforms.iter().flatten() {
        line(
            out,
            &[
                "platform",
                p.platform.as_deref().unwrap_or("-"),
                &p.digest,
                &p.media_type,
                &p.size.to_string(),
            ],
        )?;
    }
    if let Some(c) = &v.config {
        line(out, &["config", &c.digest])?;
        if let Some(created) = &c.created {
            line(out, &["created", created])?;
        }
        line(out, &["os", &c.os])?;
        line(out, &["architecture", &c.architecture])?;
        if let Some(var) = &c.variant {
            line(out, &["variant", var])?;
        }
        if let Some(e) = &c.entrypoint {
            line(out, &["entrypoint", &serde_json::to_string(e)?])?;
        }
        if let Some(cmd) = &c.cmd {
            line(out, &["cmd", &serde_json::to_string(cmd)?])?;
        }
        for e in &c.env {
            line(out, &["env", e])?;
        }
        for (k, val) in &c.labels {
            line(out, &["label", &format!("{k}={val}")])?;
        }
    }
    for l in v.layers.iter().flatten() {
        line(
            out,
            &["layer", &l.digest, &l.media_type, &l.size.to_string()],
        )?;
    }
    if let Some(total) = v.total_size {
        line(out, &["totalSize", &total.to_string()])?;
    }
    Ok(())
}

fn render_text(out: &mut impl Write, v: &InspectJson) -> anyhow::Result<()> {
    writeln!(out, "Reference:   {}", v.reference)?;
    if let Some(m) = &v.pulled_from {
        writeln!(out, "Mirror:      {m}")?;
    }
    if let Some(i) = &v.index {
        writeln!(out, "Index:       {} ({})", i.digest, i.media_type)?;
    }
    writeln!(out, "Media type:  {}", v.media_type)?;
    writeln!(out, "Digest:      {}", v.digest)?;
    writeln!(out, "Size:        {} bytes", v.size)?;
    if let Some(ps) = &v.platforms {
        writeln!(out, "Platforms:")?;
        let t = output::table(
            &["PLATFORM", "DIGEST", "SIZE"],
            ps.iter().map(|p| {
                vec![
                    p.platform.clone().unwrap_or_else(|| "-".into()),
                    p.digest.clone(),
                    p.size.to_string(),
                ]
            }),
        );
        output::write_table(out, &t)?;
    }
    if let Some(c) = &v.config {
        writeln!(out, "Config:      {}", c.digest)?;
        if let Some(created) = &c.created {
            writeln!(out, "Created:     {created}")?;
        }
        let mut platform = format!("{}/{}", c.os, c.architecture);
        if let Some(var) = &c.variant {
            platform.push('/');
            platform.push_str(var);
        }
        writeln!(out, "Platform:    {platform}")?;
        if let Some(e) = &c.entrypoint {
            writeln!(out, "Entrypoint:  {}", serde_json::to_string(e)?)?;
        }
        if let Some(cmd) = &c.cmd {
            writeln!(out, "Cmd:         {}", serde_json::to_string(cmd)?)?;
        }
        if !c.env.is_empty() {
            writeln!(out, "Env:")?;
            for e in &c.env {
                writeln!(out, "  {e}")?;
            }
        }
        if !c.labels.is_empty() {
            writeln!(out, "Labels:")?;
            for (k, val) in &c.labels {
                writeln!(out, "  {k}={val}")?;
            }
        }
    }
    if let Some(layers) = &v.layers {
        writeln!(out, "Layers:")?;
        let t = output::table(
            &["DIGEST", "MEDIA TYPE", "SIZE"],
            layers
                .iter()
                .map(|l| vec![l.digest.clone(), l.media_type.clone(), l.size.to_string()]),
        );
        output::write_table(out, &t)?;
        if let Some(total) = v.total_size {
            writeln!(out, "Total size:  {total} bytes ({})", human_size(total))?;
        }
    }
    Ok(())
}
