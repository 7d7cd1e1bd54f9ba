//! `regctl generate-docs --out DIR` (hidden): writes `DIR/completions/*` and
//! `DIR/man/*.1`, the files committed in the repository.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use super::completions::{self, CompletionShell};
use super::{examples, exit};

#[derive(Debug, Args)]
pub struct DocsArgs {
    /// Directory that receives completions/ and man/
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// File name of each shell's completion script.
pub const COMPLETION_FILES: [(CompletionShell, &str); 5] = [
    (CompletionShell::Bash, "regctl.bash"),
    (CompletionShell::Zsh, "_regctl"),
    (CompletionShell::Fish, "regctl.fish"),
    (CompletionShell::PowerShell, "_regctl.ps1"),
    (CompletionShell::Elvish, "regctl.elv"),
];

/// The exit codes, as `exit.rs` defines them.
const EXIT_STATUS: &[(u8, &str)] = &[
    (
        exit::OK,
        "success (also when stdout is closed early, e.g. piped into head)",
    ),
    (exit::ERROR, "error: network, registry, integrity, file"),
    (
        exit::USAGE,
        "usage: bad arguments, invalid reference, registry or platform",
    ),
    (
        exit::NOT_FOUND,
        "not found: repository, tag, manifest or blob unknown",
    ),
    (exit::AUTH, "authentication required or access denied"),
    (
        exit::REFUSED,
        "refused: a destructive operation without --yes and no terminal to ask on, or declined; gc --root on a root in use",
    ),
    (
        exit::UNSUPPORTED,
        "unsupported by the server (e.g. deletion disabled)",
    ),
];

const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "REGCTL_REGISTRY",
        "Registry for references without a host (overridden by -r/--registry).",
    ),
    (
        "REGCTL_ROOT",
        "Storage root of regctl serve when --root is not given.",
    ),
    (
        "REGCTL_LOG",
        "Log level of regctl serve (e.g. info, debug), in tracing's filter syntax.",
    ),
    (
        "DOCKER_CONFIG",
        "Directory of Docker's config.json, where credentials are read and saved.",
    ),
    (
        "XDG_CONFIG_HOME",
        "Base directory of regctl's configuration file.",
    ),
    ("NO_COLOR", "When set, no colour in any output."),
];

const FILES: &[(&str, &str)] = &[
    (
        "$XDG_CONFIG_HOME/regctl/config.toml",
        "Configuration (default_registry; per registry: insecure, ca_cert, mirror); --config FILE names another.",
    ),
    (
        "$DOCKER_CONFIG/config.json, else ~/.docker/config.json",
        "Credentials: auths entries, identity tokens, credential helpers.",
    ),
    (
        "/etc/docker/certs.d/HOST[:PORT]/ca.crt",
        "Extra CA certificate trusted for a registry, as Docker does.",
    ),
    (
        "~/.local/share/regctl/registry",
        "Default storage root of regctl serve (registry:2's layout).",
    ),
    (
        "ROOT/.regctl.lock",
        "Lock shared by a running regctl serve and taken exclusively by regctl gc --root.",
    ),
];

pub fn run(args: DocsArgs) -> anyhow::Result<()> {
    write_all(&args.out)
}

fn write(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, data).with_context(|| format!("writing {}", path.display()))
}

pub fn write_all(out: &Path) -> anyhow::Result<()> {
    let comp_dir = out.join("completions");
    let man_dir = out.join("man");
    for d in [&comp_dir, &man_dir] {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    for (shell, name) in COMPLETION_FILES {
        write(&comp_dir.join(name), completions::script(shell).as_bytes())?;
    }
    let cmd = super::command();
    write(&man_dir.join("regctl.1"), &man_page(cmd.clone(), "")?)?;
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        let name = format!("regctl-{}", sub.get_name());
        // clap names are static; a handful of leaked strings in a docs generator is fine.
        let page = man_page(sub.clone().name(&*name.clone().leak()), sub.get_name())?;
        write(&man_dir.join(format!("{name}.1")), &page)?;
    }
    Ok(())
}

/// Escapes text for roff: backslashes, hyphens (so they stay ASCII in
/// copy-paste) and a leading control character.
fn roff(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with(['.', '\'']) {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

/// One man page: clap_mangen's sections, then EXAMPLES, EXIT STATUS,
/// ENVIRONMENT and FILES.
fn man_page(cmd: clap::Command, examples_of: &str) -> anyhow::Result<Vec<u8>> {
    let has_subcommands = cmd.get_subcommands().any(|s| !s.is_hide_set());
    let man = clap_mangen::Man::new(cmd);
    let mut buf = Vec::new();
    man.render_title(&mut buf)?;
    man.render_name_section(&mut buf)?;
    man.render_synopsis_section(&mut buf)?;
    man.render_description_section(&mut buf)?;
    man.render_options_section(&mut buf)?;
    if has_subcommands {
        man.render_subcommands_section(&mut buf)?;
    }
    let mut extra = String::new();
    let examples = examples::of(examples_of);
    if !examples.is_empty() {
        extra.push_str(".SH EXAMPLES\n");
        for (what, line) in examples {
            extra.push_str(&format!(
                ".PP\n{}\n.RS 4\n.nf\n{}\n.fi\n.RE\n",
                roff(what),
                roff(line)
            ));
        }
    }
    extra.push_str(".SH \"EXIT STATUS\"\n");
    for (code, meaning) in EXIT_STATUS {
        extra.push_str(&format!(".TP\n\\fB{code}\\fR\n{}\n", roff(meaning)));
    }
    extra.push_str(".SH ENVIRONMENT\n");
    for (name, meaning) in ENVIRONMENT {
        extra.push_str(&format!(".TP\n\\fB{}\\fR\n{}\n", roff(name), roff(meaning)));
    }
    extra.push_str(".SH FILES\n");
    for (path, meaning) in FILES {
        extra.push_str(&format!(".TP\n\\fI{}\\fR\n{}\n", roff(path), roff(meaning)));
    }
    buf.extend_from_slice(extra.as_bytes());
    man.render_version_section(&mut buf)?;
    Ok(buf)
}
