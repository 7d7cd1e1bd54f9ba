//! Error messages and exit codes, each case run through the binary: what
//! happened, to which path or reference, and what to do — and the exit code
//! the README documents. Permission cases run as the `nobody` user (root
//! ignores directory permissions); where no user can be dropped to, they
//! are skipped with the reason printed.

mod common;

use std::path::Path;
use std::process::Command;

use common::push::{http, push_image};
use common::{DistRegistry, Serve, TestImage, regctl};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A command that runs regctl as `nobody`, when the tests run as root and
/// `setpriv` is there; `None` (with the reason printed) otherwise.
fn as_nobody(home: &Path) -> Option<Command> {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the process's effective user.
    let euid = std::fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid());
    if euid != 0 {
        eprintln!(
            "skipped: not root, so cannot switch to the nobody user (permission cases need it)"
        );
        return None;
    }
    if !Path::new("/usr/bin/setpriv").exists() {
        eprintln!("skipped: setpriv is not installed (util-linux), cannot drop to nobody");
        return None;
    }
    std::fs::create_dir_all(home).unwrap();
    chmod(home, 0o777);
    let mut c = Command::new("/usr/bin/setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_regctl"))
        .env("HOME", home)
        .env("DOCKER_CONFIG", home.join(".docker"))
        .env("XDG_CONFIG_HOME", home.join("xdg"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("NO_COLOR", "1")
        .env_remove("REGCTL_REGISTRY")
        .env_remove("REGCTL_ROOT")
        .stdin(std::process::Stdio::null());
    Some(c)
}

fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// An empty registry:2 layout under `dir/root`, traversable by anyone.
fn empty_root(dir: &Path) -> std::path::PathBuf {
    chmod(dir, 0o755);
    let root = dir.join("root");
    for sub in ["blobs/sha256", "repositories"] {
        std::fs::create_dir_all(root.join("docker/registry/v2").join(sub)).unwrap();
    }
    for p in ["", "docker", "docker/registry", "docker/registry/v2"] {
        chmod(&root.join(p), 0o755);
    }
    root
}

fn assert_once(haystack: &str, needle: &str) {
    assert_eq!(
        haystack.matches(needle).count(),
        1,
        "{needle:?} must appear exactly once in: {haystack}"
    );
}

#[test]
fn gc_root_without_permission_says_so_not_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let root = empty_root(dir.path());
    let Some(mut nobody) = as_nobody(&dir.path().join("home")) else {
        return;
    };
    let out = nobody
        .args(["gc", "--root"])
        .arg(&root)
        .arg("--yes")
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a file error, not 'refused': {err}"
    );
    assert!(
        err.contains(&root.join(".regctl.lock").display().to_string()),
        "{err}"
    );
    assert!(err.contains("Permission denied"), "{err}");
    assert!(
        err.contains("run as the user that owns the storage"),
        "{err}"
    );
    assert!(!err.contains("collect through the server"), "{err}");
    assert_once(&err, "Permission denied");
}

#[test]
fn serve_without_permission_for_the_lock_does_not_blame_a_collection() {
    let dir = tempfile::tempdir().unwrap();
    let root = empty_root(dir.path());
    let Some(mut nobody) = as_nobody(&dir.path().join("home")) else {
        return;
    };
    let out = nobody
        .args(["serve", "--port", "0", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(".regctl.lock"), "{err}");
    assert!(err.contains("may not write to"), "{err}");
    assert!(!err.contains("collection has finished"), "{err}");
}

#[test]
fn du_root_on_unreadable_directories_names_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = empty_root(dir.path());
    let Some(mut nobody) = as_nobody(&dir.path().join("home")) else {
        return;
    };
    let Some(mut nobody2) = as_nobody(&dir.path().join("home")) else {
        return;
    };
    // The root itself unreadable: not "holds no registry data".
    chmod(&root, 0o700);
    let out = nobody.args(["du", "--root"]).arg(&root).output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("cannot read {}", root.display())),
        "{err}"
    );
    assert!(!err.contains("holds no registry data"), "{err}");
    assert_once(&err, "Permission denied");

    // The blobs directory unreadable: the path, said once.
    chmod(&root, 0o755);
    let blobs = root.join("docker/registry/v2/blobs");
    chmod(&blobs, 0o700);
    let out = nobody2.args(["du", "--root"]).arg(&root).output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&blobs.display().to_string()),
        "names the path: {err}"
    );
    assert_once(&err, "Permission denied");
    assert!(
        err.contains("hint: this user may not read or write that path"),
        "{err}"
    );
}

