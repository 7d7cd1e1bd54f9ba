//! Shell completion: `regctl completions SHELL` prints a small script that
//! asks the hidden `regctl __complete` for candidates at every <TAB>, so the
//! answers come from the command tree (subcommands, options, value lists)
//! and, for image arguments, from the registry itself (repositories, and
//! tags after `REPO:`).
//!
//! Protocol of `regctl __complete [--shell SHELL] -- WORD...`: the words are
//! the command line up to the cursor, the last one being the (possibly
//! empty) word under completion. The first line printed is a directive,
//! `values` (the lines that follow are the candidates) or `files` / `dirs`
//! (let the shell complete paths); then one candidate a line, with
//! `\tdescription` for shells that show descriptions. Nothing is ever
//! printed to stderr, errors give no candidates, and registry look-ups give
//! up after [`LOOKUP_TIMEOUT`].

use std::io::Write;
use std::time::Duration;

use clap::{Arg, Args, ValueEnum, ValueHint};

use regctl::client::Client;
use regctl::types::Reference;

use super::settings::{GlobalInput, Settings, Source};

/// A completion waits this long for the registry, then offers nothing.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);

/// Repositories read from a catalog for one completion.
const CATALOG_LIMIT: usize = 10_000;

/// Shells with a completion script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    #[value(name = "powershell")]
    PowerShell,
    Elvish,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, powershell or elvish
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

#[derive(Debug, Args)]
pub struct CompleteArgs {
    /// Shell asking (descriptions are given to all but bash)
    #[arg(long, value_enum, default_value_t = CompletionShell::Bash)]
    pub shell: CompletionShell,
    /// The command line up to the cursor, after `--`
    #[arg(last = true, allow_hyphen_values = true)]
    pub words: Vec<String>,
}

/// The script of one shell.
pub fn script(shell: CompletionShell) -> &'static str {
    match shell {
        CompletionShell::Bash => BASH,
        CompletionShell::Zsh => ZSH,
        CompletionShell::Fish => FISH,
        CompletionShell::PowerShell => POWERSHELL,
        CompletionShell::Elvish => ELVISH,
    }
}

pub fn run(args: CompletionsArgs) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(script(args.shell).as_bytes())?;
    out.flush()?;
    Ok(())
}

/// What the shell should do with the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// These candidates (value, description).
    Values(Vec<(String, Option<String>)>),
    /// Complete file names.
    Files,
    /// Complete directory names.
    Dirs,
}

/// What a positional argument names, for looking it up in a registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lookup {
    /// A repository.
    Repository,
    /// A repository, then `:TAG`.
    Image,
}

/// The dynamic kind of a positional argument, by command and argument id.
fn lookup_for(command: &str, arg: &str) -> Option<Lookup> {
    match (command, arg) {
        ("tags" | "prune", _) | ("du", "target") => Some(Lookup::Repository),
        ("inspect" | "digest" | "rm", "reference")
        | ("cp", "source" | "destination")
        | ("tag", "source") => Some(Lookup::Image),
        _ => None,
    }
}

/// A registry look-up the completion needs, worked out from the words.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pending {
    lookup: Lookup,
    current: String,
}

/// The command-line state after the words before the cursor.
struct Parsed<'a> {
    command: &'a clap::Command,
    /// The option whose value is being typed.
    option_value: Option<&'a Arg>,
    positionals: usize,
    after_double_dash: bool,
    registry: Option<String>,
    config: Option<String>,
    insecure: bool,
    ca_certs: Vec<String>,
}

fn find_long<'a>(cmd: &'a clap::Command, name: &str) -> Option<&'a Arg> {
    cmd.get_arguments().find(|a| {
        a.get_long() == Some(name) || a.get_all_aliases().is_some_and(|al| al.contains(&name))
    })
}

fn find_short(cmd: &clap::Command, c: char) -> Option<&Arg> {
    cmd.get_arguments().find(|a| a.get_short() == Some(c))
}

fn takes_value(a: &Arg) -> bool {
    a.get_action().takes_values() && !a.is_positional()
}

impl<'a> Parsed<'a> {
    fn new(root: &'a clap::Command) -> Self {
        Parsed {
            command: root,
            option_value: None,
            positionals: 0,
            after_double_dash: false,
            registry: None,
            config: None,
            insecure: false,
            ca_certs: Vec::new(),
        }
    }

