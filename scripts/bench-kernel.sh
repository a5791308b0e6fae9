#!/usr/bin/env bash
# Kernel benchmark: per conv/dense layer of the example network (conf/fashion-mnist.conf) at
# batch 64, the layer's forward+backward GFLOP/s next to the raw sgemm GFLOP/s of exactly the
# same GEMM shapes measured in the same run, plus images/s of a full training step (1 thread,
# 2 data-parallel threads, and 1 thread with OPENBLAS_NUM_THREADS=2), and bytes allocated per
# op (JMH -prof gc). Rewrites the "## Kernel" section of docs/BENCHMARKS.md between
# <!-- kernel:begin --> and <!-- kernel:end -->; other sections of that file are kept.
#
# Usage: scripts/bench-kernel.sh            (~4-5 minutes on 2 cores; run it on an idle machine)
#   BENCH_PARTS=1     also time forward and backward separately (about 2.5 more minutes)
#   BENCH_REBUILD=1   rebuild the bench module even if benchmarks.jar looks fresh
#   BENCH_DOC=path    write somewhere other than docs/BENCHMARKS.md
#   BENCH_QUICK=1     1 fork, 1 warm-up + 2 iterations: checks the script, not the kernel
#   BENCH_WAIT_IDLE=s wait up to s seconds (default 300; 0: don't) for a 10-second window in
#                     which other processes use < 10% of a core before starting. Either way the
#                     report states how much CPU other processes used during the run.
#   CONVSPARK_BLAS    bundled (default: the OpenBLAS 0.3.31 in the jar), system or java; see
#                     convspark.common.blas.Blas. The report names the library, version and kernel.
#   CONVSPARK_OPENBLAS_CORETYPE auto or a kernel name: as for every convspark JVM
#                     (scripts/openblas-coretype.sh), before what follows.
#   OPENBLAS_CORETYPE if set, passed through to OpenBLAS unchanged (the report says so). With
#                     CONVSPARK_BLAS=system and unset, as in scripts/java-flags.sh: Debian's
#                     OpenBLAS 0.3.21 falls back to a pre-AVX kernel (Prescott, ...) on recent
#                     Xeons, so the script sets SkylakeX/Haswell and says so in the report;
#                     BENCH_CORETYPE_FIX=0 disables that.
set -euo pipefail
case $0 in */*) . "${0%/*}/bench-lib.sh" ;; *) . ./bench-lib.sh ;; esac # builtins only
takes_no_arguments 'BENCH_QUICK=1' "$@"
cd "$(dirname "$0")/.."
JAR=bench/target/benchmarks.jar
OUT=bench/target/kernel-bench
DOC=${BENCH_DOC:-docs/BENCHMARKS.md}
JVM_ARGS="--add-modules=jdk.incubator.vector -Xms1g -Xmx1g"
# 2 forks x (3 warm-up + 5 measured) 1-second iterations per layer benchmark, 2-second
# iterations for the network step: medians over 10 iterations from 2 JVMs.
JMH_OPTS=(-prof gc -foe true)
ITER_NOTE="2 forks x (3 warm-up + 5 measured) iterations of 1 s (layers) or 2 s (network)"
if [ "${BENCH_QUICK:-0}" = 1 ]; then   # smoke test of the script itself: numbers not stable
  JMH_OPTS+=(-f 1 -wi 1 -i 2)
  ITER_NOTE="QUICK SMOKE RUN, 1 fork x (1 warm-up + 2 measured) iterations: not stable figures"
fi

log() { echo "bench-kernel: $*" >&2; }

command -v python3 >/dev/null || { log "python3 is required (stdlib only)"; exit 1; }
command -v java >/dev/null || { log "java (17+) is required"; exit 1; }

# --- native OpenBLAS (only for CONVSPARK_BLAS=system: the default ships in the jar) ----------
export CONVSPARK_BLAS=${CONVSPARK_BLAS:-bundled}
OPENBLAS_LIB=/usr/lib/x86_64-linux-gnu/libopenblas.so.0
if [ "$CONVSPARK_BLAS" = system ] && [ ! -e "$OPENBLAS_LIB" ] && [ "$(uname -m)" = x86_64 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing libopenblas0-pthread (native BLAS)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenblas0-pthread
  else
    log "WARNING: $OPENBLAS_LIB missing and not root: the benchmark measures whatever BLAS loads"
  fi
fi

# --- build -----------------------------------------------------------------------------------
if [ "${BENCH_REBUILD:-0}" = 1 ] || [ ! -f "$JAR" ] \
    || [ -n "$(find pom.xml common/pom.xml worker/pom.xml bench/pom.xml common/src/main \
                 worker/src/main bench/src/main -newer "$JAR" -print -quit 2>/dev/null)" ]; then
  log "building the bench module (mvn -pl bench -am install -DskipTests)"
  mvn -q -B -Dstyle.color=never -o -pl bench -am install -DskipTests >&2 \
    || mvn -q -B -Dstyle.color=never -pl bench -am install -DskipTests >&2
fi

# --- OpenBLAS kernel selection ---------------------------------------------------------------
# CONVSPARK_OPENBLAS_CORETYPE (auto, or a kernel name) first, as for every convspark JVM
. scripts/openblas-coretype.sh
# What the kernel benchmark's own JVM reports (convspark.common.blas.Blas: the kernel OpenBLAS
# chose, read from its gotoblas table) is the authority; the script only fixes Debian 0.3.21's
# mis-detection when that library is chosen.
blas_kernel() {
  java --add-modules=jdk.incubator.vector -cp "$JAR" convspark.bench.KernelInfo 2>/dev/null \
    | python3 -c 'import json,sys; print(json.load(sys.stdin).get("blasKernel") or "unknown")'
}
CORE_NOTE=""
if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
  CORE_NOTE="OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE set by the caller (auto-detection alone picks $(unset OPENBLAS_CORETYPE; blas_kernel))"
else
  AUTO_CORE=$(blas_kernel)
  CORE_NOTE="kernel auto-detected by OpenBLAS"
  if [ "$CONVSPARK_BLAS" = system ] && [ "${BENCH_CORETYPE_FIX:-1}" = 1 ]; then
    case "$AUTO_CORE" in
      Prescott|Core2|Penryn|Dunnington|Nehalem|Atom|Katmai|Coppermine|Northwood|Banias|unknown)
        if grep -qw avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX
        elif grep -qw avx2 /proc/cpuinfo; then export OPENBLAS_CORETYPE=Haswell
        fi
        if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
          CORE_NOTE="OpenBLAS auto-detected $AUTO_CORE (a pre-AVX kernel: it does not know this CPU), so this run sets OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE; BENCH_CORETYPE_FIX=0 measures the auto-detected kernel"
          log "$CORE_NOTE"
        fi
        ;;
    esac
  fi
fi
CORE=$(blas_kernel)

mkdir -p "$OUT"
rm -f "$OUT"/jmh-*.json

# --- run -------------------------------------------------------------------------------------
export OPENBLAS_NUM_THREADS=1
log "kernel info"
java $JVM_ARGS -cp "$JAR" convspark.bench.KernelInfo 2>/dev/null > "$OUT/info.json"

LAYER_RE='LayerBench\.(kernel|sgemm)$'
[ "${BENCH_PARTS:-0}" = 1 ] && LAYER_RE='LayerBench\.(kernel|sgemm)(Fwd|Bwd)?$'
CMD1=(java -jar "$JAR" "$LAYER_RE" 'NetworkBench\.step' "${JMH_OPTS[@]}"
      -jvmArgsAppend "$JVM_ARGS" -rf json -rff "$OUT/jmh-1.json")
CMD2=(java -jar "$JAR" 'NetworkBench\.step1Thread' -t 1 "${JMH_OPTS[@]}"
      -jvmArgsAppend "$JVM_ARGS" -rf json -rff "$OUT/jmh-2.json")
# Other processes' CPU use during the run, for the report: busy jiffies of the whole machine
# minus the CPU time of this script's children.
# (`times` runs in this shell: in a $( ) subshell it would not see this shell's children.)
wait_idle "${BENCH_WAIT_IDLE:-300}"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$OUT"
times > "$OUT/times0"; BUSY0=$(busy_jiffies)
START=$(date +%s)
log "run 1/2, OPENBLAS_NUM_THREADS=1: ${CMD1[*]}"
"${CMD1[@]}" > "$OUT/jmh-1.log" 2>&1 || { tail -40 "$OUT/jmh-1.log" >&2; exit 1; }
log "run 2/2, OPENBLAS_NUM_THREADS=2: ${CMD2[*]}"
OPENBLAS_NUM_THREADS=2 "${CMD2[@]}" > "$OUT/jmh-2.log" 2>&1 || { tail -40 "$OUT/jmh-2.log" >&2; exit 1; }
ELAPSED=$(( $(date +%s) - START ))
log "step profile (per-layer times of one training step)"
java $JVM_ARGS -cp "$JAR" convspark.bench.StepProfile 60 --markdown 2>/dev/null > "$OUT/step-profile.md"
BUSY1=$(busy_jiffies); times > "$OUT/times1"
OTHERS_CPU=$(others_cpu "$BUSY0" "$BUSY1" "$OUT/times0" "$OUT/times1")
if [ "$OTHERS_CPU" -gt $(( ELAPSED / 20 + 5 )) ]; then
  log "WARNING: other processes used ${OTHERS_CPU} CPU-seconds during the ${ELAPSED}s run: figures are disturbed"
fi

# --- report ----------------------------------------------------------------------------------
ENV_PREFIX=""
[ "$CONVSPARK_BLAS" != bundled ] && ENV_PREFIX="CONVSPARK_BLAS=$CONVSPARK_BLAS "
# the java commands as run: CONVSPARK_OPENBLAS_CORETYPE=auto unset OPENBLAS_CORETYPE above
[ -n "${CONVSPARK_OPENBLAS_CORETYPE:-}" ] && [ -z "${OPENBLAS_CORETYPE:-}" ] \
  && ENV_PREFIX+="env -u OPENBLAS_CORETYPE "
[ -n "${OPENBLAS_CORETYPE:-}" ] && ENV_PREFIX+="OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE "
export BK_SCRIPT_ENV="${CONVSPARK_OPENBLAS_CORETYPE:+CONVSPARK_OPENBLAS_CORETYPE=$CONVSPARK_OPENBLAS_CORETYPE }"
export BK_CMD1="${ENV_PREFIX}OPENBLAS_NUM_THREADS=1 $(q "${CMD1[@]}")"
export BK_CMD2="${ENV_PREFIX}OPENBLAS_NUM_THREADS=2 $(q "${CMD2[@]}")"
export BK_CPU=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
export BK_CPU_ID="family $(grep -m1 '^cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' ') model $(grep -m1 '^model[[:space:]]*:' /proc/cpuinfo | cut -d: -f2 | tr -d ' '), $(nproc) cores, $(if grep -qw avx512f /proc/cpuinfo; then echo AVX-512; elif grep -qw avx2 /proc/cpuinfo; then echo AVX2; else echo 'no AVX2'; fi)"
export BK_OTHERS="$OTHERS_CPU" BK_LOAD="$LOAD_BEFORE" BK_ITER="$ITER_NOTE" BK_CORE="$CORE" BK_CORE_NOTE="$CORE_NOTE" BK_ELAPSED="$ELAPSED" BK_OUT="$OUT" BK_DOC="$DOC"
export BK_JAVA=$(java -version 2>&1 | head -1)

python3 - <<'PY'
import json, os, re, statistics, datetime

out = os.environ["BK_OUT"]
info = json.load(open(os.path.join(out, "info.json")))
runs = []
for name in ("jmh-1.json", "jmh-2.json"):
    runs.append(json.load(open(os.path.join(out, name))))

def short(b):
    return b["benchmark"].rsplit(".", 2)[-2] + "." + b["benchmark"].rsplit(".", 1)[-1]

def median_ms(b):
    """Median over all measured iterations of all forks, in milliseconds per op."""
    pm = b["primaryMetric"]
    vals = [v for fork in pm["rawData"] for v in fork]
    unit = pm["scoreUnit"]
    scale = {"us/op": 1e-3, "ms/op": 1.0, "ns/op": 1e-6, "s/op": 1e3}[unit]
    return statistics.median(vals) * scale, min(vals) * scale, max(vals) * scale

def alloc(b):
    for k, v in b.get("secondaryMetrics", {}).items():
        if k.endswith("gc.alloc.rate.norm"):
            return v["score"]
    return float("nan")

layer = {}   # (name, method) -> bench
net = {}
for i, run in enumerate(runs):
    for b in run:
        s = short(b)
        if s.startswith("LayerBench."):
            layer[(b["params"]["layer"], s.split(".")[1])] = b
        elif s.startswith("NetworkBench."):
            net[(i, s.split(".")[1])] = b

def fmt_bytes(x):
    if x != x:
        return "n/a"
    return f"{x:,.0f}" if x >= 10 else f"{x:.1f}"

L = []
L.append("<!-- kernel:begin -->")
L.append("<!-- Generated by scripts/bench-kernel.sh: edits between these markers are overwritten. -->")
L.append("")
L.append(f"- Date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}")
L.append(f"- CPU: {os.environ['BK_CPU']} ({os.environ['BK_CPU_ID']})")
L.append(f"- BLAS: {info['blas']}; OpenBLAS core `{os.environ['BK_CORE']}` ({os.environ['BK_CORE_NOTE']})")
L.append(f"- Java: {os.environ['BK_JAVA']} ({info['java']}); JVM args `--add-modules=jdk.incubator.vector -Xms1g -Xmx1g`")
L.append(f"- Model: `model` block of {info['model']}, {info['params']:,} parameters, batch {info['batch']}")
L.append(f"- Command: `{os.environ['BK_SCRIPT_ENV']}scripts/bench-kernel.sh` ({int(os.environ['BK_ELAPSED'])//60} min {int(os.environ['BK_ELAPSED'])%60} s of JMH), which runs")
L.append("")
L.append("  ```")
L.append(f"  {os.environ['BK_CMD1']}")
L.append(f"  {os.environ['BK_CMD2']}")
L.append("  ```")
L.append("")
L.append(f"  JMH 1.37, average time mode, {os.environ['BK_ITER']}. "
         "Figures are medians over all measured iterations of all forks; ranges in parentheses are min-max of those iterations.")
others = int(os.environ["BK_OTHERS"])
elapsed = max(1, int(os.environ["BK_ELAPSED"]))
L.append(f"- Machine load: load average {os.environ['BK_LOAD']} before the run; other processes used {others} CPU-seconds "
         f"during its {elapsed} s ({others / elapsed * 100:.0f}% of one core)"
         + (" -- **figures disturbed by concurrent work, rerun on an idle machine**" if others > elapsed / 20 + 5 else ""))
L.append("")
L.append("### Conv and dense layers, forward+backward, batch 64, 1 thread")
L.append("")
L.append("FLOPs = 2 x multiply-adds of the GEMMs only (im2col/col2im, layout copies and bias sums are overhead, not counted). "
         "Conv forward MACs = OC x CKK x P x N; backward = weight-gradient + input-gradient GEMMs = 2 x forward, except for the "
         "first layer (conv1), which computes no input gradient, so its backward = 1 x forward. Dense: forward N x out x in, backward 2 x forward. "
         "`raw sgemm` runs the layer's GEMMs batched over the whole mini-batch (the shapes, transposes, leading dimensions and betas "
         "listed) through the same `Blas.gemm` in the same JVM run; ratio = kernel rate / raw rate (target >= 0.70, issue 7). "
         "A conv layer with shallow columns (C x k x k < 64, here conv1) issues the same work as one GEMM per image that reads and "
         "writes NCHW directly (`Conv2d.perImage`), which avoids the layout copies and can beat the batched reference.")
L.append("")
L.append("| layer | shape | GEMMs (M x N x K, row-major ops) | GFLOP per call | kernel fwd+bwd ms | kernel GFLOP/s | raw sgemm ms | raw sgemm GFLOP/s | ratio | >= 0.70 | kernel B/op |")
L.append("|---|---|---|---:|---:|---:|---:|---:|---:|:-:|---:|")
misses = []
for l in info["layers"]:
    k = layer.get((l["name"], "kernel"))
    s = layer.get((l["name"], "sgemm"))
    if not k or not s:
        continue
    km, kmin, kmax = median_ms(k)
    sm, smin, smax = median_ms(s)
    gf = l["flops"] / 1e9
    kr = gf / (km / 1e3)
    sr = gf / (sm / 1e3)
    ratio = kr / sr
    ok = ratio >= 0.7
    if not ok:
        misses.append(f"{l['name']} ({ratio:.2f})")
    L.append(f"| {l['name']} | {l['shape']}{' (first layer: no input grad)' if l['first'] else ''} | "
             f"{'<br>'.join(l['gemms'])} | {gf:.3f} | {km:.3f} ({kmin:.3f}-{kmax:.3f}) | {kr:.1f} | "
             f"{sm:.3f} ({smin:.3f}-{smax:.3f}) | {sr:.1f} | **{ratio:.2f}** | {'yes' if ok else '**no**'} | {fmt_bytes(alloc(k))} |")
L.append("")
if misses:
    L.append(f"Target missed (ratio < 0.70): {', '.join(misses)}.")
else:
    L.append("All layers meet the 0.70 target.")
L.append("")

parts = [(l, m) for l in info["layers"] for m in ("kernelFwd", "kernelBwd", "sgemmFwd", "sgemmBwd") if (l["name"], m) in layer]
if parts:
    L.append("Forward and backward separately (BENCH_PARTS=1): ms per call, median; overhead = kernel - raw sgemm.")
    L.append("")
    L.append("| layer | fwd kernel | fwd sgemm | fwd overhead | bwd kernel | bwd sgemm | bwd overhead |")
    L.append("|---|---:|---:|---:|---:|---:|---:|")
    for l in info["layers"]:
        try:
            kf, sf = median_ms(layer[(l["name"], "kernelFwd")])[0], median_ms(layer[(l["name"], "sgemmFwd")])[0]
            kb, sb = median_ms(layer[(l["name"], "kernelBwd")])[0], median_ms(layer[(l["name"], "sgemmBwd")])[0]
        except KeyError:
            continue
        L.append(f"| {l['name']} | {kf:.3f} | {sf:.3f} | {kf-sf:+.3f} ({(kf-sf)/kf*100:.0f}%) | {kb:.3f} | {sb:.3f} | {kb-sb:+.3f} ({(kb-sb)/kb*100:.0f}%) |")
    L.append("")

L.append("### Full training step (`Workspace.trainStep`: forward, loss, backward), batch 64")
L.append("")
L.append("| variant | JMH threads | OPENBLAS_NUM_THREADS | ms per step (per thread) | images/s | bytes allocated per step |")
L.append("|---|---:|---:|---:|---:|---:|")
rows = [((0, "step1Thread"), "1 thread", 1, 1),
        ((0, "step2Threads"), "2 data-parallel threads (own workspaces, like 2 Spark tasks)", 2, 1),
        ((1, "step1Thread"), "1 thread, OpenBLAS threading", 1, 2)]
gemm_flops = sum(l["flops"] for l in info["layers"])
for key, label, threads, blas_threads in rows:
    b = net.get(key)
    if not b:
        continue
    m, mn, mx = median_ms(b)
    ips = threads * info["batch"] / (m / 1e3)
    L.append(f"| {label} | {threads} | {blas_threads} | {m:.2f} ({mn:.2f}-{mx:.2f}) | **{ips:,.0f}** | {fmt_bytes(alloc(b))} |")
L.append("")
b1 = net.get((0, "step1Thread"))
if b1:
    m = median_ms(b1)[0]
    L.append(f"GEMM work per step is {gemm_flops/1e9:.2f} GFLOP, so the 1-thread step runs at {gemm_flops/1e9/(m/1e3):.1f} GFLOP/s "
             "overall (batch norm, pooling, activations, dropout and loss included in the time, not in the FLOPs).")
    L.append("")
prof = os.path.join(out, "step-profile.md")
if os.path.exists(prof) and os.path.getsize(prof) > 0:
    L.append("### Where a 1-thread training step spends its time")
    L.append("")
    L.append("`java -cp bench/target/benchmarks.jar convspark.bench.StepProfile 60 --markdown` (OPENBLAS_NUM_THREADS=1, same environment): "
             "the layers of `Workspace.trainStep` timed one by one with System.nanoTime (not JMH).")
    L.append("")
    L.extend(open(prof).read().rstrip("\n").split("\n"))
    L.append("")
L.append("<!-- kernel:end -->")
section = "\n".join(L) + "\n"

doc = os.environ["BK_DOC"]
text = open(doc).read() if os.path.exists(doc) else "# Benchmarks\n"
begin, end = "<!-- kernel:begin -->", "<!-- kernel:end -->"
if begin in text and end in text:
    pre = text[: text.index(begin)]
    post = text[text.index(end) + len(end):]
    post = post[1:] if post.startswith("\n") else post
    text = pre + section + post
elif "## Kernel" in text:
    i = text.index("## Kernel")
    j = text.find("\n", i)
    text = text[: j + 1] + "\n" + section + text[j + 1:]
else:
    text = text.rstrip("\n") + "\n\n## Kernel\n\nMeasured by `scripts/bench-kernel.sh` (JMH, module `bench`).\n\n" + section
open(doc, "w").write(text)
print(section)
PY
log "wrote the kernel section of $DOC (raw JMH output in $OUT)"
