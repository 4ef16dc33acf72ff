#!/usr/bin/env bash
# The opencl backend's conformance tests and its Adam benchmark on a machine without Java or Maven,
# e.g. a GPU machine whose only OpenCL driver is the vendor's (NVIDIA's libnvidia-opencl).
#
#   scripts/opencl-device-check.sh build [DIR]   # here: builds DIR (default target/opencl-device-check)
#   DIR/run.sh                                   # there: tests on device 0, then JMH DeviceKernelBench
#
# DIR holds a jlink runtime (java.base and four more modules), the test class path and the JMH
# benchmark's classes, about 56 MiB. run.sh prints the devices, each failed test's first line and
# "N passed, M failed", then Adam and a device copy of the same bytes at 16M and 100M parameters
# (JSON to $OUT or /tmp). Without a system ICD file it points the ICD loader at libnvidia-opencl.so.1.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
[[ "${1:-}" == build ]] || { sed -n '2,12p' "$0"; exit 2; }
out="${2:-target/opencl-device-check}"
cp_file="$(mktemp)"
trap 'rm -f "$cp_file"' EXIT
timeout 1800 mvn -o -q -pl device-opencl,benchmarks -am test-compile
# With -am every module writes the file in build order; device-opencl, the last, has the final word.
timeout 600 mvn -o -q -pl device-opencl -am dependency:build-classpath -Dmdep.includeScope=test \
  -Dmdep.outputFile="$cp_file" >/dev/null
rm -rf "$out" && mkdir -p "$out/lib" "$out/classes/META-INF" "$out/classes/dev/shardopt/bench"
jlink --add-modules java.base,java.logging,java.management,jdk.unsupported,java.instrument \
  --strip-debug --no-header-files --no-man-pages --compress=2 --output "$out/jre"
# Third-party jars from the module's test class path; Shardopt's own modules as class directories.
tr ':' '\n' < "$cp_file" | grep -v '/dev/shardopt/' | grep -vE 'protobuf-java-util|gson' \
  | xargs -I{} cp {} "$out/lib/"
m2="$HOME/.m2/repository"
cp "$m2/org/openjdk/jmh/jmh-core/1.37/jmh-core-1.37.jar" "$m2/net/sf/jopt-simple/jopt-simple/5.0.4/jopt-simple-5.0.4.jar" \
  "$m2/org/apache/commons/commons-math3/3.6.1/commons-math3-3.6.1.jar" "$out/lib/"
for m in proto dsl engine device-opencl; do cp -r "$m/target/classes/." "$out/classes/"; done
cp -r device-opencl/target/test-classes/. "$out/classes/"
# The one JMH benchmark, with a benchmark list that names only it.
bench=benchmarks/target/classes
cp "$bench"/dev/shardopt/bench/DeviceKernelBench*.class "$out/classes/dev/shardopt/bench/"
mkdir -p "$out/classes/dev/shardopt/bench/jmh_generated"
cp "$bench"/dev/shardopt/bench/jmh_generated/DeviceKernelBench* "$out/classes/dev/shardopt/bench/jmh_generated/"
grep DeviceKernelBench "$bench/META-INF/BenchmarkList" > "$out/classes/META-INF/BenchmarkList"
cp "$bench/META-INF/CompilerHints" "$out/classes/META-INF/"
cat > "$out/run.sh" <<'RUN'
#!/usr/bin/env bash
cd "$(dirname "$0")"
nvidia-smi -L 2>/dev/null | head -3
lib=$(ldconfig -p 2>/dev/null | grep -o '/[^ ]*libnvidia-opencl.so.1' | head -1)
if ! ls /etc/OpenCL/vendors/*.icd >/dev/null 2>&1 && [ -n "$lib" ]; then
  mkdir -p /tmp/ocl-vendors && echo "$lib" > /tmp/ocl-vendors/nvidia.icd
  export OCL_ICD_VENDORS=/tmp/ocl-vendors
  echo "no /etc/OpenCL/vendors: using $lib"
fi
timeout 300 jre/bin/java -Xmx6g -cp "classes:lib/*" dev.shardopt.device.opencl.DeviceCheckMain
status=$?
timeout 300 jre/bin/java -cp "classes:lib/*" org.openjdk.jmh.Main DeviceKernelBench -p backend=opencl \
  -p n=16777216,100000000 -wi 3 -i 5 -w 1 -r 1 -jvmArgsAppend "-Xms6g -Xmx6g" \
  -rf json -rff "${OUT:-/tmp}/device-kernel-bench.json" 2>&1 | grep -E '^(Benchmark|DeviceKernelBench)|Exception'
exit $status
RUN
chmod +x "$out/run.sh"
size=$(du -sm "$out" | cut -f1)
echo "$out: ${size} MiB"
(( size < 60 )) || { echo "over the 60 MiB budget" >&2; exit 1; }
