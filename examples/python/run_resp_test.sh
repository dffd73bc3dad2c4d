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
# shellcheck source=examples/lib/node.sh
source "$here/../lib/node.sh"
node_init resp-example

node_start "$server" resp-example --resp-listen=127.0.0.1:0
resp=$(node_address resp)
port=${resp##*:}
echo "run_resp_test: node 1 serves Redis-protocol clients on port $port"

"$python" "$here/resp_example.py" 127.0.0.1 "$port" --key "example/$$" || fail "the example failed"
echo "run_resp_test: PASSED"
