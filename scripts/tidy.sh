#!/usr/bin/env bash
# Runs clang-tidy 14 with the repository's .clang-tidy over our own sources (server/, client/,
# jepsen-like/, bench/, tests/, fuzz/: every file of ours in the compilation database, never
# generated code) and fails on any finding, listing each once (file:line: message [check]).
# It configures a build directory of its own with clang++-14, so that clang-tidy parses the code
# with the flags clang gets (not GCC's), and builds only the generated headers there.
#   BUILD_DIR (default build-tidy)  the clang build directory
#   JOBS      (default 2)           clang-tidy processes at once
#   FILES     (default: all of ours) a regex on the paths (under the repository) of the files to
#                                   check, e.g. server/replication/ or '(server|client)/'
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build-tidy}
jobs=${JOBS:-2}

cmake -S . -B "$build_dir" -G Ninja \
  -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
  -DDIALKV_BUILD_TESTS=ON -DDIALKV_BUILD_BENCH=ON >/dev/null
# What our sources include from the build directory: the protobuf headers and dialkv/version.h.
cmake --build "$build_dir" --target dialkv_version proto/dialkv.pb.h >/dev/null

root=$(pwd)
files=${FILES:-(server|client|jepsen-like|bench|tests|fuzz)/}
log="$build_dir/tidy.log"
status=0
# The regex picks files of ours (the database also holds the generated dialkv.pb.cc).
run-clang-tidy -p "$build_dir" -j "$jobs" -quiet "^$root/$files" >"$log" 2>&1 || status=$?
# A header included by many files is reported once per file: each finding is listed once. Only
# findings located in our files count: the static analyzer also reports paths that end inside
# Asio's coroutine machinery (/usr/include/asio), which it does not model.
# run-clang-tidy colours its output: the escapes are taken out first.
findings=$(sed 's/\x1b\[[0-9;]*m//g' "$log" |
  grep -E "^$root/.*:[0-9]+:[0-9]+: (warning|error): " | sed "s#^$root/##" | sort -u || true)
if [[ -n "$findings" ]]; then
  echo "$findings"
  echo "clang-tidy: $(wc -l <<<"$findings") findings"
  exit 1
fi
if [[ $status -ne 0 ]]; then
  tail -n 50 "$log"
  echo "clang-tidy failed (exit status $status)"
  exit 1
fi
echo "clang-tidy: no findings"
