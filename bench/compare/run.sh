#!/usr/bin/env bash
# Measures dialkv against Redis (a primary and two replicas, without and with an AOF) and etcd
# (three members) with the same load generator and the same load, all on 127.0.0.1, and prints
# one table: system x mode x operation -> ops/s, p50, p99 (median of REPEAT runs). Writes the
# table, the command, the date and the machine to bench/compare/results.md, and every run's JSON
# and the charts to OUT. Installs redis-server and etcd-server from Debian's
# packages when missing. Everything it starts is stopped by pid when it exits.
#   BUILD_DIR   (default build-bench)  where dialkv-server, dialkv-jepsen and dialkv-bench are
#               built (Release)
#   DURATION    (default 10)   seconds measured per run, after a 2-second warm-up
#   REPEAT      (default 3)    runs per system x mode x operation
#   CONNECTIONS (default 16)   KEYS (default 10000)   VALUE_BYTES (default 100)
#   SYSTEMS     (default "dialkv dialkv-t1 redis redis-aof etcd")
#               dialkv: three nodes with default flags, client tokens checked (the load
#               generator presents one), peers authenticated; dialkv-t1: the same with
#               --threads=1; dialkv-open (not in the default): dialkv without client tokens,
#               to measure what the token checks cost; dialkv-tls (not in the default): dialkv
#               with TLS on the client ports and mutual TLS between peers (dialkv-jepsen --tls),
#               to measure what TLS costs.
#               redis: no persistence at all (--save "" --appendonly no), the fastest Redis.
#               redis-aof: the same primary and two replicas with --appendonly yes
#               --appendfsync no on every server: each write goes to the AOF in the page cache
#               at every event-loop iteration and is never fsynced, which is what dialkv does
#               by default (a RocksDB WAL write on every replica, no fsync), so this is the
#               durability-equivalent Redis. Both are driven as --target redis.
#   PARTITION   (default 1)    also run dialkv's partition scenario (both modes, each with and
#                              without client failover; one chart)
#   OPEN_LOOP   (default 1)    also compare dialkv's CP and AP at the same fixed offered load
#                              (open loop, --rate): 50% and 90% of the closed-loop CP maximum of
#                              the modes run (read ratio 0.5), latency from each operation's
#                              intended start, HdrHistogram .hgrm files in OUT/hgrm-50, hgrm-90
#   REDIS_BENCHMARK (default 1) also run redis-benchmark (-t set,get, CONNECTIONS, VALUE_BYTES,
#               KEYS; -P 1 and -P 16; bench/compare/redis_benchmark.sh) against each dialkv
#               system's Redis-protocol port (node 1, CP) and each Redis primary;
#               REDIS_BENCHMARK_REQUESTS (default 100000) commands per test
#   OUT         (default a new temp dir)
#   RESULTS     (default bench/compare/results.md)  where the table goes, under the heading
#   TITLE       (default "dialkv vs Redis vs etcd")
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
build_dir=${BUILD_DIR:-build-bench}
duration=${DURATION:-10}
repeat=${REPEAT:-3}
connections=${CONNECTIONS:-16}
keys=${KEYS:-10000}
value_bytes=${VALUE_BYTES:-100}
systems=${SYSTEMS:-dialkv dialkv-t1 redis redis-aof etcd}
partition=${PARTITION:-1}
open_loop=${OPEN_LOOP:-1}
redis_benchmark=${REDIS_BENCHMARK:-1}
redis_benchmark_requests=${REDIS_BENCHMARK_REQUESTS:-100000}
results=${RESULTS:-bench/compare/results.md}
title=${TITLE:-dialkv vs Redis vs etcd}
bench="$root/$build_dir/bench/load/dialkv-bench"
server="$root/$build_dir/server/dialkv-server"
jepsen="$root/$build_dir/jepsen-like/dialkv-jepsen"
for bin in "$bench" "$server" "$jepsen"; do
  [ -x "$bin" ] || { echo "run.sh: $bin is missing; build with BUILD_TYPE=Release BUILD_DIR=$build_dir scripts/build.sh" >&2; exit 2; }
done

