//! Garbage collection, three ways: natively over a storage root (offline),
//! and by driving registry:2's own collector inside its container. (The
//! third, online collection, is the server's admin endpoint, reached
//! through the client.)

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, BufReader};

pub use crate::storage::gc::Planned;
use crate::storage::{
    Backend, FsBackend, LockError, Registry, RootLock, StorageError, StorageUrl, StorageUrlError,
};
use crate::types::gc::{GcOptions, GcSummary};

#[derive(Debug, thiserror::Error)]
pub enum GcError {
    #[error(
        "{0} holds no registry data (no docker/registry/v2 under it); pass the directory registry:2 calls \
         its rootdirectory, e.g. /var/lib/registry"
    )]
    NotARoot(String),
    #[error(
        "{0} does not exist; pass the directory registry:2 calls its rootdirectory, e.g. /var/lib/registry"
    )]
    NoSuchRoot(String),
    /// The root lock is held (its message says by whom and what to do),
    /// or cannot be taken at all (`Io`: permissions, read-only, …).
    #[error("{error}")]
    Locked { error: LockError },
    #[error("cannot read {path}: {source}; run as the user that owns the storage (or root)")]
    Unreadable {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{root} looks in use: {} (stop the registry writing to it, or pass --force)",
        .uploads.join("; ")
    )]
    Active { root: String, uploads: Vec<String> },
    #[error("another garbage collection is running on this registry")]
    Busy,
    #[error(transparent)]
    StorageUrl(#[from] StorageUrlError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("cannot run {command}: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{command} failed ({status})")]
    CommandFailed { command: String, status: String },
    #[error(
        "{command} finished without its summary line (\"N blobs marked, M blobs and K manifests eligible \
         for deletion\"); is it registry:2's `registry garbage-collect`?"
    )]
    NoSummary { command: String },
}

/// Fails unless `root` holds registry data (`docker/registry/v2`).
pub fn check_root(root: &Path) -> Result<(), GcError> {
    let unreadable = |path: &Path, source| GcError::Unreadable {
        path: path.display().to_string(),
        source,
    };
    // Each level on its own: a directory we may not read must not look
    // like one that holds no registry data.
    let mut dir = root.to_owned();
    for part in ["docker", "registry", "v2"] {
        match std::fs::read_dir(&dir) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && dir == root => {
                return Err(GcError::NoSuchRoot(root.display().to_string()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(GcError::NotARoot(root.display().to_string()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Err(unreadable(&dir, e));
            }
            Err(_) => return Err(GcError::NotARoot(root.display().to_string())),
        }
        dir.push(part);
    }
    match std::fs::read_dir(&dir) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(unreadable(&dir, e)),
        Err(_) => Err(GcError::NotARoot(root.display().to_string())),
    }
}

/// Fails unless a backend holds registry data (`docker/registry/v2/...`).
pub async fn check_storage(backend: &dyn Backend, name: &str) -> Result<(), GcError> {
    let found = backend
        .list("docker/registry/v2")
        .await
        .map_err(StorageError::Io)?;
    if found.is_empty() {
        return Err(GcError::NotARoot(name.to_owned()));
    }
    Ok(())
}

/// A storage root opened for an offline collection, locked against
/// `regctl serve` until dropped.
pub struct OfflineRoot {
    /// The root directory or bucket, for messages.
    root: String,
    registry: Registry,
    _lock: Option<RootLock>,
}

impl OfflineRoot {
    /// Opens `root`. Without `force`, fails while a `regctl serve` holds it.
    pub fn open(root: &Path, force: bool) -> Result<Self, GcError> {
        check_root(root)?;
        let lock = match RootLock::exclusive(root) {
            Ok(lock) => Some(lock),
            Err(_) if force => None,
            Err(error) => return Err(GcError::Locked { error }),
        };
        Ok(OfflineRoot {
            root: root.display().to_string(),
            registry: Registry::new(Arc::new(FsBackend::new(root))),
            _lock: lock,
        })
    }

    /// Opens a `--storage` URL: a directory as [`OfflineRoot::open`], a
    /// bucket with no lock (an object store has none to take: stop the
    /// servers, or collect online through one of them).
    pub async fn open_storage(storage: &StorageUrl, force: bool) -> Result<Self, GcError> {
        if let StorageUrl::Dir(root) = storage {
            return Self::open(root, force);
        }
        let backend = storage.open()?;
        check_storage(backend.as_ref(), &storage.to_string()).await?;
        Ok(OfflineRoot {
            root: storage.to_string(),
            registry: Registry::new(backend),
            _lock: None,
        })
    }

    /// Marks and plans a collection. Without `force`, refuses when recent
    /// uploads show that something (registry:2 takes no lock) is writing.
    pub async fn plan(&self, opts: &GcOptions, force: bool) -> Result<Planned<'_>, GcError> {
        let planned = Planned::draw(&self.registry, opts)
            .await?
            .ok_or(GcError::Busy)?;
        if !force && !planned.plan().active_uploads.is_empty() {
            return Err(GcError::Active {
                root: self.root.clone(),
                uploads: planned.plan().active_uploads.clone(),
            });
        }
        Ok(planned)
    }
}

/// How to reach registry:2's collector inside a container.
#[derive(Debug, Clone)]
pub struct ContainerGc {
    /// The command prefix, e.g. `docker exec NAME`.
    pub prefix: Vec<String>,
    /// The registry configuration inside the container.
    pub config: String,
    pub delete_untagged: bool,
    pub dry_run: bool,
}

impl ContainerGc {
    /// `docker exec NAME`, the usual prefix.
    pub fn docker_exec(container: &str) -> Vec<String> {
        vec!["docker".into(), "exec".into(), container.into()]
    }

    /// The whole command line.
    pub fn argv(&self) -> Vec<String> {
        let mut argv = self.prefix.clone();
        argv.extend(["registry".into(), "garbage-collect".into()]);
        if self.dry_run {
            argv.push("--dry-run".into());
        }
        if self.delete_untagged {
            argv.push("--delete-untagged".into());
        }
        argv.push(self.config.clone());
        argv
    }

    /// Runs the collector, handing each line of its output (stdout and
    /// stderr) to `line`, and returns the summary parsed from it.
    pub async fn run(&self, mut line: impl FnMut(&str)) -> Result<GcSummary, GcError> {
        let argv = self.argv();
        let command = argv.join(" ");
        let Some((program, args)) = argv.split_first() else {
            return Err(GcError::NoSummary { command });
        };
        let mut child = tokio::process::Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| GcError::Spawn {
                command: command.clone(),
                source,
            })?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(GcError::NoSummary { command });
        };
        let mut out = BufReader::new(stdout).lines();
        let mut err = BufReader::new(stderr).lines();
        let mut counts = None;
        let (mut out_open, mut err_open) = (true, true);
        while out_open || err_open {
            let next = tokio::select! {
                l = out.next_line(), if out_open => l.map(|l| (l, true)),
                l = err.next_line(), if err_open => l.map(|l| (l, false)),
            };
            match next {
                Ok((Some(text), _)) => {
                    if let Some(c) = parse_registry_gc_summary(&text) {
                        counts = Some(c);
                    }
                    line(&text);
                }
                Ok((None, true)) | Err(_) => out_open = false,
                Ok((None, false)) => err_open = false,
            }
        }
        let status = child.wait().await.map_err(|source| GcError::Spawn {
            command: command.clone(),
            source,
        })?;
        if !status.success() {
            return Err(GcError::CommandFailed {
                command,
                status: status.to_string(),
            });
        }
        let (_marked, blobs, manifests) = counts.ok_or(GcError::NoSummary { command })?;
        Ok(GcSummary {
            dry_run: self.dry_run,
            manifests_removed: manifests,
            blobs_removed: blobs,
            bytes_freed: None,
            ..GcSummary::default()
        })
    }
}