    /// Remembers the global options that decide where look-ups go.
    fn record(&mut self, arg: &Arg, value: Option<&str>) {
        match (arg.get_id().as_str(), value) {
            ("registry", Some(v)) => self.registry = Some(v.to_owned()),
            ("config", Some(v)) => self.config = Some(v.to_owned()),
            ("ca_cert", Some(v)) => self.ca_certs.push(v.to_owned()),
            ("insecure", _) => self.insecure = true,
            _ => {}
        }
    }

    fn word(&mut self, w: &'a str) {
        if let Some(arg) = self.option_value.take() {
            self.record(arg, Some(w));
            return;
        }
        if self.after_double_dash || w == "-" || !w.starts_with('-') {
            if w == "--" && !self.after_double_dash {
                self.after_double_dash = true;
                return;
            }
            self.positional(w);
            return;
        }
        if let Some(long) = w.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            if let Some(arg) = find_long(self.command, name) {
                if value.is_none() && takes_value(arg) {
                    self.option_value = Some(arg);
                } else {
                    self.record(arg, value);
                }
            }
            return;
        }
        // Short options, possibly bundled (`-vy`), the last possibly taking
        // the rest of the word or the next word as its value.
        let shorts = &w[1..];
        for (i, c) in shorts.char_indices() {
            let Some(arg) = find_short(self.command, c) else {
                return;
            };
            if takes_value(arg) {
                let rest = &shorts[i + c.len_utf8()..];
                if rest.is_empty() {
                    self.option_value = Some(arg);
                } else {
                    self.record(arg, Some(rest.trim_start_matches('=')));
                }
                return;
            }
            self.record(arg, None);
        }
    }

    fn positional(&mut self, w: &str) {
        if self.positionals == 0
            && self.command.has_subcommands()
            && let Some(sub) = self.command.find_subcommand(w)
        {
            self.command = sub;
            return;
        }
        self.positionals += 1;
    }

    /// The positional argument the next word fills.
    fn positional_arg(&self) -> Option<&'a Arg> {
        let positionals: Vec<&Arg> = self.command.get_positionals().collect();
        positionals
            .get(self.positionals)
            .or_else(|| positionals.last().filter(|a| a.get_action().takes_values()))
            .filter(|a| {
                self.positionals < positionals.len()
                    || a.get_num_args().is_some_and(|n| n.max_values() > 1)
            })
            .copied()
    }
}

fn first_line(help: Option<&clap::builder::StyledStr>) -> Option<String> {
    help.map(|h| h.to_string())
        .and_then(|h| h.lines().next().map(str::to_owned))
        .filter(|h| !h.is_empty())
}

/// The answer for a value of `arg`, without registry look-ups.
fn values_of(arg: &Arg, current: &str) -> Answer {
    let possible: Vec<(String, Option<String>)> = arg
        .get_possible_values()
        .into_iter()
        .filter(|p| !p.is_hide_set() && p.get_name().starts_with(current))
        .map(|p| (p.get_name().to_owned(), first_line(p.get_help())))
        .collect();
    if !possible.is_empty() {
        return Answer::Values(possible);
    }
    let named = |wanted: &[&str]| {
        arg.get_value_names()
            .is_some_and(|names| names.iter().any(|n| wanted.contains(&n.as_str())))
    };
    match arg.get_value_hint() {
        ValueHint::DirPath => Answer::Dirs,
        _ if named(&["DIR"]) => Answer::Dirs,
        ValueHint::FilePath | ValueHint::AnyPath | ValueHint::ExecutablePath => Answer::Files,
        _ if named(&["FILE", "PATH"]) => Answer::Files,
        _ => Answer::Values(Vec::new()),
    }
}

