#!/usr/bin/python3
"""Regenerates the committed gRPC stubs in src/shardopt/v1 from proto/src/main/proto.

  /usr/bin/python3 clients/python/scripts/generate_stubs.py [--out DIR]

Uses Debian 12's protoc 3.21.12 and grpc_python_plugin 1.51 (apt-get install protobuf-compiler
protobuf-compiler-grpc libprotobuf-dev): code from that protoc loads on protobuf runtimes 3.20 and
newer, where code from a newer protoc refuses to load on an older runtime. tests/test_stubs.py runs
this into a temporary folder and fails when the committed files differ.
"""

import argparse
import os
import shutil
import subprocess
import sys

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROTO_DIR = os.path.normpath(os.path.join(PACKAGE_ROOT, "..", "..", "proto", "src", "main", "proto"))
SOURCES = os.path.join(PACKAGE_ROOT, "src")
# The stubs, relative to the source root; service.proto alone has services.
MESSAGE_PROTOS = ["shardopt/v1/pipeline.proto", "shardopt/v1/service.proto"]
SERVICE_PROTOS = ["shardopt/v1/service.proto"]
GENERATED = ["shardopt/v1/pipeline_pb2.py", "shardopt/v1/pipeline_pb2.pyi", "shardopt/v1/service_pb2.py",
             "shardopt/v1/service_pb2.pyi", "shardopt/v1/service_pb2_grpc.py"]


def generate(out: str) -> None:
    """Writes the files in GENERATED under `out`; raises RuntimeError naming what is missing."""
    protoc = shutil.which("protoc")
    plugin = shutil.which("grpc_python_plugin")
    if protoc is None or plugin is None:
        raise RuntimeError("protoc and grpc_python_plugin are needed: apt-get install -y protobuf-compiler "
                           "protobuf-compiler-grpc libprotobuf-dev")
    base = [protoc, "-I", PROTO_DIR]
    if os.path.isfile("/usr/include/google/protobuf/empty.proto"):
        base += ["-I", "/usr/include"]
    os.makedirs(out, exist_ok=True)
    subprocess.run(base + ["--python_out=" + out, "--pyi_out=" + out] + MESSAGE_PROTOS, check=True, timeout=120)
    subprocess.run(base + ["--grpc_out=" + out, "--plugin=protoc-gen-grpc=" + plugin] + SERVICE_PROTOS,
                   check=True, timeout=120)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=SOURCES, help="source root to write shardopt/v1/*.py into (default: %(default)s)")
    args = p.parse_args()
    try:
        generate(args.out)
    except (RuntimeError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        print("generate_stubs: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
