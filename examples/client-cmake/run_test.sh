#!/usr/bin/env bash
# Uses the client library the way a program outside this source tree does, and runs the result
# against a real node (a ctest test: examples/CMakeLists.txt):
#   1. `cmake --install BUILD --component dev` into a temporary prefix;
#   2. configures and builds this directory (find_package(dialkv), dialkv::client) with
#      CMAKE_PREFIX_PATH at that prefix only;
#   3. compiles main.cc once more with `pkg-config --cflags --libs dialkv` alone;
#   4. starts dialkv-server on 127.0.0.1 (it requires tokens), makes a token with the CLI and
#      runs both programs: put/get/delete in CP and AP. Without the token the program must fail.
#   run_test.sh BUILD SERVER CLI CXX [SANITIZE]
#     BUILD  the dialkv build directory       SERVER, CLI  dialkv-server and dialkv binaries
#     CXX    the C++ compiler the build used  SANITIZE     the build's -fsanitize list, if any
set -euo pipefail
if [ "$#" -lt 4 ] || [ "$#" -gt 5 ]; then
  echo "usage: $0 BUILD SERVER CLI CXX [SANITIZE]" >&2
  exit 2
fi
build=$1 server=$2 cli=$3 cxx=$4 sanitize=${5:-}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=examples/lib/node.sh
source "$here/../lib/node.sh"
node_init client-cmake

# A sanitized build's libraries need the sanitizer runtime in every program that links them.
flags=""
[ -z "$sanitize" ] || flags="-fsanitize=$sanitize"

prefix="$tmp/prefix"
cmake --install "$build" --prefix "$prefix" --component dev >"$tmp/install.log" ||
  { cat "$tmp/install.log"; fail "cmake --install --component dev"; }
# Nothing of the servers is installed with the library.
[ -f "$prefix/include/dialkv/client.h" ] || fail "no include/dialkv/client.h in the prefix"
if find "$prefix" -name '*.a' | grep -Ev '/libdialkv_(client|wire|base|proto)\.a$'; then
  fail "libraries other than the client's installed (above)"
fi
[ ! -e "$prefix/include/server" ] || fail "server headers installed"
pc=$(find "$prefix" -name dialkv.pc)
[ -n "$pc" ] || fail "no dialkv.pc installed"
echo "run_test: installed the client library into $prefix"

# find_package(dialkv) from the prefix only.
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S "$here" -B "$tmp/app-build" "${generator[@]}" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" \
  >"$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log"; fail "configuring the example"; }
grep -q "dialkv_DIR:PATH=$prefix/" "$tmp/app-build/CMakeCache.txt" ||
  fail "find_package(dialkv) did not find the installed package: $(grep dialkv_DIR "$tmp/app-build/CMakeCache.txt")"
cmake --build "$tmp/app-build" >"$tmp/build.log" 2>&1 ||
  { cat "$tmp/build.log"; fail "building the example with find_package(dialkv)"; }
echo "run_test: built the example with find_package(dialkv) and dialkv::client"

# The same program from pkg-config alone.
pc_flags=$(PKG_CONFIG_PATH="$(dirname "$pc")" pkg-config --cflags --libs dialkv) ||
  fail "pkg-config --cflags --libs dialkv"
# shellcheck disable=SC2086  # Word splitting of the flags is meant.
"$cxx" $flags "$here/main.cc" -o "$tmp/app-pkgconfig" $pc_flags >"$tmp/pc.log" 2>&1 ||
  { cat "$tmp/pc.log"; fail "$cxx main.cc $pc_flags"; }
echo "run_test: built the example with pkg-config: $pc_flags"

# A node that requires tokens, on ports of 127.0.0.1 it picks itself (written to the ports file).
node_make_secret
node_start "$server" client-cmake-example --resp-listen=off \
  --auth-token-secret-file="$tmp/token.secret"
endpoint=$(node_address client)
echo "run_test: node 1 serves clients on $endpoint"

if (unset DIALKV_TOKEN && "$tmp/app-build/app" "$endpoint" >"$tmp/out" 2>&1); then
  cat "$tmp/out"
  fail "the example succeeded without a token"
fi
grep -q '^put (cp): UNAUTHENTICATED' "$tmp/out" || { cat "$tmp/out"; fail "not refused UNAUTHENTICATED"; }
echo "run_test: without a token: $(grep "^put (cp)" "$tmp/out")"

token=$("$cli" token create --secret-file "$tmp/token.secret" --scopes kv:read,kv:write \
  --ttl 10m --subject client-cmake-example)
for app in "$tmp/app-build/app" "$tmp/app-pkgconfig"; do
  DIALKV_TOKEN=$token "$app" "$endpoint" "example:$(basename "$app"):$$" >"$tmp/out" 2>&1 ||
    { cat "$tmp/out"; fail "$(basename "$app") failed with a valid token"; }
  cat "$tmp/out"
  grep -qx 'all steps passed' "$tmp/out" || fail "$(basename "$app") did not finish"
done
echo "run_test: PASSED"
