//! Examples for every command, in one place: attached to the commands as
//! `after_help` when the CLI is built (so `--help` shows them) and rendered
//! as the EXAMPLES section of the man pages.

/// An example: what it does, and the command line.
pub type Example = (&'static str, &'static str);

/// Examples per command; `""` is `regctl` itself.
pub const EXAMPLES: &[(&str, &[Example])] = &[
    (
        "",
        &[
            ("Run a registry on 127.0.0.1:5000", "regctl serve"),
            (
                "Use it for names without a host",
                "export REGCTL_REGISTRY=localhost:5000",
            ),
            ("List its repositories", "regctl ls"),
            (
                "List the tags of one, as JSON",
                "regctl tags busybox --format json",
            ),
            (
                "Copy an image between registries",
                "regctl cp registry.a:5000/app:1.2 registry.b:5000/app:1.2",
            ),
        ],
    ),
    (
        "ls",
        &[
            ("Every repository of a registry", "regctl ls localhost:5000"),
            ("Stop after 100", "regctl ls localhost:5000 --limit 100"),
            (
                "The default registry's, one a line",
                "regctl ls --format plain",
            ),
        ],
    ),
    (
        "tags",
        &[
            (
                "Tags of a repository, versions in order",
                "regctl tags localhost:5000/cdecl/alpine",
            ),
            (
                "Only release versions, the last five",
                "regctl tags app --include '^v?[0-9.]+$' --limit 5 --reverse",
            ),
            (
                "Everything but pull-request builds, as the registry lists them",
                "regctl tags app --exclude '^pr-' --sort none",
            ),
            ("As JSON", "regctl tags app --format json"),
        ],
    ),
    (
        "digest",
        &[
            (
                "The digest the registry stores for a tag",
                "regctl digest localhost:5000/busybox:1.0",
            ),
            (
                "Pin an image in a script",
                "image=\"busybox@$(regctl digest busybox:1.0)\"",
            ),
        ],
    ),
    (
        "inspect",
        &[
            (
                "Media type, digest, config and layers",
                "regctl inspect busybox:1.0",
            ),
            (
                "One platform of a multi-arch image",
                "regctl inspect multi:latest --platform linux/arm64/v8",
            ),
            (
                "The manifest bytes exactly as served",
                "regctl inspect busybox:1.0 --raw",
            ),
            (
                "The total size, for a script",
                "regctl inspect busybox:1.0 --format json | jq .totalSize",
            ),
        ],
    ),
    (
        "rm",
        &[
            (
                "Show what goes: the digest and every tag on it",
                "regctl rm busybox:1.0 --dry-run",
            ),
            ("Delete without asking", "regctl rm busybox:1.0 --yes"),
            (
                "Remove one tag, keep the image and its other tags",
                "regctl rm busybox:1.0 --tag-only --yes",
            ),
        ],
    ),
    (
        "cp",
        &[
            (
                "Copy an image (or a whole multi-arch index)",
                "regctl cp registry.a:5000/app:1.2 registry.b:5000/app:1.2",
            ),
            (
                "One platform only",
                "regctl cp ghcr.io/org/tool:v3 localhost:5000/tool --platform linux/arm64",
            ),
            (
                "Every tag, with signatures and SBOMs",
                "regctl cp registry.a:5000/app registry.b:5000/app --all-tags --referrers",
            ),
            (
                "To an OCI archive on disk",
                "regctl cp registry.a:5000/app:1.2 oci-archive:app.tar:1.2",
            ),
        ],
    ),
    (
        "prune",
        &[
            (
                "The plan: which tags stay, which go",
                "regctl prune cdecl/alpine --keep 5 --dry-run",
            ),
            (
                "Delete pull-request tags older than 30 days",
                "regctl prune cdecl/alpine --older-than 30d --match '^pr-' --yes",
            ),
        ],
    ),
    (
        "du",
        &[
            (
                "Bytes per repository: total, unique, shared",
                "regctl du localhost:5000",
            ),
            ("Bytes per tag", "regctl du localhost:5000/cdecl/alpine"),
            (
                "Straight from the storage, with what gc would free",
                "regctl du --root /var/lib/registry",
            ),
        ],
    ),
    (
        "gc",
        &[
            (
                "Plan an online collection on a running regctl serve",
                "regctl gc localhost:5000 --delete-untagged --dry-run",
            ),
            (
                "Collect offline over a stopped registry's storage",
                "regctl gc --root /var/lib/registry --delete-untagged --prune-empty-repos",
            ),
            (
                "Run registry:2's own collector in its container",
                "regctl gc --container registry --dry-run",
            ),
        ],
    ),
    (
        "tag",
        &[(
            "Put app:1.2 under the tag stable too (no layers move)",
            "regctl tag app:1.2 stable",
        )],
    ),
    (
        "login",
        &[
            (
                "Save a token read from a file",
                "regctl login ghcr.io -u me --password-stdin < token.txt",
            ),
            (
                "Ask for the password",
                "regctl login registry.internal:5000 -u me",
            ),
        ],
    ),
    (
        "logout",
        &[(
            "Forget the credentials of a registry",
            "regctl logout ghcr.io",
        )],
    ),
    (
        "config",
        &[
            ("Effective settings and their sources", "regctl config"),
            (
                "With another configuration file",
                "regctl --config ./ci.toml config --format json",
            ),
        ],
    ),
    (
        "completions",
        &[
            (
                "Install bash completion",
                "regctl completions bash > /etc/bash_completion.d/regctl",
            ),
            (
                "Load zsh completion now",
                "source <(regctl completions zsh)",
            ),
            (
                "Install fish completion",
                "regctl completions fish > ~/.config/fish/completions/regctl.fish",
            ),
        ],
    ),
    (
        "serve",
        &[
            (
                "Serve an existing registry:2 volume",
                "regctl serve --port 5000 --root /var/lib/registry",
            ),
            (
                "On every interface, with TLS and passwords",
                "regctl serve --addr 0.0.0.0 --tls-cert cert.pem --tls-key key.pem --htpasswd users",
            ),
            (
                "Collect garbage every day",
                "regctl serve --gc-interval 24h",
            ),
        ],
    ),
];