# ---- packages ----
need=()
if [[ " $systems " == *" redis"* ]]; then command -v redis-server >/dev/null || need+=(redis-server); fi
if [ "$redis_benchmark" = 1 ]; then command -v redis-benchmark >/dev/null || need+=(redis-tools); fi
if [[ " $systems " == *" etcd "* ]]; then
  [ -x /usr/bin/etcd ] || command -v etcd >/dev/null || need+=(etcd-server)
fi
if [ "${#need[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  echo "run.sh: installing ${need[*]}"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi
etcd_bin=$(command -v etcd || echo /usr/bin/etcd)

work=$(mktemp -d /tmp/dialkv-compare.XXXXXX)
out=${OUT:-$work/out}
mkdir -p "$out"
pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  stop_all
  rm -rf "$work/data"
}
trap cleanup EXIT INT TERM

wait_until() {  # wait_until SECONDS COMMAND...: polls every 0.1 s.
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "run.sh: timed out waiting for: $*" >&2
      return 1
    fi
    sleep 0.1
  done
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---- the systems ----
# redis and redis-aof are the same primary and two replicas, differing only in persistence.
# Each has its own ports and each server its own --dir under $work/data (Redis 7 puts the AOF in
# <dir>/appendonlydir, which servers sharing a dir would overwrite), so both can run at once.
redis_ports=(16379 16380 16381)
redis_aof_ports=(16389 16390 16391)
start_redis_set() {  # start_redis_set NAME PRIMARY_PORT REPLICA_PORT REPLICA_PORT FLAGS...
  local name=$1 ports=("$2" "$3" "$4") i p
  shift 4
  for i in 0 1 2; do
    mkdir -p "$work/data/$name$i"
    local args=(--bind 127.0.0.1 --port "${ports[$i]}" "$@"
      --dir "$work/data/$name$i" --daemonize no --protected-mode yes)
    [ "$i" -gt 0 ] && args+=(--replicaof 127.0.0.1 "${ports[0]}")
    redis-server "${args[@]}" >"$work/$name$i.log" 2>&1 &
    pids+=($!)
  done
  for p in "${ports[@]}"; do wait_until 10 redis-cli -p "$p" ping; done
  wait_until 20 bash -c "redis-cli -p ${ports[0]} info replication | grep -q '^connected_slaves:2'"
  # A replica with the AOF on rewrites it in the background (a fork) once its first sync is
  # done; let that finish so it is not measured. Without the AOF both fields stay 0.
  for p in "${ports[@]:1}"; do
    wait_until 20 bash -c "redis-cli -p $p info replication | grep -q '^master_link_status:up'"
  done
  for p in "${ports[@]}"; do
    wait_until 20 bash -c "[ \"\$(redis-cli -p $p info persistence |
      grep -cE '^aof_rewrite_(in_progress|scheduled):0')\" = 2 ]"
  done
}
start_redis() { start_redis_set redis "${redis_ports[@]}" --save "" --appendonly no; }
# AOF rewrites (auto-aof-rewrite-percentage/min-size) keep Redis's defaults, as dialkv's RocksDB
# keeps its flushes and compactions: both are part of what a write costs.
start_redis_aof() {
  start_redis_set redis-aof "${redis_aof_ports[@]}" --save "" --appendonly yes --appendfsync no
}

etcd_client=(12379 12381 12383)
etcd_peer=(12380 12382 12384)
start_etcd() {
  local cluster=""
  for i in 0 1 2; do cluster+="${cluster:+,}m$i=http://127.0.0.1:${etcd_peer[$i]}"; done
  for i in 0 1 2; do
    mkdir -p "$work/data/etcd$i"
    "$etcd_bin" --name "m$i" --data-dir "$work/data/etcd$i" \
      --listen-client-urls "http://127.0.0.1:${etcd_client[$i]}" \
      --advertise-client-urls "http://127.0.0.1:${etcd_client[$i]}" \
      --listen-peer-urls "http://127.0.0.1:${etcd_peer[$i]}" \
      --initial-advertise-peer-urls "http://127.0.0.1:${etcd_peer[$i]}" \
      --initial-cluster "$cluster" --initial-cluster-state new \
      --initial-cluster-token dialkv-compare --log-level warn >"$work/etcd$i.log" 2>&1 &
    pids+=($!)
  done
  for p in "${etcd_client[@]}"; do
    wait_until 30 bash -c "curl -sf http://127.0.0.1:$p/health | grep -q '\"true\"'"
  done
}

