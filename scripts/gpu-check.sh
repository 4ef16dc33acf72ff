#!/usr/bin/env bash
# The GPU check of issue 10: one prepared script for a machine with an NVIDIA GPU, no network, no
# packages to install and maybe no Java. Two halves:
#
#   scripts/gpu-check.sh --build DIR                  here (JDK 17, Maven cache, nvcc optional):
#       builds the worker-side jars (cli's classpath, which has no ND4J, plus the device modules),
#       a jlink image of the JDK modules they need, and, when nvcc is here, a prebuilt fatbin of the
#       kernel source; fails if DIR is over 60 MiB.
#   scripts/gpu-check.sh --probe DIR [--device cuda]  there, from the repository root: java, the CUDA
#       libraries found, and the device probe (open, NVRTC, bitwise checks against the CPU backend).
#   scripts/gpu-check.sh --run DIR [--device cuda]    there: nvidia-smi, the probe, the 32 reference
#       cases replayed with --device X and --device cpu (byte-compared, and within the tests'
#       tolerance of libtorch's trajectory), the kernel benchmark and the worker-step benchmark.
#       Ends with "N passed, M failed"; exits non-zero on any failure.
#
# --device opencl (or cpu) runs the same steps through the same image on a machine without CUDA,
# which is how this script is tested where there is no GPU.
#
# Environment: GPU_CHECK_TIMEOUT  seconds for the whole --probe/--run (default 420); each step's
#                                 timeout is cut to what is left
#              CUDA_LIB_DIRS      extra directories to search first for libcudart/libnvrtc
set -uo pipefail

ROOT="$(cd -P "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
# What travels to the GPU machine is the repository's tracked files (about 10 MiB) plus DIR, within
# 64 MiB: DIR gets 50 MiB (the issue's 60 MiB runtime budget is the looser of the two).
MAX_BYTES=$((50 * 1024 * 1024))
REFERENCE="$ROOT/cli/src/test/resources/reference"

usage() {
  sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
  exit 64
}

say() { echo "gpu-check: $*"; }

