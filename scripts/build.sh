#!/usr/bin/env bash
# Installs missing packages, configures and builds dialkv.
#   BUILD_DIR (default build)      where to build
#   SANITIZE  (e.g. address,undefined) builds our code with those sanitizers
#   BUILD_BENCH (ON|OFF, default ON) the benchmarks
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja \
  -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
  -DDIALKV_SANITIZE="${SANITIZE:-}" \
  -DDIALKV_BUILD_BENCH="${BUILD_BENCH:-ON}" >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
