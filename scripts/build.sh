#!/usr/bin/env bash
# Installs missing packages, configures and builds dialkv.
#   BUILD_DIR (default build)      where to build
#   SANITIZE  (e.g. address,undefined) builds our code with those sanitizers
#   DCHECKS   (AUTO|ON|OFF, default AUTO) DIALKV_DCHECK invariant checks; AUTO: on in Debug only
#   BUILD_BENCH (ON|OFF, default ON) the benchmarks
#   TARGETS   (default: everything)  which targets to build, space-separated
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
build_dir=${BUILD_DIR:-build}
# ccache (installed by install-deps) keeps compiled objects between builds. Paths under the
# repository are hashed relative to it, so another clone of it reuses this clone's objects.
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(pwd)} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
fi
cmake -S . -B "$build_dir" -G Ninja "${launcher[@]}" \
  -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
  -DDIALKV_SANITIZE="${SANITIZE:-}" \
  -DDIALKV_DCHECKS="${DCHECKS:-AUTO}" \
  -DDIALKV_BUILD_BENCH="${BUILD_BENCH:-ON}" >/dev/null
# shellcheck disable=SC2086  # TARGETS is a list.
cmake --build "$build_dir" -j"$(nproc)" ${TARGETS:+--target $TARGETS}
