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
//!   "registries": {"HOST": {"insecure": true, "ca_cert": "/path", "mirror": "HOST2"}} }
//! ```
//! `source.kind` is `flag`, `env`, `file` or `default`; `name` names the flag or variable.

use std::io::Write;

use clap::Args;
use serde::Serialize;
use serde_json::json;

use super::output::{self, Format};
use super::settings::Settings;

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Output format [default: table on a terminal, else plain]
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
    match output::resolve(args.format) {
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
            let mut rows = vec![
                row(
                    "config file",
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
                    "default registry",
                    s.default_registry.value.clone(),
                    &s.default_registry.source,
                ),
                row(
                    "insecure (all registries)",
                    s.insecure.value.to_string(),
                    &s.insecure.source,
                ),
                row(
                    "ca certs",
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
                    "docker config",
                    path_str(&s.docker_config.value),
                    &s.docker_config.source,
                ),
            ];
            for (host, rc) in &s.registries {
                let file = super::settings::Source::File;
                if let Some(i) = rc.insecure {
                    rows.push(row(&format!("{host} insecure"), i.to_string(), &file));
                }
                if let Some(c) = &rc.ca_cert {
                    rows.push(row(
                        &format!("{host} ca_cert"),
                        c.display().to_string(),
                        &file,
                    ));
                }
                if let Some(m) = &rc.mirror {
                    rows.push(row(&format!("{host} mirror"), m.clone(), &file));
                }
            }
            let t = output::table(&["SETTING", "VALUE", "SOURCE"], rows);
            output::write_table(&mut out, &t)?;
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
