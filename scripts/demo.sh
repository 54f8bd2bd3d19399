#!/usr/bin/env bash
# Duet's main job: a real pair of servers on this machine. Nodes a and b and a client c are
# network namespaces on two networks; duetd runs on a and b. Two modules run active-active
# (alpha on a, beta on b), each an HTTP key-value service on SQLite behind its own VIP, and
# the client writes to both through the VIPs, recording every acknowledged write. Node a dies
# (its processes killed, its links cut); alpha restarts on b; a returns, resyncs what changed,
# and alpha fails back. Prints the timeline, the client-visible outages, the bytes resynced
# and both nodes' status; exits non-zero if an acknowledged write was lost or the two copies
# of a module differ. Needs root (namespaces, FUSE). The simulator's narrated scenario is
# `build-release/sim/duet-sim --scenario active-active`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "demo.sh: run as root (it creates network namespaces and mounts FUSE file systems)" >&2
  exit 1
fi
bash scripts/install_deps.sh
build=build-release
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target duetd duetctl duet-witness duet-sim
python3 tests/e2e/demo.py "$build"
