# Bash completion for dialkv and dialkv-server: subcommands, flags, and the values of flags
# that take one of a few (--mode cp|ap, --output text|json) or a file.
#
# It reads them from the binaries' own --help at each completion, so it always matches the
# binary being completed and never needs regenerating. Install (see README.md, "Shell
# completion"):
#   source /path/to/dialkv.bash                       # this shell, or from ~/.bashrc
#   install -m 0644 dialkv.bash /usr/share/bash-completion/completions/dialkv
#   ln -s dialkv /usr/share/bash-completion/completions/dialkv-server

# _dialkv_help PROGRAM [SUBCOMMAND...]: the --help of that command, empty if it fails.
_dialkv_help() {
  "$@" --help 2>/dev/null
}

# _dialkv_options HELP: each option of HELP as "NAME TAKES" per line, TAKES being "-" for a
# switch, "*" for any value, or the allowed values "cp,ap" (from CLI11's TEXT:{cp,ap}).
# A value's type follows the name after one space, in capitals (TEXT, UINT:..., BOOLEAN=1,
# REQUIRED); a switch's description follows after the padding, or its (Env:...).
_dialkv_options() {
  local line names rest takes name
  while IFS= read -r line; do
    [[ $line =~ ^\ \ (-[^ ]*)(.*)$ ]] || continue
    names=${BASH_REMATCH[1]}
    rest=${BASH_REMATCH[2]}
    takes=-
    if [[ $rest =~ ^\ [A-Z]+([:= ]|$) ]]; then
      takes='*'
      [[ $rest =~ ^\ [A-Z]+:\{([^}]*)\} ]] && takes=${BASH_REMATCH[1]}
    fi
    for name in ${names//,/ }; do
      printf '%s %s\n' "$name" "$takes"
    done
  done <<<"$1"
}

# _dialkv_subcommands HELP: the names listed under "Subcommands:" in HELP.
_dialkv_subcommands() {
  local line section=
  while IFS= read -r line; do
    if [[ $line =~ ^[A-Za-z].*:$ ]]; then
      section=$line
    elif [[ $section == Subcommands: && $line =~ ^\ \ ([a-z][a-z0-9-]*)(\ \ |$) ]]; then
      printf '%s\n' "${BASH_REMATCH[1]}"
    fi
  done <<<"$1"
}

_dialkv_complete() {
  local cur=${COMP_WORDS[COMP_CWORD]}
  local -a command=("${COMP_WORDS[0]}")
  local root_help help options subcommands word takes i
  root_help=$(_dialkv_help "${COMP_WORDS[0]}")
  help=$root_help
  # Options of the command and of the top level: dialkv's global flags may follow a subcommand.
  options=$(_dialkv_options "$help")
  subcommands=$(_dialkv_subcommands "$help")

  # Walk the words before the cursor: descend into subcommands, skip the values of options.
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    if [[ $word == -* ]]; then
      [[ $word == *=* ]] && continue
      takes=$(awk -v n="$word" '$1 == n { print $2; exit }' <<<"$options")
      [[ -n $takes && $takes != - ]] && ((i++))
    elif grep -qxF -- "$word" <<<"$subcommands"; then
      command+=("$word")
      help=$(_dialkv_help "${command[@]}")
      options=$(_dialkv_options "$help"; _dialkv_options "$root_help")
      subcommands=$(_dialkv_subcommands "$help")
    fi
  done

  # The value of the option before the cursor.
  local prev=${COMP_WORDS[COMP_CWORD - 1]}
  if ((COMP_CWORD > 1)) && [[ $prev == -* && $prev != *=* ]]; then
    takes=$(awk -v n="$prev" '$1 == n { print $2; exit }' <<<"$options")
    if [[ $takes == '*' ]]; then
      case $prev in
        --config | --data-dir | *-file | *-ca | *-cert | *-key)
          compopt -o filenames 2>/dev/null
          mapfile -t COMPREPLY < <(compgen -f -- "$cur")
          ;;
        *) COMPREPLY=() ;;
      esac
      return 0
    elif [[ -n $takes && $takes != - ]]; then
      mapfile -t COMPREPLY < <(compgen -W "${takes//,/ }" -- "$cur")
      return 0
    fi
  fi

  if [[ $cur == -* || -z $subcommands ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(awk '{ print $1 }' <<<"$options" | sort -u)" -- "$cur")
  else
    mapfile -t COMPREPLY < <(compgen -W "$subcommands" -- "$cur")
  fi
  return 0
}

complete -F _dialkv_complete dialkv dialkv-server
