# fish completion for regctl. Load with: regctl completions fish | source,
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
