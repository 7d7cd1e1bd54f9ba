//! `regctl tags REPO`.
//!
//! JSON (`--format json`): `{"repository": "HOST/NAME", "tags": ["1.0", "latest"]}`
//! (`tags` is `[]`, never null, for a repository without tags), in the
//! order and selection printed.

use std::cmp::Ordering;
use std::io::Write;

use anyhow::Context;
use clap::{Args, ValueEnum};
use regex::Regex;
use serde::Serialize;

use super::Ctx;
use super::exit::Usage;
use super::output::{self, Format};

/// How tags are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TagSort {
    /// Versions first, oldest to newest (1.2 < 1.10, 2.0-rc1 < 2.0), then
    /// the other tags with their numbers compared as numbers (pr-9 < pr-10)
    Semver,
    /// Byte order
    Alpha,
    /// As the registry lists them
    None,
}

#[derive(Debug, Args)]
pub struct TagsArgs {
    /// Repository, e.g. localhost:5000/busybox or busybox
    pub repo: String,
    /// Order of the tags
    #[arg(long, value_enum, default_value_t = TagSort::Semver)]
    pub sort: TagSort,
    /// Reverse the order (newest versions first with --sort semver)
    #[arg(long)]
    pub reverse: bool,
    /// Only tags matching REGEX (e.g. '^v?[0-9]')
    #[arg(long, value_name = "REGEX")]
    pub include: Option<Regex>,
    /// Leave out tags matching REGEX (e.g. '^pr-')
    #[arg(long, value_name = "REGEX")]
    pub exclude: Option<Regex>,
    /// Print at most N tags (the first N after sorting and filtering)
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Ask the registry for N tags per page
    #[arg(long, value_name = "N")]
    pub page_size: Option<usize>,
    /// Output format [default: table on a terminal, else plain]
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

/// `tags` as JSON.
#[derive(Debug, Serialize)]
pub struct TagsJson<'a> {
    pub repository: String,
    pub tags: &'a [String],
}

/// A tag read as a version: `[v]N[.N]*[-PRERELEASE][+BUILD]`.
struct Version<'a> {
    numbers: Vec<u64>,
    prerelease: Option<&'a str>,
}

fn version(tag: &str) -> Option<Version<'_>> {
    let s = tag.strip_prefix(['v', 'V']).unwrap_or(tag);
    let s = s.split_once('+').map_or(s, |(v, _build)| v);
    let (core, prerelease) = match s.split_once('-') {
        Some((core, pre)) if !pre.is_empty() => (core, Some(pre)),
        Some(_) => return None,
        None => (s, None),
    };
    let numbers = core
        .split('.')
        .map(|part| {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                part.parse::<u64>().ok()
            }
        })
        .collect::<Option<Vec<u64>>>()?;
    Some(Version {
        numbers,
        prerelease,
    })
}

/// Compares strings with their digit runs compared as numbers.
fn natural(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        match (a.chars().next(), b.chars().next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.len() - a.trim_start_matches(|c: char| c.is_ascii_digit()).len();
                let db = b.len() - b.trim_start_matches(|c: char| c.is_ascii_digit()).len();
                let (na, nb) = (
                    a[..da].trim_start_matches('0'),
                    b[..db].trim_start_matches('0'),
                );
                let by_value = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
                if by_value != Ordering::Equal {
                    return by_value;
                }
                a = &a[da..];
                b = &b[db..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(&y);
                }
                a = &a[x.len_utf8()..];
                b = &b[y.len_utf8()..];
            }
        }
    }
}

/// Semver precedence, extended to any number of components: a release
/// sorts after its pre-releases; pre-releases compare naturally.
fn version_order(a: &Version, b: &Version) -> Ordering {
    let len = a.numbers.len().max(b.numbers.len());
    for i in 0..len {
        let x = a.numbers.get(i).copied().unwrap_or(0);
        let y = b.numbers.get(i).copied().unwrap_or(0);
        if x != y {
            return x.cmp(&y);
        }
    }
    match (a.prerelease, b.prerelease) {
        (None, None) => Ordering::Equal,
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (Some(x), Some(y)) => natural(x, y),
    }
}