# dialkv runs with its defaults (--threads: one io thread per core); dialkv-t1 is the same
# cluster with --threads=1. Three nodes share the machine's cores with the load generator here,
# and fewer threads mean fewer wake-ups and context switches per operation.
# Each dialkv cluster is started by dialkv-jepsen --hold on ports reserved for its nodes (never
# picked free and released, so nothing else can take them); it writes the client addresses to
# $work/NAME/endpoints. Fault injection is on (the partition scenario needs it; it costs nothing
# while no fault is set); the harness's own flags are put back to the servers' defaults.
# HOLD_FLAGS (the environment of one call) go to dialkv-jepsen itself. The token the nodes'
# clients need is in $work/NAME/token (token_of).
start_dialkv_set() {  # start_dialkv_set NAME [extra server flags...]
  local name=$1 flag args=()
  shift
  # shellcheck disable=SC2206  # HOLD_FLAGS' words are meant to split.
  args=(${HOLD_FLAGS:-})
  rm -rf "${work:?}/$name"
  for flag in --log-level=warn --threads="$(nproc)" --ae-interval-ms=5000 "$@"; do
    args+=(--server-arg="$flag")
  done
  "$jepsen" --hold --nodes 3 --server "$server" --out "$work/$name" "${args[@]}" \
    >"$work/$name.log" 2>&1 &
  pids+=($!)
  wait_until 60 test -s "$work/$name/endpoints" || { cat "$work/$name.log" >&2; return 1; }
}
start_dialkv() { start_dialkv_set dialkv "$@"; }  # [extra server flags...]
start_dialkv_t1() { start_dialkv_set dialkv-t1 --threads=1; }
start_dialkv_open() { HOLD_FLAGS=--no-client-tokens start_dialkv_set dialkv-open; }
start_dialkv_tls() { HOLD_FLAGS=--tls start_dialkv_set dialkv-tls; }

# The token a system's clients present (dialkv's nodes check them); empty for the others.
token_of() {
  case $1 in
    dialkv | dialkv-t1 | dialkv-open | dialkv-tls) cat "$work/$1/token" ;;
  esac
}
# The CA a system's clients check the nodes' certificates with; empty without TLS.
tls_ca_of() {
  case $1 in
    dialkv-tls) echo "$work/$1/tls/ca.pem" ;;
  esac
}
endpoints_of() {
  case $1 in
    dialkv | dialkv-t1 | dialkv-open | dialkv-tls) cat "$work/$1/endpoints" ;;
    redis) echo "127.0.0.1:${redis_ports[0]},127.0.0.1:${redis_ports[1]},127.0.0.1:${redis_ports[2]}" ;;
    redis-aof) local p=("${redis_aof_ports[@]}")
      echo "127.0.0.1:${p[0]},127.0.0.1:${p[1]},127.0.0.1:${p[2]}" ;;
    etcd) echo "127.0.0.1:${etcd_client[0]},127.0.0.1:${etcd_client[1]},127.0.0.1:${etcd_client[2]}" ;;
  esac
}

# redis-aof is driven as --target redis, under its own name and with a note on what differs.
bench_args_of() {
  case $1 in
    dialkv-t1) echo "--target dialkv --label dialkv-t1" ;;
    dialkv-open) echo "--target dialkv --label dialkv-open" ;;
    dialkv-tls) echo "--target dialkv --label dialkv-tls" ;;
    redis-aof) echo "--target redis --label redis-aof" ;;
    *) echo "--target $1" ;;
  esac
}
variant_note_of() {
  case $1 in
    dialkv-t1) echo "--threads=1" ;;
    dialkv-open) echo "no client tokens" ;;
    dialkv-tls) echo "TLS on client ports and between peers" ;;
    redis-aof) echo "AOF on every server, appendfsync no" ;;
  esac
}

# redis-benchmark on every Redis-protocol port: dialkv's node 1 (its --ports-file names the
# port; CP, the port's default mode; the token as password) and each Redis primary.
resp_port_of() {
  case $1 in
    dialkv | dialkv-t1 | dialkv-open | dialkv-tls)
      sed -n 's/.*"resp":"[^"]*:\([0-9]*\)".*/\1/p' "$work/$1/n1/ports.json" ;;
    redis) echo "${redis_ports[0]}" ;;
    redis-aof) echo "${redis_aof_ports[0]}" ;;
  esac
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for system in $systems; do "start_${system//-/_}"; done
echo "run.sh: started $systems; load average $load_before; results in $out"

