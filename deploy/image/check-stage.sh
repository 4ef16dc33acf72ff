#!/usr/bin/env bash
# CI's check of the image's contents without Docker (none here): stages the jars as the image build
# does, then runs the image's launcher from the staged tree: version and train --help (both
# classpaths), and a coordinator until it serves. Fails loudly on any step.
# Usage: deploy/image/check-stage.sh [OUT]   (default: target/image-stage)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:-$root/target/image-stage}"
"$root/deploy/image/stage.sh" "$out"
launcher="$out/bin/shardopt"
timeout 60 "$launcher" version | grep -q '^shardopt ' || { echo "check-stage: 'shardopt version' failed" >&2; exit 1; }
timeout 60 "$launcher" train --help | grep -q -- '--coordinator' || { echo "check-stage: 'shardopt train --help' failed" >&2; exit 1; }
log="$(mktemp)"
timeout 60 "$launcher" coordinator --port 0 >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  if grep -q 'serving on' "$log"; then
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    echo "check-stage: the staged image's launcher runs version, train --help and a coordinator" >&2
    rm -f "$log"
    exit 0
  fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.2
done
kill "$pid" 2>/dev/null || true
cat "$log" >&2
echo "check-stage: the staged coordinator did not serve" >&2
exit 1
