#!/usr/bin/env bash
# Usage: scripts/train-checkpoint-overhead-ab.sh [pairs] [checkpoint-root]
#   (default 6 pairs; checkpoint-root default ${TMPDIR:-/tmp}, on the disk under test: give a tmpfs
#   path such as /dev/shm to take the disk out)
# A/B for issue 8's target: `shardopt train --checkpoint-every 50` costs <= 3% more wall time than the
# same run without checkpoints. Each run is a fresh JVM started as the launcher starts it (java -cp
# <cli-train's classpath> dev.shardopt.cli.ShardoptCli train, defaults otherwise: 800 steps, 2
# trainers, 2 embedded workers, Adam), timed from start to exit. The two arms alternate, and their
# order flips every pair (AB BA AB ...), so that a drift in the machine's load hits both alike.
# Prints one line per pair (wall times, the trainers' "in X s" training time, the load average) and
# the medians and sums; the docs/benchmarks.md section "Checkpoint overhead" was made with it.
#
# The classpath is built here without `mvn install` (the shared ~/.m2 is not touched): the reactor's
# module jars in */target. SHARDOPT_AB_CP=<file> uses a classpath file written earlier instead (e.g.
# a copy of another revision's jars); its first entry may be a classes directory.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
PAIRS=${1:-6}
ROOT=${2:-${TMPDIR:-/tmp}}
WORK=$(mktemp -d "$ROOT/shardopt-ab.XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT
if [[ -n "${SHARDOPT_AB_CP:-}" ]]; then
  CP=$(cat "$SHARDOPT_AB_CP")
else
  mvn -o -q -B -pl cli-train -am package dependency:build-classpath -DskipTests \
    -Dmdep.outputFile="$WORK/classpath.txt" >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
  CP="cli-train/target/classes:$(cat "$WORK/classpath.txt")"
fi

# run <with|without> -> "wall_seconds train_seconds accuracy checkpoints_written"
run() {
  local arm=$1 log="$WORK/run.log" extra=()
  rm -rf "$WORK/ckpt"
  if [[ $arm == with ]]; then extra=(--checkpoint-dir "$WORK/ckpt" --checkpoint-every 50); fi
  local s e
  s=$(date +%s%N)
  timeout 600 java -cp "$CP" dev.shardopt.cli.ShardoptCli train --plot "$WORK/train.png" "${extra[@]}" >"$log" 2>&1 \
    || { echo "run ($arm) failed:" >&2; tail -20 "$log" >&2; exit 1; }
  e=$(date +%s%N)
  local train acc ck
  train=$(sed -n 's/.*after [0-9]* steps in \([0-9.]*\) s.*/\1/p' "$log" | tail -1)
  acc=$(sed -n 's/^test accuracy \([0-9.]*\).*/\1/p' "$log" | tail -1)
  ck=$(sed -n 's/^checkpoints: \([0-9]*\) written.*/\1/p' "$log" | tail -1)
  printf '%.2f %s %s %s\n' "$(echo "($e - $s) / 1000000000" | bc -l)" "$train" "$acc" "${ck:-0}"
}

wo=(); wi=(); two=(); twi=()
echo "pair | load before | without: wall s (train s) | with: wall s (train s) | with/without | accuracy | checkpoints"
for p in $(seq 1 "$PAIRS"); do
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  if (( p % 2 == 1 )); then a=$(run without) || exit 1; b=$(run with) || exit 1
  else b=$(run with) || exit 1; a=$(run without) || exit 1; fi
  read -r aw at aacc _ <<<"$a"; read -r bw bt bacc bck <<<"$b"
  wo+=("$aw"); wi+=("$bw"); two+=("$at"); twi+=("$bt")
  printf '%d | %s | %s (%s) | %s (%s) | %.3f | %s / %s | %s\n' "$p" "$load" "$aw" "$at" "$bw" "$bt" \
    "$(echo "$bw / $aw" | bc -l)" "$aacc" "$bacc" "$bck"
done
med() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
sum() { printf '%s\n' "$@" | awk '{s+=$1} END {printf "%.2f", s}'; }
ratios=(); for i in "${!wo[@]}"; do ratios+=("$(echo "${wi[$i]} / ${wo[$i]}" | bc -l)"); done
printf 'median wall: without %s s, with %s s; median of the pair ratios %.3f; sums %s / %s s = %.3f\n' \
  "$(med "${wo[@]}")" "$(med "${wi[@]}")" "$(med "${ratios[@]}")" "$(sum "${wo[@]}")" "$(sum "${wi[@]}")" \
  "$(echo "$(sum "${wi[@]}") / $(sum "${wo[@]}")" | bc -l)"
printf 'median training time (the trainers'"'"' "in X s"): without %s s, with %s s\n' "$(med "${two[@]}")" "$(med "${twi[@]}")"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); checkpoint root: $ROOT ($(df -T "$ROOT" | awk 'NR==2 {print $2}'))"