/// Parses registry:2's last line, "N blobs marked, M blobs and K manifests
/// eligible for deletion", into (N, M, K).
pub fn parse_registry_gc_summary(line: &str) -> Option<(usize, usize, usize)> {
    let rest = line.trim();
    let (marked, rest) = rest.split_once(" blobs marked, ")?;
    let (blobs, rest) = rest.split_once(" blobs and ")?;
    let (manifests, rest) = rest.split_once(" manifests eligible for deletion")?;
    if !rest.trim().is_empty() {
        return None;
    }
    let last_word = |s: &str| s.split_whitespace().last()?.parse().ok();
    Some((
        last_word(marked)?,
        blobs.trim().parse().ok()?,
        manifests.trim().parse().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_registry2_summary_line() {
        assert_eq!(
            parse_registry_gc_summary(
                "5 blobs marked, 2 blobs and 0 manifests eligible for deletion"
            ),
            Some((5, 2, 0))
        );
        assert_eq!(
            parse_registry_gc_summary(
                "\n12 blobs marked, 3 blobs and 1 manifests eligible for deletion\n"
            ),
            Some((12, 3, 1))
        );
        assert_eq!(
            parse_registry_gc_summary("busybox: marking blob sha256:abc"),
            None
        );
        assert_eq!(
            parse_registry_gc_summary(
                "x blobs marked, 2 blobs and 0 manifests eligible for deletion"
            ),
            None
        );
    }

    #[test]
    fn argv_puts_flags_before_the_config() {
        let gc = ContainerGc {
            prefix: ContainerGc::docker_exec("registry"),
            config: "/etc/docker/registry/config.yml".into(),
            delete_untagged: true,
            dry_run: true,
        };
        assert_eq!(
            gc.argv().join(" "),
            "docker exec registry registry garbage-collect --dry-run --delete-untagged /etc/docker/registry/config.yml"
        );
    }
}
