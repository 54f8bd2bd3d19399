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
