#!/usr/bin/env bash
# The long fuzz campaign (docs/fuzzing.md): every @FuzzTest target in turn, in Jazzer's fuzzing
# mode, MINUTES in all split evenly, through Jazzer's own driver (the JUnit integration fixes the
# duration in the annotation). Prints one line per target: inputs executed, seconds, findings.
# Findings land as crash-* files in target/fuzz-long/<target>/; copy one into the target's
# src/test/resources/.../<Class>Inputs/<method>/ to replay it in every build.
# Usage: scripts/fuzz-long.sh MINUTES [FILTER]   (FILTER: run only targets whose class contains it;
# run `mvn -o -q -pl worker,coordinator,cli -am test-compile` first)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
minutes=${1:?usage: scripts/fuzz-long.sh MINUTES}
targets=(
  "dsl dev.shardopt.dsl.fuzz.PipelineTextFuzzTest parse"
  "dsl dev.shardopt.dsl.fuzz.PipelineProtoFuzzTest fromProto"
  "dsl dev.shardopt.dsl.fuzz.GlobFuzzTest matchesLikeTheRegex"
  "checkpoint dev.shardopt.checkpoint.NpyHeaderFuzzTest read"
  "checkpoint dev.shardopt.checkpoint.CheckpointReaderFuzzTest openMutatedManifest"
  "cli dev.shardopt.cli.io.TensorFilesFuzzTest read"
  "worker dev.shardopt.worker.server.WorkerServiceFuzzTest createAndWrite"
  "worker dev.shardopt.worker.server.WorkerServiceFuzzTest pushAndPull"
  "coordinator dev.shardopt.coordinator.CoordinatorServiceFuzzTest createUpdateAndReport"
)
filter=${2:-}
if [[ -n "$filter" ]]; then
  kept=()
  for t in "${targets[@]}"; do [[ "$t" == *"$filter"* ]] && kept+=("$t"); done
  targets=("${kept[@]}")
fi
per=$(( minutes * 60 / ${#targets[@]} ))
(( per >= 5 )) || per=5
total_runs=0
# This worktree's own module classes come before the resolved classpath, which names the shardopt
# modules' jars in ~/.m2 (possibly older builds).
reactor=$(ls -d "$PWD"/*/target/classes | paste -sd:)
for t in "${targets[@]}"; do
  read -r module class method <<<"$t"
  out="$module/target/fuzz-long/${class##*.}.$method"
  mkdir -p "$out/corpus"
  cp_file="$module/target/fuzz-test.cp"
  [[ -s "$cp_file" ]] || timeout 300 mvn -o -q -pl "$module" dependency:build-classpath \
    -Dmdep.includeScope=test -Dmdep.outputFile="$PWD/$cp_file" >/dev/null
  seeds="$module/src/test/resources/$(dirname "${class//.//}")/${class##*.}Inputs/$method"
  [[ -d "$seeds" ]] || seeds=""
  log="$out/log.txt"
  set +e
  (cd "$out" && timeout $(( per + 120 )) java -Xmx256m -XX:-OmitStackTraceInFastThrow \
    -cp "$OLDPWD/$module/target/test-classes:$OLDPWD/$module/target/classes:$reactor:$(cat "$OLDPWD/$cp_file")" \
    com.code_intelligence.jazzer.Jazzer --target_class="$class" --target_method="$method" --keep_going=50 \
    -max_total_time="$per" -rss_limit_mb=0 corpus ${seeds:+"$OLDPWD/$seeds"}) >"$log" 2>&1
  set -e
  runs=$(grep -oE 'Done [0-9]+ runs' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)
  findings=$(find "$out" -maxdepth 1 -name 'crash-*' | wc -l)
  total_runs=$(( total_runs + runs ))
  printf '%-48s %12s inputs %5s s %3s findings\n' "${class##*.}.$method" "$runs" "$per" "$findings"
done
echo "total: $total_runs inputs"
