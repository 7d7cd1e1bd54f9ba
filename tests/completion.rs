//! Shell completion as a shell runs it: the shipped `completions/regctl.bash`
//! is sourced in bash and its function called with `COMP_WORDS`,
//! `COMP_CWORD`, `COMP_LINE`, `COMP_POINT` and the arguments bash passes,
//! against a `regctl serve` holding a few repositories and tags. The fish
//! script is run by fish itself, and the zsh script by zsh with its
//! completion built-ins stubbed, where those shells are installed.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::push::push_image;
use common::{Serve, TestImage, require_peer};

/// What bash splits words at besides blanks (its default COMP_WORDBREAKS
/// minus quotes and redirections, which these lines do not contain).
const WORD_BREAKS: &[char] = &[':', '='];

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// `COMP_WORDS` as bash builds it for `line` (cursor at the end): words at
/// blanks, and each run of word-break characters a word of its own.
fn comp_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    for blank_word in line.split_whitespace() {
        let mut current = String::new();
        let mut in_breaks = false;
        for c in blank_word.chars() {
            let is_break = WORD_BREAKS.contains(&c);
            if is_break != in_breaks && !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            in_breaks = is_break;
            current.push(c);
        }
        if !current.is_empty() {
            words.push(current);
        }
    }
    if line.ends_with(' ') {
        words.push(String::new());
    }
    words
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A bash with the shipped completion loaded, regctl on PATH and an
/// isolated home.
struct Bash {
    home: tempfile::TempDir,
    registry: Option<String>,
}

/// What a completion gave: the candidates (as bash would insert them, i.e.
/// after the last word break) and the line after inserting the only
/// candidate, if there is exactly one.
#[derive(Debug)]
struct Completed {
    candidates: Vec<String>,
    line_after: Option<String>,
    stderr: String,
}

impl Bash {
    fn new(registry: Option<&str>) -> Bash {
        Bash {
            home: tempfile::tempdir().unwrap(),
            registry: registry.map(str::to_owned),
        }
    }

