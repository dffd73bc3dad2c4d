#!/usr/bin/env bash
# Measures dialkv against Redis (a primary and two replicas) and etcd (three members) with the
# same load generator and the same load, all on 127.0.0.1, and prints one table:
# system x mode x operation -> ops/s, p50, p99 (median of REPEAT runs). Writes the table, the
# command, the date and the machine to bench/compare/results.md, and every run's JSON and the
# charts to OUT. Installs redis-server and etcd-server from Debian's packages when missing.
# Everything it starts is stopped by pid when it exits.
#   BUILD_DIR   (default build-bench)  where dialkv-server and dialkv-bench are built (Release)
#   DURATION    (default 10)   seconds measured per run, after a 2-second warm-up
#   REPEAT      (default 3)    runs per system x mode x operation
#   CONNECTIONS (default 16)   KEYS (default 10000)   VALUE_BYTES (default 100)
#   SYSTEMS     (default "dialkv redis etcd")
#   PARTITION   (default 1)    also run dialkv's partition scenario (both modes, one chart)
#   OUT         (default a new temp dir)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
build_dir=${BUILD_DIR:-build-bench}
duration=${DURATION:-10}
repeat=${REPEAT:-3}
connections=${CONNECTIONS:-16}
keys=${KEYS:-10000}
value_bytes=${VALUE_BYTES:-100}
systems=${SYSTEMS:-dialkv redis etcd}
partition=${PARTITION:-1}
bench="$root/$build_dir/bench/load/dialkv-bench"
server="$root/$build_dir/server/dialkv-server"
for bin in "$bench" "$server"; do
  [ -x "$bin" ] || { echo "run.sh: $bin is missing; build with BUILD_TYPE=Release BUILD_DIR=$build_dir scripts/build.sh" >&2; exit 2; }
done

# ---- packages ----
need=()
command -v redis-server >/dev/null || need+=(redis-server)
[ -x /usr/bin/etcd ] || command -v etcd >/dev/null || need+=(etcd-server)
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

# ---- the three systems ----
redis_ports=(16379 16380 16381)
start_redis() {
  mkdir -p "$work/data/redis"
  for i in 0 1 2; do
    local args=(--bind 127.0.0.1 --port "${redis_ports[$i]}" --save "" --appendonly no
      --dir "$work/data/redis" --dbfilename "dump$i.rdb" --daemonize no --protected-mode yes)
    [ "$i" -gt 0 ] && args+=(--replicaof 127.0.0.1 "${redis_ports[0]}")
    redis-server "${args[@]}" >"$work/redis$i.log" 2>&1 &
    pids+=($!)
  done
  for p in "${redis_ports[@]}"; do wait_until 10 redis-cli -p "$p" ping; done
  wait_until 20 bash -c "redis-cli -p ${redis_ports[0]} info replication | grep -q '^connected_slaves:2'"
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

dialkv_base=17379
start_dialkv() {  # start_dialkv [extra server flags...]
  local peers="" n port
  for n in 1 2 3; do peers+="${peers:+,}$n@127.0.0.1:$((dialkv_base + 10 * (n - 1) + 1))"; done
  for n in 1 2 3; do
    port=$((dialkv_base + 10 * (n - 1)))
    rm -rf "$work/data/dialkv$n"
    mkdir -p "$work/data/dialkv$n"
    "$server" --node-id="$n" --cluster-name=compare --listen="127.0.0.1:$port" \
      --peer-listen="127.0.0.1:$((port + 1))" --http-listen="127.0.0.1:$((port + 2))" \
      --peers="$peers" --data-dir="$work/data/dialkv$n" --log-level=warn "$@" \
      >"$work/dialkv$n.log" 2>&1 &
    pids+=($!)
  done
  for n in 1 2 3; do wait_until 20 port_open $((dialkv_base + 10 * (n - 1))); done
  sleep 2  # Two gossip rounds: every node sees the others alive.
}

endpoints_of() {
  case $1 in
    dialkv) echo "127.0.0.1:$dialkv_base,127.0.0.1:$((dialkv_base + 10)),127.0.0.1:$((dialkv_base + 20))" ;;
    redis) echo "127.0.0.1:${redis_ports[0]},127.0.0.1:${redis_ports[1]},127.0.0.1:${redis_ports[2]}" ;;
    etcd) echo "127.0.0.1:${etcd_client[0]},127.0.0.1:${etcd_client[1]},127.0.0.1:${etcd_client[2]}" ;;
  esac
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for system in $systems; do "start_$system"; done
echo "run.sh: started $systems; load average $load_before; results in $out"

