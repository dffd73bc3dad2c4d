#!/usr/bin/env bash
# Tests docker-compose.yml for real on a Debian 12 machine without Docker Engine: podman serves
# the Docker API, docker-compose runs the repository's own compose file against it.
#
#   1. installs podman, docker-compose, debootstrap and runc from Debian's packages;
#   2. builds debian:bookworm-slim locally with debootstrap (nothing is pulled: no registry is
#      reachable), the mirror read from this machine's apt sources;
#   3. configures podman for a machine without systemd (runc, ulimits within the hard limits,
#      a loop that runs the health checks) and serves the Docker API with `podman system service`;
#   4. makes the two secrets the compose file needs (in the work dir, DIALKV_SECRETS_DIR);
#   5. builds the image (with this machine's compiler cache), `docker-compose up -d`, then checks: three healthy nodes, a request without a
#      token refused and nothing applied, one with a token served, CP write at node1 read
#      by CP at node3, node3 cut off its network (CP refused there, AP answers locally, CP at
#      node1 goes on), node3 converges after reconnecting, node2 keeps its data across a
#      restart, a short load run of the test profile, and `down -v` leaves nothing behind.
#
# Environment:
#   COMPOSE_TEST_DIR  (default: a new temporary dir)  podman config, socket, logs, base rootfs
#   KEEP_IMAGES=1     keep the built dialkv image (the base image is always kept)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
start=$(date +%s)
project=dialkvcompose
work=${COMPOSE_TEST_DIR:-$(mktemp -d /tmp/dialkv-compose-test.XXXXXX)}
mkdir -p "$work"

log() { printf 'compose-test [%4ds] %s\n' "$(($(date +%s) - start))" "$*"; }
fail() {
  log "FAILED: $*"
  exit 1
}

# --- 1.-3. packages, podman without systemd, the base image (scripts/lib/podman-base.sh) -------
# shellcheck source=scripts/lib/podman-base.sh
source "$repo/scripts/lib/podman-base.sh"
podman_install_packages podman docker-compose debootstrap runc curl
log "$(podman --version), $(docker-compose --version)"
podman_configure
podman_base_image

