//! The lock that keeps an offline garbage collection and a running
//! `regctl serve` off the same storage root at the same time.
//!
//! Servers hold a shared lock for their lifetime (several may share a root);
//! `regctl gc --root` takes it exclusively. The lock is an advisory file lock
//! (`flock`), so the kernel drops it when a process dies: a crash never leaves
//! a stale lock behind. registry:2 knows nothing of it, which is why the
//! collector also looks for recent uploads before it sweeps.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

/// The lock file, at the top of the root beside `docker/`.
pub const LOCK_FILE: &str = ".regctl.lock";

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{root} is in use by a running `regctl serve` ({lock} is held): collect through the \
         server instead (`regctl gc HOST:PORT`), or stop it first (--force skips this check)"
    )]
    InUseByServer { root: String, lock: String },
    #[error(
        "a garbage collection is running on {root} ({lock} is held): start the server when \
         the collection has finished"
    )]
    InUseByCollector { root: String, lock: String },
    #[error("cannot create or lock {lock}: {}", io_advice(.lock, .source))]
    Io {
        lock: String,
        #[source]
        source: io::Error,
    },
}

/// What a failure to create or lock the lock file means, and what to do.
fn io_advice(lock: &str, e: &io::Error) -> String {
    let dir = Path::new(lock)
        .parent()
        .map_or_else(|| lock.to_owned(), |p| p.display().to_string());
    match e.kind() {
        io::ErrorKind::PermissionDenied => format!(
            "{e}: this user may not write to {dir}; run as the user that owns the storage \
             (or root)"
        ),
        io::ErrorKind::ReadOnlyFilesystem => {
            format!("{e}: {dir} is on a read-only file system; mount it writable")
        }
        io::ErrorKind::NotFound => format!("{e}: {dir} does not exist"),
        _ => e.to_string(),
    }
}

/// A held lock on a storage root; released on drop.
#[derive(Debug)]
pub struct RootLock {
    _file: File,
    path: PathBuf,
}

#[derive(Clone, Copy)]
enum Mode {
    Shared,
    Exclusive,
}

impl RootLock {
    /// Taken by a server: fails only while a collection holds the root.
    pub fn shared(root: &Path) -> Result<Self, LockError> {
        Self::take(root, Mode::Shared)
    }

    /// Taken by the offline collector: fails while any server holds the root.
    pub fn exclusive(root: &Path) -> Result<Self, LockError> {
        Self::take(root, Mode::Exclusive)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn take(root: &Path, mode: Mode) -> Result<Self, LockError> {
        let path = root.join(LOCK_FILE);
        let io_err = |source| LockError::Io {
            lock: path.display().to_string(),
            source,
        };
        std::fs::create_dir_all(root).map_err(io_err)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_err)?;
        let result = match mode {
            Mode::Shared => file.try_lock_shared(),
            Mode::Exclusive => file.try_lock(),
        };
        match result {
            Ok(()) => Ok(RootLock { _file: file, path }),
            Err(TryLockError::WouldBlock) => {
                let root = root.display().to_string();
                let lock = path.display().to_string();
                Err(match mode {
                    Mode::Shared => LockError::InUseByCollector { root, lock },
                    Mode::Exclusive => LockError::InUseByServer { root, lock },
                })
            }
            Err(TryLockError::Error(e)) => Err(io_err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_share_and_the_collector_excludes() {
        let dir = tempfile::tempdir().unwrap();
        let a = RootLock::shared(dir.path()).unwrap();
        let b = RootLock::shared(dir.path()).unwrap();
        assert!(matches!(
            RootLock::exclusive(dir.path()),
            Err(LockError::InUseByServer { .. })
        ));
        drop((a, b));
        let gc = RootLock::exclusive(dir.path()).unwrap();
        assert!(matches!(
            RootLock::shared(dir.path()),
            Err(LockError::InUseByCollector { .. })
        ));
        drop(gc);
        RootLock::shared(dir.path()).unwrap();
    }

    #[test]
    fn messages_say_who_holds_the_lock_and_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let _server = RootLock::shared(dir.path()).unwrap();
        let held = RootLock::exclusive(dir.path()).unwrap_err().to_string();
        assert!(held.contains("regctl gc HOST:PORT"), "{held}");
        drop(_server);
        let _gc = RootLock::exclusive(dir.path()).unwrap();
        let held = RootLock::shared(dir.path()).unwrap_err().to_string();
        assert!(held.contains("collection has finished"), "{held}");
        // Not being allowed to create the file is not "in use".
        let denied = LockError::Io {
            lock: "/srv/registry/.regctl.lock".into(),
            source: io::Error::from(io::ErrorKind::PermissionDenied),
        }
        .to_string();
        assert!(
            denied.contains("may not write to /srv/registry"),
            "{denied}"
        );
        assert!(!denied.contains("collect through the server"), "{denied}");
        assert!(!denied.contains("collection has finished"), "{denied}");
    }
}
