#!/usr/bin/env bash
# The chaos suite's soak (issue 9 §3): every scenario of ChaosSuiteTest and KillDuringCopyTest (cli)
# RUNS times, with seeds from SEED (default 100, so not CI's seeds 1..), each run against real
# coordinator and worker processes behind fault proxies, compared bitwise with the fault-free run.
# Prints one table row per scenario (the "Scenarios tested" table of docs/reliability.md). Usage: scripts/chaos-soak.sh RUNS [SEED]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${1:?usage: scripts/chaos-soak.sh RUNS [SEED]}
seed=${2:-100}
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "chaos-soak: RUNS must be a positive integer, got '$runs'" >&2; exit 2; }
[[ "$seed" =~ ^[0-9]+$ ]] || { echo "chaos-soak: SEED must be a non-negative integer, got '$seed'" >&2; exit 2; }
table="$PWD/cli/target/chaos-soak-table.md"
mkdir -p cli/target
rm -f "$table"
# each run is bounded (150 s) and the class by a 30 min timeout; this bounds the whole soak
timeout $((600 + runs * 600)) mvn -o -q -pl cli -am test -Dtest='ChaosSuiteTest,KillDuringCopyTest' -Dsurefire.failIfNoSpecifiedTests=false \
  -DfailIfNoTests=false -Dshardopt.chaos.runs="$runs" -Dshardopt.chaos.seed="$seed" -Dshardopt.chaos.table="$table" \
  >"cli/target/chaos-soak.log" 2>&1 || { tail -50 cli/target/chaos-soak.log; echo "chaos-soak: FAILED (log: cli/target/chaos-soak.log)" >&2; exit 1; }
echo "| scenario | runs | faults injected | steps completed | acknowledged pushes lost | steps applied twice | max difference from the fault-free run | duplicates seen by the workers |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
cat "$table"
