//! How a file becomes visible so that a crash cannot leave it half there:
//! the content is written and synced under a temporary name, renamed over
//! the final name, and the directory holding it is synced, so after a power
//! loss the name is there (with all its bytes) or not, never pointing at
//! nothing. Every place regctl makes a file others rely on goes through
//! here: the registry's storage, OCI layouts and archives, the docker
//! credentials file.

use std::io::{self, Write};
use std::path::Path;

/// Prefix of the temporary files made here; listings of a storage root or
/// layout skip them, and a crash leaves at most such a file behind.
pub const TEMP_PREFIX: &str = ".tmp-";

fn at(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// A temporary file name next to `path`.
pub fn temp_path_for(path: &Path) -> std::path::PathBuf {
    path.with_file_name(format!("{TEMP_PREFIX}{}", uuid::Uuid::new_v4()))
}

/// Moves a file whose content is already synced to `to` (creating its
/// directory), replacing `to` atomically, and syncs the directory.
pub fn rename(from: &Path, to: &Path) -> io::Result<()> {
    let Some(parent) = to.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Err(io::Error::other(format!(
            "{}: no parent directory",
            to.display()
        )));
    };
    std::fs::create_dir_all(parent).map_err(|e| at(parent, e))?;
    std::fs::rename(from, to).map_err(|e| at(to, e))?;
    std::fs::File::open(parent)
        .and_then(|d| d.sync_all())
        .map_err(|e| at(parent, e))
}

/// Writes `data` as the file `path` all or nothing (see the module's
/// comment); readers see the old content or the new, never part.
pub fn write(path: &Path, data: &[u8]) -> io::Result<()> {
    write_with(path, |f| f.write_all(data))
}

/// [`write`] with the content produced by `fill` into the temporary file
/// (which it may also chmod, or stream into). On any error the temporary
/// file is removed and `path` is untouched.
pub fn write_with(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> io::Result<()>,
) -> io::Result<()> {
    let tmp = temp_path_for(path);
    let result = (|| {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| at(parent, e))?;
        }
        let mut f = std::fs::File::create(&tmp).map_err(|e| at(&tmp, e))?;
        fill(&mut f).map_err(|e| at(&tmp, e))?;
        f.sync_all().map_err(|e| at(&tmp, e))?;
        drop(f);
        rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/file");
        write(&path, b"one").unwrap();
        write(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["file"]);
    }

    #[test]
    fn a_failed_fill_leaves_the_old_content_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("file");
        write(&path, b"old").unwrap();
        let err = write_with(&path, |f| {
            f.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
