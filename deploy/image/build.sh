#!/usr/bin/env bash
# Builds the shardopt container image: stages the jars (stage.sh), then docker build, and pushes it
# when asked. Needs a Docker daemon and, for the base image eclipse-temurin:17-jre, a registry to
# pull from (or that image already loaded).
# Usage: deploy/image/build.sh IMAGE [--push]      e.g. registry.example.com/shardopt:0.1.0
set -euo pipefail
image="${1:?usage: build.sh IMAGE [--push]}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
stage="$here/../../target/image-stage"
"$here/stage.sh" "$stage"
docker build -t "$image" -f "$here/Dockerfile" "$stage"
if [[ "${2:-}" == --push ]]; then
  docker push "$image"
fi
