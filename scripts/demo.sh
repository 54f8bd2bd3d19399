#!/usr/bin/env bash
# Duet's main job: a real pair on this machine. Two duetd processes (nodes a and b, each in
# its own mount namespace, on 127.0.0.2 and 127.0.0.3), two modules active-active, a client
# writing acknowledged records through the primary's FUSE mount; node a is killed, its module
# restarts on b, a returns, resyncs what changed, and the module fails back. Prints the
# timeline, both nodes' status and the client-visible outages; exits non-zero if an
# acknowledged record was lost. Needs root (FUSE, namespaces). The simulator's narrated
# scenario is `build-release/sim/duet-sim --scenario active-active`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "demo.sh: run as root (it mounts FUSE file systems in mount namespaces)" >&2
  exit 1
fi
bash scripts/install_deps.sh
build=build-release
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target duetd duetctl duet-witness duet-sim
python3 tests/e2e/demo.py "$build"
