//! `regctl config`: the effective settings and where each came from.
//!
//! JSON (`--format json`):
//! ```json
//! { "configFile": {"path": "/home/u/.config/regctl/config.toml", "loaded": true,
//!                  "source": {"kind": "env", "name": "XDG_CONFIG_HOME"}},
//!   "defaultRegistry": {"value": "localhost:5000", "source": {"kind": "file"}},
//!   "insecure": {"value": false, "source": {"kind": "default"}},
//!   "caCerts": {"value": [], "source": {"kind": "default"}},
//!   "timeout": {"value": "30s", "source": {"kind": "default"}},
//!   "dockerConfig": {"value": "/home/u/.docker/config.json", "source": {"kind": "default"}},
//!   "registries": {"HOST": {"insecure": true, "caCert": "/path", "mirror": "HOST2"}} }
//! ```
//! `source.kind` is `flag`, `env`, `file` or `default`; `name` names the flag or variable.
//!
//! Plain (`--format plain`): `SETTING<TAB>VALUE<TAB>SOURCE` lines, settings
//! named as the JSON keys (`registries.HOST.mirror` for a registry's).

use std::io::Write;

use clap::Args;
use serde::Serialize;
use serde_json::json;

use super::output::{self, Format};
use super::settings::Settings;

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Output format: table (the default), json, or plain
    /// (`setting<TAB>value<TAB>source` lines)
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

fn path_str(p: &Option<std::path::PathBuf>) -> String {
    p.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "(none)".into())
}

pub fn run(args: ConfigArgs, s: &Settings) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let format = output::resolve_report(args.format);
    match format {
        Format::Json => {
            let v = json!({
                "configFile": {
                    "path": s.config_file.value,
                    "loaded": s.config_file_loaded,
                    "source": s.config_file.source,
                },
                "defaultRegistry": s.default_registry,
                "insecure": s.insecure,
                "caCerts": s.ca_certs,
                "timeout": s.timeout,
                "dockerConfig": s.docker_config,
                "registries": s.registries,
            });
            output::write_json(&mut out, &v)?;
        }
        Format::Table | Format::Plain => {
            let plain = format == Format::Plain;
            // Plain names settings as the JSON does; the table, for people.
            let name = |human: &'static str, key: &'static str| if plain { key } else { human };
            let mut rows = vec![
                row(
                    name("config file", "configFile"),
                    format!(
                        "{}{}",
                        path_str(&s.config_file.value),
                        if s.config_file_loaded {
                            ""
                        } else {
                            " (not found)"
                        }
                    ),
                    &s.config_file.source,
                ),
                row(
                    name("default registry", "defaultRegistry"),
                    s.default_registry.value.clone(),
                    &s.default_registry.source,
                ),
                row(
                    name("insecure (all registries)", "insecure"),
                    s.insecure.value.to_string(),
                    &s.insecure.source,
                ),
                row(
                    name("ca certs", "caCerts"),
                    if s.ca_certs.value.is_empty() {
                        "(none)".into()
                    } else {
                        s.ca_certs
                            .value
                            .iter()
                            .map(|p| p.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                    &s.ca_certs.source,
                ),
                row("timeout", s.timeout.value.to_string(), &s.timeout.source),
                row(
                    name("docker config", "dockerConfig"),
                    path_str(&s.docker_config.value),
                    &s.docker_config.source,
                ),
            ];
            for (host, rc) in &s.registries {
                let file = super::settings::Source::File;
                let key = |field: &str| {
                    if plain {
                        format!("registries.{host}.{field}")
                    } else {
                        format!("{host} {field}")
                    }
                };
                if let Some(i) = rc.insecure {
                    rows.push(row(&key("insecure"), i.to_string(), &file));
                }
                if let Some(c) = &rc.ca_cert {
                    rows.push(row(
                        &key(if plain { "caCert" } else { "ca_cert" }),
                        c.display().to_string(),
                        &file,
                    ));
                }
                if let Some(m) = &rc.mirror {
                    rows.push(row(&key("mirror"), m.clone(), &file));
                }
            }
            if plain {
                for r in &rows {
                    let fields: Vec<&str> = r.iter().map(String::as_str).collect();
                    output::write_plain(&mut out, &fields)?;
                }
            } else {
                let t = output::table(&["SETTING", "VALUE", "SOURCE"], rows);
                output::write_table(&mut out, &t)?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

fn row(name: &str, value: String, source: &impl Serialize) -> Vec<String> {
    let src = serde_json::to_value(source).unwrap_or_default();
    let kind = src.get("kind").and_then(|k| k.as_str()).unwrap_or("");
    let label = match src.get("name").and_then(|n| n.as_str()) {
        Some(n) => format!("{kind} {n}"),
        None => kind.to_owned(),
    };
    vec![name.to_owned(), value, label]
}
