#!/usr/bin/env bash
# What the servers of a 3-node cluster spend per operation of the native protocol, for one or
# more server binaries (a build before and after a change, say), interleaved. For each binary,
# a 3-node cluster (dialkv-jepsen --hold, --threads=SERVER_THREADS, client tokens on); the load
# is the main comparison table's: CONNECTIONS clients spread over the three nodes, failover on,
# one operation outstanding each. For each mode (cp, ap) and operation (put, then get),
# dialkv-bench runs OPS operations while the three servers' CPU time (utime + stime,
# /proc/PID/stat, the same clock as perf stat's task-clock) is read before and after.
# Prints every run, then the medians: ops/s, p99 ms and the servers' CPU microseconds per
# operation, with the ratio of each binary to the first.
#   SERVERS        (default build/server/dialkv-server) one or more dialkv-server binaries,
#                  space-separated, relative to the repository or absolute
#   BUILD_DIR      (default build) where dialkv-jepsen and dialkv-bench come from
#   REPEAT         (default 3)     OPS (default 50000) per run
#   CONNECTIONS    (default 16)    KEYS (default 10000)  VALUE_BYTES (default 100)
#   SERVER_THREADS (default 1)     --threads of every server
#   SERVER_ARGS    (default none)  more flags for every server, space-separated
# Stops what it started, by pid.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
# shellcheck source=bench/compare/lib.sh
source bench/compare/lib.sh
servers=${SERVERS:-build/server/dialkv-server}
build_dir=${BUILD_DIR:-build}
repeat=${REPEAT:-3}
ops=${OPS:-50000}
connections=${CONNECTIONS:-16}
keys=${KEYS:-10000}
value_bytes=${VALUE_BYTES:-100}
server_threads=${SERVER_THREADS:-1}
server_args=()
for arg in ${SERVER_ARGS:-}; do server_args+=("--server-arg=$arg"); done
ticks_per_s=$(getconf CLK_TCK)

jepsen=$(abs "$build_dir/jepsen-like/dialkv-jepsen")
bench=$(abs "$build_dir/bench/load/dialkv-bench")
for bin in "$jepsen" "$bench"; do
  [ -x "$bin" ] || { echo "cpu_per_op.sh: $bin is missing (build first, or set BUILD_DIR)" >&2; exit 2; }
done

bench_work_dir dialkv-cpu-per-op

count=$(wc -w <<<"$servers")
for i in $(seq 1 "$count"); do
  server=$(abs "$(cut -d' ' -f"$i" <<<"$servers")")
  [ -x "$server" ] || { echo "cpu_per_op.sh: $server is missing" >&2; exit 2; }
  "$jepsen" --hold --nodes 3 --server "$server" --out "$work/$i" \
    --server-arg=--log-level=warn --server-arg=--threads="$server_threads" \
    --server-arg=--ae-interval-ms=5000 "${server_args[@]}" >"$work/$i.log" 2>&1 &
  pids+=($!)
done
for i in $(seq 1 "$count"); do
  for _ in $(seq 600); do [ -s "$work/$i/endpoints" ] && break; sleep 0.1; done
  [ -s "$work/$i/endpoints" ] || { cat "$work/$i.log" >&2; exit 1; }
done

# The three servers' CPU ticks, summed.
cpu_ticks() {
  local i=$1 total=0 n pid
  for n in 1 2 3; do
    pid=$(field pid "$work/$i/n$n/ports.json")
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "$total"
}

# One run: prints "INDEX MODE OP OPS_PER_S P99_MS US_PER_OP".
measure() {  # measure I MODE OP
  local i=$1 mode=$2 op=$3 ratio=0 before after json="$work/run.json"
  [ "$op" = get ] && ratio=1
  before=$(cpu_ticks "$i")
  DIALKV_TOKEN=$(cat "$work/$i/token") "$bench" --endpoints "$(cat "$work/$i/endpoints")" \
    --mode "$mode" --connections "$connections" --keys "$keys" --value-bytes "$value_bytes" \
    --read-ratio "$ratio" --ops "$ops" --warmup 0 --no-prefill --quiet --json "$json" >/dev/null
  after=$(cpu_ticks "$i")
  local rps p99
  rps=$(field ops_per_s "$json")
  p99=$(field p99_ms "$json")
  [ -n "$rps" ] || { echo "cpu_per_op.sh: no result from the $mode $op run of server $i" >&2; exit 1; }
  awk -v i="$i" -v m="$mode" -v o="$op" -v r="$rps" -v p="$p99" -v t=$((after - before)) \
    -v hz="$ticks_per_s" -v n="$ops" \
    'BEGIN { printf "%s %s %s %.0f %.3f %.1f\n", i, m, o, r, p, t / hz * 1e6 / n }'
}

echo "cpu_per_op.sh: servers: $servers; --threads=$server_threads ${SERVER_ARGS:-}; $repeat runs of $ops operations each; load average $(cut -d' ' -f1-3 /proc/loadavg)"
# Puts first, so the gets find every key.
for rep in $(seq 1 "$repeat"); do
  for op in put get; do
    for mode in cp ap; do
      for i in $(seq 1 "$count"); do
        measure "$i" "$mode" "$op" | tee -a "$work/runs" | sed "s/^/run $rep: server /"
      done
    done
  done
done
echo "cpu_per_op.sh: load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
for i in $(seq 1 "$count"); do echo "server $i: $(cut -d' ' -f"$i" <<<"$servers")"; done
echo
echo "| server | mode | op | ops/s (median) | p99 ms (median) | servers' CPU us per op (median) | CPU vs server 1 |"
echo "|---|---|---|---:|---:|---:|---:|"
# Per mode, operation and server, the median of each column.
sort -k2,2 -k3,3r -k1,1n "$work/runs" | awk "$MEDIAN_AWK"'
  function flush(    cpu) {
    if (n == 0) return
    cpu = median(us, n)
    if (server == 1) base = cpu
    printf "| %s | %s | %s | %.0f | %.3f | %.1f | %.2fx |\n", server, mode, op, median(rate, n),
      median(p99, n), cpu, cpu / base
    n = 0
  }
  { key = $1 " " $2 " " $3
    if (key != last) { flush(); last = key; server = $1; mode = $2; op = $3 }
    n++; rate[n] = $4; p99[n] = $5; us[n] = $6 }
  END { flush() }'
