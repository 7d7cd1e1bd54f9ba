# bash completion for regctl                              -*- shell-script -*-
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
