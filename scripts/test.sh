#!/usr/bin/env bash
# Builds dialkv and runs every test (unit and integration) with CTest, then lists the 10
# slowest tests so the suite's time stays visible as it grows.
# Same environment variables as scripts/build.sh; extra arguments go to ctest (e.g. -R Hlc).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
build_dir=${BUILD_DIR:-build}
log="$build_dir/ctest-output.log"
status=0
ctest --test-dir "$build_dir" --output-on-failure -j"$(nproc)" "$@" 2>&1 | tee "$log" ||
  status=$?
echo "10 slowest tests:"
# CTest prints "  3/641 Test  #17: Suite.Name ......   Passed    4.21 sec" per test. The last
# stage reads all its input (no head): under pipefail, a stage cut off by SIGPIPE fails the run.
awk '/ Test +#[0-9]+: / { for (i = 1; i < NF; i++) if ($(i + 1) == "sec") print $i, $4 }' "$log" |
  sort -rn | awk 'NR <= 10 { printf "  %8.2f s  %s\n", $1, $2 }'
exit "$status"
