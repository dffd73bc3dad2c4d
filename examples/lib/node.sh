# shellcheck shell=bash
# Sourced by the example tests (examples/*/run_*test.sh): a temporary directory, one
# dialkv-server node on ports of 127.0.0.1 it picks itself, and the cleanup of both at exit.
#   node_init NAME
#       Makes $tmp (${TMPDIR:-/tmp}/dialkv-NAME.XXXXXX) and removes it, and stops the node, at
#       exit (it sets the EXIT trap).
#   fail MESSAGE...
#       Says the test FAILED, shows the end of the node's log if it ran, and exits 1.
#   node_make_secret
#       Writes a random token secret to $tmp/token.secret (mode 600), for
#       --auth-token-secret-file="$tmp/token.secret".
#   node_start SERVER CLUSTER_NAME [FLAG...]
#       Starts node 1 of CLUSTER_NAME from the dialkv-server binary SERVER, its data in
#       $tmp/data and its log in $tmp/server.log, with the client, peer and HTTP ports on port 0
#       of 127.0.0.1, and the FLAGs added (--resp-listen, --auth-token-secret-file, ...); sets
#       $server_pid. Returns once the node wrote the ports it bound to $tmp/ports.json (after
#       every port listens; 30 s at most): no port is picked and released, so no other process
#       can take it in between.
#   node_address PORT
#       Prints the address the node's PORT ("client", "resp", ...) listens on, as host:port.
# The caller sets -euo pipefail.

node_init() {
  test_name=$(basename "$0" .sh)
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/dialkv-$1.XXXXXX")
  server_pid=""
  trap node_cleanup EXIT
}

node_cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}

fail() {
  echo "$test_name: FAILED: $*" >&2
  if [ -f "$tmp/server.log" ]; then
    echo "--- the node's log ends:" >&2
    tail -n 20 "$tmp/server.log" >&2
  fi
  exit 1
}

node_make_secret() {
  head -c 32 /dev/urandom | base64 >"$tmp/token.secret"
  chmod 600 "$tmp/token.secret"
}

node_start() {
  local server=$1 cluster=$2
  shift 2
  "$server" --node-id=1 --cluster-name="$cluster" --data-dir="$tmp/data" --threads=2 \
    --listen=127.0.0.1:0 --peer-listen=127.0.0.1:0 --http-listen=127.0.0.1:0 \
    --ports-file="$tmp/ports.json" --min-free-disk-bytes=16777216 "$@" >"$tmp/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 300); do
    [ -s "$tmp/ports.json" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || fail "dialkv-server exited before it was ready"
    sleep 0.1
  done
  [ -s "$tmp/ports.json" ] || fail "dialkv-server was not ready within 30 s"
}

node_address() {
  local address
  address=$(sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" "$tmp/ports.json")
  [ -n "$address" ] || fail "no $1 address in $(cat "$tmp/ports.json")"
  echo "$address"
}
