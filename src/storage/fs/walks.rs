//! [`Backend::leaves`](crate::storage::Backend::leaves) and
//! [`Backend::dirs_holding`](crate::storage::Backend::dirs_holding) on a
//! filesystem.
//!
//! Every lookup is relative to an open directory: a revision costs one
//! `fstatat(dir, "HEX/link")` instead of listing its directory (`openat`,
//! two `getdents64`, `close`) and then looking `link` up from the root,
//! through the ten components above it. registry:2's layout puts each link
//! in a directory of its own, so that is most of what a walk of it costs.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};
use rustix::io::Errno;

use super::at;
use crate::durable;
use crate::storage::backend::{Leaf, Meta};

/// The directories `depth` levels under `base`, each with its `leaf`.
pub(super) fn leaves_blocking(
    base: &Path,
    depth: usize,
    leaf: &str,
    read_up_to: u64,
) -> io::Result<Vec<Leaf>> {
    let Some(dir) = open_dir(rustix::fs::CWD, base).map_err(|e| at(base, e))? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let mut walk = Walk {
        base,
        leaf,
        read_up_to,
        out: &mut out,
    };
    walk.visit(dir, "", depth.max(1))?;
    out.sort_unstable_by(|a, b| a.dir.cmp(&b.dir));
    Ok(out)
}

struct Walk<'a> {
    base: &'a Path,
    leaf: &'a str,
    read_up_to: u64,
    out: &'a mut Vec<Leaf>,
}

impl Walk<'_> {
    fn visit(&mut self, dir: OwnedFd, rel: &str, depth: usize) -> io::Result<()> {
        let (entries, listed) = list(dir).map_err(|e| self.at(rel, e))?;
        let dir = entries.fd().map_err(|e| self.at(rel, e.into()))?;
        let subdirectories = listed
            .into_iter()
            .filter(|(name, is_dir)| *is_dir && !name.starts_with(durable::TEMP_PREFIX));
        for (name, _) in subdirectories {
            let path = join(rel, &name);
            if depth > 1 {
                // Gone since the listing (a concurrent delete): not there.
                if let Some(child) = open_dir(dir, name.as_str()).map_err(|e| self.at(&path, e))? {
                    self.visit(child, &path, depth - 1)?;
                }
                continue;
            }
            let at_leaf = format!("{name}/{}", self.leaf);
            let (meta, content) = if self.read_up_to > 0 {
                read_small(dir, &at_leaf, self.read_up_to)
            } else {
                stat(dir, &at_leaf).map(|m| (m, None))
            }
            .map_err(|e| self.at(&format!("{path}/{}", self.leaf), e))?;
            self.out.push(Leaf {
                dir: path,
                meta,
                content,
            });
        }
        Ok(())
    }

    fn at(&self, rel: &str, e: io::Error) -> io::Error {
        at(&self.base.join(rel), e)
    }
}

/// The directories under `base` holding `marker`, relative to it, sorted;
/// names starting with `_` or `.` are not descended into. One directory
/// open at a time per level: a root of 10,000 repositories never holds
/// more descriptors than its depth.
pub(super) fn dirs_holding_blocking(base: &Path, marker: &str) -> io::Result<Vec<String>> {
    let Some(dir) = open_dir(rustix::fs::CWD, base).map_err(|e| at(base, e))? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    holding(base, dir, "", marker, &mut out)?;
    out.sort_unstable();
    Ok(out)
}

fn holding(
    base: &Path,
    dir: OwnedFd,
    rel: &str,
    marker: &str,
    out: &mut Vec<String>,
) -> io::Result<()> {
    let (entries, listed) = list(dir).map_err(|e| at(&base.join(rel), e))?;
    if !rel.is_empty() && listed.iter().any(|(name, _)| name == marker) {
        out.push(rel.to_owned());
    }
    let parent = entries.fd().map_err(|e| at(&base.join(rel), e.into()))?;
    for (name, is_dir) in listed {
        if !is_dir || name == marker || name.starts_with('_') || name.starts_with('.') {
            continue;
        }
        let path = join(rel, &name);
        // Gone since the listing (a concurrent delete): not there.
        if let Some(child) =
            open_dir(parent, name.as_str()).map_err(|e| at(&base.join(&path), e))?
        {
            holding(base, child, &path, marker, out)?;
        }
    }
    Ok(())
}

