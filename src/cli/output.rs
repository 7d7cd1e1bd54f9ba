//! Rendering: `--format table|json|plain`, one choice for every command
//! that prints data. Listings (`ls`, `tags`, `du`) print a table on a
//! terminal and plain lines when piped; reports (`inspect`, `config`, `gc`,
//! `prune`) print their text for people unless asked otherwise. `plain` is
//! always script-friendly lines (tab-separated, raw numbers, keys named as
//! in the JSON), never the table. JSON keys are camelCase, as in OCI's
//! JSON; the shapes are in docs/json-output.md. Human sizes use IEC units.

use std::io::{IsTerminal, Write};

use clap::ValueEnum;
use comfy_table::{ContentArrangement, Table, presets};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// One JSON document.
    Json,
    /// One item a line, tab-separated, for scripts.
    Plain,
}

/// The format asked for, else table on a terminal and plain when piped.
pub fn resolve(format: Option<Format>) -> Format {
    format.unwrap_or_else(|| {
        if std::io::stdout().is_terminal() {
            Format::Table
        } else {
            Format::Plain
        }
    })
}

/// The format asked for, else the text for people: for reports, whose
/// text is read rather than parsed even through a pipe.
pub fn resolve_report(format: Option<Format>) -> Format {
    format.unwrap_or(Format::Table)
}

/// `1 repository`, `2 repositories`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// A transfer rate in the same (IEC) units as [`human_size`].
pub fn human_rate(bytes: u64, seconds: f64) -> String {
    let per_second = (bytes as f64 / seconds.max(1e-9)).min(u64::MAX as f64) as u64;
    format!("{}/s", human_size(per_second))
}

/// Writes one tab-separated line; tabs and line breaks inside a field
/// become spaces, so a line is always one record.
pub fn write_plain(out: &mut impl Write, fields: &[&str]) -> anyhow::Result<()> {
    let cleaned: Vec<String> = fields
        .iter()
        .map(|f| f.replace(['\t', '\n', '\r'], " "))
        .collect();
    writeln!(out, "{}", cleaned.join("\t"))?;
    Ok(())
}

/// Writes the scalar fields of a JSON object as `key<TAB>value` lines
/// (null as `-`), for the plain rendering of a summary.
pub fn write_plain_fields<T: Serialize>(out: &mut impl Write, value: &T) -> anyhow::Result<()> {
    if let serde_json::Value::Object(map) = serde_json::to_value(value)? {
        for (key, v) in map {
            let text = match v {
                serde_json::Value::Null => "-".to_owned(),
                serde_json::Value::String(s) => s,
                serde_json::Value::Bool(_) | serde_json::Value::Number(_) => v.to_string(),
                // Lists and objects have their own lines.
                _ => continue,
            };
            write_plain(out, &[&key, &text])?;
        }
    }
    Ok(())
}

/// Writes a value as pretty JSON plus a newline. Buffered: stdout is
/// line-buffered, and a plan of 30,000 items would be 150,000 writes.
pub fn write_json<T: Serialize>(out: &mut impl Write, value: &T) -> anyhow::Result<()> {
    let mut buffered = std::io::BufWriter::with_capacity(64 * 1024, &mut *out);
    serde_json::to_writer_pretty(&mut buffered, value)?;
    writeln!(buffered)?;
    buffered.flush()?;
    Ok(())
}

/// A borderless table with a header row.
pub fn table(headers: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> Table {
    let mut t = Table::new();
    t.load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(headers.to_vec());
    for r in rows {
        t.add_row(r);
    }
    t
}

/// Writes a table, trimming the trailing spaces comfy-table pads with.
pub fn write_table(out: &mut impl Write, t: &Table) -> anyhow::Result<()> {
    for line in t.lines() {
        let line = line.strip_prefix(' ').unwrap_or(&line);
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// `1.5 MiB`-style sizes for people.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_rates_and_plain_lines() {
        assert_eq!(plural(1, "repository", "repositories"), "1 repository");
        assert_eq!(plural(0, "repository", "repositories"), "0 repositories");
        assert_eq!(human_rate(3 * 1024 * 1024, 2.0), "1.5 MiB/s");
        assert!(human_rate(10, 0.0).ends_with("/s"));
        let mut out = Vec::new();
        write_plain(&mut out, &["a\tb", "c\nd"]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "a b\tc d\n");
        let mut out = Vec::new();
        write_plain_fields(
            &mut out,
            &serde_json::json!({"dryRun": true, "bytesFreed": null, "n": 2, "list": [1]}),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "bytesFreed\t-\ndryRun\ttrue\nn\t2\n"
        );
    }
}
