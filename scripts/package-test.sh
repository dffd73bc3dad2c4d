#!/usr/bin/env bash
# Tests the .deb packages for real in a clean Debian 12 container (podman; the base image built
# locally with debootstrap, as scripts/compose-test.sh does: scripts/lib/podman-base.sh):
#   1. makes dialkv-server and libdialkv-dev from an existing build (scripts/package.sh; no
#      compile when the build is up to date) and checks their metadata and stripped binaries;
#   2. in a container of debian:bookworm-slim, installs both with apt-get (Depends come from
#      the Debian mirror) and checks what postinst did: the dialkv user, /var/lib/dialkv, the
#      token secret;
#   3. starts the node the way dialkv.service does (its ExecStart and WorkingDirectory, read from
#      the installed unit, as its User; no systemd runs in the container), then: `dialkv put`
#      without a token is refused, with a token made from the packaged secret put and get work;
#   4. builds examples/client-cmake there with find_package(dialkv) and with pkg-config, from
#      the installed files only, and runs it against the node; stops the node with SIGTERM.
#
# Environment:
#   BUILD_DIR          (default build)  the build directory to package
#   PACKAGE_TEST_DIR   (default: a new temporary dir)  podman config, logs, base rootfs
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
start=$(date +%s)
work=${PACKAGE_TEST_DIR:-$(mktemp -d /tmp/dialkv-package-test.XXXXXX)}
mkdir -p "$work"
container=dialkv-package-test-$$

log() { printf 'package-test [%4ds] %s\n' "$(($(date +%s) - start))" "$*"; }
fail() {
  log "FAILED: $*"
  exit 1
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  podman rm -f "$container" >/dev/null 2>&1 || true
  [ -n "${PACKAGE_TEST_DIR:-}" ] || rm -rf "$work"
  log "finished (exit $rc) in $(($(date +%s) - start)) s"
  exit "$rc"
}
trap cleanup EXIT INT TERM

# --- 1. the packages ------------------------------------------------------------------------------
log "scripts/package.sh (BUILD_DIR=${BUILD_DIR:-build})"
bash scripts/package.sh >"$work/package.log" 2>&1 || { cat "$work/package.log"; fail "package.sh"; }
debs="$(cd "${BUILD_DIR:-build}" && pwd)/packages"
server_deb=$(ls "$debs"/dialkv-server_*.deb)
dev_deb=$(ls "$debs"/libdialkv-dev_*.deb)
for deb in "$server_deb" "$dev_deb"; do
  log "$(basename "$deb"): $(du -k "$deb" | cut -f1) KiB; $(dpkg-deb -f "$deb" Depends)"
done
dpkg-deb -f "$server_deb" Depends | grep -q 'librocksdb7.8' || fail "dialkv-server does not depend on librocksdb7.8"
dev_files=$(dpkg-deb -c "$dev_deb")
grep -q '/libdialkv_client\.a$' <<<"$dev_files" || fail "no libdialkv_client.a in libdialkv-dev"
grep -Eq '/lib(dialkv_(storage|net|replication|api|common)|rocksdb)' <<<"$dev_files" &&
  fail "libdialkv-dev holds a server library"
mkdir "$work/server-deb"
dpkg-deb -x "$server_deb" "$work/server-deb"
for b in dialkv-server dialkv dialkv-jepsen; do
  [ -x "$work/server-deb/usr/bin/$b" ] || fail "no /usr/bin/$b in dialkv-server"
  if grep -Eq '\.(debug_info|symtab)\b' <<<"$(readelf -S "$work/server-deb/usr/bin/$b")"; then
    fail "/usr/bin/$b is not stripped"
  fi
done
log "packages: Depends set, client library without server libraries, binaries stripped"

# --- 2. podman and the base image -------------------------------------------------------------------
# shellcheck source=scripts/lib/podman-base.sh
source "$repo/scripts/lib/podman-base.sh"
podman_install_packages podman debootstrap runc
log "$(podman --version)"
podman_configure
podman_base_image

# --- 3. in the container ----------------------------------------------------------------------------
cat >"$work/in-container.sh" <<'SCRIPT'
set -euo pipefail
say() { echo "in-container: $*"; }
die() {
  echo "in-container: FAILED: $*"
  [ ! -f /tmp/server.log ] || { echo "--- the node's log ends:"; tail -n 20 /tmp/server.log; }
  exit 1
}
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/tmp/apt.log 2>&1 || { tail -n 20 /tmp/apt.log; die "apt-get update"; }
# The two packages, their Depends from the mirror; a compiler, cmake and pkg-config to build the
# example against the installed library.
apt-get install -y -q --no-install-recommends /debs/dialkv-server_*.deb /debs/libdialkv-dev_*.deb \
  g++ cmake make pkg-config >>/tmp/apt.log 2>&1 || { tail -n 30 /tmp/apt.log; die "apt-get install"; }
say "installed: $(dpkg-query -W -f='${Package} ${Version}  ' dialkv-server libdialkv-dev)"

