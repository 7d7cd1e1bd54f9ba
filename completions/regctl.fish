# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_regctl_global_optspecs
    string join \n r/registry= config= insecure ca-cert= v/verbose h/help V/version
end

function __fish_regctl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_regctl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_regctl_using_subcommand
    set -l cmd (__fish_regctl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c regctl -n "__fish_regctl_needs_command" -s r -l registry -d 'Registry for references without a host (default: config file\'s default_registry, else docker.io)' -r
complete -c regctl -n "__fish_regctl_needs_command" -l config -d 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]' -r -F
complete -c regctl -n "__fish_regctl_needs_command" -l ca-cert -d 'Trust this CA certificate (PEM) for TLS; repeatable' -r -F
complete -c regctl -n "__fish_regctl_needs_command" -l insecure -d 'Allow plain http to any registry (loopback registries use http by default)'
complete -c regctl -n "__fish_regctl_needs_command" -s v -l verbose -d 'Log HTTP requests to stderr (never credentials or tokens)'
complete -c regctl -n "__fish_regctl_needs_command" -s h -l help -d 'Print help'
complete -c regctl -n "__fish_regctl_needs_command" -s V -l version -d 'Print version'
complete -c regctl -n "__fish_regctl_needs_command" -f -a "ls" -d 'List the repositories of a registry (/v2/_catalog, all pages)'
complete -c regctl -n "__fish_regctl_needs_command" -f -a "tags" -d 'List the tags of a repository (all pages)'
complete -c regctl -n "__fish_regctl_needs_command" -f -a "digest" -d 'Print the digest of a manifest as the registry stores it'
complete -c regctl -n "__fish_regctl_needs_command" -f -a "inspect" -d 'Show a manifest: media type, digest, size, platforms, config and layers'
complete -c regctl -n "__fish_regctl_needs_command" -f -a "rm" -d 'Delete a manifest (and every tag pointing to it), or only one tag'
complete -c regctl -n "__fish_regctl_needs_command" -f -a "cp" -d 'Copy an image or a whole multi-arch index between registries, OCI layouts and archives'
complete -c regctl -n "__fish_regctl_needs_command" -f -a "prune" -d 'Delete old tags of a repository: keep the newest N, drop those older than a duration'
complete -c regctl -n "__fish_regctl_needs_command" -f -a "du" -d 'Storage use per repository (or per tag): total, unique and shared bytes'
complete -c regctl -n "__fish_regctl_needs_command" -f -a "gc" -d 'Collect garbage: offline over a storage root, online on a running regctl serve, or with registry:2\'s collector in its container'
complete -c regctl -n "__fish_regctl_needs_command" -f -a "tag" -d 'Put an image under another tag of its repository (no layers move)'
complete -c regctl -n "__fish_regctl_needs_command" -f -a "login" -d 'Save credentials for a registry in Docker\'s config.json'
complete -c regctl -n "__fish_regctl_needs_command" -f -a "logout" -d 'Remove saved credentials for a registry'
complete -c regctl -n "__fish_regctl_needs_command" -f -a "config" -d 'Show the effective settings and where each came from'
complete -c regctl -n "__fish_regctl_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c regctl -n "__fish_regctl_needs_command" -f -a "serve" -d 'Run an OCI registry on registry:2\'s on-disk layout'
complete -c regctl -n "__fish_regctl_needs_command" -f -a "generate-docs" -d 'Write the completion scripts and man pages (for maintainers)'
complete -c regctl -n "__fish_regctl_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c regctl -n "__fish_regctl_using_subcommand ls" -l limit -d 'Stop after N repositories' -r
complete -c regctl -n "__fish_regctl_using_subcommand ls" -l page-size -d 'Ask the registry for N names per page' -r
complete -c regctl -n "__fish_regctl_using_subcommand ls" -l format -d 'Output format [default: table on a terminal, else plain]' -r -f -a "table\t'Aligned columns for people'
json\t'One JSON document'
plain\t'One item a line, for scripts'"
complete -c regctl -n "__fish_regctl_using_subcommand ls" -s r -l registry -d 'Registry for references without a host (default: config file\'s default_registry, else docker.io)' -r
complete -c regctl -n "__fish_regctl_using_subcommand ls" -l config -d 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand ls" -l ca-cert -d 'Trust this CA certificate (PEM) for TLS; repeatable' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand ls" -l insecure -d 'Allow plain http to any registry (loopback registries use http by default)'
complete -c regctl -n "__fish_regctl_using_subcommand ls" -s v -l verbose -d 'Log HTTP requests to stderr (never credentials or tokens)'
complete -c regctl -n "__fish_regctl_using_subcommand ls" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c regctl -n "__fish_regctl_using_subcommand ls" -s V -l version -d 'Print version'
complete -c regctl -n "__fish_regctl_using_subcommand tags" -l page-size -d 'Ask the registry for N tags per page' -r
complete -c regctl -n "__fish_regctl_using_subcommand tags" -l format -d 'Output format [default: table on a terminal, else plain]' -r -f -a "table\t'Aligned columns for people'
json\t'One JSON document'
plain\t'One item a line, for scripts'"
complete -c regctl -n "__fish_regctl_using_subcommand tags" -s r -l registry -d 'Registry for references without a host (default: config file\'s default_registry, else docker.io)' -r
complete -c regctl -n "__fish_regctl_using_subcommand tags" -l config -d 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand tags" -l ca-cert -d 'Trust this CA certificate (PEM) for TLS; repeatable' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand tags" -l insecure -d 'Allow plain http to any registry (loopback registries use http by default)'
complete -c regctl -n "__fish_regctl_using_subcommand tags" -s v -l verbose -d 'Log HTTP requests to stderr (never credentials or tokens)'
complete -c regctl -n "__fish_regctl_using_subcommand tags" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c regctl -n "__fish_regctl_using_subcommand tags" -s V -l version -d 'Print version'
complete -c regctl -n "__fish_regctl_using_subcommand digest" -l platform -d 'The digest of this platform\'s image (os/arch[/variant]): an index\'s child, or a single image if it is built for it (else an error)' -r
complete -c regctl -n "__fish_regctl_using_subcommand digest" -l format -d 'Output format [default: table on a terminal, else plain; both print the digest alone]' -r -f -a "table\t'Aligned columns for people'
json\t'One JSON document'
plain\t'One item a line, for scripts'"
complete -c regctl -n "__fish_regctl_using_subcommand digest" -s r -l registry -d 'Registry for references without a host (default: config file\'s default_registry, else docker.io)' -r
complete -c regctl -n "__fish_regctl_using_subcommand digest" -l config -d 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand digest" -l ca-cert -d 'Trust this CA certificate (PEM) for TLS; repeatable' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand digest" -l insecure -d 'Allow plain http to any registry (loopback registries use http by default)'
complete -c regctl -n "__fish_regctl_using_subcommand digest" -s v -l verbose -d 'Log HTTP requests to stderr (never credentials or tokens)'
complete -c regctl -n "__fish_regctl_using_subcommand digest" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c regctl -n "__fish_regctl_using_subcommand digest" -s V -l version -d 'Print version'
complete -c regctl -n "__fish_regctl_using_subcommand inspect" -l platform -d 'Pick this platform from an index: os/arch[/variant]' -r
complete -c regctl -n "__fish_regctl_using_subcommand inspect" -l format -d 'Output format [default: table on a terminal, else plain]' -r -f -a "table\t'Aligned columns for people'
json\t'One JSON document'
plain\t'One item a line, for scripts'"
complete -c regctl -n "__fish_regctl_using_subcommand inspect" -s r -l registry -d 'Registry for references without a host (default: config file\'s default_registry, else docker.io)' -r
complete -c regctl -n "__fish_regctl_using_subcommand inspect" -l config -d 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand inspect" -l ca-cert -d 'Trust this CA certificate (PEM) for TLS; repeatable' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand inspect" -l raw -d 'Print the manifest bytes exactly as served'
complete -c regctl -n "__fish_regctl_using_subcommand inspect" -l insecure -d 'Allow plain http to any registry (loopback registries use http by default)'
complete -c regctl -n "__fish_regctl_using_subcommand inspect" -s v -l verbose -d 'Log HTTP requests to stderr (never credentials or tokens)'
complete -c regctl -n "__fish_regctl_using_subcommand inspect" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c regctl -n "__fish_regctl_using_subcommand inspect" -s V -l version -d 'Print version'
complete -c regctl -n "__fish_regctl_using_subcommand rm" -l platform -d 'Delete the image of this platform (os/arch[/variant]) out of the index REF names (refused without --force: it breaks the index)' -r
complete -c regctl -n "__fish_regctl_using_subcommand rm" -l format -d 'Output format [default: table on a terminal, else plain]' -r -f -a "table\t'Aligned columns for people'
json\t'One JSON document'
plain\t'One item a line, for scripts'"
complete -c regctl -n "__fish_regctl_using_subcommand rm" -s r -l registry -d 'Registry for references without a host (default: config file\'s default_registry, else docker.io)' -r
complete -c regctl -n "__fish_regctl_using_subcommand rm" -l config -d 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand rm" -l ca-cert -d 'Trust this CA certificate (PEM) for TLS; repeatable' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand rm" -s y -l yes -d 'Do not ask for confirmation'
complete -c regctl -n "__fish_regctl_using_subcommand rm" -l dry-run -d 'Only show what would be deleted'
complete -c regctl -n "__fish_regctl_using_subcommand rm" -l tag-only -d 'Remove only this tag; keep the manifest and its other tags'
complete -c regctl -n "__fish_regctl_using_subcommand rm" -l force -d 'Delete even a manifest that a tagged index lists (that index then fails to pull for its platform)'
complete -c regctl -n "__fish_regctl_using_subcommand rm" -l insecure -d 'Allow plain http to any registry (loopback registries use http by default)'
complete -c regctl -n "__fish_regctl_using_subcommand rm" -s v -l verbose -d 'Log HTTP requests to stderr (never credentials or tokens)'
complete -c regctl -n "__fish_regctl_using_subcommand rm" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c regctl -n "__fish_regctl_using_subcommand rm" -s V -l version -d 'Print version'
complete -c regctl -n "__fish_regctl_using_subcommand cp" -l platform -d 'Copy only this platform out of a multi-arch index (os/arch[/variant])' -r
complete -c regctl -n "__fish_regctl_using_subcommand cp" -s j -l jobs -d 'Blobs transferred at once' -r
complete -c regctl -n "__fish_regctl_using_subcommand cp" -l format -d 'Summary format' -r -f -a "text\t'One line for people'
json\t'The summary as JSON: `{"source","destination","digest","manifests","blobsCopied", "blobsSkipped","blobsMounted","bytesCopied","seconds"}`; with --all-tags an array of them'"
complete -c regctl -n "__fish_regctl_using_subcommand cp" -s r -l registry -d 'Registry for references without a host (default: config file\'s default_registry, else docker.io)' -r
complete -c regctl -n "__fish_regctl_using_subcommand cp" -l config -d 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand cp" -l ca-cert -d 'Trust this CA certificate (PEM) for TLS; repeatable' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand cp" -l referrers -d 'Also copy the artifacts that refer to the image (OCI 1.1 `subject`: signatures, SBOMs)'
complete -c regctl -n "__fish_regctl_using_subcommand cp" -l all-tags -d 'Copy every tag of the source repository (SRC and DST name repositories)'
complete -c regctl -n "__fish_regctl_using_subcommand cp" -l insecure -d 'Allow plain http to any registry (loopback registries use http by default)'
complete -c regctl -n "__fish_regctl_using_subcommand cp" -s v -l verbose -d 'Log HTTP requests to stderr (never credentials or tokens)'
complete -c regctl -n "__fish_regctl_using_subcommand cp" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c regctl -n "__fish_regctl_using_subcommand cp" -s V -l version -d 'Print version'
complete -c regctl -n "__fish_regctl_using_subcommand prune" -l keep -d 'Keep the newest N of the selected tags (by the image\'s created time)' -r
complete -c regctl -n "__fish_regctl_using_subcommand prune" -l older-than -d 'Delete only selected tags created longer ago than DURATION (e.g. 30d)' -r
complete -c regctl -n "__fish_regctl_using_subcommand prune" -l match -d 'Select only tags matching REGEX (default: every tag)' -r
complete -c regctl -n "__fish_regctl_using_subcommand prune" -l exclude -d 'Never select tags matching REGEX' -r
complete -c regctl -n "__fish_regctl_using_subcommand prune" -l format -d 'Output format (json: the plan, and the summary after a real run)' -r -f -a "table\t'Aligned columns for people'
json\t'One JSON document'
plain\t'One item a line, for scripts'"
complete -c regctl -n "__fish_regctl_using_subcommand prune" -s r -l registry -d 'Registry for references without a host (default: config file\'s default_registry, else docker.io)' -r
complete -c regctl -n "__fish_regctl_using_subcommand prune" -l config -d 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand prune" -l ca-cert -d 'Trust this CA certificate (PEM) for TLS; repeatable' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand prune" -l dry-run -d 'Only show the plan'
complete -c regctl -n "__fish_regctl_using_subcommand prune" -s y -l yes -d 'Do not ask for confirmation'
complete -c regctl -n "__fish_regctl_using_subcommand prune" -l insecure -d 'Allow plain http to any registry (loopback registries use http by default)'
complete -c regctl -n "__fish_regctl_using_subcommand prune" -s v -l verbose -d 'Log HTTP requests to stderr (never credentials or tokens)'
complete -c regctl -n "__fish_regctl_using_subcommand prune" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c regctl -n "__fish_regctl_using_subcommand prune" -s V -l version -d 'Print version'
complete -c regctl -n "__fish_regctl_using_subcommand du" -l root -d 'Read a storage root directly (registry:2\'s rootdirectory); also reports the bytes nothing references. TARGET is then a repository' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand du" -l platform -d 'Count only this platform\'s image of each tag (os/arch[/variant]); tags without one are left out' -r
complete -c regctl -n "__fish_regctl_using_subcommand du" -l format -d 'Output format [default: table on a terminal, else plain]' -r -f -a "table\t'Aligned columns for people'
json\t'One JSON document'
plain\t'One item a line, for scripts'"
complete -c regctl -n "__fish_regctl_using_subcommand du" -s r -l registry -d 'Registry for references without a host (default: config file\'s default_registry, else docker.io)' -r
complete -c regctl -n "__fish_regctl_using_subcommand du" -l config -d 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand du" -l ca-cert -d 'Trust this CA certificate (PEM) for TLS; repeatable' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand du" -l insecure -d 'Allow plain http to any registry (loopback registries use http by default)'
complete -c regctl -n "__fish_regctl_using_subcommand du" -s v -l verbose -d 'Log HTTP requests to stderr (never credentials or tokens)'
complete -c regctl -n "__fish_regctl_using_subcommand du" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c regctl -n "__fish_regctl_using_subcommand du" -s V -l version -d 'Print version'
complete -c regctl -n "__fish_regctl_using_subcommand gc" -l root -d 'Collect offline over this storage root (registry:2\'s rootdirectory, the directory holding docker/registry/v2)' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand gc" -l container -d 'Run registry:2\'s own collector in this container (`docker exec NAME registry garbage-collect CONFIG`)' -r
complete -c regctl -n "__fish_regctl_using_subcommand gc" -l exec -d 'Command prefix to reach registry:2 instead of `docker exec NAME`, split on spaces (e.g. "podman exec reg", "kubectl exec -n ci reg --")' -r
complete -c regctl -n "__fish_regctl_using_subcommand gc" -l registry-config -d 'registry:2\'s configuration file inside the container (with --container/--exec; named so as not to clash with the global --config)' -r
complete -c regctl -n "__fish_regctl_using_subcommand gc" -l min-age -d 'Keep blobs and manifests written less than DURATION ago (e.g. 1h) [default: 0 with --root, 1h online]' -r
complete -c regctl -n "__fish_regctl_using_subcommand gc" -l format -d 'Output format (json: the plan and the summary)' -r -f -a "table\t'Aligned columns for people'
json\t'One JSON document'
plain\t'One item a line, for scripts'"
complete -c regctl -n "__fish_regctl_using_subcommand gc" -l config -d 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand gc" -l ca-cert -d 'Trust this CA certificate (PEM) for TLS; repeatable' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand gc" -l delete-untagged -d 'Also remove manifests no tag reaches; children of a tagged index and referrers (signatures, SBOMs) of a kept manifest are always kept'
complete -c regctl -n "__fish_regctl_using_subcommand gc" -l prune-empty-repos -d 'Remove repositories left with no tags and no manifests, so they leave the catalog'
complete -c regctl -n "__fish_regctl_using_subcommand gc" -l dry-run -d 'Only show the plan'
complete -c regctl -n "__fish_regctl_using_subcommand gc" -s y -l yes -d 'Do not ask for confirmation'
complete -c regctl -n "__fish_regctl_using_subcommand gc" -l force -d 'With --root: collect even though a server holds the root or uploads look in progress'
complete -c regctl -n "__fish_regctl_using_subcommand gc" -l insecure -d 'Allow plain http to any registry (loopback registries use http by default)'
complete -c regctl -n "__fish_regctl_using_subcommand gc" -s v -l verbose -d 'Log HTTP requests to stderr (never credentials or tokens)'
complete -c regctl -n "__fish_regctl_using_subcommand gc" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c regctl -n "__fish_regctl_using_subcommand gc" -s V -l version -d 'Print version'
complete -c regctl -n "__fish_regctl_using_subcommand tag" -l format -d 'Output format [default: table on a terminal, else plain]' -r -f -a "table\t'Aligned columns for people'
json\t'One JSON document'
plain\t'One item a line, for scripts'"
complete -c regctl -n "__fish_regctl_using_subcommand tag" -s r -l registry -d 'Registry for references without a host (default: config file\'s default_registry, else docker.io)' -r
complete -c regctl -n "__fish_regctl_using_subcommand tag" -l config -d 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand tag" -l ca-cert -d 'Trust this CA certificate (PEM) for TLS; repeatable' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand tag" -l insecure -d 'Allow plain http to any registry (loopback registries use http by default)'
complete -c regctl -n "__fish_regctl_using_subcommand tag" -s v -l verbose -d 'Log HTTP requests to stderr (never credentials or tokens)'
complete -c regctl -n "__fish_regctl_using_subcommand tag" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c regctl -n "__fish_regctl_using_subcommand tag" -s V -l version -d 'Print version'
complete -c regctl -n "__fish_regctl_using_subcommand login" -s u -l username -d 'User name' -r
complete -c regctl -n "__fish_regctl_using_subcommand login" -s r -l registry -d 'Registry for references without a host (default: config file\'s default_registry, else docker.io)' -r
complete -c regctl -n "__fish_regctl_using_subcommand login" -l config -d 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand login" -l ca-cert -d 'Trust this CA certificate (PEM) for TLS; repeatable' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand login" -l password-stdin -d 'Read the password from stdin'
complete -c regctl -n "__fish_regctl_using_subcommand login" -l insecure -d 'Allow plain http to any registry (loopback registries use http by default)'
complete -c regctl -n "__fish_regctl_using_subcommand login" -s v -l verbose -d 'Log HTTP requests to stderr (never credentials or tokens)'
complete -c regctl -n "__fish_regctl_using_subcommand login" -s h -l help -d 'Print help'
complete -c regctl -n "__fish_regctl_using_subcommand login" -s V -l version -d 'Print version'
complete -c regctl -n "__fish_regctl_using_subcommand logout" -s r -l registry -d 'Registry for references without a host (default: config file\'s default_registry, else docker.io)' -r
complete -c regctl -n "__fish_regctl_using_subcommand logout" -l config -d 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand logout" -l ca-cert -d 'Trust this CA certificate (PEM) for TLS; repeatable' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand logout" -l insecure -d 'Allow plain http to any registry (loopback registries use http by default)'
complete -c regctl -n "__fish_regctl_using_subcommand logout" -s v -l verbose -d 'Log HTTP requests to stderr (never credentials or tokens)'
complete -c regctl -n "__fish_regctl_using_subcommand logout" -s h -l help -d 'Print help'
complete -c regctl -n "__fish_regctl_using_subcommand logout" -s V -l version -d 'Print version'
complete -c regctl -n "__fish_regctl_using_subcommand config" -l format -d 'Output format [default: table on a terminal, else plain]' -r -f -a "table\t'Aligned columns for people'
json\t'One JSON document'
plain\t'One item a line, for scripts'"
complete -c regctl -n "__fish_regctl_using_subcommand config" -s r -l registry -d 'Registry for references without a host (default: config file\'s default_registry, else docker.io)' -r
complete -c regctl -n "__fish_regctl_using_subcommand config" -l config -d 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand config" -l ca-cert -d 'Trust this CA certificate (PEM) for TLS; repeatable' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand config" -l insecure -d 'Allow plain http to any registry (loopback registries use http by default)'
complete -c regctl -n "__fish_regctl_using_subcommand config" -s v -l verbose -d 'Log HTTP requests to stderr (never credentials or tokens)'
complete -c regctl -n "__fish_regctl_using_subcommand config" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c regctl -n "__fish_regctl_using_subcommand config" -s V -l version -d 'Print version'
complete -c regctl -n "__fish_regctl_using_subcommand completions" -s r -l registry -d 'Registry for references without a host (default: config file\'s default_registry, else docker.io)' -r
complete -c regctl -n "__fish_regctl_using_subcommand completions" -l config -d 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand completions" -l ca-cert -d 'Trust this CA certificate (PEM) for TLS; repeatable' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand completions" -l insecure -d 'Allow plain http to any registry (loopback registries use http by default)'
complete -c regctl -n "__fish_regctl_using_subcommand completions" -s v -l verbose -d 'Log HTTP requests to stderr (never credentials or tokens)'
complete -c regctl -n "__fish_regctl_using_subcommand completions" -s h -l help -d 'Print help'
complete -c regctl -n "__fish_regctl_using_subcommand completions" -s V -l version -d 'Print version'
complete -c regctl -n "__fish_regctl_using_subcommand serve" -l addr -d 'Address to listen on' -r
complete -c regctl -n "__fish_regctl_using_subcommand serve" -s p -l port -d 'Port to listen on (0 picks a free port; the chosen one is printed)' -r
complete -c regctl -n "__fish_regctl_using_subcommand serve" -l root -d 'Storage root, the directory holding docker/registry/v2 [default: $REGCTL_ROOT, else ~/.local/share/regctl/registry]' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand serve" -l htpasswd -d 'Require Basic authentication against this htpasswd file (bcrypt entries, `htpasswd -B`)' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand serve" -l tls-cert -d 'PEM certificate chain for https (with --tls-key)' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand serve" -l tls-key -d 'PEM private key for https (with --tls-cert)' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand serve" -l gc-interval -d 'Collect garbage online every DURATION (e.g. 24h): keeps untagged manifests and anything written in the last hour' -r
complete -c regctl -n "__fish_regctl_using_subcommand serve" -l log-format -d 'Access-log format on stderr' -r -f -a "text\t''
json\t''"
complete -c regctl -n "__fish_regctl_using_subcommand serve" -s r -l registry -d 'Registry for references without a host (default: config file\'s default_registry, else docker.io)' -r
complete -c regctl -n "__fish_regctl_using_subcommand serve" -l config -d 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand serve" -l ca-cert -d 'Trust this CA certificate (PEM) for TLS; repeatable' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand serve" -l no-delete -d 'Answer DELETE with 405 UNSUPPORTED, like registry:2 with delete disabled'
complete -c regctl -n "__fish_regctl_using_subcommand serve" -l read-only -d 'Refuse every write with 405 UNSUPPORTED'
complete -c regctl -n "__fish_regctl_using_subcommand serve" -l insecure -d 'Allow plain http to any registry (loopback registries use http by default)'
complete -c regctl -n "__fish_regctl_using_subcommand serve" -s v -l verbose -d 'Log HTTP requests to stderr (never credentials or tokens)'
complete -c regctl -n "__fish_regctl_using_subcommand serve" -s h -l help -d 'Print help'
complete -c regctl -n "__fish_regctl_using_subcommand serve" -s V -l version -d 'Print version'
complete -c regctl -n "__fish_regctl_using_subcommand generate-docs" -l out -d 'Directory that receives completions/ and man/' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand generate-docs" -s r -l registry -d 'Registry for references without a host (default: config file\'s default_registry, else docker.io)' -r
complete -c regctl -n "__fish_regctl_using_subcommand generate-docs" -l config -d 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand generate-docs" -l ca-cert -d 'Trust this CA certificate (PEM) for TLS; repeatable' -r -F
complete -c regctl -n "__fish_regctl_using_subcommand generate-docs" -l insecure -d 'Allow plain http to any registry (loopback registries use http by default)'
complete -c regctl -n "__fish_regctl_using_subcommand generate-docs" -s v -l verbose -d 'Log HTTP requests to stderr (never credentials or tokens)'
complete -c regctl -n "__fish_regctl_using_subcommand generate-docs" -s h -l help -d 'Print help'
complete -c regctl -n "__fish_regctl_using_subcommand generate-docs" -s V -l version -d 'Print version'
complete -c regctl -n "__fish_regctl_using_subcommand help; and not __fish_seen_subcommand_from ls tags digest inspect rm cp prune du gc tag login logout config completions serve generate-docs help" -f -a "ls" -d 'List the repositories of a registry (/v2/_catalog, all pages)'
complete -c regctl -n "__fish_regctl_using_subcommand help; and not __fish_seen_subcommand_from ls tags digest inspect rm cp prune du gc tag login logout config completions serve generate-docs help" -f -a "tags" -d 'List the tags of a repository (all pages)'
complete -c regctl -n "__fish_regctl_using_subcommand help; and not __fish_seen_subcommand_from ls tags digest inspect rm cp prune du gc tag login logout config completions serve generate-docs help" -f -a "digest" -d 'Print the digest of a manifest as the registry stores it'
complete -c regctl -n "__fish_regctl_using_subcommand help; and not __fish_seen_subcommand_from ls tags digest inspect rm cp prune du gc tag login logout config completions serve generate-docs help" -f -a "inspect" -d 'Show a manifest: media type, digest, size, platforms, config and layers'
complete -c regctl -n "__fish_regctl_using_subcommand help; and not __fish_seen_subcommand_from ls tags digest inspect rm cp prune du gc tag login logout config completions serve generate-docs help" -f -a "rm" -d 'Delete a manifest (and every tag pointing to it), or only one tag'
complete -c regctl -n "__fish_regctl_using_subcommand help; and not __fish_seen_subcommand_from ls tags digest inspect rm cp prune du gc tag login logout config completions serve generate-docs help" -f -a "cp" -d 'Copy an image or a whole multi-arch index between registries, OCI layouts and archives'
complete -c regctl -n "__fish_regctl_using_subcommand help; and not __fish_seen_subcommand_from ls tags digest inspect rm cp prune du gc tag login logout config completions serve generate-docs help" -f -a "prune" -d 'Delete old tags of a repository: keep the newest N, drop those older than a duration'
complete -c regctl -n "__fish_regctl_using_subcommand help; and not __fish_seen_subcommand_from ls tags digest inspect rm cp prune du gc tag login logout config completions serve generate-docs help" -f -a "du" -d 'Storage use per repository (or per tag): total, unique and shared bytes'
complete -c regctl -n "__fish_regctl_using_subcommand help; and not __fish_seen_subcommand_from ls tags digest inspect rm cp prune du gc tag login logout config completions serve generate-docs help" -f -a "gc" -d 'Collect garbage: offline over a storage root, online on a running regctl serve, or with registry:2\'s collector in its container'
complete -c regctl -n "__fish_regctl_using_subcommand help; and not __fish_seen_subcommand_from ls tags digest inspect rm cp prune du gc tag login logout config completions serve generate-docs help" -f -a "tag" -d 'Put an image under another tag of its repository (no layers move)'
complete -c regctl -n "__fish_regctl_using_subcommand help; and not __fish_seen_subcommand_from ls tags digest inspect rm cp prune du gc tag login logout config completions serve generate-docs help" -f -a "login" -d 'Save credentials for a registry in Docker\'s config.json'
complete -c regctl -n "__fish_regctl_using_subcommand help; and not __fish_seen_subcommand_from ls tags digest inspect rm cp prune du gc tag login logout config completions serve generate-docs help" -f -a "logout" -d 'Remove saved credentials for a registry'
complete -c regctl -n "__fish_regctl_using_subcommand help; and not __fish_seen_subcommand_from ls tags digest inspect rm cp prune du gc tag login logout config completions serve generate-docs help" -f -a "config" -d 'Show the effective settings and where each came from'
complete -c regctl -n "__fish_regctl_using_subcommand help; and not __fish_seen_subcommand_from ls tags digest inspect rm cp prune du gc tag login logout config completions serve generate-docs help" -f -a "completions" -d 'Print a shell completion script'
complete -c regctl -n "__fish_regctl_using_subcommand help; and not __fish_seen_subcommand_from ls tags digest inspect rm cp prune du gc tag login logout config completions serve generate-docs help" -f -a "serve" -d 'Run an OCI registry on registry:2\'s on-disk layout'
complete -c regctl -n "__fish_regctl_using_subcommand help; and not __fish_seen_subcommand_from ls tags digest inspect rm cp prune du gc tag login logout config completions serve generate-docs help" -f -a "generate-docs" -d 'Write the completion scripts and man pages (for maintainers)'
complete -c regctl -n "__fish_regctl_using_subcommand help; and not __fish_seen_subcommand_from ls tags digest inspect rm cp prune du gc tag login logout config completions serve generate-docs help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