/// Works out the answer from the words alone; a registry look-up, when one
/// is needed, is returned to be done by the caller.
fn plan(root: &clap::Command, words: &[String]) -> (Answer, Option<Pending>, GlobalWords) {
    let (current, before) = match words.split_last() {
        Some((cur, before)) => (cur.as_str(), before),
        None => ("", &[][..]),
    };
    let mut parsed = Parsed::new(root);
    // The first word is the program's name.
    for w in before.iter().skip(1) {
        parsed.word(w);
    }
    let globals = GlobalWords {
        registry: parsed.registry.clone(),
        config: parsed.config.clone(),
        insecure: parsed.insecure,
        ca_certs: parsed.ca_certs.clone(),
    };
    if let Some(arg) = parsed.option_value {
        return (values_of(arg, current), None, globals);
    }
    let cmd = parsed.command;
    if current.starts_with('-') && !parsed.after_double_dash {
        let (name, _) = current.split_once('=').unwrap_or((current, ""));
        if let Some(value) = current
            .strip_prefix("--")
            .and_then(|c| c.split_once('='))
            .map(|(_, v)| v)
            && let Some(arg) = find_long(cmd, &name[2..])
        {
            // `--format=js`: candidates are whole words, as typed.
            let answer = match values_of(arg, value) {
                Answer::Values(v) => Answer::Values(
                    v.into_iter()
                        .map(|(val, d)| (format!("{name}={val}"), d))
                        .collect(),
                ),
                other => other,
            };
            return (answer, None, globals);
        }
        let options = cmd
            .get_arguments()
            .filter(|a| !a.is_hide_set() && !a.is_positional())
            .filter_map(|a| {
                a.get_long()
                    .map(|l| (format!("--{l}"), first_line(a.get_help())))
            })
            .filter(|(l, _)| l.starts_with(current))
            .collect();
        return (Answer::Values(options), None, globals);
    }
    if parsed.positionals == 0 && cmd.has_subcommands() {
        let subs = cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name().starts_with(current))
            .map(|s| (s.get_name().to_owned(), first_line(s.get_about())))
            .collect();
        return (Answer::Values(subs), None, globals);
    }
    let Some(arg) = parsed.positional_arg() else {
        return (Answer::Values(Vec::new()), None, globals);
    };
    let pending = lookup_for(cmd.get_name(), arg.get_id().as_str()).map(|lookup| Pending {
        lookup,
        current: current.to_owned(),
    });
    if pending.is_some() {
        return (Answer::Values(Vec::new()), pending, globals);
    }
    (values_of(arg, current), None, globals)
}

/// Global options typed on the line: the look-up goes where the command would.
#[derive(Debug, Default)]
struct GlobalWords {
    registry: Option<String>,
    config: Option<String>,
    insecure: bool,
    ca_certs: Vec<String>,
}

/// Whether `s` (the text before a `/`) is a registry host rather than the
/// first component of a repository, by docker's rule.
fn looks_like_host(s: &str) -> bool {
    s.contains('.') || s.contains(':') || s == "localhost" || s.starts_with('[')
}

/// Repositories and tags for the word under the cursor.
async fn look_up(client: &Client, default_registry: &str, p: &Pending) -> Vec<String> {
    let current = p.current.as_str();
    if current.contains('@') {
        return Vec::new();
    }
    let last_slash = current.rfind('/').map_or(0, |i| i + 1);
    let tag_colon = current[last_slash..].rfind(':').map(|i| last_slash + i);
    // A host:port typed without a slash yet is a registry, not REPO:TAG.
    let typing_host = !current.contains('/')
        && current.split_once(':').is_some_and(|(h, port)| {
            looks_like_host(h) && port.chars().all(|c| c.is_ascii_digit())
        });
    if let Some(colon) = tag_colon.filter(|_| p.lookup == Lookup::Image && !typing_host) {
        let (repo_text, tag_prefix) = (&current[..colon], &current[colon + 1..]);
        let Ok(repo) = Reference::parse(repo_text, default_registry) else {
            return Vec::new();
        };
        let Ok(mut tags) = client.tags(&repo, None).await else {
            return Vec::new();
        };
        super::tags::sort_tags(&mut tags, super::tags::TagSort::Semver);
        return tags
            .into_iter()
            .filter(|t| t.starts_with(tag_prefix))
            .map(|t| format!("{repo_text}:{t}"))
            .collect();
    }
    // Repository names, from the registry typed or the default one.
    let (host_prefix, registry, name_prefix) = match current.split_once('/') {
        Some((first, rest)) if looks_like_host(first) => {
            (format!("{first}/"), first.to_owned(), rest.to_owned())
        }
        _ if typing_host => (format!("{current}/"), current.to_owned(), String::new()),
        _ => (
            String::new(),
            default_registry.to_owned(),
            current.to_owned(),
        ),
    };
    let Ok(registry) = super::registry_arg(&registry) else {
        return Vec::new();
    };
    let Ok(repos) = client.catalog(&registry, None, Some(CATALOG_LIMIT)).await else {
        return Vec::new();
    };
    repos
        .into_iter()
        .filter(|r| r.starts_with(&name_prefix))
        .map(|r| format!("{host_prefix}{r}"))
        .collect()
}

