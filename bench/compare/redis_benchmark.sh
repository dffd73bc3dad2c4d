#!/usr/bin/env bash
# Runs redis-benchmark (Debian: redis-tools) against one Redis-protocol port, SET then GET, without
# pipelining (-P 1) and with 16 commands in flight per connection (-P 16), and prints one Markdown
# table row per pipeline depth: | NAME | P | SET ops/s | GET ops/s | SET p50 ms | GET p50 ms |.
# bench/compare/run.sh calls it for dialkv's RESP port and for Redis; it can run on its own:
#   redis_benchmark.sh NAME PORT [PASSWORD]     (PASSWORD: a dialkv token, sent as AUTH)
#   CONNECTIONS (default 16)  VALUE_BYTES (default 100)  KEYS (default 10000)
#   REQUESTS    (default 100000) commands per test
#   ERRORS_TO   (default /dev/stderr) where redis-benchmark's own messages go
# Exits non-zero if redis-benchmark fails or reports an error reply.
set -euo pipefail
if [ "$#" -lt 2 ] || [ "$#" -gt 3 ]; then
  echo "usage: $0 NAME PORT [PASSWORD]" >&2
  exit 2
fi
name=$1 port=$2 password=${3:-}
connections=${CONNECTIONS:-16}
value_bytes=${VALUE_BYTES:-100}
keys=${KEYS:-10000}
requests=${REQUESTS:-100000}
errors_to=${ERRORS_TO:-/dev/stderr}

auth=()
[ -z "$password" ] || auth=(-a "$password")
for pipeline in 1 16; do
  csv=$(redis-benchmark -h 127.0.0.1 -p "$port" "${auth[@]}" -t set,get -c "$connections" \
    -d "$value_bytes" -r "$keys" -n "$requests" -P "$pipeline" --csv 2>>"$errors_to") || {
    echo "redis_benchmark.sh: redis-benchmark against $name (port $port) failed" >&2
    exit 1
  }
  if grep -qi "error" <<<"$csv"; then
    echo "redis_benchmark.sh: $name answered errors:" >&2
    echo "$csv" >&2
    exit 1
  fi
  # CSV: "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",...
  field() { awk -F'"' -v t="$1" -v f="$2" '$2 == t { print $f }' <<<"$csv"; }
  set_rps=$(field SET 4) get_rps=$(field GET 4) set_p50=$(field SET 10) get_p50=$(field GET 10)
  if [ -z "$set_rps" ] || [ -z "$get_rps" ]; then
    echo "redis_benchmark.sh: no SET or GET row from redis-benchmark against $name:" >&2
    echo "$csv" >&2
    exit 1
  fi
  printf '| %s | %s | %.0f | %.0f | %s | %s |\n' "$name" "$pipeline" "$set_rps" "$get_rps" \
    "$set_p50" "$get_p50"
done
