#!/usr/bin/env bash
# Builds dialkv and runs a local node on 127.0.0.1 in the foreground; Ctrl-C stops it.
# Data lives in ./local-cluster/node1, its log in ./local-cluster/node1.log.
#   BUILD_DIR (default build)   where to build
#   DIALKV_PORT (default 7379)  the client port; the HTTP port is DIALKV_PORT + 2
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_BENCH=${BUILD_BENCH:-OFF} bash scripts/build.sh
build_dir=${BUILD_DIR:-build}
port=${DIALKV_PORT:-7379}
http_port=$((port + 2))
root=local-cluster
mkdir -p "$root/node1"

"$build_dir/server/dialkv-server" --node-id=1 --cluster-name=local \
  --listen="127.0.0.1:$port" --http-listen="127.0.0.1:$http_port" \
  --data-dir="$root/node1" >"$root/node1.log" 2>&1 &
pid=$!
stop() {
  trap - INT TERM EXIT
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "dialkv: node stopped; data kept in $root/node1"
}
trap stop INT TERM EXIT

for _ in $(seq 1 100); do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "dialkv-server failed to start:" >&2
    tail -n 20 "$root/node1.log" >&2
    trap - EXIT
    exit 1
  fi
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

cli="$build_dir/client/dialkv --endpoints 127.0.0.1:$port"
cat <<MSG
dialkv node 1 is serving on 127.0.0.1:$port (metrics: http://127.0.0.1:$http_port/metrics)
Try, in another terminal:
  $cli put greeting hello
  $cli get greeting
  $cli del greeting
  curl -s http://127.0.0.1:$http_port/metrics | grep dialkv_requests_total
Log: $root/node1.log. Press Ctrl-C to stop.
MSG
$cli put greeting "hello from dialkv" >/dev/null && printf 'get greeting -> %s\n' "$($cli get greeting)"
wait "$pid"
