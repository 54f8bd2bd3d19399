#!/usr/bin/env bash
# The long simulator swarm (not run by CI): builds duet-sim in Release and runs COUNT seeds
# (default 10000) on JOBS worker threads (default 2), from a base seed taken from the time of
# day unless --seed BASE is given. Each failing seed prints the command that replays it.
#   bash scripts/swarm.sh                  # 10000 seeds
#   bash scripts/swarm.sh 500 --seed 42 --duration 120s --faults crash,partition
set -euo pipefail
cd "$(dirname "$0")/.."
count=10000
if [ $# -gt 0 ] && [[ "$1" =~ ^[0-9]+$ ]]; then
  count=$1
  shift
fi
build=build-release
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target duet-sim
"$build/sim/duet-sim" --swarm "$count" --jobs "${JOBS:-2}" "$@"