    fn complete(&self, line: &str) -> Completed {
        let words = comp_words(line);
        let cword = words.len() - 1;
        // $2: the text after the last blank or word break; $3: the word before.
        let replaced = line
            .rsplit(|c: char| c.is_whitespace() || WORD_BREAKS.contains(&c))
            .next()
            .unwrap_or("");
        let previous = if cword > 0 { &words[cword - 1] } else { "" };
        let script = format!(
            "source {}\nCOMP_LINE={}\nCOMP_POINT={}\nCOMP_WORDS=({})\nCOMP_CWORD={cword}\n\
             COMP_TYPE=9\n_regctl regctl {} {}\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
            shell_quote(
                &repo_root()
                    .join("completions/regctl.bash")
                    .to_string_lossy()
            ),
            shell_quote(line),
            line.len(),
            words
                .iter()
                .map(|w| shell_quote(w))
                .collect::<Vec<_>>()
                .join(" "),
            shell_quote(replaced),
            shell_quote(previous),
        );
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_regctl")).parent().unwrap();
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new("bash");
        cmd.args(["--norc", "--noprofile", "-c", &script])
            .env("PATH", path)
            .env("HOME", self.home.path())
            .env("DOCKER_CONFIG", self.home.path().join(".docker"))
            .env("XDG_CONFIG_HOME", self.home.path().join("xdg"))
            .env_remove("REGCTL_REGISTRY");
        if let Some(r) = &self.registry {
            cmd.env("REGCTL_REGISTRY", r);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "bash failed: {out:?}");
        let candidates: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        let line_after = match candidates.as_slice() {
            [only] => Some(format!("{}{only}", &line[..line.len() - replaced.len()])),
            _ => None,
        };
        Completed {
            candidates,
            line_after,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}

async fn registry_with_images() -> Serve {
    let serve = Serve::start(&[]);
    let addr = serve.addr().to_owned();
    let img = TestImage::oci("completion", 1, 64);
    for (repo, tag) in [
        ("busybox", "1.10"),
        ("busybox", "1.2"),
        ("busybox", "latest"),
        ("busybox", "1.0"),
        ("cdecl/alpine", "3.19"),
        ("cdecl/alpine", "edge"),
        ("app", "pr-1"),
    ] {
        push_image(&addr, repo, tag, &img).await;
    }
    serve
}

#[tokio::test(flavor = "multi_thread")]
async fn bash_completes_commands_repositories_and_tags() {
    if !require_peer("bash") {
        return;
    }
    let serve = registry_with_images().await;
    let addr = serve.addr().to_owned();
    let bash = Bash::new(Some(&addr));

    // Commands: the visible ones, no options, no hidden commands.
    let c = bash.complete("regctl ");
    assert!(c.candidates.contains(&"tags".to_owned()), "{c:?}");
    assert!(c.candidates.contains(&"serve".to_owned()), "{c:?}");
    for hidden in ["generate-docs", "__complete"] {
        assert!(!c.candidates.contains(&hidden.to_owned()), "{c:?}");
    }
    assert!(!c.candidates.iter().any(|w| w.starts_with('-')), "{c:?}");

    // A repository argument: the registry's repositories, never an option
    // (their common prefix was the stray "-").
    let c = bash.complete("regctl tags ");
    assert_eq!(sorted(&c.candidates), ["app", "busybox", "cdecl/alpine"]);
    let c = bash.complete("regctl tags cd");
    assert_eq!(c.line_after.as_deref(), Some("regctl tags cdecl/alpine"));
    let c = bash.complete("regctl prune bu");
    assert_eq!(c.line_after.as_deref(), Some("regctl prune busybox"));

    // Tags after REPO: (bash replaces only what follows the colon).
    let c = bash.complete("regctl rm busybox:");
    assert_eq!(sorted(&c.candidates), ["1.0", "1.10", "1.2", "latest"]);
    assert!(!c.candidates.iter().any(|w| w.is_empty() || w == "-"));
    let c = bash.complete("regctl rm busybox:la");
    assert_eq!(c.line_after.as_deref(), Some("regctl rm busybox:latest"));
    // Completions at once (several shells, or a shell re-asking) do not
    // disturb one another.
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| bash.complete("regctl rm busybox:")))
            .collect();
        for w in workers {
            let c = w.join().unwrap();
            assert_eq!(sorted(&c.candidates), ["1.0", "1.10", "1.2", "latest"]);
        }
    });
    let c = bash.complete("regctl inspect --platform linux/amd64 cdecl/alpine:e");
    assert_eq!(
        c.line_after.as_deref(),
        Some("regctl inspect --platform linux/amd64 cdecl/alpine:edge")
    );
    // Both image arguments of cp.
    let c = bash.complete("regctl cp app:pr-1 busybox:1.1");
    assert_eq!(
        c.line_after.as_deref(),
        Some("regctl cp app:pr-1 busybox:1.10")
    );
    // tag's second argument is a new name: nothing to offer, and no "-".
    let c = bash.complete("regctl tag busybox:1.0 ");
    assert!(c.candidates.is_empty(), "{c:?}");

    // Options and their values.
    let c = bash.complete("regctl tags busybox --fo");
    assert_eq!(
        c.line_after.as_deref(),
        Some("regctl tags busybox --format")
    );
    let c = bash.complete("regctl tags busybox --format ");
    assert_eq!(sorted(&c.candidates), ["json", "plain", "table"]);
    let c = bash.complete("regctl tags busybox --format=j");
    assert_eq!(
        c.line_after.as_deref(),
        Some("regctl tags busybox --format=json")
    );
    let c = bash.complete("regctl serve --");
    assert!(c.candidates.contains(&"--port".to_owned()), "{c:?}");
    assert!(!c.candidates.contains(&"--insecure".to_owned()), "{c:?}");
    assert!(!c.candidates.contains(&"--ca-cert".to_owned()), "{c:?}");
    assert!(c.stderr.is_empty(), "{}", c.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn bash_uses_the_registry_typed_on_the_line() {
    if !require_peer("bash") {
        return;
    }
    let serve = registry_with_images().await;
    let addr = serve.addr().to_owned();
    // No default registry: the one typed in the word, or with -r.
    let bash = Bash::new(None);
    let c = bash.complete(&format!("regctl tags {addr}/cd"));
    assert_eq!(
        c.line_after.as_deref(),
        Some(format!("regctl tags {addr}/cdecl/alpine").as_str())
    );
    let c = bash.complete(&format!("regctl rm {addr}/busybox:1."));
    assert_eq!(sorted(&c.candidates), ["1.0", "1.10", "1.2"]);
    let c = bash.complete(&format!("regctl -r {addr} tags b"));
    assert_eq!(
        c.line_after.as_deref(),
        Some(format!("regctl -r {addr} tags busybox").as_str())
    );
    let c = bash.complete(&format!("regctl digest --registry={addr} app:"));
    assert_eq!(c.candidates, ["pr-1"]);
}

#[test]
fn bash_completion_gives_up_quietly_on_a_dead_or_silent_registry() {
    if !require_peer("bash") {
        return;
    }
    // Nothing listens on port 1: refused at once.
    let bash = Bash::new(Some("127.0.0.1:1"));
    let c = bash.complete("regctl tags ");
    assert!(c.candidates.is_empty(), "{c:?}");
    assert!(c.stderr.is_empty(), "{}", c.stderr);

    // A registry that accepts connections and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let held = std::thread::spawn(move || {
        let mut conns = Vec::new();
        silent.set_nonblocking(true).unwrap();
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until && conns.len() < 16 {
            match silent.accept() {
                Ok((c, _)) => conns.push(c),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    let bash = Bash::new(Some(&addr));
    let started = Instant::now();
    let c = bash.complete("regctl rm busybox:");
    let took = started.elapsed();
    eprintln!("completion against a silent registry took {took:?}");
    assert!(c.candidates.is_empty(), "{c:?}");
    assert!(c.stderr.is_empty(), "{}", c.stderr);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    drop(held);
}

#[test]
fn comp_words_split_as_bash_does() {
    // The same splits bash produced for these lines (checked interactively).
    assert_eq!(
        comp_words("regctl rm busybox:"),
        ["regctl", "rm", "busybox", ":"]
    );
    assert_eq!(
        comp_words("regctl rm busybox:1"),
        ["regctl", "rm", "busybox", ":", "1"]
    );
    assert_eq!(comp_words("regctl tags "), ["regctl", "tags", ""]);
    assert_eq!(
        comp_words("regctl --format=j"),
        ["regctl", "--format", "=", "j"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fish_completes_repositories_and_tags() {
    if !require_peer("fish") {
        return;
    }
    let serve = registry_with_images().await;
    let addr = serve.addr().to_owned();
    let home = tempfile::tempdir().unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_regctl")).parent().unwrap();
    let complete = |line: &str| -> Vec<String> {
        let script = format!(
            "source {}; complete -C {}",
            shell_quote(
                &repo_root()
                    .join("completions/regctl.fish")
                    .to_string_lossy()
            ),
            shell_quote(line)
        );
        let out = Command::new("fish")
            .args(["--no-config", "-c", &script])
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    bin_dir.display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("xdg"))
            .env("REGCTL_REGISTRY", &addr)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let mut v: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| l.split('\t').next().unwrap_or("").to_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(complete("regctl tags "), ["app", "busybox", "cdecl/alpine"]);
    assert_eq!(complete("regctl rm busybox:1.1"), ["busybox:1.10"]);
    let commands = complete("regctl ");
    assert!(commands.contains(&"tags".to_owned()), "{commands:?}");
    assert!(!commands.contains(&"generate-docs".to_owned()));
}

/// zsh's completion functions replaced by stubs that print what the script
/// offers: `VALUE<TAB>space|nospace`, or `files`/`dirs`.
const ZSH_STUBS: &str = r#"
compdef() { :; }
_files() { print -r -- "files $*"; }
compadd() {
    local suffix=space arr
    while (( $# )); do
        case $1 in
            -S) suffix=nospace; shift ;;
            -a|-d) [[ $1 == -a ]] && arr=$2; shift ;;
        esac
        shift
    done
    local v
    for v in "${(@P)arr}"; do print -r -- "$v"$'\t'"$suffix"; done
}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn zsh_completes_repositories_and_tags() {
    if !require_peer("zsh") {
        return;
    }
    let serve = registry_with_images().await;
    let addr = serve.addr().to_owned();
    let home = tempfile::tempdir().unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_regctl")).parent().unwrap();
    let complete = |words: &[&str]| -> Vec<String> {
        let script = format!(
            "{ZSH_STUBS}\nsource {}\nwords=({})\nCURRENT={}\n_regctl\n",
            shell_quote(&repo_root().join("completions/_regctl").to_string_lossy()),
            words
                .iter()
                .map(|w| shell_quote(w))
                .collect::<Vec<_>>()
                .join(" "),
            words.len()
        );
        let out = Command::new("zsh")
            .args(["-f", "-c", &script])
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    bin_dir.display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("xdg"))
            .env("REGCTL_REGISTRY", &addr)
            .output()
            .unwrap();
        assert!(out.stderr.is_empty(), "{out:?}");
        let mut v: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        complete(&["regctl", "tags", ""]),
        ["app\tspace", "busybox\tspace", "cdecl/alpine\tspace"]
    );
    assert_eq!(
        complete(&["regctl", "rm", "busybox:1.1"]),
        ["busybox:1.10\tspace"]
    );
    let commands = complete(&["regctl", ""]);
    assert!(commands.contains(&"tags\tspace".to_owned()), "{commands:?}");
    assert!(!commands.iter().any(|c| c.starts_with("generate-docs")));
    assert_eq!(complete(&["regctl", "serve", "--root", ""]), ["files -/"]);
    assert_eq!(
        complete(&["regctl", "tags", "app", "--format=j"]),
        ["--format=json\tspace"]
    );
}
