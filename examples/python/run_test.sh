#!/usr/bin/env bash
# Runs examples/python/dialkv_example.py against a real node and checks what it prints (a
# ctest test: examples/CMakeLists.txt). The node requires tokens (--auth-token-secret-file), so
# the run also shows that the example presents one: without a token it must fail
# UNAUTHENTICATED, with a bad one too, and with one made by `dialkv token create` it must pass.
#   run_test.sh SERVER CLI PROTOC PYTHON
#     SERVER  the dialkv-server binary      CLI     the dialkv binary (to make the token)
#     PROTOC  protoc, for dialkv_pb2.py     PYTHON  a python3 with the protobuf module
# The node listens on port 0 of 127.0.0.1 and writes the ports it bound to --ports-file: no
# port is picked and released, so no other process can take it in between.
set -euo pipefail
if [ "$#" -ne 4 ]; then
  echo "usage: $0 SERVER CLI PROTOC PYTHON" >&2
  exit 2
fi
server=$1 cli=$2 protoc=$3 python=$4
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=examples/lib/node.sh
source "$here/../lib/node.sh"
node_init python-example

mkdir "$tmp/gen"
"$protoc" -I "$repo/proto" --python_out="$tmp/gen" "$repo/proto/dialkv.proto"
node_make_secret
node_start "$server" python-example --resp-listen=off \
  --auth-token-secret-file="$tmp/token.secret"
endpoint=$(node_address client)
echo "run_test: node 1 serves clients on $endpoint"

example() {  # example ARGS...: runs the example, its output in $tmp/out; returns its status.
  PYTHONPATH="$tmp/gen" "$python" "$here/dialkv_example.py" "$endpoint" "$@" >"$tmp/out" 2>&1
}
expect_line() {  # expect_line REGEX: some line of $tmp/out matches REGEX whole.
  grep -Eqx -- "$1" "$tmp/out" || fail "no line '$1' in the example's output"
}

# Without a token: the node answers the put UNAUTHENTICATED and the example exits non-zero.
if (unset DIALKV_TOKEN && example); then
  cat "$tmp/out"
  fail "the example succeeded without a token"
fi
cat "$tmp/out"
expect_line 'put \(cp\): STATUS_UNAUTHENTICATED .*'

# A token the node refuses (the flag, not the environment): the AuthRequest fails.
if example --token not-a-token; then
  cat "$tmp/out"
  fail "the example succeeded with a bad token"
fi
cat "$tmp/out"
expect_line 'auth: STATUS_UNAUTHENTICATED .*'

# A real token, from the environment.
token=$("$cli" token create --secret-file "$tmp/token.secret" --scopes kv:read,kv:write \
  --ttl 10m --subject python-example)
DIALKV_TOKEN=$token example --key "example/$$" || {
  cat "$tmp/out"
  fail "the example failed with a valid token"
}
cat "$tmp/out"
expect_line 'auth: STATUS_OK'
expect_line "  required=True subject='python-example' scopes='kv:read kv:write'"
expect_line 'put \(cp\): STATUS_OK'
expect_line 'get \(cp\): STATUS_OK'
expect_line "  value=b'hello from python'"
expect_line 'get \(ap\): STATUS_OK'
expect_line 'delete \(cp\): STATUS_OK'
expect_line 'get after delete \(default: cp\): STATUS_NOT_FOUND key not found \(deleted\)'
echo "run_test: PASSED"