# Repetitions outermost, so noise from other work on the machine spreads over every row.
for rep in $(seq 1 "$repeat"); do
  for system in $systems; do
    for mode in cp ap; do
      for op in put get; do
        ratio=0
        [ "$op" = get ] && ratio=1
        file="$out/$system-$mode-$op-$rep.json"
        # shellcheck disable=SC2046  # bench_args_of's words are meant to split.
        DIALKV_TOKEN=$(token_of "$system") DIALKV_TLS_CA=$(tls_ca_of "$system") "$bench" $(bench_args_of "$system") --variant-note "$(variant_note_of "$system")" \
          --endpoints "$(endpoints_of "$system")" --mode "$mode" --connections "$connections" \
          --keys "$keys" --value-bytes "$value_bytes" --read-ratio "$ratio" \
          --duration "$duration" --warmup 2 --quiet --json "$file" |
          awk -v r="$rep" 'NR == 2 {printf "run %s: %s\n", r, $0}'
      done
    done
    # redis-benchmark in the same repetition, so its figures and the generator's share the
    # machine's conditions: the table takes the median of the repetitions as for the others.
    port=$(resp_port_of "$system")
    if [ "$redis_benchmark" = 1 ] && [ -n "$port" ] && [[ $system == dialkv* ]]; then
      # The native protocol as redis-benchmark uses the Redis one: every connection to node 1
      # (no failover), CP, one operation outstanding each; the Redis-protocol comparison below.
      mkdir -p "$out/node1"
      for op in put get; do
        ratio=0
        [ "$op" = get ] && ratio=1
        # shellcheck disable=SC2046  # bench_args_of's words are meant to split.
        DIALKV_TOKEN=$(token_of "$system") DIALKV_TLS_CA=$(tls_ca_of "$system") "$bench" $(bench_args_of "$system") \
          --variant-note "node 1 only$(note=$(variant_note_of "$system"); echo "${note:+, $note}")" --endpoints "$(endpoints_of "$system" | cut -d, -f1)" \
          --failover off --mode cp --connections "$connections" --keys "$keys" \
          --value-bytes "$value_bytes" --read-ratio "$ratio" --duration "$duration" --warmup 2 \
          --quiet --json "$out/node1/$system-cp-$op-$rep.json" |
          awk -v r="$rep" 'NR == 2 {printf "run %s: node 1 only: %s\n", r, $0}'
      done
    fi
    if [ "$redis_benchmark" = 1 ] && [ -n "$port" ]; then
      CONNECTIONS=$connections VALUE_BYTES=$value_bytes KEYS=$keys \
        REQUESTS=$redis_benchmark_requests ERRORS_TO="$out/redis-benchmark-$system.err" \
        bash "$root/bench/compare/redis_benchmark.sh" "$system" "$port" "$(token_of "$system")" |
        tee -a "$out/redis-benchmark-runs.md" | sed "s/^/run $rep: redis-benchmark /"
    fi
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# Per system and pipeline depth, the median of each column over the repetitions.
if [ -s "$out/redis-benchmark-runs.md" ]; then
  awk -F' [|] ' '
    { key = $1 " | " $2; keys[key] = 1; n[key]++
      for (c = 3; c <= 6; c++) v[key, c, n[key]] = $c + 0 }
    function median(key, c,    i, j, t, a, m) {
      m = n[key]
      for (i = 1; i <= m; i++) a[i] = v[key, c, i]
      for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
    }
    END {
      for (key in keys) {
        printf "%s | %.0f | %.0f | %.3f | %.3f |\n", key, median(key, 3), median(key, 4), median(key, 5), median(key, 6)
      }
    }' "$out/redis-benchmark-runs.md" | sort >"$out/redis-benchmark.md"
fi

