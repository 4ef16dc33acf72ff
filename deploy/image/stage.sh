#!/usr/bin/env bash
# Lays out what the container image holds, from a build of this checkout (mvn package, never install):
#   OUT/lib/server/  the cli jar and its runtime dependencies (no ND4J): coordinator, worker, status, watch, ...
#   OUT/lib/train/   the cli-train jar and its runtime dependencies (with ND4J): train, compare
#   OUT/bin/shardopt the launcher that picks between them, as ./shardopt does
# Usage: deploy/image/stage.sh OUT      (then: docker build -f deploy/image/Dockerfile OUT; build.sh does both)
set -euo pipefail
out="${1:?usage: stage.sh OUT}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
mvn="${MVN:-mvn}"
(cd "$root" && "$mvn" -B -q -DskipTests -Dfuzz.skip=true -pl cli,cli-train -am package \
  dependency:copy-dependencies -DincludeScope=runtime)
rm -rf "$out"
mkdir -p "$out/lib/server" "$out/lib/train" "$out/bin"
version="$(sed -n 's:^  <version>\(.*\)</version>$:\1:p' "$root/pom.xml" | head -1)"
cp "$root"/cli/target/dependency/*.jar "$root/cli/target/shardopt-cli-$version.jar" "$out/lib/server/"
cp "$root"/cli-train/target/dependency/*.jar "$root/cli-train/target/shardopt-cli-train-$version.jar" "$out/lib/train/"
cp "$root/deploy/image/shardopt" "$out/bin/shardopt"
chmod 755 "$out/bin/shardopt"
echo "staged $(du -sh "$out" | cut -f1) in $out" >&2