# ---------------------------------------------------------------------------------------------
# --build DIR
# ---------------------------------------------------------------------------------------------
build() {
  local out="$1"
  mkdir -p "$out" || return 1
  out="$(cd "$out" && pwd)"
  # Everything is assembled in a staging directory, then carried as one compressed tar: the JVM's
  # own library and the uncompressed class files compress to a fifth with xz.
  local dir="$out/.stage"
  rm -rf "$dir" && mkdir -p "$dir" || return 1
  local modules="cli,device-cuda"
  [[ -d "$ROOT/device-opencl" ]] && modules="$modules,device-opencl"
  say "building $modules (mvn -o package, no tests) in $ROOT"
  local log="$out/.build.log"
  if [[ -n "${GPU_CHECK_SKIP_MVN:-}" ]]; then
    say "GPU_CHECK_SKIP_MVN: using the jars already in */target"
  elif ! (cd "$ROOT" && timeout 1200 mvn -o -q -B -DskipTests -pl "$modules" -am package \
      dependency:build-classpath -DincludeScope=runtime -Dmdep.outputFile=target/runtime-classpath.txt) \
      >"$log" 2>&1; then
    cat "$log"
    say "FAIL the Maven build failed (log: $log)"
    return 1
  fi
  rm -rf "$dir/lib" "$dir/java" "$dir/kernels" "$dir/tools"
  mkdir -p "$dir/lib" "$dir/kernels" "$dir/tools"

  # The modules' own jars and their runtime classpaths, each jar once.
  local m jar entry
  local -A seen=()
  for m in ${modules//,/ }; do
    jar="$(ls "$ROOT/$m"/target/shardopt-*.jar 2>/dev/null | grep -v -e '-sources' -e '-tests' | head -1)"
    [[ -n "$jar" ]] || { say "FAIL no jar in $m/target"; return 1; }
    seen["$(basename "$jar")"]=1
    cp "$jar" "$dir/lib/"
    tr ':' '\n' <"$ROOT/$m/target/runtime-classpath.txt" | while read -r entry || [[ -n "$entry" ]]; do
      [[ -n "$entry" ]] || continue
      if [[ -d "$entry" ]]; then
        say "FAIL $entry is a class directory, not a jar (run the build through package)"
        exit 1
      fi
      cp -n "$entry" "$dir/lib/"
    done || return 1
  done
  # Not carried: the chart libraries (only `describe --plot` draws with them; replay and worker
  # never load them), and of bytedeco's CUDA natives only the two JNI libraries the backend loads.
  (cd "$dir/lib" && rm -f xchart-*.jar pdfbox-*.jar fontbox-*.jar VectorGraphics2D-*.jar graphics2d-*.jar \
      animated-gif-lib-*.jar commons-logging-*.jar)
  local natives
  natives="$(ls "$dir"/lib/cuda-*-linux-x86_64.jar 2>/dev/null | head -1)"
  if [[ -n "$natives" ]]; then
    local tmp="$dir/.natives"
    rm -rf "$tmp" && mkdir -p "$tmp"
    (cd "$tmp" && unzip -q "$natives" 'org/bytedeco/cuda/linux-x86_64/libjnicudart.so' \
        'org/bytedeco/cuda/linux-x86_64/libjninvrtc.so') || { say "FAIL unpacking $natives"; return 1; }
    rm -f "$natives"
    jar --create --file "${natives%.jar}-cudart-nvrtc.jar" -C "$tmp" . || return 1
    rm -rf "$tmp"
  fi
  local banned='^(nd4j|openblas|libnd4j)|^(cuda|javacpp|opencl)-platform|redist'
  if ls "$dir/lib" | grep -E -i -q "$banned"; then
    ls "$dir/lib" | grep -E -i "$banned"
    say "FAIL the runtime would carry ND4J or -platform/-redist natives"
    return 1
  fi

  # A jlink image of the JDK modules the jars use.
  local mods jdk
  # The JDK that runs javac (17): its jdeps, jlink and jmods.
  jdk="$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")"
  [[ -d "$jdk/jmods" ]] || { say "FAIL no jmods in $jdk (jlink needs a JDK with jmods)"; return 1; }
  # --list-deps (not the reduced list): every module used directly, so that leaving one out below
  # never drops another that it only happened to imply (java.sql implies java.logging).
  mods="$("$jdk/bin/jdeps" --ignore-missing-deps --multi-release 17 --list-deps "$dir"/lib/*.jar \
      2>"$out/.jdeps.log" | awk '$1 ~ /^(java|jdk)\./ && NF == 1 {print $1}' | paste -sd, -)" && [[ -n "$mods" ]] || {
    cat "$out/.jdeps.log"
    say "FAIL jdeps failed"
    return 1
  }
  # Modules that only optional code uses are left out, to fit the size budget: java.desktop (cli's
  # charts, describe --plot) and java.sql (4 MiB with java.xml: gson's java.sql.Date adapters, which
  # gson loads only if java.sql is there, and protobuf-java-util's Timestamp conversions, which no
  # worker path calls). Only if jdeps finds no other user; the replays in --run exercise the image.
  local optional module users allowed
  for optional in "java.desktop:dev.shardopt.cli.chart" "java.sql:com.google.gson.internal.sql,com.google.protobuf.util"; do
    module="${optional%%:*}"
    allowed=",${optional#*:},"
    [[ ",$mods," == *",$module,"* ]] || continue
    users="$("$jdk/bin/jdeps" --ignore-missing-deps --multi-release 17 -verbose:package "$dir"/lib/*.jar 2>/dev/null \
        | awk -v m="$module" 'NF == 4 && $2 == "->" && $4 == m {print $1}' | sort -u \
        | while read -r pkg; do [[ "$allowed" == *",$pkg,"* ]] || echo "$pkg"; done)"
    if [[ -z "$users" ]]; then
      mods="$(echo ",$mods," | sed "s/,${module//./\\.},/,/; s/^,//; s/,\$//")"
    else
      say "keeping $module, used by: $(echo $users)"
    fi
  done
  # jdk.unsupported: Unsafe (netty, protobuf); jdk.zipfs: npz files.
  [[ ",$mods," == *,jdk.unsupported,* ]] || mods="$mods,jdk.unsupported"
  [[ ",$mods," == *,jdk.zipfs,* ]] || mods="$mods,jdk.zipfs"
  say "jlink modules: $mods"
  if ! "$jdk/bin/jlink" --module-path "$jdk/jmods" --add-modules "$mods" --strip-debug --no-man-pages \
      --no-header-files --compress=0 --output "$dir/java" >"$log" 2>&1; then
    cat "$log"
    say "FAIL jlink failed"
    return 1
  fi
  # The native libraries' symbol tables (4 MiB in libjvm.so): only native debuggers read them; the
  # dynamic symbols stay.
  find "$dir/java" -name '*.so' -exec strip --strip-unneeded {} + 2>/dev/null || true
  "$dir/java/bin/java" -version >/dev/null 2>&1 || { say "FAIL the jlink image does not run"; return 1; }

  # The tolerance check against libtorch's trajectories (compiled against cli's npy/npz reader).
  if ! javac -d "$dir/tools" -cp "$dir/lib/*" "$ROOT/scripts/gpu-check/TrajectoryCheck.java" >"$log" 2>&1; then
    cat "$log"
    say "FAIL compiling TrajectoryCheck"
    return 1
  fi

  # The prebuilt kernels: the last resort on a machine with neither NVRTC nor nvcc.
  local nvcc
  nvcc="$(command -v nvcc || true)"
  [[ -z "$nvcc" && -x /usr/local/cuda/bin/nvcc ]] && nvcc=/usr/local/cuda/bin/nvcc
  if [[ -n "$nvcc" ]]; then
    "$dir/java/bin/java" -cp "$dir/lib/*" dev.shardopt.device.cuda.KernelSourceDump "$dir/kernels/shardopt_kernels.cu" \
      || { say "FAIL dumping the CUDA kernel source"; return 1; }
    if timeout 300 "$nvcc" -fatbin -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
        -gencode arch=compute_90,code=compute_90 --fmad=false --prec-div=true --prec-sqrt=true --ftz=false \
        -o "$dir/kernels/shardopt_kernels.fatbin" "$dir/kernels/shardopt_kernels.cu" >"$log" 2>&1; then
      (cd "$dir/kernels" && sha256sum shardopt_kernels.cu | awk '{print $1}' >shardopt_kernels.fatbin.sha256)
      say "prebuilt kernels: $("$nvcc" --version | tail -1) -> kernels/shardopt_kernels.fatbin (sm_80, sm_90, PTX 9.0)"
    else
      cat "$log"
      say "FAIL nvcc could not compile the kernel source"
      return 1
    fi
  else
    say "no nvcc here: no prebuilt kernels (the GPU machine must have NVRTC or nvcc)"
  fi

  # Jars stored rather than deflated: xz then compresses the class files of all jars together.
  local j x="$out/.unpack"
  for j in "$dir"/lib/*.jar; do
    rm -rf "$x" && mkdir -p "$x" && (cd "$x" && unzip -q "$j") && rm -f "$j" \
      && (cd "$x" && zip -q -0 -r -X "$j" .) || { say "FAIL repacking $j"; return 1; }
  done
  rm -rf "$x"

  {
    echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git -C "$ROOT" rev-parse HEAD 2>/dev/null) $(git -C "$ROOT" status --porcelain 2>/dev/null | grep -q . && echo '(with uncommitted changes)')"
    echo "modules: $modules"
    echo "jlink: $mods"
    echo "unpacked: $(du -sb "$dir" | cut -f1) bytes"
  } >"$dir/BUILD-INFO"
  rm -f "$out/runtime.tar.gz" "$out/runtime.tar.xz" "$out/gpu-check.sh" "$out/BUILD-INFO"
  # xz where the builder has it (the GPU machine's tar unpacks it: checked on the first run), else gzip.
  if command -v xz >/dev/null 2>&1; then
    tar -C "$dir" -cf - . | xz -9 -T0 >"$out/runtime.tar.xz" || { say "FAIL writing runtime.tar.xz"; return 1; }
  else
    tar -C "$dir" -cf - . | gzip -9 >"$out/runtime.tar.gz" || { say "FAIL writing runtime.tar.gz"; return 1; }
  fi
  cp "$dir/BUILD-INFO" "$out/BUILD-INFO"
  # The script travels with the image, so that a checkout without it can still run the check:
  # DIR/gpu-check.sh finds the repository root as its parent's parent, like scripts/gpu-check.sh.
  cp "$ROOT/scripts/gpu-check.sh" "$out/gpu-check.sh"
  rm -rf "$dir" "$log" "$out/.jdeps.log"

  local bytes
  bytes="$(du -sb "$out" | cut -f1)"
  du -sb "$out"/*
  if ((bytes > MAX_BYTES)); then
    say "FAIL $out is $bytes bytes, over the budget of $MAX_BYTES (50 MiB)"
    return 1
  fi
  say "built $out: $bytes bytes = $((bytes / 1048576)) MiB (budget 50 MiB)"
}

# ---------------------------------------------------------------------------------------------
# Finding the CUDA libraries on the GPU machine
# ---------------------------------------------------------------------------------------------
CUDA_FOUND_DIRS=()

add_dir() {
  local d="$1" x
  for x in "${CUDA_FOUND_DIRS[@]}"; do [[ "$x" == "$d" ]] && return; done
  CUDA_FOUND_DIRS+=("$d")
}

# The first directory among the candidates that holds $1 (a file name or glob).
search_lib() {
  local name="$1" d f
  shift
  for d in "$@"; do
    for f in "$d"/$name; do
      if [[ -e "$f" ]]; then
        echo "$f"
        return 0
      fi
    done
  done
  return 1
}

find_cuda_libs() {
  local candidates=() d py
  if [[ -n "${CUDA_LIB_DIRS:-}" ]]; then
    IFS=: read -r -a candidates <<<"$CUDA_LIB_DIRS"
  fi
  for d in "${CUDA_HOME:-}" "${CUDA_PATH:-}" /usr/local/cuda /usr/local/cuda-13* /opt/cuda; do
    [[ -n "$d" && -d "$d" ]] || continue
    candidates+=("$d/lib64" "$d/lib" "$d/targets/x86_64-linux/lib")
  done
  candidates+=(/usr/lib/x86_64-linux-gnu /usr/lib64 /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/wsl/lib)
  # pip's CUDA wheels: site-packages/nvidia/<component>/lib
  for py in /usr/local/lib/python3*/dist-packages /usr/local/lib/python3*/site-packages /usr/lib/python3/dist-packages \
      /usr/lib/python3*/site-packages /opt/conda/lib/python3*/site-packages /root/.local/lib/python3*/site-packages; do
    for d in "$py"/nvidia/*/lib; do
      [[ -d "$d" ]] && candidates+=("$d")
    done
  done

  local lib path
  for lib in 'libcudart.so.13' 'libnvrtc.so.13' 'libnvrtc-builtins.so.13*' 'libcuda.so.1'; do
    if path="$(search_lib "$lib" "${candidates[@]}")"; then
      say "found $path"
      add_dir "$(dirname "$path")"
      continue
    fi
    if [[ "$lib" == libcuda.so.1 ]] && path="$(ldconfig -p 2>/dev/null | awk '/libcuda\.so\.1 /{print $NF; exit}')" && [[ -n "$path" ]]; then
      say "found $path (ldconfig)"
      continue
    fi
    # Last resort: a bounded search of the whole file system.
    path="$(timeout 60 find / -xdev \( -path /proc -o -path /sys -o -path /dev \) -prune -o -name "$lib" -print 2>/dev/null | head -1)"
    if [[ -n "$path" ]]; then
      say "found $path (find /)"
      add_dir "$(dirname "$path")"
    else
      say "NOT FOUND: $lib"
    fi
  done
  if ((${#CUDA_FOUND_DIRS[@]} > 0)); then
    local joined
    joined="$(IFS=:; echo "${CUDA_FOUND_DIRS[*]}")"
    export LD_LIBRARY_PATH="$joined${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
  say "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
  local nvcc
  nvcc="$(command -v nvcc || true)"
  [[ -z "$nvcc" && -x /usr/local/cuda/bin/nvcc ]] && nvcc=/usr/local/cuda/bin/nvcc
  say "nvcc: ${nvcc:-none}; gcc: $(command -v gcc || echo none)"
}

# ---------------------------------------------------------------------------------------------
# Running Java from the image
# ---------------------------------------------------------------------------------------------
JAVA=""
JAVA_OPTS=()

# Unpacks DIR/runtime.tar.gz into a fresh work directory; RT is the runtime's root there.
RT=""
setup_java() {
  local carried="$1"
  WORK="$(mktemp -d /tmp/gpu-check.XXXXXX)"
  RT="$WORK/rt"
  local archive="$carried/runtime.tar.xz" flag=-J
  [[ -f "$archive" ]] || { archive="$carried/runtime.tar.gz"; flag=-z; }
  mkdir -p "$RT" && tar "$flag" -xf "$archive" -C "$RT" || { say "FAIL unpacking $archive"; return 1; }
  # The unpacked runtime (110 MiB) goes when the script ends; the logs in WORK stay for a look.
  trap 'rm -rf "$RT"' EXIT
  JAVA="$RT/java/bin/java"
  say "system java: $(command -v java || echo none)"
  if ! "$JAVA" -version >/dev/null 2>&1; then
    say "FAIL the carried Java image does not run: $JAVA"
    "$JAVA" -version
    return 1
  fi
  say "carried java: $("$JAVA" -version 2>&1 | head -1) ($JAVA)"
  [[ -f "$RT/BUILD-INFO" ]] && sed 's/^/gpu-check: image /' "$RT/BUILD-INFO"
  JAVA_OPTS=("-Dorg.bytedeco.javacpp.cachedir=$WORK/javacpp" "-XX:+UseParallelGC")
  if [[ -f "$RT/kernels/shardopt_kernels.fatbin" ]]; then
    JAVA_OPTS+=("-Dshardopt.cuda.kernelImage=$RT/kernels/shardopt_kernels.fatbin")
  fi
}

# Prints the dynamic-linker view of the extracted JNI libraries (why a load failed).
explain_jni() {
  local f
  say "javacpp cache: $WORK/javacpp"
  while IFS= read -r f; do
    say "ldd $f"
    ldd "$f" 2>&1 | sed 's/^/    /'
  done < <(find "$WORK/javacpp" -name 'libjni*.so' 2>/dev/null | grep -e cudart -e nvrtc -e OpenCL -e opencl)
}

PASSED=0
FAILED=0
DEADLINE=$((SECONDS + ${GPU_CHECK_TIMEOUT:-420}))

# min(N, the seconds left before the deadline), at least 1: every step's timeout.
budget() {
  local left=$((DEADLINE - SECONDS))
  ((left < 1)) && left=1
  ((left < $1)) && echo "$left" || echo "$1"
}

out_of_time() {
  if ((SECONDS >= DEADLINE)); then
    fail "out of time (GPU_CHECK_TIMEOUT=${GPU_CHECK_TIMEOUT:-420} s): skipped $*"
    return 0
  fi
  return 1
}
pass() { PASSED=$((PASSED + 1)); say "PASS $*"; }
fail() { FAILED=$((FAILED + 1)); say "FAIL $*"; }

# The device probe: open, compile, bitwise checks against the CPU backend.
probe() {
  local dir="$1" device="$2" rc
  say "probe --device $device"
  timeout "$(budget 180)" "$JAVA" "${JAVA_OPTS[@]}" -cp "$dir/lib/*" dev.shardopt.device.cuda.DeviceProbe --device "$device" \
    | tee "$WORK/probe.log"
  rc=${PIPESTATUS[0]}
  if ((rc == 0)); then
    pass "probe ($device): $(grep -c '^probe: PASS' "$WORK/probe.log") bitwise checks against the cpu backend"
  else
    fail "probe ($device) exited $rc"
    if ((rc == 2)); then
      explain_jni
      say "the probe again, with javacpp's loader log:"
      timeout "$(budget 60)" "$JAVA" "${JAVA_OPTS[@]}" -Dorg.bytedeco.javacpp.logger.debug=true -cp "$dir/lib/*" \
        dev.shardopt.device.cuda.DeviceProbe --device "$device" --n 1000 --big 1000 2>&1 | head -60
    fi
  fi
  if [[ "$device" == cuda && $rc -ne 2 ]]; then
    # Each way of building the kernels on its own: they must all give the same bits.
    local c
    for c in nvrtc nvcc prebuilt; do
      out_of_time "the probe with kernels by $c" && break
      timeout "$(budget 90)" "$JAVA" "${JAVA_OPTS[@]}" -Dshardopt.cuda.compiler=$c -cp "$dir/lib/*" \
        dev.shardopt.device.cuda.DeviceProbe --device cuda --big 70000 >"$WORK/probe-$c.log" 2>&1
      rc=$?
      case $rc in
        0) pass "probe with kernels by $c: $(grep -c '^probe: PASS' "$WORK/probe-$c.log") checks; $(grep -o 'kernels: .*' "$WORK/probe-$c.log" | head -1)" ;;
        2) say "kernels by $c: not available here: $(grep -m1 'did not open' "$WORK/probe-$c.log")" ;;
        *) fail "probe with kernels by $c exited $rc"; grep -e FAIL -e Exception "$WORK/probe-$c.log" | head -20 ;;
      esac
    done
  fi
}

# ---------------------------------------------------------------------------------------------
# --run: the reference cases
# ---------------------------------------------------------------------------------------------
case_file() {
  local d="$1" stem="$2"
  if [[ -f "$d/$stem.npy" ]]; then echo "$d/$stem.npy"; else echo "$d/$stem.npz"; fi
}

replay_case() {
  local dir="$1" device="$2" case_dir="$3" out="$4"
  local trainers ext
  trainers="$(sed -n 's/^trainers=//p' "$case_dir/case.properties")"
  ext="${out##*.}"
  timeout "$(budget 60)" "$JAVA" "${JAVA_OPTS[@]}" -cp "$dir/lib/*" dev.shardopt.cli.ShardoptCli replay \
    --pipeline "$(tr -d '\n' <"$case_dir/pipeline.txt")" \
    --params "$(case_file "$case_dir" init)" --grads "$(case_file "$case_dir" grads)" \
    --trainers "${trainers:-1}" --device "$device" --out "$out"
}

# One case: replay with the device and with cpu, compare bytes, then the tolerance against libtorch.
# Prints one line: "ok NAME: ..." or "FAIL NAME: ...".
check_case() {
  local dir="$1" device="$2" c="$3"
  local name ext out_dev out_cpu tol
  name="$(basename "$c")"
  ext=npy
  [[ -f "$c/expected.npz" ]] && ext=npz
  out_dev="$WORK/replay/$name.$device.$ext"
  out_cpu="$WORK/replay/$name.cpu.$ext"
  if ! replay_case "$dir" "$device" "$c" "$out_dev" >"$WORK/replay/$name.$device.log" 2>&1; then
    echo "FAIL $name: replay --device $device failed: $(tail -3 "$WORK/replay/$name.$device.log" | tr '\n' ' ')"
    return
  fi
  if ! replay_case "$dir" cpu "$c" "$out_cpu" >"$WORK/replay/$name.cpu.log" 2>&1; then
    echo "FAIL $name: replay --device cpu failed: $(tail -3 "$WORK/replay/$name.cpu.log" | tr '\n' ' ')"
    return
  fi
  if ! cmp -s "$out_dev" "$out_cpu"; then
    echo "FAIL $name: --device $device output differs from --device cpu: $(cmp "$out_dev" "$out_cpu" 2>&1 | head -1)"
    return
  fi
  if ! tol="$(timeout "$(budget 60)" "$JAVA" -cp "$dir/tools:$dir/lib/*" TrajectoryCheck "$out_dev" \
      "$(case_file "$c" expected)" 2>&1)"; then
    echo "FAIL $name: byte-identical to cpu but outside the reference tolerance: $tol"
    return
  fi
  echo "ok $name: byte-identical to cpu; $tol"
}

# Every reference case, GPU_CHECK_JOBS (default 4) at a time; the results in case order.
reference_cases() {
  local dir="$1" device="$2"
  local c name n=0 ok=0 jobs="${GPU_CHECK_JOBS:-4}" line
  local -a names=()
  say "replaying the reference cases in $REFERENCE with --device $device and --device cpu, $jobs at a time"
  mkdir -p "$WORK/replay"
  for c in "$REFERENCE"/*/; do
    c="${c%/}"
    [[ -f "$c/pipeline.txt" ]] || continue
    name="$(basename "$c")"
    out_of_time "reference case $name and the rest" && break
    names+=("$name")
    while (($(jobs -rp | wc -l) >= jobs)); do
      wait -n
    done
    check_case "$dir" "$device" "$c" >"$WORK/replay/$name.result" 2>&1 &
  done
  wait
  for name in "${names[@]}"; do
    n=$((n + 1))
    line="$(cat "$WORK/replay/$name.result" 2>/dev/null)"
    [[ -n "$line" ]] || line="FAIL $name: no result (timed out?)"
    if [[ "$line" == ok* ]]; then
      ok=$((ok + 1))
      say "$line"
    else
      fail "${line#FAIL }"
    fi
  done
  if ((n == 0)); then
    fail "no reference cases found under $REFERENCE"
  elif ((ok == n)); then
    pass "all $n reference cases: --device $device byte-identical to --device cpu and within tolerance of libtorch"
  else
    say "$((n - ok)) of $n reference cases failed"
  fi
}

benchmark() {
  local dir="$1" device="$2" rc
  say "benchmark --device $device"
  out_of_time "the benchmark" && return
  timeout "$(budget 240)" "$JAVA" "${JAVA_OPTS[@]}" -Xmx8g -cp "$dir/lib/*" dev.shardopt.device.cuda.DeviceBenchmark \
    --device "$device" ${BENCH_ARGS:-} | tee "$WORK/bench.log"
  rc=${PIPESTATUS[0]}
  if ((rc == 0)); then
    pass "benchmark ($device)"
  else
    fail "benchmark ($device) exited $rc"
  fi
}

run() {
  local dir="$1" device="$2"
  local started=$SECONDS
  if command -v nvidia-smi >/dev/null 2>&1; then
    timeout 30 nvidia-smi 2>&1
    timeout 30 nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,clocks.max.memory --format=csv 2>&1
  else
    say "no nvidia-smi on this machine"
  fi
  say "cores: $(nproc), memory: $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  probe "$dir" "$device"
  reference_cases "$dir" "$device"
  benchmark "$dir" "$device"
  say "finished in $((SECONDS - started)) s"
}

# ---------------------------------------------------------------------------------------------
main() {
  local mode="${1:-}" dir="${2:-}" device=cuda
  [[ -n "$mode" && -n "$dir" ]] || usage
  shift 2
  while (($# > 0)); do
    case "$1" in
      --device) device="$2"; shift 2 ;;
      *) usage ;;
    esac
  done
  case "$mode" in
    --build)
      build "$dir"
      exit $?
      ;;
    --probe | --run)
      [[ -f "$dir/runtime.tar.xz" || -f "$dir/runtime.tar.gz" ]] \
        || { say "FAIL $dir has no runtime.tar.xz or .gz (run --build first)"; exit 1; }
      dir="$(cd "$dir" && pwd)"
      setup_java "$dir" || { echo "0 passed, 1 failed"; exit 1; }
      dir="$RT"
      if [[ "$device" == cuda ]]; then
        find_cuda_libs
      fi
      if [[ "$mode" == --probe ]]; then
        probe "$dir" "$device"
      else
        export -f say
        run "$dir" "$device"
      fi
      say "work files: $WORK"
      echo "$PASSED passed, $FAILED failed"
      ((FAILED == 0))
      exit $?
      ;;
    *) usage ;;
  esac
}

main "$@"