/// `rel/name`, or `name` at the top.
fn join(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_owned()
    } else {
        format!("{rel}/{name}")
    }
}

/// Every entry of a directory but `.` and `..` (names that are not UTF-8
/// left out), and whether it is a directory; the `Dir` stays open for
/// lookups in it.
fn list(dir: OwnedFd) -> io::Result<(Dir, Vec<(String, bool)>)> {
    let mut entries = Dir::new(dir)?;
    let mut listed = Vec::new();
    while let Some(entry) = entries.read() {
        let entry = entry?;
        let Ok(name) = entry.file_name().to_str() else {
            continue;
        };
        if name == "." || name == ".." {
            continue;
        }
        let is_dir = is_dir(&entries, &entry, name);
        listed.push((name.to_owned(), is_dir));
    }
    Ok((entries, listed))
}

/// Whether a listed entry is a directory (asked of the filesystem when
/// its listing does not say).
fn is_dir(entries: &Dir, entry: &rustix::fs::DirEntry, name: &str) -> bool {
    match entry.file_type() {
        FileType::Directory => true,
        FileType::Unknown => matches!(
            entries.fd().and_then(|fd| rustix::fs::statat(fd, name, AtFlags::SYMLINK_NOFOLLOW)),
            Ok(st) if FileType::from_raw_mode(st.st_mode).is_dir()
        ),
        _ => false,
    }
}

/// A directory opened for lookups in it; `None` when it does not exist.
fn open_dir(parent: impl AsFd, name: impl rustix::path::Arg) -> io::Result<Option<OwnedFd>> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    missing_is_none(rustix::fs::openat(parent, name, flags, Mode::empty()))
}

fn stat(dir: BorrowedFd<'_>, path: &str) -> io::Result<Option<Meta>> {
    Ok(missing_is_none(rustix::fs::statat(dir, path, AtFlags::empty()))?.map(|st| meta_of(&st)))
}

/// The meta of a file and, when it is at most `limit` bytes, its content.
fn read_small(
    dir: BorrowedFd<'_>,
    path: &str,
    limit: u64,
) -> io::Result<(Option<Meta>, Option<Bytes>)> {
    let flags = OFlags::RDONLY | OFlags::CLOEXEC;
    let Some(file) = missing_is_none(rustix::fs::openat(dir, path, flags, Mode::empty()))? else {
        return Ok((None, None));
    };
    let meta = meta_of(&rustix::fs::fstat(&file)?);
    if meta.is_dir || meta.size > limit {
        return Ok((Some(meta), None));
    }
    // One read for a link: its size is known, and links are replaced by
    // rename, never written in place.
    let mut buf = vec![0; meta.size as usize];
    let mut filled = 0;
    while filled < buf.len() {
        match rustix::io::read(&file, &mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    buf.truncate(filled);
    Ok((Some(meta), Some(Bytes::from(buf))))
}

fn meta_of(st: &rustix::fs::Stat) -> Meta {
    let modified = u64::try_from(st.st_mtime)
        .ok()
        .map(|s| Duration::new(s, u32::try_from(st.st_mtime_nsec).unwrap_or(0)))
        .and_then(|d| SystemTime::UNIX_EPOCH.checked_add(d))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    Meta {
        size: u64::try_from(st.st_size).unwrap_or(0),
        modified,
        is_dir: FileType::from_raw_mode(st.st_mode).is_dir(),
    }
}

/// Not there (or a file where a directory was expected): `None`.
fn missing_is_none<T>(r: rustix::io::Result<T>) -> io::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(Errno::NOENT | Errno::NOTDIR) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
