# Elvish completion for regctl. Load with: eval (regctl completions elvish | slurp)
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
