#!/usr/bin/env bash
# Installs every Debian 12 package that building, testing and benchmarking dialkv needs.
# Idempotent: packages already present are left alone, so a second run does nothing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git clang-format ccache
  clang-14 libclang-rt-14-dev
  libasio-dev
  libprotobuf-dev protobuf-compiler python3-protobuf
  librocksdb-dev
  libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev
  libbenchmark-dev
  libcli11-dev
  libxxhash-dev
  nlohmann-json3-dev
  libssl-dev
  libjwt-dev
  curl
  redis-tools python3-redis
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