#[test]
fn du_root_on_a_missing_or_wrong_directory() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let missing = dir.path().join("nope");
    let out = regctl(&home)
        .args(["du", "--root"])
        .arg(&missing)
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("does not exist"), "{err}");
    let out = regctl(&home)
        .args(["du", "--root"])
        .arg(dir.path())
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("holds no registry data"), "{err}");
}

#[test]
fn gc_against_registry2_is_unsupported_without_an_unrelated_hint() {
    let Some(dist) = DistRegistry::start(true) else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let out = regctl(home.path())
        .args(["gc", dist.addr(), "--yes"])
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(err.contains("has no online garbage collection"), "{err}");
    assert!(err.contains("--container NAME"), "{err}");
    assert!(!err.contains("hint:"), "no unrelated hint: {err}");
    assert!(!err.contains("regctl tags"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_tag_or_repository_is_named() {
    let Some(dist) = DistRegistry::start(true) else {
        return;
    };
    let serve = Serve::start(&[]);
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    for addr in [dist.addr(), serve.addr()] {
        push_image(addr, "busybox", "1.0", &TestImage::oci("msg", 1, 64)).await;
        for cmd in [&["digest"][..], &["rm", "--yes"][..]] {
            let out = regctl(h)
                .args(cmd)
                .arg(format!("{addr}/busybox:9.9"))
                .output()
                .unwrap();
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(3), "{cmd:?}: {err}");
            assert!(
                err.contains(&format!("tag 9.9 not found in {addr}/busybox")),
                "{err}"
            );
            assert!(
                err.contains(&format!("regctl tags {addr}/busybox")),
                "{err}"
            );
            assert!(!err.contains("HTTP 404"), "no raw HTTP: {err}");
        }
    }
}

#[test]
fn an_invalid_digest_is_said_once() {
    let home = tempfile::tempdir().unwrap();
    let out = regctl(home.path())
        .args(["digest", "localhost:5000/x@sha256:abc"])
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_once(&err, "64 lower-case hex digits");
}

#[tokio::test(flavor = "multi_thread")]
async fn online_gc_says_what_it_removed_and_what_min_age_kept() {
    let serve = Serve::start(&[]);
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    // Nothing to collect: a real run says it removed nothing.
    let out = regctl(h)
        .args(["gc", serve.addr(), "--yes"])
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("gc: removed 0 manifests"), "{stdout}");
    assert!(!stdout.contains("would remove"), "{stdout}");

    // An image pushed and deleted just now: its blobs are unreferenced but
    // younger than the default --min-age, and the summary says so.
    let img = TestImage::oci("msg-young", 2, 512);
    push_image(serve.addr(), "young", "v1", &img).await;
    let resp = http()
        .delete(format!(
            "http://{}/v2/young/manifests/{}",
            serve.addr(),
            img.digest
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    let out = regctl(h)
        .args(["gc", serve.addr(), "--yes"])
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains("younger than --min-age 1h"),
        "says what min-age held back: {stdout}"
    );
    let out = regctl(h)
        .args(["gc", serve.addr(), "--yes", "--min-age", "0s"])
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!stdout.contains("younger than"), "{stdout}");
    assert!(stdout.contains("gc: removed"), "{stdout}");
}
