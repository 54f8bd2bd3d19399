#!/usr/bin/env bash
# Does the simulator catch real bugs? (issue 4) Each tests/planted/NN-*.patch plants one known
# mistake in the engine. For each, in a scratch worktree of HEAD: apply it, build duet-sim
# (Release), run the swarm recorded below, and count the bug caught if a seed fails that also
# passes on the unpatched engine (which still fails a few replication seeds of its own).
# Prints a table; exits non-zero if a bug is not caught or a patch no longer applies.
# A manual check (tens of minutes), not part of ctest.
# 05 needs drift near what the drift margin covers, isolate faults and the lease-grant
# invariant; 07 needs stream-gap faults (a stream write lost or swapped on a live
# connection). Last run (sim at b0578cc): 01 caught after 26 seeds, 02 after 14, 03 after 10,
# 05 after 59, 06 after 190 (rare: a resync target taking the module over), 07 after 7.
# 04 needs torn-crash (a crash between two actions of one step, unsynced pages torn), and the
# crash must fall between the send and the late persist of the same step: rare. With the
# default fault mixes it was caught after 847 seeds at f863112, not in 1000 at f215a83; it now
# runs with torn crashes only (caught after 2940 of 3000 seeds at 93ac0d9 and again at 2a7ea07,
# a near thing). The run at 2a7ea07 caught the others: 01 after 26, 02 after 4, 03 after 2,
# 05 after 59, 06 after 78, 07 after 4.
# 08 and 09 are accuracy bugs (a peer declared lost when one link is silent, or after 90% of
# the heartbeat timeout): without a witness they break no safety invariant (the split brains
# they make are detected and resolved); the accuracy checker (sim/accuracy.h) catches them,
# both in the first seeds at 313e404.
# At 7506b21 (2026-12-07) 01 was no longer caught in failover-only runs (0 of 400 seeds: the
# data-state model seldom leaves a copy outdated at a takeover now); with replication (at
# 0ebf955) it is
# caught after 5 seeds (convergence and failback within the bound), so it runs with
# replication. The others at 7506b21: 02 after 1, 03 after 1, 04 after 801, 05 after 59, 06
# after 5, 07 after 5, 08 after 1, 09 after 3.
# Why 01 escaped the safety invariants: the promoted copy was syncing, the pair then split,
# the split-brain policy discarded the peer's acknowledged writes (the workload's model
# excuses what the engine says it discards) and the pair never converged, so the end-of-run
# data checks never ran. Since d31072a (2026-12-07) a safety invariant judges each promotion
# (sim/promoted_copy.h: a new primary's copy lacks no acknowledged write its peer holds): 01
# caught after 4 seeds by it (52 of 200 seeds fail, all by it), so 50 seeds suffice. In
# failover-only runs 01 is still not caught: the invariant needs the replicas' bytes.
# 04's patch was regenerated at d31072a (Replica::Submit had moved on; same mistake): caught
# after 198 seeds there (replicas byte-identical, seed 14048216278506476564). Seed
# 8793190023380403131 of that swarm fails on the unpatched engine too (a directory's xattr
# differs between the copies after torn crashes; the same at d121b10).
# At 3a64088 (2026-12-07, the new-primary copy check excusing a peer that went on alone
# without a witness): 01 after 5 seeds, 02 after 1, 03 after 1, 05 after 59, 06 after 5, 07
# after 14 (5 at 7506b21), 08 after 1, 09 after 3; 01, 06 and 07 caught by the new-primary
# copy check. Every patch applied as it was. With that check keeping a force only as long as
# the engine does (9d93ba3): 01 after 5 seeds again (9 of 50 fail; same seed).
#   bash scripts/planted_bugs.sh            # every patch
#   bash scripts/planted_bugs.sh 02 03      # only these
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
base_seed=1
duration=20s
# patch                             seeds  duet-sim flags
settings="
01-promote-not-up-to-date            50    --replication=true
02-ack-before-peer-ack               50    --replication=true
03-resync-block-over-live-write      50    --replication=true
04-send-before-activity-log          3000  --replication=true --faults torn-crash
05-lease-without-drift-margin        1000  --witness=true
06-failback-before-resync            250   --replication=true
07-stream-out-of-order               1000  --replication=true
08-peer-lost-on-one-silent-link      50    --witness=false
09-peer-lost-before-the-timeout      50    --witness=false
"

tmp=$(mktemp -d)
wt=$tmp/worktree
trap 'git -C "$repo" worktree remove --force "$wt" 2>/dev/null || true; rm -rf "$tmp"' EXIT
git -C "$repo" worktree add -q --detach "$wt" HEAD
cmake -S "$wt" -B "$wt/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
build() {  # builds duet-sim from the worktree as it is now and copies it to $1
  flock /tmp/duet-build.lock cmake --build "$wt/build" -j2 --target duet-sim >"$tmp/build.log" 2>&1 ||
    { cat "$tmp/build.log"; return 1; }
  cp "$wt/build/sim/duet-sim" "$1"
}
build "$tmp/sim-unpatched"

swarm_index() {  # position of seed $1 in the swarm from $base_seed (sim/run_options.cc SwarmSeed)
  python3 - "$base_seed" "$1" <<'EOF'
import sys
M = (1 << 64) - 1
def mix(x):
    x = (x + 0x9e3779b97f4a7c15) & M
    x = ((x ^ (x >> 30)) * 0xbf58476d1ce4e5b9) & M
    x = ((x ^ (x >> 27)) * 0x94d049bb133111eb) & M
    return x ^ (x >> 31)
base, seed = int(sys.argv[1]), int(sys.argv[2])
print(next(i + 1 for i in range(1 << 20) if mix(base ^ mix(i + 1)) == seed))
EOF
}

failed=0
report=""
while read -r name count flags; do
  [ -n "$name" ] || continue
  if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "${name%%-*}"; then continue; fi
  patch=$repo/tests/planted/$name.patch
  git -C "$wt" checkout -q -- .
  if ! git -C "$wt" apply "$patch"; then
    report+=$(printf '%-34s %-6s %-6s %s' "$name" "-" "-" "patch no longer applies")$'\n'
    failed=1
    continue
  fi
  echo "== $name: building, then $count seeds from $base_seed ${flags:-(failover only)}"
  build "$tmp/sim-planted"
  # shellcheck disable=SC2086  # flags is a word list
  "$tmp/sim-planted" --swarm "$count" --jobs 1 --seed "$base_seed" --duration "$duration" \
    $flags </dev/null >"$tmp/swarm.out" || true
  caught=no seeds=- invariant="not caught in $count seeds"
  while read -r seed rest; do
    # shellcheck disable=SC2086
    if "$tmp/sim-unpatched" --seed "$seed" --duration "$duration" $flags </dev/null >/dev/null; then
      caught=yes seeds=$(swarm_index "$seed") invariant="${rest%% at *} (seed $seed)"
      break
    fi
  done < <(sed -n 's/^FAIL seed \([0-9]*\): /\1 /p' "$tmp/swarm.out")
  [ "$caught" = yes ] || failed=1
  line=$(printf '%-34s %-6s %-6s %s' "$name" "$caught" "$seeds" "$invariant")
  echo "   $line"  # as it comes: a run cut short still tells what it found
  report+=$line$'\n'
done <<<"$settings"
git -C "$wt" checkout -q -- .

echo
printf '%-34s %-6s %-6s %s\n' bug caught seeds "invariant (replay: duet-sim --seed S --duration $duration FLAGS)"
printf '%s' "$report"
exit "$failed"
