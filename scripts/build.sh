#!/usr/bin/env bash
# Installs missing packages, configures and builds dialkv.
#   BUILD_DIR (default build)      where to build
#   SANITIZE  (e.g. address,undefined) builds our code with those sanitizers
#   BUILD_BENCH (ON|OFF, default ON) the benchmarks
#   TARGETS   (default: everything)  which targets to build, space-separated
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja \
  -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
  -DDIALKV_SANITIZE="${SANITIZE:-}" \
  -DDIALKV_BUILD_BENCH="${BUILD_BENCH:-ON}" >/dev/null
# shellcheck disable=SC2086  # TARGETS is a list.
cmake --build "$build_dir" -j"$(nproc)" ${TARGETS:+--target $TARGETS}