fn semver_order(a: &str, b: &str) -> Ordering {
    let by_kind = match (version(a), version(b)) {
        (Some(x), Some(y)) => version_order(&x, &y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => natural(a, b),
    };
    // Equal precedence (1.0 and v1.0): byte order, so the result is stable.
    by_kind.then_with(|| a.cmp(b))
}

/// Orders tags in place.
pub fn sort_tags(tags: &mut [String], sort: TagSort) {
    match sort {
        TagSort::Semver => tags.sort_by(|a, b| semver_order(a, b)),
        TagSort::Alpha => tags.sort(),
        TagSort::None => {}
    }
}

/// The tags to print: filtered, sorted, reversed and cut as asked.
/// Whether `--include`/`--exclude` keep this tag.
fn matches(tag: &str, args: &TagsArgs) -> bool {
    args.include.as_ref().is_none_or(|re| re.is_match(tag))
        && !args.exclude.as_ref().is_some_and(|re| re.is_match(tag))
}

fn select(mut tags: Vec<String>, args: &TagsArgs) -> Vec<String> {
    tags.retain(|t| matches(t, args));
    sort_tags(&mut tags, args.sort);
    if args.reverse {
        tags.reverse();
    }
    if let Some(n) = args.limit {
        tags.truncate(n);
    }
    tags
}

pub async fn run(args: TagsArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let r = ctx.reference(&args.repo)?;
    if r.tag().is_some() || r.digest().is_some() {
        return Err(Usage(format!(
            "{:?} names a tag or digest: `regctl tags` takes a repository, e.g. {}",
            args.repo,
            r.repo_only()
        ))
        .into());
    }
    let context = || format!("listing tags of {r}");
    let mut pager = ctx
        .client
        .tags_pager(&r, args.page_size)
        .with_context(context)?;
    let format = output::resolve(args.format);
    if format == Format::Plain && args.sort == TagSort::None && !args.reverse {
        // In the registry's order nothing needs the whole list: print page by
        // page, as `ls` does, so memory stays flat on huge repositories.
        let mut left = args.limit;
        while let Some(page) = pager.next_page().await.with_context(context)? {
            let mut out = std::io::stdout().lock();
            for t in page.into_iter().filter(|t| matches(t, &args)) {
                if left == Some(0) {
                    return Ok(());
                }
                writeln!(out, "{t}")?;
                left = left.map(|n| n - 1);
            }
            out.flush()?;
        }
        return Ok(());
    }
    let tags = select(pager.collect().await.with_context(context)?, &args);
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => output::write_json(
            &mut out,
            &TagsJson {
                repository: r.to_string(),
                tags: &tags,
            },
        )?,
        Format::Plain => {
            for t in &tags {
                writeln!(out, "{t}")?;
            }
        }
        Format::Table => {
            let t = output::table(&["TAG"], tags.iter().map(|t| vec![t.clone()]));
            output::write_table(&mut out, &t)?;
        }
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(tags: &[&str], sort: TagSort) -> Vec<String> {
        let mut v: Vec<String> = tags.iter().map(|s| s.to_string()).collect();
        sort_tags(&mut v, sort);
        v
    }

    #[test]
    fn semver_orders_versions_then_names() {
        let tags = [
            "pr-5",
            "latest",
            "pr-1",
            "1.10.0",
            "v1.2.0",
            "1.9.0",
            "1.9.0-rc.10",
            "1.9.0-rc.2",
            "pr-10",
            "2",
            "1.9",
            "edge",
            "1.0.0+build.7",
            "1.-x",
        ];
        assert_eq!(
            sorted(&tags, TagSort::Semver),
            [
                "1.0.0+build.7",
                "v1.2.0",
                "1.9.0-rc.2",
                "1.9.0-rc.10",
                "1.9",
                "1.9.0",
                "1.10.0",
                "2",
                "1.-x",
                "edge",
                "latest",
                "pr-1",
                "pr-5",
                "pr-10",
            ]
        );
        // Equal precedence keeps a fixed order.
        assert_eq!(sorted(&["v1.0", "1.0"], TagSort::Semver), ["1.0", "v1.0"]);
        assert_eq!(
            sorted(&["b", "a10", "a9"], TagSort::Alpha),
            ["a10", "a9", "b"]
        );
        assert_eq!(sorted(&["b", "a"], TagSort::None), ["b", "a"]);
    }

    #[test]
    fn natural_order_handles_long_numbers_and_leading_zeros() {
        assert_eq!(
            natural("a99999999999999999999999", "a100000000000000000000000"),
            Ordering::Less
        );
        assert_eq!(natural("a007", "a7"), Ordering::Equal);
        assert_eq!(natural("é2", "é10"), Ordering::Less);
    }
}
