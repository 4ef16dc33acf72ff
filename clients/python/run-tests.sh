#!/usr/bin/env bash
# Installs the package offline into a fresh venv on Debian's Python (the documented install command)
# and runs its tests against that installed copy: the stubs check, the client against a real cluster
# (a coordinator and 2 workers started with ./shardopt on 127.0.0.1, stopped at the end), the
# failover test (its own coordinator and 3 workers, one killed with kill -9), the shard-map rules
# and the pull of workers at different steps against in-process fake servers, and the PyTorch
# agreement tests.
#
#   clients/python/run-tests.sh [unittest arguments, e.g. test_client]
#
# Needs Debian's python3-venv python3-grpcio python3-protobuf python3-numpy python3-torch
# python3-setuptools protobuf-compiler protobuf-compiler-grpc libprotobuf-dev, and Java 17 + Maven
# for ./shardopt. Environment: SHARDOPT_LAUNCHER (default ./shardopt), KEEP_VENV=1 keeps the venv.
set -euo pipefail
HERE="$(cd -P "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
PY=/usr/bin/python3 # Debian's python, which sees the python3-* packages

VENV="$(mktemp -d "${TMPDIR:-/tmp}/shardopt-py.XXXXXX")"
cleanup() { if [[ "${KEEP_VENV:-0}" == 1 ]]; then echo "venv kept in $VENV" >&2; else rm -rf "$VENV"; fi; }
trap cleanup EXIT

started=$SECONDS
"$PY" -m venv --system-site-packages "$VENV"
# --no-index: nothing from PyPI; --no-build-isolation: build with Debian's setuptools.
timeout 300 "$VENV/bin/pip" install -q --no-index --no-build-isolation "$HERE"
(cd "$HERE/tests" && "$VENV/bin/python" -c 'import shardopt, shardopt.torch, sys; sys.exit(not shardopt.__file__.startswith(sys.argv[1]))' "$VENV") \
  || { echo "run-tests: the package installed in $VENV does not import" >&2; exit 1; }
export SHARDOPT_LAUNCHER="${SHARDOPT_LAUNCHER:-$HERE/../../shardopt}"
# From the tests folder, where `import shardopt` finds only the installed copy (src/ is not on the path).
cd "$HERE/tests"
if [[ $# -gt 0 ]]; then
  timeout 1200 "$VENV/bin/python" -m unittest -v "$@"
else
  timeout 1200 "$VENV/bin/python" -m unittest discover -v -s . -p 'test_*.py'
fi
echo "python package tests took $((SECONDS - started)) s"
