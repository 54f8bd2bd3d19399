#!/usr/bin/env bash
# Installs the Debian 12 packages Duet needs, only those that are missing (apt-get update first).
set -euo pipefail
packages=(build-essential cmake ninja-build ccache clang clang-format libclang-rt-14-dev
  libabsl-dev libflatbuffers-dev flatbuffers-compiler libboost-dev librapidcheck-dev
  libgtest-dev libgmock-dev libbenchmark-dev libtomlplusplus-dev libssl-dev libfuse3-dev fuse3
  iproute2 git python3 util-linux procps fio acl systemd)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then echo "need root to install packages" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
fi
