#!/usr/bin/env bash
# Duet's test command: installs missing packages, checks engine purity and formatting, builds
# Debug with AddressSanitizer + UndefinedBehaviorSanitizer, and runs every suite with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/check_engine_purity.sh
bash scripts/check_format.sh
build=build-test
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DDUET_SANITIZE=ON
cmake --build "$build" -j2
ctest --test-dir "$build" --output-on-failure -j2 --timeout 1200
# How many pairs of copies the handshake's exhaustive mirror test decided.
grep -h '^session decision: ' "$build/Testing/Temporary/LastTest.log"
# The README's main command and the benchmarks build in Release (-O3 finds warnings Debug
# does not): build them here too, and run the demo's scenario once.
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build-release -j2 --target duet-sim duet-bench duetd duetctl duet-witness
build-release/sim/duet-sim --scenario active-active >/dev/null
echo "release build and simulator scenario: ok"
# The README's main command: the real pair in network namespaces (Release daemons), every
# acknowledged write checked.
python3 tests/e2e/demo.py build-release
echo "demo of the real pair: ok"
# A swarm in replication mode (engines on simulated disks under a workload, data invariants
# checked): fixed seeds, about a minute and a half on 2 cores. Longer: scripts/swarm.sh.
build-release/sim/duet-sim --swarm 60 --jobs 2 --seed 20261125 --replication=true --duration 20s
# Disks replaced (a node rejoins blank: full resync), with crashes and failing disks.
build-release/sim/duet-sim --swarm 40 --jobs 2 --seed 20261130 --replication=true --duration 20s \
  --faults disk-replace,crash,torn-crash,disk-eio,partition,stream-gap,admin