/// The examples of a command (`""` for regctl itself).
pub fn of(command: &str) -> &'static [Example] {
    EXAMPLES
        .iter()
        .find(|(name, _)| *name == command)
        .map_or(&[], |(_, examples)| examples)
}

/// The examples as `--help` shows them.
pub fn help_text(command: &str) -> Option<String> {
    let examples = of(command);
    if examples.is_empty() {
        return None;
    }
    let mut text = String::from("Examples:\n");
    for (i, (what, line)) in examples.iter().enumerate() {
        if i > 0 {
            text.push('\n');
        }
        text.push_str(&format!("  # {what}\n  {line}\n"));
    }
    Some(text.trim_end().to_owned())
}

/// Attaches the examples to `regctl` and each subcommand.
pub fn attach(cmd: clap::Command) -> clap::Command {
    let cmd = match help_text("") {
        Some(text) => cmd.after_help(text),
        None => cmd,
    };
    cmd.mut_subcommands(|sub| match help_text(sub.get_name()) {
        Some(text) => sub.after_help(text),
        None => sub,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_visible_command_has_examples_that_use_it() {
        let cmd = super::super::command();
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let name = sub.get_name();
            if name == "help" {
                continue;
            }
            let examples = of(name);
            assert!(!examples.is_empty(), "{name} has no examples");
            assert!(
                examples.iter().all(|(_, line)| line.contains("regctl")
                    && line.split_whitespace().any(|w| w == name)),
                "{name}: an example does not run it"
            );
        }
        // No examples for a command that does not exist.
        for (name, _) in EXAMPLES {
            assert!(
                name.is_empty() || cmd.find_subcommand(name).is_some(),
                "{name}"
            );
        }
    }
}
