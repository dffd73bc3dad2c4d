#!/usr/bin/env bash
# Builds dialkv and runs every test (unit and integration) with CTest.
# Same environment variables as scripts/build.sh; extra arguments go to ctest (e.g. -R Hlc).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
build_dir=${BUILD_DIR:-build}
ctest --test-dir "$build_dir" --output-on-failure -j"$(nproc)" "$@"
