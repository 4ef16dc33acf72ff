#!/usr/bin/env bash
# The chaos suite's soak (issue 9 §3): every scenario of ChaosSuiteTest, KillDuringCopyTest and
# PartitionTest (cli) RUNS times, with seeds from SEED (default 100, so not CI's seeds 1..), each run against real
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
# PartitionTest runs each scenario once per JVM (one cluster for its three): one JVM per seed, its rows
# summed by scenario below.
for ((i = 0; i < runs; i++)); do
  timeout 600 mvn -o -q -pl cli -am test -Dtest='PartitionTest' -Dsurefire.failIfNoSpecifiedTests=false \
    -Dshardopt.chaos.seed="$((seed + i))" -Dshardopt.chaos.table="$table" >>"cli/target/chaos-soak.log" 2>&1 \
    || { tail -50 cli/target/chaos-soak.log; echo "chaos-soak: PartitionTest seed $((seed + i)) FAILED (log: cli/target/chaos-soak.log)" >&2; exit 1; }
done
echo "| scenario | runs | faults injected | steps completed | acknowledged pushes lost | steps applied twice | max difference from the fault-free run | duplicates seen by the workers |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
# one row per scenario: counts summed, "X of Y" summed on both sides, the difference column kept when
# every run agrees (it is "0 (bitwise)" when nothing differed)
awk -F' [|] ' '
  { label = substr($1, 3); sub(/ [|]$/, "", $8)
    if (!(label in runs)) order[++n] = label
    split($4, c, " of ")
    runs[label] += $2; faults[label] += $3; done_[label] += c[1]; planned[label] += c[2]
    lost[label] += $5; twice[label] += $6; dups[label] += $8
    d = ((label in diff) && diff[label] != $7) ? "differs between runs: see the log" : $7; diff[label] = d }
  END { for (i = 1; i <= n; i++) { l = order[i]
    printf "| %s | %d | %d | %d of %d | %d | %d | %s | %d |\n", l, runs[l], faults[l], done_[l], planned[l], lost[l], twice[l], diff[l], dups[l] } }
' "$table"