/// `regctl __complete`: prints the answer; never fails loudly.
pub fn complete(args: CompleteArgs, env_registry: Option<String>) {
    let mut root = super::command();
    root.build();
    let (mut answer, pending, globals) = plan(&root, &args.words);
    if let Some(p) = pending {
        let found = look_up_with_timeout(&p, globals, env_registry);
        answer = Answer::Values(found.into_iter().map(|v| (v, None)).collect());
    }
    let mut out = std::io::stdout().lock();
    let _ = write_answer(&mut out, &answer, args.shell);
    let _ = out.flush();
}

fn look_up_with_timeout(
    p: &Pending,
    globals: GlobalWords,
    env_registry: Option<String>,
) -> Vec<String> {
    let registry = globals
        .registry
        .map(|r| (r, Source::Flag("--registry".into())))
        .or_else(|| env_registry.map(|r| (r, Source::Env("REGCTL_REGISTRY".into()))))
        .filter(|(r, _)| !r.is_empty());
    let input = GlobalInput {
        registry,
        config: globals.config.map(Into::into),
        insecure: globals.insecure,
        ca_certs: globals.ca_certs.into_iter().map(Into::into).collect(),
        // The look-up has its own cap (LOOKUP_TIMEOUT).
        timeout: None,
    };
    let Ok(settings) = Settings::resolve(input) else {
        return Vec::new();
    };
    let Ok(client) = Client::new(settings.client_options()) else {
        return Vec::new();
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return Vec::new();
    };
    let default_registry = settings.default_registry.value.clone();
    let found = runtime.block_on(async {
        tokio::time::timeout(LOOKUP_TIMEOUT, look_up(&client, &default_registry, p))
            .await
            .unwrap_or_default()
    });
    // A credential helper still running must not hold the shell up.
    runtime.shutdown_timeout(Duration::from_millis(100));
    found
}

fn write_answer(
    out: &mut impl Write,
    answer: &Answer,
    shell: CompletionShell,
) -> std::io::Result<()> {
    match answer {
        Answer::Files => writeln!(out, "files"),
        Answer::Dirs => writeln!(out, "dirs"),
        Answer::Values(values) => {
            writeln!(out, "values")?;
            for (value, description) in values {
                // One candidate a line: a value with a line break in it
                // cannot be offered.
                if value.contains(['\n', '\r', '\t']) {
                    continue;
                }
                match description {
                    Some(d) if shell != CompletionShell::Bash => {
                        writeln!(out, "{value}\t{}", d.replace(['\t', '\n'], " "))?
                    }
                    _ => writeln!(out, "{value}")?,
                }
            }
            Ok(())
        }
    }
}

const BASH: &str = r#"# bash completion for regctl                              -*- shell-script -*-
# Load with: source <(regctl completions bash), or install as
# /usr/share/bash-completion/completions/regctl.
# Candidates come from `regctl __complete`, which knows the commands and
# options and asks the registry for repositories and tags (2 s at most).