# One modes run per system for the side-by-side chart.
for system in $systems; do
  # shellcheck disable=SC2046  # As above.
  DIALKV_TOKEN=$(token_of "$system") DIALKV_TLS_CA=$(tls_ca_of "$system") "$bench" $(bench_args_of "$system") --variant-note "$(variant_note_of "$system")" \
    --endpoints "$(endpoints_of "$system")" --mode both --connections "$connections" \
    --keys "$keys" --value-bytes "$value_bytes" --read-ratio 0.5 --duration "$duration" \
    --warmup 2 --quiet --json "$out/modes-$system.json" --svg "$out/modes-$system.svg" \
    >"$out/modes-$system.txt"
done

# Open loop: CP and AP at the same offered load, a fixed share of the closed-loop CP maximum
# just measured (the modes run), each operation due at a fixed time and its latency counted from
# then, so queueing shows (no coordinated omission). 4 outstanding per connection absorb short
# stalls without starting late; the run reports operations that did start late.
if [ "$open_loop" = 1 ] && [[ " $systems " == *" dialkv "* ]]; then
  max=$(awk '$1 == "dialkv" && $2 == "cp" && $3 == "all" {gsub(",", "", $4); print int($4)}' \
    "$out/modes-dialkv.txt")
  [ "${max:-0}" -gt 0 ] || { echo "run.sh: no closed-loop CP rate in $out/modes-dialkv.txt" >&2; exit 1; }
  for pct in 50 90; do
    DIALKV_TOKEN=$(token_of dialkv) "$bench" --endpoints "$(endpoints_of dialkv)" --mode both \
      --rate $((max * pct / 100)) --connections "$connections" --pipeline 4 --keys "$keys" \
      --value-bytes "$value_bytes" --read-ratio 0.5 --duration "$duration" --warmup 2 --quiet \
      --json "$out/open-loop-$pct.json" --hgrm-dir "$out/hgrm-$pct" >"$out/open-loop-$pct.txt"
  done
fi
stop_all

if [ "$partition" = 1 ] && [[ " $systems " == *" dialkv "* ]]; then
  start_dialkv
  DIALKV_TOKEN=$(token_of dialkv) "$bench" --scenario partition --endpoints "$(endpoints_of dialkv)" --mode both \
    --connections "$connections" --keys "$keys" --value-bytes "$value_bytes" --read-ratio 0.5 \
    --duration 30 --fault-start 10 --fault-seconds 10 --warmup 2 --quiet \
    --json "$out/partition.json" --svg "$out/partition.svg" >"$out/partition.txt"
  stop_all
fi