# --- 4. the Docker API, the health-check loop, clean-up -----------------------------------------
sock="$work/podman.sock"
podman system service --time=0 "unix://$sock" >"$work/podman-service.log" 2>&1 &
service_pid=$!
healthcheck_pid=""
compose_up=0
export DOCKER_HOST="unix://$sock"
export COMPOSE_PROJECT_NAME=$project
compose() { docker-compose -f "$repo/docker-compose.yml" "$@"; }
# The nodes listen on their network, so they need both secrets: fresh ones for this run.
export DIALKV_SECRETS_DIR="$work/secrets"
mkdir -p "$DIALKV_SECRETS_DIR"
for s in cluster token; do head -c 32 /dev/urandom | base64 >"$DIALKV_SECRETS_DIR/$s.secret"; done
chmod 644 "$DIALKV_SECRETS_DIR"/*.secret  # Read by the container's user (uid 10001).
token=""  # Made by a node once it runs (the host need not have the dialkv binary).

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$compose_up" -eq 1 ]; then
    if [ "$rc" -ne 0 ]; then
      log "logs of the nodes:"
      compose logs --no-color --tail=40 >&2 || true
    fi
    compose --profile test down -v --remove-orphans >/dev/null 2>&1 || true
  fi
  [ -z "$healthcheck_pid" ] || kill "$healthcheck_pid" 2>/dev/null || true
  kill "$service_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ "${KEEP_IMAGES:-0}" != 1 ]; then podman rmi -f dialkv:local >/dev/null 2>&1 || true; fi
  [ -n "${COMPOSE_TEST_DIR:-}" ] || rm -rf "$work"
  log "finished (exit $rc) in $(($(date +%s) - start)) s"
  exit "$rc"
}
trap cleanup EXIT INT TERM

for _ in $(seq 1 100); do
  curl -fsS --unix-socket "$sock" http://d/_ping >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS --unix-socket "$sock" http://d/_ping >/dev/null || fail "podman system service did not answer"

# No systemd timer runs podman's health checks: run them every 2 s for this project's containers.
(
  while true; do
    for c in $(podman ps -q --filter "label=com.docker.compose.project=$project"); do
      podman healthcheck run "$c" >/dev/null 2>&1 || true
    done
    sleep 2
  done
) &
healthcheck_pid=$!

# The `docker` client, when installed, talks to podman through DOCKER_HOST like docker-compose;
# podman's own commands are the same for what is used here.
if command -v docker >/dev/null 2>&1; then docker_cli=docker; else docker_cli=podman; fi
container() { compose ps -q "$1"; }
network="${project}_dialkv"
health() { podman inspect --format '{{.State.Health.Status}}' "$(container "$1")" 2>/dev/null; }
wait_healthy() {
  local n deadline=$(($(date +%s) + 120))
  for n in "$@"; do
    until [ "$(health "$n")" = healthy ]; do
      [ "$(date +%s)" -lt "$deadline" ] || fail "$n not healthy after 120 s (status: $(health "$n"))"
      sleep 1
    done
  done
}
# The CLI inside a node's container, talking to that node only, with the run's token.
cli() {
  local node=$1
  shift
  podman exec -e DIALKV_TOKEN="$token" "$(container "$node")" dialkv --endpoints 127.0.0.1:7379 "$@"
}
# Runs `cli` and records its exit code in $rc and its output in $out, without stopping the script.
try_cli() {
  set +e
  out=$(cli "$@" 2>&1)
  rc=$?
  set -e
}

# Until CP writes succeed through every node (each coordinates a quorum with its peers), for
# at most 60 s: after a node's address changed, its peers must reconnect first. Logs how long.
wait_cp_everywhere() {
  local n since deadline
  since=$(date +%s)
  deadline=$((since + 60))
  for n in node1 node2 node3; do
    until cli "$n" --mode cp put compose:probe "$n" >/dev/null 2>&1; do
      [ "$(date +%s)" -lt "$deadline" ] || fail "CP writes through $n still fail after 60 s"
      sleep 0.5
    done
  done
  log "CP writes succeed through node1, node2 and node3 ($(($(date +%s) - since)) s)"
}

# --- 5. the compose file, for real ---------------------------------------------------------------
compose config -q || fail "docker-compose config refused docker-compose.yml"
compose --profile test config -q || fail "docker-compose --profile test config refused it"
log "docker-compose config: ok"

# The image is built from the Dockerfile and context the compose file names, as
# `docker-compose build` would, but by podman itself so that this machine's compiler cache can
# be mounted into the build: a second image build of the same sources reuses the first one's
# objects. Without them it takes several minutes.
grep -q 'dockerfile: docker/Dockerfile' <<<"$(compose config)" ||
  fail "the compose file no longer builds from docker/Dockerfile; update this test"
cache_args=()
if cache_dir=$(ccache --get-config cache_dir 2>/dev/null) && [ -n "$cache_dir" ]; then
  mkdir -p "$cache_dir"
  cache_args=(-v "$cache_dir:/ccache")
fi
log "building the image from docker/Dockerfile (compiler cache: ${cache_dir:-none})"
build_start=$(date +%s)
podman build "${cache_args[@]}" -f docker/Dockerfile -t dialkv:local . >"$work/build.log" 2>&1 ||
  { tail -n 60 "$work/build.log"; fail "the image build"; }
log "image built in $(($(date +%s) - build_start)) s: $(podman image inspect \
  --format '{{.Size}}' dialkv:local | awk '{printf "%.0f MB", $1 / 1e6}')"
log "docker-compose up -d"
compose_up=1
compose up -d >"$work/up.log" 2>&1 || { tail -n 60 "$work/up.log"; fail "up -d"; }
wait_healthy node1 node2 node3
log "node1, node2, node3: healthy"
[ "$(podman exec "$(container node1)" id -u)" != 0 ] || fail "the server runs as root"
curl -fsS http://127.0.0.1:7381/health | grep -q '"node_id":1' ||
  fail "node1's /health is not published on 127.0.0.1:7381"
token=$(podman exec "$(container node1)" dialkv token create \
  --secret-file /run/dialkv-secrets/token.secret --scopes kv:read,kv:write,admin --ttl 1h \
  --subject compose-test) || fail "dialkv token create in node1"
# Without a token nothing is served and nothing applied; with it, requests are.
set +e
out=$(podman exec "$(container node1)" dialkv --endpoints 127.0.0.1:7379 put compose:anon x 2>&1)
rc=$?
set -e
[ "$rc" -eq 5 ] && [[ "$out" == *UNAUTHENTICATED* ]] ||
  fail "a put without a token was not refused UNAUTHENTICATED: exit $rc: $out"
refusal=$out
try_cli node1 --mode ap get compose:anon
[ "$rc" -eq 1 ] || fail "the refused put was applied, or the get failed: exit $rc: $out"
log "without a token: refused ($refusal); nothing applied"
cli node1 status

# CP write at node1, CP read at node3. Right after start a node may not have heard its peers
# yet: retry only UNAVAILABLE (definitely not applied), for at most 20 s.
deadline=$(($(date +%s) + 20))
while :; do
  try_cli node1 --mode cp put compose:key v1
  [ "$rc" -eq 3 ] && [ "$(date +%s)" -lt "$deadline" ] || break
  sleep 0.5
done
[ "$rc" -eq 0 ] || fail "CP put at node1: exit $rc: $out"
[ "$(cli node3 --mode cp get compose:key)" = v1 ] || fail "CP get at node3 did not read v1"
log "CP put at node1, CP get at node3: v1"

# node3 cut off: CP there is refused (never answered), AP answers from its own replica, CP at
# node1 goes on with node1 and node2.
$docker_cli network disconnect "$network" "$(container node3)"
log "$docker_cli network disconnect $network node3"
# Until node3's failure detector holds its peers dead, a CP read may also end in TIMEOUT; it
# must never succeed.
deadline=$(($(date +%s) + 30))
while :; do
  try_cli node3 --mode cp get compose:key
  [ "$rc" -ne 0 ] || fail "CP get at a disconnected node3 answered: $out"
  [ "$rc" -ne 3 ] || break
  [ "$(date +%s)" -lt "$deadline" ] ||
    fail "CP get at node3 never answered UNAVAILABLE in 30 s (last: exit $rc: $out)"
  sleep 0.5
done
log "CP get at node3: UNAVAILABLE ($out)"
[ "$(cli node3 --mode ap get compose:key)" = v1 ] || fail "AP get at node3 did not read v1"
log "AP get at node3: v1 (its own replica)"
try_cli node1 --mode cp put compose:key v2
[ "$rc" -eq 0 ] || fail "CP put at node1 while node3 is cut off: exit $rc: $out"
[ "$(cli node1 --mode cp get compose:key)" = v2 ] || fail "CP get at node1 did not read v2"
log "CP put and get at node1 while node3 is cut off: v2"

$docker_cli network connect "$network" "$(container node3)"
log "$docker_cli network connect $network node3"
# Hints from node1 (node3 was dead to it when v2 was written) or anti-entropy bring v2.
reconnected=$(date +%s)
until [ "$(cli node3 --mode ap get compose:key 2>/dev/null)" = v2 ]; do
  [ "$(date +%s)" -lt $((reconnected + 60)) ] ||
    fail "node3's replica did not converge to v2 within 60 s"
  sleep 0.5
done
log "node3 converged in $(($(date +%s) - reconnected)) s: AP get at node3 reads v2"
[ "$(cli node3 --mode cp get compose:key)" = v2 ] || fail "CP get at node3 after reconnect"
wait_cp_everywhere

# node2 keeps its data across a restart: the same RocksDB (its IDENTITY) and its own replica.
# One exec for all 20 (an exec costs about a second on a busy machine).
in_node() {
  local node=$1
  shift
  podman exec -e DIALKV_TOKEN="$token" "$(container "$node")" sh -c "$*"
}
in_node node1 'for i in $(seq 1 20); do
  dialkv --endpoints 127.0.0.1:7379 --mode cp put compose:durable:$i d$i >/dev/null || exit 1
done' || fail "CP puts at node1 before the restart"
identity_before=$(podman exec "$(container node2)" cat /data/IDENTITY)
compose restart node2 >"$work/restart.log" 2>&1 || { cat "$work/restart.log"; fail "restart node2"; }
# The health status shown may still be the one from before the restart: ask the node itself.
deadline=$(($(date +%s) + 60))
until curl -fsS -o /dev/null http://127.0.0.1:7391/health 2>/dev/null; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "node2's /health did not answer within 60 s of its restart"
  sleep 0.5
done
wait_healthy node2
identity_after=$(podman exec "$(container node2)" cat /data/IDENTITY)
[ "$identity_before" = "$identity_after" ] || fail "node2's data dir changed across the restart"
in_node node2 'for i in $(seq 1 20); do
  [ "$(dialkv --endpoints 127.0.0.1:7379 --mode ap get compose:durable:$i)" = d$i ] ||
    { echo "node2 lost compose:durable:$i across its restart"; exit 1; }
done' || fail "node2's data after its restart"
log "docker-compose restart node2: same data dir, 20 of 20 keys read from its own replica"
wait_cp_everywhere

# The test profile's load generator, shortened.
compose --profile test run --rm bench --endpoints=node1:7379,node2:7379,node3:7379 --mode=both \
  --connections=4 --keys=1000 --value-bytes=100 --read-ratio=0.5 --duration=3 --warmup=1 \
  --quiet >"$work/bench.log" 2>&1 || { cat "$work/bench.log"; fail "the bench service"; }
grep -E '^(system|dialkv) ' "$work/bench.log" || cat "$work/bench.log"
log "the test profile's bench service ran against the three nodes"

# The test profile's harness, shortened, twice: each run gets a new directory in the store of
# the jepsen-out volume (a fixed --out would refuse the second run), and latest follows. The
# harness injects faults, so first the nodes are recreated with fault injection on, as the
# compose file's header says (same volumes: their data stays).
DIALKV_ENABLE_FAULT_INJECTION=true compose up -d >"$work/up-faults.log" 2>&1 ||
  { tail -n 40 "$work/up-faults.log"; fail "up -d with fault injection on"; }
wait_healthy node1 node2 node3
log "node1, node2, node3 recreated with fault injection on: healthy"
for n in 1 2; do
  compose --profile test run --rm jepsen --endpoints=node1:7379,node2:7379,node3:7379 \
    --workload=mixed --nemesis=partitions,drop --nemesis-interval=2s --time=4 --warmup=1 \
    --store=/data/jepsen >"$work/jepsen-$n.log" 2>&1 ||
    { tail -n 40 "$work/jepsen-$n.log"; fail "the jepsen service, run $n"; }
done
runs=$(compose --profile test run --rm --entrypoint find jepsen /data/jepsen/mixed \
  -mindepth 1 -maxdepth 1 -type d 2>"$work/jepsen-ls.log") ||
  { cat "$work/jepsen-ls.log"; fail "listing the jepsen store"; }
runs=$(printf '%s' "$runs" | tr -d '\r')
[ "$(printf '%s\n' "$runs" | grep -c '^/data/jepsen/mixed/')" -eq 2 ] ||
  fail "the jepsen store does not hold two runs: $runs"
latest=$(compose --profile test run --rm --entrypoint readlink jepsen /data/jepsen/latest \
  2>>"$work/jepsen-ls.log") || { cat "$work/jepsen-ls.log"; fail "no /data/jepsen/latest"; }
latest=$(printf '%s' "$latest" | tr -d '\r')
printf '%s\n' "$runs" | grep -qx "/data/jepsen/$latest" ||
  fail "/data/jepsen/latest ($latest) is not one of the runs: $runs"
log "the test profile's jepsen service ran twice: $(printf '%s' "$runs" | tr '\n' ' ')(latest: $latest)"

# --- 6. down -v leaves nothing ----------------------------------------------------------------------
compose --profile test down -v --remove-orphans >"$work/down.log" 2>&1 ||
  { cat "$work/down.log"; fail "down -v"; }
compose_up=0
left=$(podman ps -a -q --filter "label=com.docker.compose.project=$project")
[ -z "$left" ] || fail "containers left after down -v: $left"
podman network exists "$network" && fail "network $network left after down -v"
left=$(podman volume ls -q --filter "label=com.docker.compose.project=$project")
[ -z "$left" ] || fail "volumes left after down -v: $left"
log "docker-compose down -v: no container, network or volume of $project left"
log "all checks passed in $(($(date +%s) - start)) s"
