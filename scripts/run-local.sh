#!/usr/bin/env bash
# Builds dialkv and runs a local 3-node cluster on 127.0.0.1 in the foreground; Ctrl-C stops
# every node. Data lives in ./local-cluster/nodeN, logs in ./local-cluster/nodeN.log.
#   BUILD_DIR   (default build)  where to build
#   DIALKV_PORT (default 7379)   node N listens on DIALKV_PORT + 10*(N-1) for clients,
#                                +1 for peers, +2 for HTTP (/health, /metrics)
#   NODES       (default 3)      how many nodes
set -euo pipefail
cd "$(dirname "$0")/.."
TARGETS="dialkv-server dialkv" bash scripts/build.sh
build_dir=${BUILD_DIR:-build}
base=${DIALKV_PORT:-7379}
nodes=${NODES:-3}
root=local-cluster
mkdir -p "$root"

peers=""
for n in $(seq 1 "$nodes"); do
  peers+="${peers:+,}$n@127.0.0.1:$((base + 10 * (n - 1) + 1))"
done

pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "dialkv: cluster stopped; data kept in $root/"
}
trap stop INT TERM EXIT

endpoints=""
for n in $(seq 1 "$nodes"); do
  port=$((base + 10 * (n - 1)))
  mkdir -p "$root/node$n"
  "$build_dir/server/dialkv-server" --node-id="$n" --cluster-name=local \
    --listen="127.0.0.1:$port" --peer-listen="127.0.0.1:$((port + 1))" \
    --http-listen="127.0.0.1:$((port + 2))" --resp-listen="127.0.0.1:$((port + 3))" \
    --peers="$peers" \
    --data-dir="$root/node$n" >"$root/node$n.log" 2>&1 &
  pids+=($!)
  endpoints+="${endpoints:+,}127.0.0.1:$port"
done

for n in $(seq 1 "$nodes"); do
  port=$((base + 10 * (n - 1)))
  for _ in $(seq 1 100); do
    if ! kill -0 "${pids[$((n - 1))]}" 2>/dev/null; then
      echo "dialkv-server node $n failed to start:" >&2
      tail -n 20 "$root/node$n.log" >&2
      exit 1
    fi
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
done

cli="$build_dir/client/dialkv --endpoints $endpoints"
cat <<MSG
dialkv: $nodes nodes serving on 127.0.0.1 ports $base, $((base + 10)), $((base + 20))...
Try, in another terminal:
  $cli status
  $cli --mode cp put greeting hello      # linearizable: a majority of replicas acknowledged
  $cli --mode cp get greeting
  $cli --mode ap put greeting hi         # available: first replica to acknowledge
  $cli --mode ap get greeting            # possibly stale
  curl -s http://127.0.0.1:$((base + 2))/metrics | grep dialkv_requests_total
  redis-cli -p $((base + 3)) SET greeting hello   # Redis protocol: node N on port $((base + 3)) + 10 * (N - 1)
  redis-cli -p $((base + 3)) AP GET greeting
Logs: $root/nodeN.log. Press Ctrl-C to stop every node.
MSG
sleep 1  # Let the first gossip rounds tell the nodes about each other.
$cli status || true
$cli --mode cp put greeting "hello from dialkv (cp)" >/dev/null &&
  printf 'cp get greeting -> %s\n' "$($cli --mode cp get greeting)"
$cli --mode ap put greeting "hello from dialkv (ap)" >/dev/null &&
  printf 'ap get greeting -> %s\n' "$($cli --mode ap get greeting)"
wait "${pids[@]}"