# The closed-loop runs only: open-loop-50.json and the like are not part of this table.
table=$("$bench" table "$out"/*-{cp,ap}-{put,get}-[0-9]*.json)
node1_table=""
if compgen -G "$out/node1/*.json" >/dev/null; then node1_table=$("$bench" table "$out"/node1/*.json); fi
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
versions=""
if [[ " $systems " == *" redis"* ]]; then versions="$(redis-server --version | cut -d' ' -f1-3)"; fi
if [[ " $systems " == *" etcd "* ]]; then
  versions+="${versions:+; }$("$etcd_bin" --version | head -1)"
fi
persistence=""
for system in $systems; do
  # shellcheck disable=SC2016  # The backquotes are Markdown's.
  case $system in
    dialkv | dialkv-t1 | dialkv-open | dialkv-tls) note="RocksDB WAL written on every replica, not fsynced" ;;
    redis) note='none (`--save "" --appendonly no`)' ;;
    redis-aof) note='AOF on every server, written at each event-loop iteration, never fsynced'
      note+=' (`--appendonly yes --appendfsync no`)' ;;
    etcd) note="WAL fsynced before each commit" ;;
  esac
  persistence+="${persistence:+; }$system: $note"
done
command="BUILD_DIR=$build_dir DURATION=$duration REPEAT=$repeat CONNECTIONS=$connections KEYS=$keys VALUE_BYTES=$value_bytes"
# A run of fewer systems (or without the partition scenario) says so, or it looks like the default.
[ "$systems" = "dialkv dialkv-t1 redis redis-aof etcd" ] || command+=" SYSTEMS=\"$systems\""
[ "$partition" = 1 ] || command+=" PARTITION=$partition"
[ "$open_loop" = 1 ] || command+=" OPEN_LOOP=$open_loop"
[ "$redis_benchmark" = 1 ] || command+=" REDIS_BENCHMARK=$redis_benchmark"
[ "$redis_benchmark_requests" = 100000 ] || command+=" REDIS_BENCHMARK_REQUESTS=$redis_benchmark_requests"
[ "$results" = bench/compare/results.md ] || command+=" RESULTS=$results"
[ "$title" = "dialkv vs Redis vs etcd" ] || command+=" TITLE=\"$title\""
command+=" bench/compare/run.sh"
{
  echo "# $title"
  echo
  echo "- command: \`$command\`"
  echo "- date: $started (UTC)"
  echo "- machine: $(nproc) cores, $cpu, $(uname -sr); load average $load_before before, $load_after after"
  [ -z "$versions" ] || echo "- peers: $versions"
  echo "- persistence: $persistence"
  echo "- load: $connections connections, 1 operation outstanding each, $keys keys, $value_bytes-byte values, uniform; puts (read ratio 0) and gets (read ratio 1, keys written first) measured separately, ${duration} s after a 2 s warm-up; median of $repeat runs"
  echo
  echo "$table"
  if [ -s "$out/redis-benchmark.md" ]; then
    echo
    echo "redis-benchmark (\`-t set,get -c $connections -d $value_bytes -r $keys -n $redis_benchmark_requests\`; dialkv: node 1's Redis-protocol port, CP; median of $repeat runs, one in each repetition above):"
    echo
    echo "| system | pipeline (-P) | SET ops/s | GET ops/s | SET p50 ms | GET p50 ms |"
    echo "|---|---|---|---|---|---|"
    cat "$out/redis-benchmark.md"
    # The Redis-protocol port against the native one: the same node, connections, one command
    # outstanding each (-P 1), value size and keys, CP; the medians of the two tables.
    if [ -n "$node1_table" ]; then
      echo
      echo "The native protocol the same way (dialkv-bench, every connection to node 1, no failover, CP; median of $repeat runs):"
      echo
      echo "$node1_table"
    fi
    native_ops() {  # SYSTEM OP -> the generator's CP median ops/s for OP (put | get), node 1 only
      awk -F' *[|] *' -v s="$1" -v o="$2" '$2 == s && $3 == "cp" && $5 == o {gsub(",", "", $6); print $6}' <<<"$node1_table"
    }
    resp_ops() {  # SYSTEM COLUMN(3: SET, 4: GET) -> redis-benchmark's -P 1 median
      awk -F' *[|] *' -v s="$1" -v c="$2" '$2 == s && $3 == "1" {print $(c + 1)}' "$out/redis-benchmark.md"
    }
    for system in $systems; do
      [[ $system == dialkv* ]] || continue
      set_ops=$(resp_ops "$system" 3) get_ops=$(resp_ops "$system" 4)
      put_ops=$(native_ops "$system" put) native_get=$(native_ops "$system" get)
      [ -n "$set_ops" ] && [ -n "$put_ops" ] && [ -n "$get_ops" ] && [ -n "$native_get" ] || continue
      echo
      awk -v s="$system" -v a="$set_ops" -v b="$put_ops" -v c="$get_ops" -v d="$native_get" 'BEGIN {
        printf "%s, node 1, Redis protocol against native (CP, -P 1 against 1 outstanding per connection): SET %d vs put %d ops/s = %.2fx; GET %d vs get %d ops/s = %.2fx\n", s, a, b, a / b, c, d, c / d }'
    done
  fi
  if [ -f "$out/partition.txt" ]; then
    echo
    echo "Partition scenario (one node isolated from 10 s to 20 s, each mode with and without client failover; chart: \`$out/partition.svg\`):"
    echo
    echo '```'
    cat "$out/partition.txt"
    echo '```'
  fi
  for pct in 50 90; do
    [ -f "$out/open-loop-$pct.txt" ] || continue
    echo
    echo "Open loop at $pct% of the closed-loop CP maximum ($max ops/s), CP and AP at the same offered load, read ratio 0.5, latency from each operation's intended start (HdrHistogram files: \`$out/hgrm-$pct\`):"
    echo
    echo '```'
    cat "$out/open-loop-$pct.txt"
    echo '```'
  done
} >"$root/$results"
echo
echo "$table"
echo
echo "run.sh: wrote $results; JSON and charts in $out"
