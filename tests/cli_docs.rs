//! The committed completion scripts and man pages match the current CLI.

use std::path::Path;
use std::process::Command;

const REGENERATE: &str = "cargo run -- generate-docs --out .";

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}; regenerate with `{REGENERATE}`", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn committed_completions_and_man_pages_are_current() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_regctl"))
        .args(["generate-docs", "--out"])
        .arg(tmp.path())
        .env_remove("REGCTL_REGISTRY")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stale = Vec::new();
    for sub in ["completions", "man"] {
        let fresh = files(&tmp.path().join(sub));
        let committed = files(&repo.join(sub));
        if fresh != committed {
            stale.push(format!("{sub}/: files {committed:?}, expected {fresh:?}"));
            continue;
        }
        for name in fresh {
            let a = std::fs::read(tmp.path().join(sub).join(&name)).unwrap();
            let b = std::fs::read(repo.join(sub).join(&name)).unwrap();
            if a != b {
                stale.push(format!("{sub}/{name}"));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "out of date: {stale:?}; regenerate with `{REGENERATE}` and commit the result"
    );
}

#[test]
fn completions_command_prints_each_shell() {
    for (shell, needle) in [
        ("bash", "_regctl()"),
        ("zsh", "#compdef regctl"),
        ("fish", "complete -c regctl"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[regctl]"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_regctl"))
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(needle), "{shell}: {needle} missing");
        assert!(text.contains("tags"), "{shell}: subcommands missing");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_regctl"))
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
