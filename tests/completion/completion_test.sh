#!/usr/bin/env bash
# scripts/completion/dialkv.bash against the built binaries: every subcommand and every flag
# that a --help lists, at every level, is offered where it can be typed, and the values of
# the flags that take a few are offered after them.
#   completion_test.sh PATH/TO/dialkv PATH/TO/dialkv-server
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
# Completion is registered for the commands' names, as a user's shell runs them.
ln -s "$(realpath "$1")" "$bin/dialkv"
ln -s "$(realpath "$2")" "$bin/dialkv-server"
PATH=$bin:$PATH
# shellcheck source=../../scripts/completion/dialkv.bash
source "$here/../../scripts/completion/dialkv.bash"

passed=0
failed=0
check() {  # check WHAT CONDITION...
  local what=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: $what"
  fi
}

# complete WORD...: COMPREPLY for the last word, as bash would set it.
complete_words() {
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMPREPLY=()
  _dialkv_complete
}

offers() {  # offers WORD: whether COMPREPLY holds WORD.
  local w
  for w in "${COMPREPLY[@]}"; do [[ $w == "$1" ]] && return 0; done
  return 1
}

# check_level COMMAND...: what `COMMAND --help` lists is offered after COMMAND, then the same
# for each of its subcommands. Read here with plain greps, apart from the script's parser.
check_level() {
  local help sub flag
  help=$("$@" --help)
  local -a subs flags
  mapfile -t subs < <(sed -n '/^Subcommands:$/,/^$/p' <<<"$help" | grep -oE '^  [a-z][a-z0-9-]*')
  mapfile -t flags < <(grep -oE '^  -[^ ]+' <<<"$help" | tr ',' '\n' | sed 's/^ *//')
  check "$* --help lists flags" test "${#flags[@]}" -gt 0
  complete_words "$@" "-"
  for flag in "${flags[@]}"; do
    check "'$* -<TAB>' offers $flag" offers "$flag"
  done
  ((${#subs[@]} > 0)) || return 0
  complete_words "$@" ""
  local -a offered=("${COMPREPLY[@]}")
  for sub in "${subs[@]}"; do
    sub=${sub#  }
    COMPREPLY=("${offered[@]}")
    check "'$* <TAB>' offers $sub" offers "$sub"
    check_level "$@" "$sub"
  done
}

check_level dialkv
check_level dialkv-server

complete_words dialkv --mode ""
check "--mode offers cp and ap" test "${COMPREPLY[*]}" = "cp ap"
complete_words dialkv status --output ""
check "--output after a subcommand offers text and json" test "${COMPREPLY[*]}" = "text json"
complete_words dialkv --output json --endpoints 127.0.0.1:7379 fault s
check "option values are skipped on the way to a subcommand" test "${COMPREPLY[*]}" = "show"
complete_words dialkv fault delay 50ms --j
check "a subcommand's own flags" test "${COMPREPLY[*]}" = "--jitter"
complete_words dialkv fault drop --
check "global flags after a subcommand" offers --endpoints
complete_words dialkv-server --node-id 1 --sync --data-d
check "a switch takes no value" test "${COMPREPLY[*]}" = "--data-dir"
complete_words dialkv-server --config "$here/completion_te"
check "--config completes file names" test "${COMPREPLY[*]}" = "$here/completion_test.sh"
complete_words dialkv-server --node-id ""
check "a number is not completed" test "${#COMPREPLY[@]}" -eq 0

echo "$passed passed, $failed failed"
((failed == 0))