getent passwd dialkv >/dev/null || die "postinst made no dialkv user"
[ "$(stat -c %U:%G /var/lib/dialkv)" = dialkv:dialkv ] || die "/var/lib/dialkv is not dialkv's"
[ "$(stat -c %a:%U:%G /etc/dialkv/token.secret)" = 640:root:dialkv ] ||
  die "/etc/dialkv/token.secret: $(stat -c %a:%U:%G /etc/dialkv/token.secret), want 640:root:dialkv"
grep -qx '/etc/dialkv/dialkv.toml' /var/lib/dpkg/info/dialkv-server.conffiles ||
  die "/etc/dialkv/dialkv.toml is not a conffile"
say "postinst: user dialkv, /var/lib/dialkv, /etc/dialkv/token.secret (640 root:dialkv)"

# Start the node as dialkv.service would: its User, WorkingDirectory and ExecStart.
unit=/lib/systemd/system/dialkv.service
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
user=$(sed -n 's/^User=//p' "$unit")
workdir=$(sed -n 's/^WorkingDirectory=//p' "$unit")
[ -n "$exec_start" ] && [ -n "$user" ] && [ -n "$workdir" ] || die "unit lacks ExecStart/User/WorkingDirectory"
say "starting as $user in $workdir: $exec_start"
cd "$workdir"
# setpriv (util-linux) execs the command as the user: $server_pid is the node itself.
# shellcheck disable=SC2086  # ExecStart is split into words, as systemd does.
setpriv --reuid="$user" --regid="$user" --init-groups $exec_start >/tmp/server.log 2>&1 &
server_pid=$!
cd /
for _ in $(seq 300); do  # 30 s at most.
  (exec 3<>/dev/tcp/127.0.0.1/7379) 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || die "dialkv-server exited before it listened"
  sleep 0.1
done
(exec 3<>/dev/tcp/127.0.0.1/7379) 2>/dev/null || die "nothing listens on 127.0.0.1:7379 after 30 s"
[ "$(stat -c %U "/proc/$server_pid")" = dialkv ] || die "the node does not run as dialkv"
say "the node listens on 127.0.0.1:7379, as user dialkv"

set +e
out=$(dialkv put pkg:anon x 2>&1)
rc=$?
set -e
[ "$rc" -eq 5 ] || die "put without a token: exit $rc, want 5 (UNAUTHENTICATED): $out"
say "put without a token: refused ($out)"
DIALKV_TOKEN=$(dialkv token create --secret-file /etc/dialkv/token.secret \
  --scopes kv:read,kv:write --ttl 10m --subject package-test)
export DIALKV_TOKEN
dialkv put pkg:key hello-from-deb >/dev/null || die "dialkv put with a token"
[ "$(dialkv get pkg:key)" = hello-from-deb ] || die "dialkv get did not read what put wrote"
[ "$(dialkv --mode ap get pkg:key)" = hello-from-deb ] || die "dialkv --mode ap get"
say "dialkv put / get (CP and AP) with a token from the packaged secret: ok"

# The example, from the installed files only.
cp -r /example /tmp/example
cmake -S /tmp/example -B /tmp/example/build >/tmp/example.log 2>&1 || { cat /tmp/example.log; die "cmake (find_package)"; }
grep -q 'dialkv_DIR:PATH=/usr/lib/.*cmake/dialkv' /tmp/example/build/CMakeCache.txt ||
  die "find_package(dialkv) did not use the installed package"
cmake --build /tmp/example/build >>/tmp/example.log 2>&1 || { cat /tmp/example.log; die "building the example"; }
/tmp/example/build/app 127.0.0.1:7379 pkg:example:cmake || die "the find_package build failed against the node"
# shellcheck disable=SC2046  # pkg-config's flags are words.
g++ /tmp/example/main.cc -o /tmp/app-pkgconfig $(pkg-config --cflags --libs dialkv) ||
  die "g++ with pkg-config --cflags --libs dialkv"
/tmp/app-pkgconfig 127.0.0.1:7379 pkg:example:pc || die "the pkg-config build failed against the node"
say "examples/client-cmake: built with find_package(dialkv) and with pkg-config, ran: ok"

kill -TERM "$server_pid"
set +e
wait "$server_pid"
rc=$?
set -e
[ "$rc" -eq 0 ] || die "dialkv-server exited $rc on SIGTERM, want 0"
say "SIGTERM: the node stopped cleanly"
SCRIPT

log "podman run debian:bookworm-slim: apt-get install of both packages, the service, the example"
if ! podman run --name "$container" --rm \
  -v "$debs:/debs:ro" -v "$repo/examples/client-cmake:/example:ro" -v "$work/in-container.sh:/test.sh:ro" \
  docker.io/library/debian:bookworm-slim bash /test.sh 2>&1 | tee "$work/container.log"; then
  fail "the checks in the container (above)"
fi
log "all checks passed in $(($(date +%s) - start)) s"
