#!/usr/bin/env bash
# fio through a Duet primary's mount (its secondary on this machine) against one and two plain
# directories: installs what is missing (the project's packages and fio), builds the Release
# binaries, and runs bench/mount_fio_bench.py, passing it this script's arguments (--help
# lists them). Needs root (namespaces, FUSE). A few minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "bench_mount.sh: run as root (it creates network namespaces and mounts FUSE)" >&2
  exit 1
fi
bash scripts/install_deps.sh
if ! dpkg-query -W -f='${Status}' fio 2>/dev/null | grep -q "install ok installed"; then
  echo "installing: fio"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends fio </dev/null
fi
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}" CCACHE_NOHASHDIR=1  # ccache when CMake finds it
build="build-release"
# The machine's builds share one lock (other builds wait rather than compete for 2 cores).
flock /tmp/duet-build.lock cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
flock /tmp/duet-build.lock cmake --build "$build" -j2 --target duetd duetctl duet-witness
python3 bench/mount_fio_bench.py "$build" "$@"
