#!/usr/bin/env bash
# Usage: scripts/worker-startup-ab.sh [runs]   (ports 17170-17172 on loopback; the numbers are in the closing note of issue 7)
# A/B: the worker's start-up (JVM start to its "serving" log line) on the server classpath (no ND4J)
# and on the full classpath (ND4J, as ./shardopt worker had before the split), interleaved.
cd "$(dirname "${BASH_SOURCE[0]}")/.." && ./shardopt version >/dev/null || exit 1
CORE="cli/target/classes:$(cat cli/target/classpath.txt)"
FULL="cli-train/target/classes:$(cat cli-train/target/classpath.txt)"
java -cp "$CORE" dev.shardopt.cli.ShardoptCli coordinator --port 17170 > "${TMPDIR:-/tmp}/ab-coord.log" 2>&1 &
C=$!
sleep 3
run() {
  local cp=$1 port=$2 log="${TMPDIR:-/tmp}/ab-w.log"
  : > "$log"
  local s=$(date +%s%N)
  java -cp "$cp" dev.shardopt.cli.ShardoptCli worker --port $port --coordinator localhost:17170 > $log 2>&1 &
  local W=$!
  until grep -q 'serving on' $log 2>/dev/null; do sleep 0.01; done
  local e=$(date +%s%N)
  kill $W; wait $W 2>/dev/null
  echo $(( (e - s) / 1000000 ))
}
a=(); b=()
for i in $(seq 1 ${1:-8}); do
  a+=($(run "$CORE" 17171)); b+=($(run "$FULL" 17172))
done
kill $C; wait $C 2>/dev/null
med() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
echo "server classpath (no ND4J): ms ${a[*]} median $(med "${a[@]}")"
echo "full classpath (ND4J):      ms ${b[*]} median $(med "${b[@]}")"
