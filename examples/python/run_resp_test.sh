#!/usr/bin/env bash
# Runs examples/python/resp_example.py (redis-py) against a real node's Redis-protocol port (a
# ctest test: examples/CMakeLists.txt).
#   run_resp_test.sh SERVER PYTHON
#     SERVER  the dialkv-server binary      PYTHON  a python3 with the redis module
# The node listens on port 0 of 127.0.0.1 and writes the ports it bound to --ports-file.
set -euo pipefail
if [ "$#" -ne 2 ]; then
  echo "usage: $0 SERVER PYTHON" >&2
  exit 2
fi
server=$1 python=$2
here=$(cd "$(dirname "$0")" && pwd)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dialkv-resp-example.XXXXXX")
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "run_resp_test: FAILED: $*" >&2
  if [ -f "$tmp/server.log" ]; then
    echo "--- the node's log ends:" >&2
    tail -n 20 "$tmp/server.log" >&2
  fi
  exit 1
}

"$server" --node-id=1 --cluster-name=resp-example --data-dir="$tmp/data" --threads=2 \
  --listen=127.0.0.1:0 --peer-listen=127.0.0.1:0 --http-listen=127.0.0.1:0 \
  --resp-listen=127.0.0.1:0 --ports-file="$tmp/ports.json" \
  --min-free-disk-bytes=16777216 >"$tmp/server.log" 2>&1 &
server_pid=$!

for _ in $(seq 300); do
  [ -s "$tmp/ports.json" ] && break
  kill -0 "$server_pid" 2>/dev/null || fail "dialkv-server exited before it was ready"
  sleep 0.1
done
[ -s "$tmp/ports.json" ] || fail "dialkv-server was not ready within 30 s"
port=$(sed -n 's/.*"resp":"127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$tmp/ports.json")
[ -n "$port" ] || fail "no resp address in $(cat "$tmp/ports.json")"
echo "run_resp_test: node 1 serves Redis-protocol clients on port $port"

"$python" "$here/resp_example.py" 127.0.0.1 "$port" --key "example/$$" || fail "the example failed"
echo "run_resp_test: PASSED"
