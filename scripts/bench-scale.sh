#!/usr/bin/env bash
# Scale-out on one machine without Spark: P worker processes x T threads (the kernel plus the ring
# allreduce, convspark.bench.ring.ScaleBench: every step T threads compute batch 64 each, sum
# their gradients locally, the P processes ring-allreduce over authenticated loopback TCP
# connections whose data goes through shared memory (SharedMemoryLink, as executors of one host
# do; gloo's DDP uses loopback TCP), and
# the replicas apply the SGD update sharded, as the ring engine does: each its own segment,
# the all-gather carrying the new weights) for P x T = 1 .. the machine's cores, next to
# PyTorch DistributedDataParallel (gloo) with as many processes x 1 thread on the same network
# (conf/fashion-mnist.conf), bench/peers/torch_peer.py ddp.
#
# Runs from the repository (builds the bench module with Maven if needed; needs java 17) or from
# the bundle that scripts/bundle-scale.sh makes (a jlink runtime, the jar with its OpenBLAS:
# needs only Linux x86-64, no Java, no network; python3 with torch for the DDP column).
#
# Usage: scripts/bench-scale.sh
#   SCALE_CONFIGS="1x1 2x1 1x2"  runs to make, PxT (default: for c = 1, 2, 4, ... <= SCALE_MAX
#                                and SCALE_MAX itself: c x 1 and 1 x c)
#   SCALE_MAX=n        the most cores to use (default: nproc)
#   SCALE_SECONDS=s    measured seconds per run (default 20), after a warm-up of at least
#                      0.3 x s that lasts until the JIT compilers of rank 0 are quiet (at most
#                      60 s; the table gives each run's warm-up)
#   SCALE_BATCH=b      batch per thread / per DDP process (default 64)
#   SCALE_SPIN=us      how long a process whose sums are ready first spins before it sleeps
#                      (default 2000, the ring engine's train.ring.spin-micros; 0 sleeps at
#                      once); as in the engine, only where P x T does not outnumber the CPUs
#   SCALE_DDP=0        skip PyTorch
#   SCALE_PYTHON=path  python with torch (default /usr/bin/python3 if present, else python3)
#   SCALE_OUT=dir      where results go (default target/scale-results in the repository,
#                      results/ in the bundle; writes scale.md and the raw *.json)
set -euo pipefail
case $0 in */*) . "${0%/*}/bench-lib.sh" ;; *) . ./bench-lib.sh ;; esac # builtins only
takes_no_arguments 'SCALE_MAX=2' "$@"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
log() { echo "bench-scale: $*" >&2; }

NCORES=$(OMP_NUM_THREADS= OMP_THREAD_LIMIT= nproc)   # nproc obeys OMP_NUM_THREADS
MAXC=${SCALE_MAX:-$NCORES}
SECS=${SCALE_SECONDS:-20}
BATCH=${SCALE_BATCH:-64}
SPIN=${SCALE_SPIN:-2000}
# each variable checked before anything runs: a bad one fails here naming itself, not in a Java
# process later with ScaleBench's words
whole() { # name value what [min]
  [[ $2 =~ ^[0-9]{1,6}$ ]] && [ "$((10#$2))" -ge "${4:-1}" ] || {
    log "$1: '$2' is not $3"; exit 2; }
}
whole SCALE_MAX "$MAXC" "a whole number of cores of at least 1"
whole SCALE_SECONDS "$SECS" "a whole number of seconds of at least 1"
whole SCALE_BATCH "$BATCH" "a whole number of samples of at least 1"
whole SCALE_SPIN "$SPIN" "a whole number of microseconds" 0
MAXC=$((10#$MAXC)); SECS=$((10#$SECS)); BATCH=$((10#$BATCH)); SPIN=$((10#$SPIN))
case "${SCALE_DDP:-1}" in 0|1) ;; *) log "SCALE_DDP: '$SCALE_DDP' is not 0 (skip PyTorch) or 1"; exit 2 ;; esac
if [ -z "${SCALE_CONFIGS:-}" ]; then
  cs=""; c=1
  while [ "$c" -lt "$MAXC" ]; do cs="$cs $c"; c=$((c * 2)); done
  cs="$cs $MAXC"
  SCALE_CONFIGS=""
  for c in $cs; do
    SCALE_CONFIGS="$SCALE_CONFIGS ${c}x1"
    [ "$c" -gt 1 ] && SCALE_CONFIGS="$SCALE_CONFIGS 1x${c}"
  done
fi

for cfg in $SCALE_CONFIGS; do
  [[ $cfg =~ ^[1-9][0-9]{0,3}x[1-9][0-9]{0,3}$ ]] || {
    log "SCALE_CONFIGS: '$cfg' is not PxT (processes x threads, such as 2x1 or 1x4)"; exit 2; }
done
[ -n "${SCALE_CONFIGS// /}" ] || { log "SCALE_CONFIGS: empty; expected PxT entries such as \"1x1 2x1\""; exit 2; }

PY=${SCALE_PYTHON:-$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3 )}
command -v "$PY" >/dev/null 2>&1 || {
  log "python3 not found ($PY): it writes the report (Debian: apt-get install python3; SCALE_PYTHON names another)"
  exit 2
}
if [ -x "$ROOT/runtime/bin/java" ]; then            # the bundle
  JAVA="$ROOT/runtime/bin/java"
  CP="$ROOT/lib/benchmarks.jar"
  MODE="bundle ($ROOT)"
  OUT=${SCALE_OUT:-$ROOT/results}
  # JavaCPP extracts the bundled OpenBLAS here rather than into ~/.javacpp
  BLAS_FLAGS=(-Dorg.bytedeco.javacpp.cachedir="$ROOT/.javacpp")
else                                                  # the repository
  command -v java >/dev/null || { log "java 17 is required (or run from the bundle)"; exit 2; }
  JAVA=java
  CP="$ROOT/bench/target/benchmarks.jar"
  if [ ! -f "$CP" ] || [ -n "$(find pom.xml common/src/main worker/src/main bench/src/main -newer "$CP" -print -quit)" ]; then
    log "building the bench module (mvn -pl bench -am install -DskipTests)"
    mvn -q -B -o -pl bench -am install -DskipTests >&2 || mvn -q -B -pl bench -am install -DskipTests >&2
  fi
  MODE="repository"
  OUT=${SCALE_OUT:-$ROOT/target/scale-results}
  BLAS_FLAGS=()
fi
mkdir -p "$OUT"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
# The BLAS is convspark's (convspark.common.blas.Blas: the OpenBLAS 0.3.31 inside the jar, which
# knows current CPUs; CONVSPARK_BLAS and OPENBLAS_CORETYPE pass through); the report names the
# library and kernel that each run loaded.

CPU=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
log "$MODE; CPU $CPU, $NCORES cores; configs:$SCALE_CONFIGS"
JVM=(--add-modules=jdk.incubator.vector -Xms768m -Xmx768m -XX:+UseParallelGC "${BLAS_FLAGS[@]}")
ROWS="$OUT/rows.tsv"; : > "$ROWS"
declare -A DDP_DONE
for cfg in $SCALE_CONFIGS; do
  P=${cfg%x*}; T=${cfg#*x}
  log "convspark ${P} process(es) x ${T} thread(s), ${SECS}s"
  LOAD=$(cut -d' ' -f1 /proc/loadavg)
  res=$("$JAVA" "${JVM[@]}" -cp "$CP" convspark.bench.ring.ScaleBench --procs "$P" --threads "$T" \
        --seconds "$SECS" --batch "$BATCH" --spin-micros "$SPIN" 2>"$OUT/scale-${cfg}.err" | grep '^RESULT ' | tail -1 | cut -c8-) \
    || { log "ScaleBench ${cfg} failed:"; tail -20 "$OUT/scale-${cfg}.err" >&2; exit 3; }
  echo "$res" > "$OUT/scale-${cfg}.json"
  c=$((P * T)); ddp=""
  if [ "${SCALE_DDP:-1}" = 1 ] && [ -z "${DDP_DONE[$c]:-}" ]; then
    log "PyTorch DDP ${c} process(es) x 1 thread, ${SECS}s"
    if "$PY" "$ROOT/bench/peers/torch_peer.py" ddp --procs "$c" --threads 1 --seconds "$SECS" \
         --batch "$BATCH" > "$OUT/ddp-${c}.log" 2>&1; then
      grep '^RESULT ' "$OUT/ddp-${c}.log" | tail -1 | cut -c8- > "$OUT/ddp-${c}.json"
    else
      log "PyTorch DDP ${c} failed (see $OUT/ddp-${c}.log)"; echo '{}' > "$OUT/ddp-${c}.json"
    fi
    DDP_DONE[$c]=1
  fi
  printf '%s\t%s\t%s\t%s\n' "$P" "$T" "$LOAD" "$res" >> "$ROWS"
done

export SC_OUT="$OUT" SC_CPU="$CPU" SC_CORES="$NCORES" SC_MODE="$MODE" SC_SECS="$SECS" SC_BATCH="$BATCH" \
  SC_CORETYPE="${OPENBLAS_CORETYPE:-}" SC_DATE="$(date -u '+%Y-%m-%d %H:%M UTC')"
"$PY" - <<'PY'
import json, os
out = os.environ["SC_OUT"]
rows = [line.rstrip("\n").split("\t", 3) for line in open(os.path.join(out, "rows.tsv"))]
blas = sorted({json.loads(r[3]).get("blas", "?") for r in rows})
L = [f"- Date: {os.environ['SC_DATE']}; CPU: {os.environ['SC_CPU']}, {os.environ['SC_CORES']} cores; "
     f"BLAS: {'; '.join(blas)}" + (f" (OPENBLAS_CORETYPE={os.environ['SC_CORETYPE']})" if os.environ['SC_CORETYPE'] else "")
     + f"; run from the {os.environ['SC_MODE']}",
     f"- Command: `scripts/bench-scale.sh` ({os.environ['SC_SECS']} s measured per run, batch {os.environ['SC_BATCH']} per thread / per DDP process); "
     f"a process waiting for its peers spins for up to {', '.join(sorted({str(json.loads(r[3]).get('spin_us', '?')) for r in rows}))} us before it sleeps",
     "", "| P processes x T threads | cores | convspark images/s | ms per step: compute / local sum / allreduce / update | PyTorch DDP, P x T processes x 1 thread | convspark / DDP | load avg at start | convspark warm-up s |",
     "|---|---:|---:|---|---:|---:|---:|---:|"]
for p, t, load, js in rows:
    r = json.loads(js)
    c = int(p) * int(t)
    try:
        d = json.load(open(os.path.join(out, f"ddp-{c}.json"))).get("images_per_second")
    except Exception:
        d = None
    ms = " / ".join(f"{r[k]*1e3:.1f}" for k in ("compute_s", "local_sum_s", "allreduce_s", "update_s"))
    L.append(f"| {p} x {t} | {c} | **{r['images_per_second']:,.0f}** | {ms} | "
             + (f"{d:,.0f}" if d else "n/a") + " | " + (f"{r['images_per_second']/d:.2f}x" if d else "n/a") + f" | {load} | "
             + (f"{r['warmup_s']:.1f}" + ("" if r.get("jit_quiet") else " (JIT still busy)") if "warmup_s" in r else "?") + " |")
text = "\n".join(L) + "\n"
open(os.path.join(out, "scale.md"), "w").write(text)
print(text)
PY
log "wrote $OUT/scale.md"
