#!/usr/bin/env bash
# Runs the pipeline-change tests N times in a row (default 50), each run a fresh JVM, and stops at the
# first failure. No rerun of failing tests: a flaky test fails this script. Usage:
#   scripts/repeat-pipeline-change-tests.sh [N]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
n=${1:-50}
tests='PipelineChangeTest,PipelineChangesTest,ScheduleRaceTest,GenerationScheduleTest,ShardGroupTest,SyncStepsTest,AsyncStepsTest'
mvn -B -q -o -pl engine,worker,coordinator,embedded -am test-compile >/dev/null
for i in $(seq 1 "$n"); do
  if ! out=$(mvn -B -o -pl engine,worker,coordinator,embedded surefire:test -Dtest="$tests" \
      -Dsurefire.failIfNoSpecifiedTests=false 2>&1); then
    echo "$out" | grep -E 'Tests run|FAIL|ERROR' | head -40
    echo "run $i of $n failed"
    exit 1
  fi
  ran=$(echo "$out" | grep -E '^\[INFO\] Tests run: [0-9]+, Failures: 0, Errors: 0' | grep -v ' in ' | awk -F'[ ,]+' '{s+=$4} END {print s}')
  echo "run $i: $ran tests passed"
done
echo "$n passed, 0 failed"