_regctl() {
    # $2: the text bash replaces, after the last word break (empty right
    # after "busybox:", where COMP_WORDS[COMP_CWORD] is ":").
    local cur="$2"
    # bash splits words at ':' and '=' (COMP_WORDBREAKS); regctl wants the
    # words as typed, so they are taken from the line up to the cursor.
    local line="${COMP_LINE:0:COMP_POINT}"
    local -a words
    if [[ -n "$line" ]]; then
        read -r -a words <<< "$line"
        if [[ "$line" =~ [[:space:]]$ ]]; then
            words+=("")
        fi
    else
        words=("${COMP_WORDS[@]:0:COMP_CWORD+1}")
    fi
    local full="${words[${#words[@]}-1]}"
    local answer
    answer="$("${words[0]}" __complete --shell bash -- "${words[@]}" 2>/dev/null)" || return 0
    local directive="${answer%%$'\n'*}"
    COMPREPLY=()
    case "$directive" in
        files) compopt -o default 2>/dev/null; return 0 ;;
        dirs) compopt -o dirnames 2>/dev/null; return 0 ;;
        values) ;;
        *) return 0 ;;
    esac
    # Bash replaces only what follows the last word break (e.g. after
    # "busybox:"), so that part of the typed word is cut off the candidates.
    local cut=""
    if [[ "$full" != "$cur" && "$full" == *"$cur" ]]; then
        cut="${full%"$cur"}"
    fi
    local candidate body=""
    [[ "$answer" == *$'\n'* ]] && body="${answer#*$'\n'}"
    while IFS= read -r candidate; do
        [[ -z "$candidate" ]] && continue
        COMPREPLY+=("${candidate#"$cut"}")
    done <<< "$body"
    # A repository prefix ("host:5000/", "busybox:") wants no space after it.
    if [[ ${#COMPREPLY[@]} -eq 1 && "${COMPREPLY[0]}" == *[/:=] ]]; then
        compopt -o nospace 2>/dev/null
    fi
    return 0
}
# nosort (bash 4.4+): tags stay in version order, as regctl gives them.
if [[ ${BASH_VERSINFO[0]} -gt 4 || (${BASH_VERSINFO[0]} -eq 4 && ${BASH_VERSINFO[1]} -ge 4) ]]; then
    complete -o nosort -F _regctl regctl
else
    complete -F _regctl regctl
fi
"#;

const ZSH: &str = r#"#compdef regctl
# zsh completion for regctl. Load with: source <(regctl completions zsh), or
# install as _regctl in a directory on $fpath.
# Candidates come from `regctl __complete`, which knows the commands and
# options and asks the registry for repositories and tags (2 s at most).

_regctl() {
    local -a lines spaced spaced_desc joined joined_desc
    local line value directive
    lines=("${(@f)$(${words[1]} __complete --shell zsh -- "${(@)words[1,CURRENT]}" 2>/dev/null)}")
    directive="${lines[1]}"
    case "$directive" in
        files) _files; return ;;
        dirs) _files -/; return ;;
        values) ;;
        *) return 1 ;;
    esac
    for line in "${(@)lines[2,-1]}"; do
        [[ -z "$line" ]] && continue
        value="${line%%$'\t'*}"
        # A prefix ("host:5000/", "busybox:", "--format=") is continued, so
        # no space after it.
        if [[ "$value" == *[/:=] ]]; then
            joined+=("$value")
            joined_desc+=("${line/$'\t'/  -- }")
        else
            spaced+=("$value")
            spaced_desc+=("${line/$'\t'/  -- }")
        fi
    done
    (( ${#spaced} + ${#joined} )) || return 1
    (( ${#spaced} )) && compadd -Q -d spaced_desc -a spaced
    (( ${#joined} )) && compadd -Q -S '' -d joined_desc -a joined
    return 0
}

if [[ "$funcstack[1]" == "_regctl" ]]; then
    _regctl "$@"
else
    compdef _regctl regctl
fi
"#;

const FISH: &str = r#"# fish completion for regctl. Load with: regctl completions fish | source,
# or install as ~/.config/fish/completions/regctl.fish.
# Candidates come from `regctl __complete`, which knows the commands and
# options and asks the registry for repositories and tags (2 s at most).

function __regctl_complete
    set -l tokens (commandline -opc) (commandline -ct)
    set -l answer ($tokens[1] __complete --shell fish -- $tokens 2>/dev/null)
    or return
    switch "$answer[1]"
        case files
            __fish_complete_path (commandline -ct)
        case dirs
            __fish_complete_directories (commandline -ct)
        case values
            for candidate in $answer[2..-1]
                echo $candidate
            end
    end
end

complete -c regctl -f -a '(__regctl_complete)'
"#;

const POWERSHELL: &str = r#"# PowerShell completion for regctl. Load with:
# regctl completions powershell | Out-String | Invoke-Expression
# Candidates come from `regctl __complete`, which knows the commands and
# options and asks the registry for repositories and tags (2 s at most).

Register-ArgumentCompleter -Native -CommandName 'regctl' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)
    $line = $commandAst.ToString()
    if ($cursorPosition -lt $line.Length) { $line = $line.Substring(0, $cursorPosition) }
    $words = @($line -split '\s+' | Where-Object { $_ -ne '' })
    if ($wordToComplete -eq '') { $words += '' }
    $answer = @(& $words[0] __complete --shell powershell -- @words 2>$null)
    if ($answer.Count -eq 0 -or $answer[0] -ne 'values') { return }
    $answer | Select-Object -Skip 1 | ForEach-Object {
        $value, $description = $_ -split "`t", 2
        if (-not $description) { $description = $value }
        [System.Management.Automation.CompletionResult]::new($value, $value, 'ParameterValue', $description)
    }
}
"#;

const ELVISH: &str = r#"# Elvish completion for regctl. Load with: eval (regctl completions elvish | slurp)
# Candidates come from `regctl __complete`, which knows the commands and
# options and asks the registry for repositories and tags (2 s at most).

use str

set edit:completion:arg-completer[regctl] = {|@words|
    var answer = [(e:regctl __complete --shell elvish -- $@words 2>/dev/null)]
    if (or (== (count $answer) 0) (!=s $answer[0] values)) {
        return
    }
    for line $answer[1..] {
        var parts = [(str:split "\t" $line)]
        if (> (count $parts) 1) {
            edit:complex-candidate $parts[0] &display=$parts[0]' '$parts[1]
        } else {
            put $line
        }
    }
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(line: &[&str]) -> (Answer, Option<Pending>) {
        let mut root = super::super::command();
        root.build();
        let words: Vec<String> = line.iter().map(|s| s.to_string()).collect();
        let (a, p, _) = plan(&root, &words);
        (a, p)
    }

    fn values(a: &Answer) -> Vec<String> {
        match a {
            Answer::Values(v) => v.iter().map(|(v, _)| v.clone()).collect(),
            other => panic!("expected values, got {other:?}"),
        }
    }

    #[test]
    fn subcommands_without_hidden_ones() {
        let (a, _) = answer(&["regctl", ""]);
        let v = values(&a);
        assert!(v.contains(&"tags".to_owned()), "{v:?}");
        assert!(!v.iter().any(|s| s.starts_with('-')), "{v:?}");
        assert!(!v.iter().any(|s| s == "generate-docs" || s == "__complete"));
        let (a, _) = answer(&["regctl", "-r", "localhost:5000", "ta"]);
        assert_eq!(values(&a), ["tags", "tag"]);
    }

    #[test]
    fn positional_asks_the_registry_and_never_offers_options() {
        let (a, p) = answer(&["regctl", "tags", ""]);
        assert_eq!(values(&a), Vec::<String>::new());
        assert_eq!(p.map(|p| p.lookup), Some(Lookup::Repository));
        let (_, p) = answer(&["regctl", "-v", "rm", "--yes", "busybox:"]);
        assert_eq!(
            p,
            Some(Pending {
                lookup: Lookup::Image,
                current: "busybox:".into()
            })
        );
        // The second positional of cp is an image too; tag's is a new name.
        let (_, p) = answer(&["regctl", "cp", "a:1", "--jobs", "2", "b"]);
        assert_eq!(p.map(|p| p.lookup), Some(Lookup::Image));
        let (a, p) = answer(&["regctl", "tag", "a:1", ""]);
        assert!(p.is_none());
        assert_eq!(values(&a), Vec::<String>::new());
    }

    #[test]
    fn options_and_their_values() {
        let (a, _) = answer(&["regctl", "tags", "--fo"]);
        assert_eq!(values(&a), ["--format"]);
        let (a, _) = answer(&["regctl", "tags", "x", "--format", ""]);
        assert_eq!(values(&a), ["table", "json", "plain"]);
        let (a, _) = answer(&["regctl", "tags", "--format=j"]);
        assert_eq!(values(&a), ["--format=json"]);
        let (a, _) = answer(&["regctl", "completions", ""]);
        assert!(values(&a).contains(&"bash".to_owned()));
        let (a, _) = answer(&["regctl", "serve", "--root", ""]);
        assert_eq!(a, Answer::Dirs);
        // Options meaningless for serve are not offered.
        let (a, _) = answer(&["regctl", "serve", "--"]);
        let v = values(&a);
        assert!(v.contains(&"--port".to_owned()), "{v:?}");
        assert!(!v.contains(&"--insecure".to_owned()), "{v:?}");
        assert!(!v.contains(&"--ca-cert".to_owned()), "{v:?}");
    }

    #[test]
    fn registry_typed_on_the_line_is_used() {
        let mut root = super::super::command();
        root.build();
        let words: Vec<String> = ["regctl", "--registry=h:1", "tags", ""]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (_, _, g) = plan(&root, &words);
        assert_eq!(g.registry.as_deref(), Some("h:1"));
        let words: Vec<String> = ["regctl", "tags", "-r", "h:2", "x"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (_, _, g) = plan(&root, &words);
        assert_eq!(g.registry.as_deref(), Some("h:2"));
    }
}
