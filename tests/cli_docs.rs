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
        assert!(text.contains("__complete"), "{shell}: does not ask regctl");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_regctl"))
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// The visible subcommands, from `regctl --help`'s list.
fn subcommands() -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_regctl"))
        .arg("--help")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let commands = text
        .split("Commands:\n")
        .nth(1)
        .expect("a Commands: section")
        .split("\n\n")
        .next()
        .unwrap();
    // "  name  about"; a wrapped about continues further right.
    commands
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}

fn help_of(command: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_regctl"))
        .args([command, "--help"])
        .env_remove("REGCTL_REGISTRY")
        .output()
        .unwrap();
    assert!(out.status.success(), "{command} --help");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_help_has_examples_and_global_options_apart() {
    let commands = subcommands();
    assert!(commands.len() >= 15, "{commands:?}");
    assert!(
        !commands
            .iter()
            .any(|c| c == "generate-docs" || c == "__complete")
    );
    for command in &commands {
        let help = help_of(command);
        let examples = help
            .split("Examples:\n")
            .nth(1)
            .unwrap_or_else(|| panic!("{command} --help has no examples:\n{help}"));
        assert!(
            examples
                .lines()
                .any(|l| l.trim_start().starts_with("regctl ") && l.contains(command.as_str())),
            "{command}: no example runs it:\n{examples}"
        );
        // Global options under their own heading, after the command's own.
        if let Some((own, global)) = help.split_once("Global options:\n") {
            assert!(own.contains("Options:"), "{command}");
            assert!(!own.contains("--insecure"), "{command}: globals mixed in");
            assert!(global.contains("--verbose") || global.contains("--config"));
        }
    }
    // Options that mean nothing to a command are not shown for it.
    for command in ["serve", "completions", "logout"] {
        let help = help_of(command);
        for flag in ["--insecure", "--ca-cert", "--registry"] {
            assert!(!help.contains(flag), "{command} --help lists {flag}");
        }
    }
    assert!(help_of("tags").contains("Global options:\n"));
    assert!(help_of("login").contains("--ca-cert"), "login does use TLS");
    // du names the argument it has.
    let du = help_of("du");
    assert!(du.contains("REGISTRY|REPO is then"), "{du}");
    assert!(!du.contains("TARGET"), "{du}");
    // The root help has examples too.
    let out = Command::new(env!("CARGO_BIN_EXE_regctl"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("Examples:\n"));
}

#[test]
fn committed_man_pages_have_the_sections() {
    let man = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let mut pages = vec!["regctl".to_owned()];
    pages.extend(subcommands().iter().map(|c| format!("regctl-{c}")));
    for page in pages {
        let path = man.join(format!("{page}.1"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; regenerate with `{REGENERATE}`", path.display()));
        for section in [
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH OPTIONS",
            ".SH EXAMPLES",
            ".SH \"EXIT STATUS\"",
            ".SH ENVIRONMENT",
            ".SH FILES",
        ] {
            assert!(text.contains(section), "{page}: no {section}");
        }
        let examples = text
            .split(".SH EXAMPLES")
            .nth(1)
            .unwrap()
            .split(".SH")
            .next()
            .unwrap();
        assert!(examples.contains("regctl"), "{page}: {examples}");
        assert!(text.contains("REGCTL_REGISTRY"), "{page}");
    }
}
