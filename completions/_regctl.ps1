
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'regctl' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'regctl'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'regctl' {
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]')
            [CompletionResult]::new('--ca-cert', '--ca-cert', [CompletionResultType]::ParameterName, 'Trust this CA certificate (PEM) for TLS; repeatable')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Allow plain http to any registry (loopback registries use http by default)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List the repositories of a registry (/v2/_catalog, all pages)')
            [CompletionResult]::new('tags', 'tags', [CompletionResultType]::ParameterValue, 'List the tags of a repository (all pages)')
            [CompletionResult]::new('digest', 'digest', [CompletionResultType]::ParameterValue, 'Print the digest of a manifest as the registry stores it')
            [CompletionResult]::new('inspect', 'inspect', [CompletionResultType]::ParameterValue, 'Show a manifest: media type, digest, size, platforms, config and layers')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Delete a manifest (and every tag pointing to it), or only one tag')
            [CompletionResult]::new('cp', 'cp', [CompletionResultType]::ParameterValue, 'Copy an image or a whole multi-arch index between registries, OCI layouts and archives')
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Delete old tags of a repository: keep the newest N, drop those older than a duration')
            [CompletionResult]::new('du', 'du', [CompletionResultType]::ParameterValue, 'Storage use per repository (or per tag): total, unique and shared bytes')
            [CompletionResult]::new('gc', 'gc', [CompletionResultType]::ParameterValue, 'Collect garbage: offline over a storage root, online on a running regctl serve, or with registry:2''s collector in its container')
            [CompletionResult]::new('tag', 'tag', [CompletionResultType]::ParameterValue, 'Put an image under another tag of its repository (no layers move)')
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Save credentials for a registry in Docker''s config.json')
            [CompletionResult]::new('logout', 'logout', [CompletionResultType]::ParameterValue, 'Remove saved credentials for a registry')
            [CompletionResult]::new('config', 'config', [CompletionResultType]::ParameterValue, 'Show the effective settings and where each came from')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run an OCI registry on registry:2''s on-disk layout')
            [CompletionResult]::new('generate-docs', 'generate-docs', [CompletionResultType]::ParameterValue, 'Write the completion scripts and man pages (for maintainers)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'regctl;ls' {
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Stop after N repositories')
            [CompletionResult]::new('--page-size', '--page-size', [CompletionResultType]::ParameterName, 'Ask the registry for N names per page')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format [default: table on a terminal, else plain]')
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]')
            [CompletionResult]::new('--ca-cert', '--ca-cert', [CompletionResultType]::ParameterName, 'Trust this CA certificate (PEM) for TLS; repeatable')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Allow plain http to any registry (loopback registries use http by default)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'regctl;tags' {
            [CompletionResult]::new('--page-size', '--page-size', [CompletionResultType]::ParameterName, 'Ask the registry for N tags per page')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format [default: table on a terminal, else plain]')
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]')
            [CompletionResult]::new('--ca-cert', '--ca-cert', [CompletionResultType]::ParameterName, 'Trust this CA certificate (PEM) for TLS; repeatable')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Allow plain http to any registry (loopback registries use http by default)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'regctl;digest' {
            [CompletionResult]::new('--platform', '--platform', [CompletionResultType]::ParameterName, 'The digest of this platform''s image (os/arch[/variant]): an index''s child, or a single image if it is built for it (else an error)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format [default: table on a terminal, else plain; both print the digest alone]')
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]')
            [CompletionResult]::new('--ca-cert', '--ca-cert', [CompletionResultType]::ParameterName, 'Trust this CA certificate (PEM) for TLS; repeatable')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Allow plain http to any registry (loopback registries use http by default)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'regctl;inspect' {
            [CompletionResult]::new('--platform', '--platform', [CompletionResultType]::ParameterName, 'Pick this platform from an index: os/arch[/variant]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format [default: table on a terminal, else plain]')
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]')
            [CompletionResult]::new('--ca-cert', '--ca-cert', [CompletionResultType]::ParameterName, 'Trust this CA certificate (PEM) for TLS; repeatable')
            [CompletionResult]::new('--raw', '--raw', [CompletionResultType]::ParameterName, 'Print the manifest bytes exactly as served')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Allow plain http to any registry (loopback registries use http by default)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'regctl;rm' {
            [CompletionResult]::new('--platform', '--platform', [CompletionResultType]::ParameterName, 'Delete the image of this platform (os/arch[/variant]) out of the index REF names (refused without --force: it breaks the index)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format [default: table on a terminal, else plain]')
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]')
            [CompletionResult]::new('--ca-cert', '--ca-cert', [CompletionResultType]::ParameterName, 'Trust this CA certificate (PEM) for TLS; repeatable')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Only show what would be deleted')
            [CompletionResult]::new('--tag-only', '--tag-only', [CompletionResultType]::ParameterName, 'Remove only this tag; keep the manifest and its other tags')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Delete even a manifest that a tagged index lists (that index then fails to pull for its platform)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Allow plain http to any registry (loopback registries use http by default)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'regctl;cp' {
            [CompletionResult]::new('--platform', '--platform', [CompletionResultType]::ParameterName, 'Copy only this platform out of a multi-arch index (os/arch[/variant])')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Blobs transferred at once')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Blobs transferred at once')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Summary format')
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]')
            [CompletionResult]::new('--ca-cert', '--ca-cert', [CompletionResultType]::ParameterName, 'Trust this CA certificate (PEM) for TLS; repeatable')
            [CompletionResult]::new('--referrers', '--referrers', [CompletionResultType]::ParameterName, 'Also copy the artifacts that refer to the image (OCI 1.1 `subject`: signatures, SBOMs)')
            [CompletionResult]::new('--all-tags', '--all-tags', [CompletionResultType]::ParameterName, 'Copy every tag of the source repository (SRC and DST name repositories)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Allow plain http to any registry (loopback registries use http by default)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'regctl;prune' {
            [CompletionResult]::new('--keep', '--keep', [CompletionResultType]::ParameterName, 'Keep the newest N of the selected tags (by the image''s created time)')
            [CompletionResult]::new('--older-than', '--older-than', [CompletionResultType]::ParameterName, 'Delete only selected tags created longer ago than DURATION (e.g. 30d)')
            [CompletionResult]::new('--match', '--match', [CompletionResultType]::ParameterName, 'Select only tags matching REGEX (default: every tag)')
            [CompletionResult]::new('--exclude', '--exclude', [CompletionResultType]::ParameterName, 'Never select tags matching REGEX')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format (json: the plan, and the summary after a real run)')
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]')
            [CompletionResult]::new('--ca-cert', '--ca-cert', [CompletionResultType]::ParameterName, 'Trust this CA certificate (PEM) for TLS; repeatable')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Only show the plan')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Allow plain http to any registry (loopback registries use http by default)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'regctl;du' {
            [CompletionResult]::new('--root', '--root', [CompletionResultType]::ParameterName, 'Read a storage root directly (registry:2''s rootdirectory); also reports the bytes nothing references. TARGET is then a repository')
            [CompletionResult]::new('--platform', '--platform', [CompletionResultType]::ParameterName, 'Count only this platform''s image of each tag (os/arch[/variant]); tags without one are left out')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format [default: table on a terminal, else plain]')
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]')
            [CompletionResult]::new('--ca-cert', '--ca-cert', [CompletionResultType]::ParameterName, 'Trust this CA certificate (PEM) for TLS; repeatable')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Allow plain http to any registry (loopback registries use http by default)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'regctl;gc' {
            [CompletionResult]::new('--root', '--root', [CompletionResultType]::ParameterName, 'Collect offline over this storage root (registry:2''s rootdirectory, the directory holding docker/registry/v2)')
            [CompletionResult]::new('--container', '--container', [CompletionResultType]::ParameterName, 'Run registry:2''s own collector in this container (`docker exec NAME registry garbage-collect CONFIG`)')
            [CompletionResult]::new('--exec', '--exec', [CompletionResultType]::ParameterName, 'Command prefix to reach registry:2 instead of `docker exec NAME`, split on spaces (e.g. "podman exec reg", "kubectl exec -n ci reg --")')
            [CompletionResult]::new('--registry-config', '--registry-config', [CompletionResultType]::ParameterName, 'registry:2''s configuration file inside the container (with --container/--exec; named so as not to clash with the global --config)')
            [CompletionResult]::new('--min-age', '--min-age', [CompletionResultType]::ParameterName, 'Keep blobs and manifests written less than DURATION ago (e.g. 1h) [default: 0 with --root, 1h online]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format (json: the plan and the summary)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]')
            [CompletionResult]::new('--ca-cert', '--ca-cert', [CompletionResultType]::ParameterName, 'Trust this CA certificate (PEM) for TLS; repeatable')
            [CompletionResult]::new('--delete-untagged', '--delete-untagged', [CompletionResultType]::ParameterName, 'Also remove manifests no tag reaches; children of a tagged index and referrers (signatures, SBOMs) of a kept manifest are always kept')
            [CompletionResult]::new('--prune-empty-repos', '--prune-empty-repos', [CompletionResultType]::ParameterName, 'Remove repositories left with no tags and no manifests, so they leave the catalog')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Only show the plan')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'With --root: collect even though a server holds the root or uploads look in progress')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Allow plain http to any registry (loopback registries use http by default)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'regctl;tag' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format [default: table on a terminal, else plain]')
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]')
            [CompletionResult]::new('--ca-cert', '--ca-cert', [CompletionResultType]::ParameterName, 'Trust this CA certificate (PEM) for TLS; repeatable')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Allow plain http to any registry (loopback registries use http by default)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'regctl;login' {
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'User name')
            [CompletionResult]::new('--username', '--username', [CompletionResultType]::ParameterName, 'User name')
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]')
            [CompletionResult]::new('--ca-cert', '--ca-cert', [CompletionResultType]::ParameterName, 'Trust this CA certificate (PEM) for TLS; repeatable')
            [CompletionResult]::new('--password-stdin', '--password-stdin', [CompletionResultType]::ParameterName, 'Read the password from stdin')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Allow plain http to any registry (loopback registries use http by default)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'regctl;logout' {
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]')
            [CompletionResult]::new('--ca-cert', '--ca-cert', [CompletionResultType]::ParameterName, 'Trust this CA certificate (PEM) for TLS; repeatable')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Allow plain http to any registry (loopback registries use http by default)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'regctl;config' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format [default: table on a terminal, else plain]')
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]')
            [CompletionResult]::new('--ca-cert', '--ca-cert', [CompletionResultType]::ParameterName, 'Trust this CA certificate (PEM) for TLS; repeatable')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Allow plain http to any registry (loopback registries use http by default)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'regctl;completions' {
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]')
            [CompletionResult]::new('--ca-cert', '--ca-cert', [CompletionResultType]::ParameterName, 'Trust this CA certificate (PEM) for TLS; repeatable')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Allow plain http to any registry (loopback registries use http by default)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'regctl;serve' {
            [CompletionResult]::new('--addr', '--addr', [CompletionResultType]::ParameterName, 'Address to listen on')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Port to listen on (0 picks a free port; the chosen one is printed)')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port to listen on (0 picks a free port; the chosen one is printed)')
            [CompletionResult]::new('--root', '--root', [CompletionResultType]::ParameterName, 'Storage root, the directory holding docker/registry/v2 [default: $REGCTL_ROOT, else ~/.local/share/regctl/registry]')
            [CompletionResult]::new('--htpasswd', '--htpasswd', [CompletionResultType]::ParameterName, 'Require Basic authentication against this htpasswd file (bcrypt entries, `htpasswd -B`)')
            [CompletionResult]::new('--tls-cert', '--tls-cert', [CompletionResultType]::ParameterName, 'PEM certificate chain for https (with --tls-key)')
            [CompletionResult]::new('--tls-key', '--tls-key', [CompletionResultType]::ParameterName, 'PEM private key for https (with --tls-cert)')
            [CompletionResult]::new('--gc-interval', '--gc-interval', [CompletionResultType]::ParameterName, 'Collect garbage online every DURATION (e.g. 24h): keeps untagged manifests and anything written in the last hour')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Access-log format on stderr')
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]')
            [CompletionResult]::new('--ca-cert', '--ca-cert', [CompletionResultType]::ParameterName, 'Trust this CA certificate (PEM) for TLS; repeatable')
            [CompletionResult]::new('--no-delete', '--no-delete', [CompletionResultType]::ParameterName, 'Answer DELETE with 405 UNSUPPORTED, like registry:2 with delete disabled')
            [CompletionResult]::new('--read-only', '--read-only', [CompletionResultType]::ParameterName, 'Refuse every write with 405 UNSUPPORTED')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Allow plain http to any registry (loopback registries use http by default)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'regctl;generate-docs' {
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Directory that receives completions/ and man/')
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry for references without a host (default: config file''s default_registry, else docker.io)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]')
            [CompletionResult]::new('--ca-cert', '--ca-cert', [CompletionResultType]::ParameterName, 'Trust this CA certificate (PEM) for TLS; repeatable')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Allow plain http to any registry (loopback registries use http by default)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log HTTP requests to stderr (never credentials or tokens)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'regctl;help' {
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List the repositories of a registry (/v2/_catalog, all pages)')
            [CompletionResult]::new('tags', 'tags', [CompletionResultType]::ParameterValue, 'List the tags of a repository (all pages)')
            [CompletionResult]::new('digest', 'digest', [CompletionResultType]::ParameterValue, 'Print the digest of a manifest as the registry stores it')
            [CompletionResult]::new('inspect', 'inspect', [CompletionResultType]::ParameterValue, 'Show a manifest: media type, digest, size, platforms, config and layers')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Delete a manifest (and every tag pointing to it), or only one tag')
            [CompletionResult]::new('cp', 'cp', [CompletionResultType]::ParameterValue, 'Copy an image or a whole multi-arch index between registries, OCI layouts and archives')
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Delete old tags of a repository: keep the newest N, drop those older than a duration')
            [CompletionResult]::new('du', 'du', [CompletionResultType]::ParameterValue, 'Storage use per repository (or per tag): total, unique and shared bytes')
            [CompletionResult]::new('gc', 'gc', [CompletionResultType]::ParameterValue, 'Collect garbage: offline over a storage root, online on a running regctl serve, or with registry:2''s collector in its container')
            [CompletionResult]::new('tag', 'tag', [CompletionResultType]::ParameterValue, 'Put an image under another tag of its repository (no layers move)')
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Save credentials for a registry in Docker''s config.json')
            [CompletionResult]::new('logout', 'logout', [CompletionResultType]::ParameterValue, 'Remove saved credentials for a registry')
            [CompletionResult]::new('config', 'config', [CompletionResultType]::ParameterValue, 'Show the effective settings and where each came from')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run an OCI registry on registry:2''s on-disk layout')
            [CompletionResult]::new('generate-docs', 'generate-docs', [CompletionResultType]::ParameterValue, 'Write the completion scripts and man pages (for maintainers)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'regctl;help;ls' {
            break
        }
        'regctl;help;tags' {
            break
        }
        'regctl;help;digest' {
            break
        }
        'regctl;help;inspect' {
            break
        }
        'regctl;help;rm' {
            break
        }
        'regctl;help;cp' {
            break
        }
        'regctl;help;prune' {
            break
        }
        'regctl;help;du' {
            break
        }
        'regctl;help;gc' {
            break
        }
        'regctl;help;tag' {
            break
        }
        'regctl;help;login' {
            break
        }
        'regctl;help;logout' {
            break
        }
        'regctl;help;config' {
            break
        }
        'regctl;help;completions' {
            break
        }
        'regctl;help;serve' {
            break
        }
        'regctl;help;generate-docs' {
            break
        }
        'regctl;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
