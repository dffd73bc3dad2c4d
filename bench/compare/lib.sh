# Shared by bench/compare's scripts that start clusters and take medians; sourced, not run.
# REQUIRES: `root` is the repository's directory.

# Sets `work` to a new temporary directory (/tmp/NAME.XXXXXX) and `pids` to an empty list; at
# exit, TERMs every pid in `pids`, waits for them and removes `work`.
bench_work_dir() {  # bench_work_dir NAME
  work=$(mktemp -d "/tmp/$1.XXXXXX")
  pids=()
  trap bench_cleanup EXIT INT TERM
}
bench_cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}

# A path relative to the repository, made absolute.
abs() { case $1 in /*) echo "$1" ;; *) echo "$root/$1" ;; esac; }

# The first value of "NAME": VALUE in a JSON file (a string's without its quotes).
field() { sed -n "s/.*\"$1\": *\"\\{0,1\\}\\([^,\"}]*\\).*/\\1/p" "$2" | head -1; }

# An awk function for the programs that print medians: median(v, n) of v[1..n] (sorts v).
# shellcheck disable=SC2034  # Used by the scripts that source this file.
MEDIAN_AWK='
  function median(v, n,    i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  }'