# Repetitions outermost, so noise from other work on the machine spreads over every row.
for rep in $(seq 1 "$repeat"); do
  for system in $systems; do
    for mode in cp ap; do
      for op in put get; do
        ratio=0
        [ "$op" = get ] && ratio=1
        file="$out/$system-$mode-$op-$rep.json"
        "$bench" --target "$system" --endpoints "$(endpoints_of "$system")" --mode "$mode" \
          --connections "$connections" --keys "$keys" --value-bytes "$value_bytes" \
          --read-ratio "$ratio" --duration "$duration" --warmup 2 --quiet --json "$file" |
          awk -v s="$system" -v m="$mode" -v r="$rep" 'NR == 2 {printf "run %s: %s %s %s\n", r, s, m, $0}'
      done
    done
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# One modes run per system for the side-by-side chart.
for system in $systems; do
  "$bench" --target "$system" --endpoints "$(endpoints_of "$system")" --mode both \
    --connections "$connections" --keys "$keys" --value-bytes "$value_bytes" --read-ratio 0.5 \
    --duration "$duration" --warmup 2 --quiet --json "$out/modes-$system.json" \
    --svg "$out/modes-$system.svg" >"$out/modes-$system.txt"
done
stop_all

if [ "$partition" = 1 ] && [[ " $systems " == *" dialkv "* ]]; then
  start_dialkv --enable-fault-injection
  "$bench" --scenario partition --endpoints "$(endpoints_of dialkv)" --mode both \
    --connections "$connections" --keys "$keys" --value-bytes "$value_bytes" --read-ratio 0.5 \
    --duration 30 --fault-start 10 --fault-seconds 10 --warmup 2 --quiet \
    --json "$out/partition.json" --svg "$out/partition.svg" >"$out/partition.txt"
  stop_all
fi

table=$("$bench" table "$out"/*-[0-9]*.json)
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
versions="$(redis-server --version | cut -d' ' -f1-3); $("$etcd_bin" --version | head -1)"
command="BUILD_DIR=$build_dir DURATION=$duration REPEAT=$repeat CONNECTIONS=$connections KEYS=$keys VALUE_BYTES=$value_bytes bench/compare/run.sh"
{
  echo "# dialkv vs Redis vs etcd"
  echo
  echo "- command: \`$command\`"
  echo "- date: $started (UTC)"
  echo "- machine: $(nproc) cores, $cpu, $(uname -sr); load average $load_before before, $load_after after"
  echo "- peers: $versions"
  echo "- load: $connections connections, 1 operation outstanding each, $keys keys, $value_bytes-byte values, uniform; puts (read ratio 0) and gets (read ratio 1, keys written first) measured separately, ${duration} s after a 2 s warm-up; median of $repeat runs"
  echo
  echo "$table"
  if [ -f "$out/partition.txt" ]; then
    echo
    echo "Partition scenario (one node isolated from 10 s to 20 s; chart: \`$out/partition.svg\`):"
    echo
    echo '```'
    cat "$out/partition.txt"
    echo '```'
  fi
} >"$root/bench/compare/results.md"
echo
echo "$table"
echo
echo "run.sh: wrote bench/compare/results.md; JSON and charts in $out"
