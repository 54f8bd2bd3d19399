#!/usr/bin/env bash
# Duet's main job, for now: the simulator's narrated active-active scenario (two modules, one
# primary on each node; node a crashes, its module fails over to b, a returns, resync, failback).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
build=build-release
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target duet-sim
"$build/sim/duet-sim" --scenario active-active
