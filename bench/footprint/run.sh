#!/usr/bin/env bash
# Sustained writes on a 3-node cluster, sampled the way an operator would watch it: every
# SAMPLE_S seconds each node's data dir (du, and its WAL and SST bytes), each node's RSS and the
# load's throughput and p99 latency. After the load it kill -9s node 1, restarts it and times
# it until /health answers, then stops everything and measures each data dir after a full
# compaction (of a copy, with RocksDB's `ldb`, package rocksdb-tools), the yardstick of the
# disk targets.
#   BUILD_DIR    (default build-bench)  dialkv-server and dialkv-bench, built in Release:
#                BUILD_TYPE=Release BUILD_DIR=build-bench TARGETS="dialkv-server dialkv-bench"
#                scripts/build.sh
#   DURATION     (default 300)  seconds of load per mode; MODE=both runs cp then ap
#   MODE (both) KEYS (100000) VALUE_BYTES (1024) CONNECTIONS (16) READ_RATIO (0.5)
#   SAMPLE_S     (default 15)
#   PORT_BASE    (default 27400)  node i (1..3) listens on PORT_BASE+10i (client), +1 (peer),
#                +2 (http), all on 127.0.0.1
#   SERVER_FLAGS extra flags for every node, e.g. "--rocksdb-flush-together=false"
#   OUT          (default a new /tmp/dialkv-footprint.XXXXXX)  where everything is written:
#                samples.csv, summary.txt, bench.log, bench.json, node*.log, metrics-*.txt
# Kills only the processes it started, by pid.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=${BUILD_DIR:-build-bench}
duration=${DURATION:-300}
mode=${MODE:-both}
keys=${KEYS:-100000}
value_bytes=${VALUE_BYTES:-1024}
connections=${CONNECTIONS:-16}
read_ratio=${READ_RATIO:-0.5}
sample_s=${SAMPLE_S:-15}
port_base=${PORT_BASE:-27400}
server_flags=${SERVER_FLAGS:-}
[[ "$build_dir" == /* ]] || build_dir="$root/$build_dir"
server="$build_dir/server/dialkv-server"
bench="$build_dir/bench/load/dialkv-bench"
for bin in "$server" "$bench"; do
  [ -x "$bin" ] || { echo "run.sh: $bin is missing (see the header for how to build)" >&2; exit 2; }
done
if ! command -v ldb >/dev/null; then  # RocksDB's tool, for the full compaction of a copy.
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  echo "run.sh: installing rocksdb-tools (for ldb)"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    rocksdb-tools || { echo "run.sh: cannot install rocksdb-tools (ldb)" >&2; exit 2; }
fi
out=${OUT:-$(mktemp -d /tmp/dialkv-footprint.XXXXXX)}
mkdir -p "$out"
work="$out/data"
rm -rf "$work"
mkdir -p "$work"

client_port() { echo $((port_base + 10 * $1)); }
peer_port() { echo $((port_base + 10 * $1 + 1)); }
http_port() { echo $((port_base + 10 * $1 + 2)); }
peers="1@127.0.0.1:$(peer_port 1),2@127.0.0.1:$(peer_port 2),3@127.0.0.1:$(peer_port 3)"
endpoints="127.0.0.1:$(client_port 1),127.0.0.1:$(client_port 2),127.0.0.1:$(client_port 3)"

declare -A pid
started=()
sampler=""
cleanup() {
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null || true
  for p in "${started[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${started[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

start_node() {  # start_node ID
  local id=$1
  # shellcheck disable=SC2086  # SERVER_FLAGS' words are meant to split.
  "$server" --node-id "$id" --cluster-name footprint --data-dir "$work/node$id" \
    --listen "127.0.0.1:$(client_port "$id")" --peer-listen "127.0.0.1:$(peer_port "$id")" \
    --http-listen "127.0.0.1:$(http_port "$id")" --resp-listen off --peers "$peers" --log-level warn \
    $server_flags >>"$out/node$id.log" 2>&1 &
  pid[$id]=$!
  started+=($!)
}
healthy() { curl -sf "http://127.0.0.1:$(http_port "$1")/health" >/dev/null 2>&1; }
wait_healthy() {  # wait_healthy ID SECONDS
  local deadline=$((SECONDS + $2))
  until healthy "$1"; do
    [ "$SECONDS" -ge "$deadline" ] && { echo "run.sh: node $1 not healthy" >&2; return 1; }
    sleep 0.02
  done
}
now_ms() { date +%s%3N; }
sum_sizes() {  # sum_sizes DIR SUFFIX: bytes of DIR/*SUFFIX
  find "$1" -maxdepth 1 -name "*$2" -printf '%s\n' 2>/dev/null | awk '{s += $1} END {print s + 0}'
}
mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }

for id in 1 2 3; do start_node "$id"; done
for id in 1 2 3; do wait_healthy "$id" 30; done

# One row per node per sample. ops_s and p99_ms summarise the load's per-second progress
# lines of the window (mean ops/s, worst p99); empty before the measurement starts.
echo "t_s,node,disk_mb,wal_mb,sst_mb,rss_mb,ops_s,p99_ms,load1" >"$out/samples.csv"
sample() {
  local t=$1 id lat load1
  lat=$(grep -E 'ops/s' "$out/bench.log" 2>/dev/null | tail -n "$sample_s" |
    awk '{for (i = 1; i <= NF; i++) { if ($i == "ops/s") ops += $(i-1); if ($i == "p99" && $(i+1) > p) p = $(i+1) } n++}
         END { if (n) printf "%.0f,%.3f", ops / n, p; else printf "," }')
  load1=$(cut -d' ' -f1 /proc/loadavg)
  for id in 1 2 3; do
    local dir="$work/node$id" rss disk
    disk=$(du -sk "$dir" 2>/dev/null | cut -f1)
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/${pid[$id]}/status" 2>/dev/null || echo 0)
    echo "$t,$id,$(mib $((disk * 1024))),$(mib "$(sum_sizes "$dir" .log)"),$(mib "$(sum_sizes "$dir" .sst)"),$(mib $((${rss:-0} * 1024))),$lat,$load1" >>"$out/samples.csv"
  done
}
(
  set +e  # A sample that fails to read something leaves its field empty; it never stops the run.
  t0=$(now_ms)
  while true; do
    sample $((($(now_ms) - t0) / 1000))
    sleep "$sample_s"
  done
) &
sampler=$!

load_start=$(date -u +%FT%TZ)
echo "run.sh: load $mode ${duration}s per mode, $keys keys of $value_bytes bytes, $connections connections; out $out"
"$bench" --endpoints "$endpoints" --mode "$mode" --connections "$connections" --keys "$keys" \
  --value-bytes "$value_bytes" --read-ratio "$read_ratio" --duration "$duration" \
  --json "$out/bench.json" 2>"$out/bench.log" >"$out/bench.out" || echo "run.sh: dialkv-bench failed ($?)" >&2
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
sampler=""
for id in 1 2 3; do curl -sf "http://127.0.0.1:$(http_port "$id")/metrics" >"$out/metrics-end-$id.txt" || true; done

# kill -9 node 1 and time its restart to /health.
kill -KILL "${pid[1]}"
wait "${pid[1]}" 2>/dev/null || true
wal_before=$(sum_sizes "$work/node1" .log)
disk_before=$(du -sk "$work/node1" | cut -f1)
t_start=$(now_ms)
start_node 1
wait_healthy 1 120
restart_ms=$(($(now_ms) - t_start))
curl -sf "http://127.0.0.1:$(http_port 1)/metrics" >"$out/metrics-restart-1.txt" || true

# Stop everything, then a full compaction of a copy of each data dir.
for id in 1 2 3; do kill -TERM "${pid[$id]}"; done
for id in 1 2 3; do wait "${pid[$id]}" 2>/dev/null || true; done
started=()
declare -A compacted
for id in 1 2 3; do
  rm -rf "$work/copy$id"
  cp -r "$work/node$id" "$work/copy$id"
  for cf in default data hints meta; do
    ldb --db="$work/copy$id" --column_family="$cf" compact >/dev/null 2>&1 || true
  done
  compacted[$id]=$(du -sk "$work/copy$id" | cut -f1)
  rm -rf "$work/copy$id"
done

{
  echo "load: $mode, ${duration}s per mode, $keys keys x $value_bytes B, $connections connections, read ratio $read_ratio, started $load_start"
  echo "server flags: ${server_flags:-(defaults)}"
  for id in 1 2 3; do
    c=${compacted[$id]}
    awk -F, -v id="$id" -v c="$c" 'NR > 1 && $2 == id {
        if ($3 > max) { max = $3; at = $1 } if ($4 > wal) wal = $4 }
      END { printf "node %d: after full compaction %.1f MB; largest sample %.1f MB at %d s (%.2fx); largest WAL %.1f MB\n",
            id, c / 1024, max, at, max / (c / 1024), wal }' "$out/samples.csv"
    # RSS slope after warm-up: least squares over samples past the first quarter of the run.
    awk -F, -v id="$id" 'BEGIN { n = 0 } NR > 1 && $2 == id { t[n] = $1; r[n] = $6; n++ }
      END { s = int(n / 4); for (i = s; i < n; i++) { k++; sx += t[i]; sy += r[i]; sxx += t[i] * t[i]; sxy += t[i] * r[i] }
            if (k > 1 && k * sxx - sx * sx > 0) { b = (k * sxy - sx * sy) / (k * sxx - sx * sx)
              printf "node %d: RSS %.1f -> %.1f MB, slope after warm-up %.2f MB/min\n", id, r[0], r[n-1], b * 60 } }' "$out/samples.csv"
    grep -E '^dialkv_storage_(longest_write_stall_seconds|write_stalls_total|write_stall_seconds) ' \
      "$out/metrics-end-$id.txt" 2>/dev/null | sed "s/^/node $id: /" || true
  done
  echo "restart of node 1 after kill -9: ${restart_ms} ms to /health (WAL $(mib "$wal_before") MB, data dir $(mib $((disk_before * 1024))) MB)"
  grep -E '^dialkv_storage_recovery_seconds ' "$out/metrics-restart-1.txt" 2>/dev/null | sed 's/^/node 1: /' || true
  cat "$out/bench.out" 2>/dev/null || true
} | tee "$out/summary.txt"
