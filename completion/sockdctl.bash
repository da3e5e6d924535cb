# bash completion for sockdctl(1)
# Verbs, options, and app names (from `sockdctl list`, with the same --user, -M or first -H:
# a fleet's hosts have the same apps).

_sockdctl_apps() {
        local -a transport=()
        local i
        for ((i = 1; i < COMP_CWORD; i++)); do
                case ${COMP_WORDS[i]} in
                --user) transport+=(--user) ;;
                -H | -M) ((${#transport[@]} > 1)) || transport+=("${COMP_WORDS[i]}" "${COMP_WORDS[i + 1]}") ;;
                --host=* | --machine=*) ((${#transport[@]} > 1)) || transport+=("${COMP_WORDS[i]}") ;;
                esac
        done
        sockdctl "${transport[@]}" list 2>/dev/null | awk 'NR > 1 { print $1 }'
}

_sockdctl() {
        local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
        local verbs='list status start stop restart resume nginx scale'
        local options='-h --help --version --user -H --host= -M --machine= --hosts= --one-host-at-a-time --json -q --quiet --suspended -n --dry-run --timeout= --write= --reload --runtime --nginx='
        local verb="" i

        case $prev in
        -H | --host) COMPREPLY=($(compgen -A hostname -- "$cur")); return ;;
        -M | --machine) COMPREPLY=($(compgen -W "$(machinectl list --no-legend 2>/dev/null | awk '{print $1}')" -- "$cur")); return ;;
        --timeout) return ;;
        --write | --nginx | --hosts) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        esac

        for ((i = 1; i < COMP_CWORD; i++)); do
                case ${COMP_WORDS[i]} in
                -H | -M | --host | --machine | --hosts | --timeout | --write | --nginx) ((i++)) ;;
                -*) ;;
                *) verb=${COMP_WORDS[i]}; break ;;
                esac
        done

        if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$options" -- "$cur"))
                [[ ${COMPREPLY[0]} == *= ]] && compopt -o nospace
        elif [[ -z $verb ]]; then
                COMPREPLY=($(compgen -W "$verbs" -- "$cur"))
        elif [[ $verb != list && $i -eq $((COMP_CWORD - 1)) ]]; then
                # the one APP argument, right after the verb
                COMPREPLY=($(compgen -W "$(_sockdctl_apps)" -- "$cur"))
        fi
}

complete -F _sockdctl sockdctl
