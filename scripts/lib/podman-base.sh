# shellcheck shell=bash disable=SC2154  # $work, log and fail come from the sourcing script.
# Sourced by scripts/compose-test.sh and scripts/package-test.sh: podman on a Debian 12 machine
# without systemd and without a reachable container registry, and a debian:bookworm-slim base
# image built locally with debootstrap.
#
# The sourcing script defines log MESSAGE and fail MESSAGE (which exits), and sets $work, a
# directory for podman's configuration, logs and the base image's root file system. Then:
#   podman_install_packages PKG...  installs the Debian packages among PKG that are missing
#   podman_configure                podman without systemd (exports CONTAINERS_CONF)
#   podman_base_image               builds docker.io/library/debian:bookworm-slim unless present

podman_install_packages() {
  local need=() p sudo=""
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
  done
  [ "${#need[@]}" -gt 0 ] || return 0
  log "installing ${need[*]}"
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q >"$work/apt.log" 2>&1
  $sudo apt-get install -y -q "${need[@]}" >>"$work/apt.log" 2>&1 ||
    { tail -n 30 "$work/apt.log"; fail "apt-get install ${need[*]}"; }
}

podman_configure() {
  # Containers inherit the default ulimits; podman's own defaults (nofile 1048576) are above a
  # typical sandbox's hard limits, which makes runc fail with "error setting rlimits".
  local hard_nofile hard_nproc nofile nproc
  hard_nofile=$(ulimit -Hn)
  [ "$hard_nofile" = unlimited ] && hard_nofile=1048576
  hard_nproc=$(ulimit -Hu)
  [ "$hard_nproc" = unlimited ] && hard_nproc=32768
  nofile=$((hard_nofile < 1048576 ? hard_nofile : 1048576))
  nproc=$((hard_nproc < 32768 ? hard_nproc : 32768))
  cat >"$work/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
  export CONTAINERS_CONF="$work/containers.conf"
}

# The Debian mirror this machine itself uses: the first bookworm (not -security/-updates)
# source, deb822 (*.sources) or one-line (sources.list) format.
apt_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN { RS = ""; FS = "\n" }
      { uris = ""; ok = 0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i); split($i, u, /[ \t]+/); uris = u[1] }
          if ($i ~ /^Suites:/ && $i ~ /(^|[ \t])bookworm([ \t]|$)/) ok = 1
        }
        if (ok && uris != "") { print uris; exit } }' "$f"
  done
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) {
           if ($(i + 1) == "bookworm") print $i; break } }' || true
}

podman_base_image() {
  local mirror rootfs
  if ! podman image exists docker.io/library/debian:bookworm-slim; then
    mirror=$(apt_mirror)
    mirror=${mirror%%$'\n'*}
    [ -n "$mirror" ] || fail "no bookworm source in /etc/apt/sources.list{,.d/}"
    log "building debian:bookworm-slim with debootstrap --variant=minbase from $mirror"
    rootfs="$work/rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
      { tail -n 30 "$work/debootstrap.log"; fail "debootstrap"; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" --numeric-owner -c . |
      podman import --change 'CMD ["bash"]' - docker.io/library/debian:bookworm-slim \
        >"$work/import.log" 2>&1 || { cat "$work/import.log"; fail "podman import"; }
    rm -rf "$rootfs"
  fi
  log "base image: $(podman image inspect --format '{{.Id}}' docker.io/library/debian:bookworm-slim | cut -c1-12)"
}
