
use builtin;
use str;

set edit:completion:arg-completer[regctl] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'regctl'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'regctl'= {
            cand -r 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --registry 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --config 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]'
            cand --ca-cert 'Trust this CA certificate (PEM) for TLS; repeatable'
            cand --insecure 'Allow plain http to any registry (loopback registries use http by default)'
            cand -v 'Log HTTP requests to stderr (never credentials or tokens)'
            cand --verbose 'Log HTTP requests to stderr (never credentials or tokens)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand ls 'List the repositories of a registry (/v2/_catalog, all pages)'
            cand tags 'List the tags of a repository (all pages)'
            cand digest 'Print the digest of a manifest as the registry stores it'
            cand inspect 'Show a manifest: media type, digest, size, platforms, config and layers'
            cand rm 'Delete a manifest (and every tag pointing to it), or only one tag'
            cand cp 'Copy an image or a whole multi-arch index between registries, OCI layouts and archives'
            cand prune 'Delete old tags of a repository: keep the newest N, drop those older than a duration'
            cand du 'Storage use per repository (or per tag): total, unique and shared bytes'
            cand gc 'Collect garbage: offline over a storage root, online on a running regctl serve, or with registry:2''s collector in its container'
            cand tag 'Put an image under another tag of its repository (no layers move)'
            cand login 'Save credentials for a registry in Docker''s config.json'
            cand logout 'Remove saved credentials for a registry'
            cand config 'Show the effective settings and where each came from'
            cand completions 'Print a shell completion script'
            cand serve 'Run an OCI registry on registry:2''s on-disk layout'
            cand generate-docs 'Write the completion scripts and man pages (for maintainers)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'regctl;ls'= {
            cand --limit 'Stop after N repositories'
            cand --page-size 'Ask the registry for N names per page'
            cand --format 'Output format [default: table on a terminal, else plain]'
            cand -r 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --registry 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --config 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]'
            cand --ca-cert 'Trust this CA certificate (PEM) for TLS; repeatable'
            cand --insecure 'Allow plain http to any registry (loopback registries use http by default)'
            cand -v 'Log HTTP requests to stderr (never credentials or tokens)'
            cand --verbose 'Log HTTP requests to stderr (never credentials or tokens)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'regctl;tags'= {
            cand --page-size 'Ask the registry for N tags per page'
            cand --format 'Output format [default: table on a terminal, else plain]'
            cand -r 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --registry 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --config 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]'
            cand --ca-cert 'Trust this CA certificate (PEM) for TLS; repeatable'
            cand --insecure 'Allow plain http to any registry (loopback registries use http by default)'
            cand -v 'Log HTTP requests to stderr (never credentials or tokens)'
            cand --verbose 'Log HTTP requests to stderr (never credentials or tokens)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'regctl;digest'= {
            cand --platform 'The digest of this platform''s image (os/arch[/variant]): an index''s child, or a single image if it is built for it (else an error)'
            cand --format 'Output format [default: table on a terminal, else plain; both print the digest alone]'
            cand -r 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --registry 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --config 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]'
            cand --ca-cert 'Trust this CA certificate (PEM) for TLS; repeatable'
            cand --insecure 'Allow plain http to any registry (loopback registries use http by default)'
            cand -v 'Log HTTP requests to stderr (never credentials or tokens)'
            cand --verbose 'Log HTTP requests to stderr (never credentials or tokens)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'regctl;inspect'= {
            cand --platform 'Pick this platform from an index: os/arch[/variant]'
            cand --format 'Output format [default: table on a terminal, else plain]'
            cand -r 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --registry 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --config 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]'
            cand --ca-cert 'Trust this CA certificate (PEM) for TLS; repeatable'
            cand --raw 'Print the manifest bytes exactly as served'
            cand --insecure 'Allow plain http to any registry (loopback registries use http by default)'
            cand -v 'Log HTTP requests to stderr (never credentials or tokens)'
            cand --verbose 'Log HTTP requests to stderr (never credentials or tokens)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'regctl;rm'= {
            cand --platform 'Delete the image of this platform (os/arch[/variant]) out of the index REF names (refused without --force: it breaks the index)'
            cand --format 'Output format [default: table on a terminal, else plain]'
            cand -r 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --registry 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --config 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]'
            cand --ca-cert 'Trust this CA certificate (PEM) for TLS; repeatable'
            cand -y 'Do not ask for confirmation'
            cand --yes 'Do not ask for confirmation'
            cand --dry-run 'Only show what would be deleted'
            cand --tag-only 'Remove only this tag; keep the manifest and its other tags'
            cand --force 'Delete even a manifest that a tagged index lists (that index then fails to pull for its platform)'
            cand --insecure 'Allow plain http to any registry (loopback registries use http by default)'
            cand -v 'Log HTTP requests to stderr (never credentials or tokens)'
            cand --verbose 'Log HTTP requests to stderr (never credentials or tokens)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'regctl;cp'= {
            cand --platform 'Copy only this platform out of a multi-arch index (os/arch[/variant])'
            cand -j 'Blobs transferred at once'
            cand --jobs 'Blobs transferred at once'
            cand --format 'Summary format'
            cand -r 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --registry 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --config 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]'
            cand --ca-cert 'Trust this CA certificate (PEM) for TLS; repeatable'
            cand --referrers 'Also copy the artifacts that refer to the image (OCI 1.1 `subject`: signatures, SBOMs)'
            cand --all-tags 'Copy every tag of the source repository (SRC and DST name repositories)'
            cand --insecure 'Allow plain http to any registry (loopback registries use http by default)'
            cand -v 'Log HTTP requests to stderr (never credentials or tokens)'
            cand --verbose 'Log HTTP requests to stderr (never credentials or tokens)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'regctl;prune'= {
            cand --keep 'Keep the newest N of the selected tags (by the image''s created time)'
            cand --older-than 'Delete only selected tags created longer ago than DURATION (e.g. 30d)'
            cand --match 'Select only tags matching REGEX (default: every tag)'
            cand --exclude 'Never select tags matching REGEX'
            cand --format 'Output format (json: the plan, and the summary after a real run)'
            cand -r 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --registry 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --config 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]'
            cand --ca-cert 'Trust this CA certificate (PEM) for TLS; repeatable'
            cand --dry-run 'Only show the plan'
            cand -y 'Do not ask for confirmation'
            cand --yes 'Do not ask for confirmation'
            cand --insecure 'Allow plain http to any registry (loopback registries use http by default)'
            cand -v 'Log HTTP requests to stderr (never credentials or tokens)'
            cand --verbose 'Log HTTP requests to stderr (never credentials or tokens)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'regctl;du'= {
            cand --root 'Read a storage root directly (registry:2''s rootdirectory); also reports the bytes nothing references. TARGET is then a repository'
            cand --platform 'Count only this platform''s image of each tag (os/arch[/variant]); tags without one are left out'
            cand --format 'Output format [default: table on a terminal, else plain]'
            cand -r 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --registry 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --config 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]'
            cand --ca-cert 'Trust this CA certificate (PEM) for TLS; repeatable'
            cand --insecure 'Allow plain http to any registry (loopback registries use http by default)'
            cand -v 'Log HTTP requests to stderr (never credentials or tokens)'
            cand --verbose 'Log HTTP requests to stderr (never credentials or tokens)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'regctl;gc'= {
            cand --root 'Collect offline over this storage root (registry:2''s rootdirectory, the directory holding docker/registry/v2)'
            cand --container 'Run registry:2''s own collector in this container (`docker exec NAME registry garbage-collect CONFIG`)'
            cand --exec 'Command prefix to reach registry:2 instead of `docker exec NAME`, split on spaces (e.g. "podman exec reg", "kubectl exec -n ci reg --")'
            cand --registry-config 'registry:2''s configuration file inside the container (with --container/--exec; named so as not to clash with the global --config)'
            cand --min-age 'Keep blobs and manifests written less than DURATION ago (e.g. 1h) [default: 0 with --root, 1h online]'
            cand --format 'Output format (json: the plan and the summary)'
            cand --config 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]'
            cand --ca-cert 'Trust this CA certificate (PEM) for TLS; repeatable'
            cand --delete-untagged 'Also remove manifests no tag reaches; children of a tagged index and referrers (signatures, SBOMs) of a kept manifest are always kept'
            cand --prune-empty-repos 'Remove repositories left with no tags and no manifests, so they leave the catalog'
            cand --dry-run 'Only show the plan'
            cand -y 'Do not ask for confirmation'
            cand --yes 'Do not ask for confirmation'
            cand --force 'With --root: collect even though a server holds the root or uploads look in progress'
            cand --insecure 'Allow plain http to any registry (loopback registries use http by default)'
            cand -v 'Log HTTP requests to stderr (never credentials or tokens)'
            cand --verbose 'Log HTTP requests to stderr (never credentials or tokens)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'regctl;tag'= {
            cand --format 'Output format [default: table on a terminal, else plain]'
            cand -r 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --registry 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --config 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]'
            cand --ca-cert 'Trust this CA certificate (PEM) for TLS; repeatable'
            cand --insecure 'Allow plain http to any registry (loopback registries use http by default)'
            cand -v 'Log HTTP requests to stderr (never credentials or tokens)'
            cand --verbose 'Log HTTP requests to stderr (never credentials or tokens)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'regctl;login'= {
            cand -u 'User name'
            cand --username 'User name'
            cand -r 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --registry 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --config 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]'
            cand --ca-cert 'Trust this CA certificate (PEM) for TLS; repeatable'
            cand --password-stdin 'Read the password from stdin'
            cand --insecure 'Allow plain http to any registry (loopback registries use http by default)'
            cand -v 'Log HTTP requests to stderr (never credentials or tokens)'
            cand --verbose 'Log HTTP requests to stderr (never credentials or tokens)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'regctl;logout'= {
            cand -r 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --registry 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --config 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]'
            cand --ca-cert 'Trust this CA certificate (PEM) for TLS; repeatable'
            cand --insecure 'Allow plain http to any registry (loopback registries use http by default)'
            cand -v 'Log HTTP requests to stderr (never credentials or tokens)'
            cand --verbose 'Log HTTP requests to stderr (never credentials or tokens)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'regctl;config'= {
            cand --format 'Output format [default: table on a terminal, else plain]'
            cand -r 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --registry 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --config 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]'
            cand --ca-cert 'Trust this CA certificate (PEM) for TLS; repeatable'
            cand --insecure 'Allow plain http to any registry (loopback registries use http by default)'
            cand -v 'Log HTTP requests to stderr (never credentials or tokens)'
            cand --verbose 'Log HTTP requests to stderr (never credentials or tokens)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'regctl;completions'= {
            cand -r 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --registry 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --config 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]'
            cand --ca-cert 'Trust this CA certificate (PEM) for TLS; repeatable'
            cand --insecure 'Allow plain http to any registry (loopback registries use http by default)'
            cand -v 'Log HTTP requests to stderr (never credentials or tokens)'
            cand --verbose 'Log HTTP requests to stderr (never credentials or tokens)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'regctl;serve'= {
            cand --addr 'Address to listen on'
            cand -p 'Port to listen on (0 picks a free port; the chosen one is printed)'
            cand --port 'Port to listen on (0 picks a free port; the chosen one is printed)'
            cand --root 'Storage root, the directory holding docker/registry/v2 [default: $REGCTL_ROOT, else ~/.local/share/regctl/registry]'
            cand --htpasswd 'Require Basic authentication against this htpasswd file (bcrypt entries, `htpasswd -B`)'
            cand --tls-cert 'PEM certificate chain for https (with --tls-key)'
            cand --tls-key 'PEM private key for https (with --tls-cert)'
            cand --gc-interval 'Collect garbage online every DURATION (e.g. 24h): keeps untagged manifests and anything written in the last hour'
            cand --log-format 'Access-log format on stderr'
            cand -r 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --registry 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --config 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]'
            cand --ca-cert 'Trust this CA certificate (PEM) for TLS; repeatable'
            cand --no-delete 'Answer DELETE with 405 UNSUPPORTED, like registry:2 with delete disabled'
            cand --read-only 'Refuse every write with 405 UNSUPPORTED'
            cand --insecure 'Allow plain http to any registry (loopback registries use http by default)'
            cand -v 'Log HTTP requests to stderr (never credentials or tokens)'
            cand --verbose 'Log HTTP requests to stderr (never credentials or tokens)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'regctl;generate-docs'= {
            cand --out 'Directory that receives completions/ and man/'
            cand -r 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --registry 'Registry for references without a host (default: config file''s default_registry, else docker.io)'
            cand --config 'Configuration file [default: $XDG_CONFIG_HOME/regctl/config.toml]'
            cand --ca-cert 'Trust this CA certificate (PEM) for TLS; repeatable'
            cand --insecure 'Allow plain http to any registry (loopback registries use http by default)'
            cand -v 'Log HTTP requests to stderr (never credentials or tokens)'
            cand --verbose 'Log HTTP requests to stderr (never credentials or tokens)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'regctl;help'= {
            cand ls 'List the repositories of a registry (/v2/_catalog, all pages)'
            cand tags 'List the tags of a repository (all pages)'
            cand digest 'Print the digest of a manifest as the registry stores it'
            cand inspect 'Show a manifest: media type, digest, size, platforms, config and layers'
            cand rm 'Delete a manifest (and every tag pointing to it), or only one tag'
            cand cp 'Copy an image or a whole multi-arch index between registries, OCI layouts and archives'
            cand prune 'Delete old tags of a repository: keep the newest N, drop those older than a duration'
            cand du 'Storage use per repository (or per tag): total, unique and shared bytes'
            cand gc 'Collect garbage: offline over a storage root, online on a running regctl serve, or with registry:2''s collector in its container'
            cand tag 'Put an image under another tag of its repository (no layers move)'
            cand login 'Save credentials for a registry in Docker''s config.json'
            cand logout 'Remove saved credentials for a registry'
            cand config 'Show the effective settings and where each came from'
            cand completions 'Print a shell completion script'
            cand serve 'Run an OCI registry on registry:2''s on-disk layout'
            cand generate-docs 'Write the completion scripts and man pages (for maintainers)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'regctl;help;ls'= {
        }
        &'regctl;help;tags'= {
        }
        &'regctl;help;digest'= {
        }
        &'regctl;help;inspect'= {
        }
        &'regctl;help;rm'= {
        }
        &'regctl;help;cp'= {
        }
        &'regctl;help;prune'= {
        }
        &'regctl;help;du'= {
        }
        &'regctl;help;gc'= {
        }
        &'regctl;help;tag'= {
        }
        &'regctl;help;login'= {
        }
        &'regctl;help;logout'= {
        }
        &'regctl;help;config'= {
        }
        &'regctl;help;completions'= {
        }
        &'regctl;help;serve'= {
        }
        &'regctl;help;generate-docs'= {
        }
        &'regctl;help;help'= {
        }
    ]
    $completions[$command]
}
