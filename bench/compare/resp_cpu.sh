#!/usr/bin/env bash
# The Redis-protocol port against the native one on the same node, by what the node spends per
# command. For each build, a 3-node cluster (dialkv-jepsen --hold, default server flags, client
# tokens on); every connection goes to node 1, CP, one command outstanding per connection.
# Node 1's CPU time (utime + stime, /proc/PID/stat) is read before and after a fixed number of
# commands: redis-benchmark -P 1 on the RESP port (SET, then GET) and dialkv-bench on the
# native port (put, then get; no failover), alternating, REPEAT times, builds interleaved.
# Prints every run, then the medians: ops/s and node 1's CPU microseconds per command.
#   BUILD_DIRS  (default build-bench)  one or more build dirs (space-separated, relative to the
#               repository or absolute), e.g. "build-before build" to compare two versions
#   REPEAT      (default 3)   COMMANDS (default 50000) per run
#   CONNECTIONS (default 16)  KEYS (default 10000)  VALUE_BYTES (default 100)
# Needs redis-benchmark (Debian: redis-tools). Stops what it started, by pid.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
# shellcheck source=bench/compare/lib.sh
source bench/compare/lib.sh
build_dirs=${BUILD_DIRS:-build-bench}
repeat=${REPEAT:-3}
commands=${COMMANDS:-50000}
connections=${CONNECTIONS:-16}
keys=${KEYS:-10000}
value_bytes=${VALUE_BYTES:-100}
command -v redis-benchmark >/dev/null || { echo "resp_cpu.sh: redis-benchmark is missing (apt install redis-tools)" >&2; exit 2; }
ticks_per_s=$(getconf CLK_TCK)

bench_work_dir dialkv-resp-cpu

# Starts build I's cluster in $work/I.
for i in $(seq 1 "$(wc -w <<<"$build_dirs")"); do
  dir=$(abs "$(cut -d' ' -f"$i" <<<"$build_dirs")")
  for bin in server/dialkv-server jepsen-like/dialkv-jepsen bench/load/dialkv-bench; do
    [ -x "$dir/$bin" ] || { echo "resp_cpu.sh: $dir/$bin is missing" >&2; exit 2; }
  done
  "$dir/jepsen-like/dialkv-jepsen" --hold --nodes 3 --server "$dir/server/dialkv-server" \
    --out "$work/$i" --server-arg=--log-level=warn --server-arg=--threads="$(nproc)" \
    --server-arg=--ae-interval-ms=5000 >"$work/$i.log" 2>&1 &
  pids+=($!)
done
for i in $(seq 1 "${#pids[@]}"); do
  for _ in $(seq 600); do [ -s "$work/$i/endpoints" ] && break; sleep 0.1; done
  [ -s "$work/$i/endpoints" ] || { cat "$work/$i.log" >&2; exit 1; }
done

port_of() { field "$1" "$2" | sed 's/.*://'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# One run: prints "LABEL PROTOCOL OP OPS_PER_S US_PER_COMMAND".
measure() {  # measure I PROTOCOL OP
  local i=$1 protocol=$2 op=$3 dir label ports pid token before after rps
  dir=$(abs "$(cut -d' ' -f"$i" <<<"$build_dirs")")
  label=$(basename "$dir")
  ports="$work/$i/n1/ports.json"
  pid=$(field pid "$ports")
  token=$(cat "$work/$i/token")
  before=$(cpu_ticks "$pid")
  if [ "$protocol" = resp ]; then
    local test=set
    [ "$op" = get ] && test=get
    rps=$(redis-benchmark -h 127.0.0.1 -p "$(port_of resp "$ports")" -a "$token" -t "$test" \
      -c "$connections" -d "$value_bytes" -r "$keys" -n "$commands" -P 1 --csv 2>/dev/null |
      awk -F'"' 'NR == 2 {print $4}')
  else
    local ratio=0
    [ "$op" = get ] && ratio=1
    rps=$(DIALKV_TOKEN=$token "$dir/bench/load/dialkv-bench" \
      --endpoints "127.0.0.1:$(port_of client "$ports")" --failover off --mode cp \
      --connections "$connections" --keys "$keys" --value-bytes "$value_bytes" \
      --read-ratio "$ratio" --ops "$commands" --warmup 0 --no-prefill --quiet |
      awk 'NR == 2 {gsub(",", "", $6); print $6}')
  fi
  after=$(cpu_ticks "$pid")
  [ -n "$rps" ] || { echo "resp_cpu.sh: no result from the $protocol $op run of $label" >&2; exit 1; }
  awk -v l="$label" -v p="$protocol" -v o="$op" -v r="$rps" -v t=$((after - before)) \
    -v hz="$ticks_per_s" -v n="$commands" 'BEGIN { printf "%s %s %s %.0f %.1f\n", l, p, o, r, t / hz * 1e6 / n }'
}

echo "resp_cpu.sh: builds: $build_dirs; $repeat runs of $commands commands each; load average $(cut -d' ' -f1-3 /proc/loadavg)"
# Writes first, so the reads find every key.
for rep in $(seq 1 "$repeat"); do
  for op in set get; do
    for i in $(seq 1 "${#pids[@]}"); do
      for protocol in resp native; do
        measure "$i" "$protocol" "$op" | tee -a "$work/runs" | sed "s/^/run $rep: /"
      done
    done
  done
done
echo "resp_cpu.sh: load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| build | protocol | command | ops/s (median) | node 1 CPU us per command (median) |"
echo "|---|---|---|---:|---:|"
# Per build, protocol and command, the median of each column.
sort -k1,1 -k3,3r -k2,2r "$work/runs" | awk "$MEDIAN_AWK"'
  function flush() {
    if (n == 0) return
    printf "| %s | %s | %s | %.0f | %.1f |\n", build, protocol, command, median(ops, n), median(us, n)
    n = 0
  }
  { key = $1 " " $2 " " $3
    if (key != last) {
      flush(); last = key; build = $1; protocol = $2
      command = $3 == "set" ? "SET / put" : "GET / get"
    }
    n++; ops[n] = $4; us[n] = $5 }
  END { flush() }'
