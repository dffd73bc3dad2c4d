#!/usr/bin/env bash
# Makes the .deb packages dialkv-server and libdialkv-dev with cpack from an existing build
# directory (built by scripts/build.sh or scripts/test.sh; a full build, not a client-only one).
# Builds what the packages hold if anything is out of date, then writes the .deb files to
# $BUILD_DIR/packages and prints their paths.
#   BUILD_DIR (default build)  the build directory
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=$(cd "${BUILD_DIR:-build}" && pwd)
[ -f "$build_dir/CPackConfig.cmake" ] ||
  { echo "package: no CPackConfig.cmake in $build_dir (a full build configured by this tree?)" >&2; exit 1; }
# Only what the packages install; a build that is up to date does nothing here.
cmake --build "$build_dir" --target dialkv-server dialkv dialkv-jepsen dialkv_client >/dev/null
out="$build_dir/packages"
rm -rf "$out"
mkdir -p "$out"
(cd "$out" && cpack --config "$build_dir/CPackConfig.cmake" -G DEB -B "$out" >"$out/cpack.log" 2>&1) ||
  { cat "$out/cpack.log" >&2; echo "package: cpack failed" >&2; exit 1; }
rm -rf "$out/_CPack_Packages"
ls "$out"/*.deb
