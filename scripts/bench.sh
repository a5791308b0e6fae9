#!/usr/bin/env bash
# The whole benchmark in one invocation (issue 7). First the two convspark-only parts, each
# rewriting its own section of docs/BENCHMARKS.md:
#   0a. scripts/bench-kernel.sh: per-layer kernel efficiency vs raw sgemm, step images/s
#   0b. scripts/bench-train.sh: local[2] throughput and step-time breakdown at global batch
#       128 and 512, driver and ring engines, next to PyTorch DDP
# then the peers: convspark next to PyTorch (CPU), Deeplearning4j and Spark MLlib on the same
# machine, same network (conf/fashion-mnist.conf's model) and same batch, rewriting the
# "## Peers" section between <!-- peers:begin --> and <!-- peers:end -->:
#
#   1. single-process training throughput, batch 64, 1 and 2 threads: convspark's kernel
#      (convspark.bench.KernelThroughput) vs PyTorch vs DL4J
#   2. distributed training throughput in local[2] at global batch 512: convspark vs DL4J's
#      SparkDl4jMultiLayer (parameter averaging after every minibatch)
#   3. Spark MLlib's MultilayerPerceptronClassifier [784, 256, 128, 10] on Fashion-MNIST (test
#      accuracy, wall time) next to convspark's default config
#   4. loss sanity check: the same number of steps from the same kind of init in each
#
# Usage: scripts/bench.sh            (about 20 minutes with PEERS_CONVSPARK_RUN, 28 without, on 2 idle cores; run it on an idle
#                                     machine: the report states how much CPU others used)
#   QUICK=1                  smoke run of every part (a few minutes): checks the script and the
#                            peers, not the numbers
#   PEERS_SECONDS=s          measured seconds per single-process run (default 30; QUICK 5),
#                            after an unmeasured warm-up of 0.3 x s (convspark's
#                            KernelThroughput: and until its JIT compilers are quiet)
#   PEERS_DIST_IMAGES=n      images for convspark's local[2] epoch (default 60000, one epoch;
#                            QUICK 10240: a truncated copy of the training set)
#   PEERS_DL4J_SPARK_IMAGES=n  images DL4J's Spark training is timed on (default 20480 = 40
#                            global steps, after 2 untimed warm-up steps; QUICK 2048)
#   PEERS_MLP_ITER=n         MLlib MLP L-BFGS iterations (default 100, MLlib's default; QUICK 5)
#   PEERS_MLP_IMAGES=n       MLlib training images (default 0 = all 60,000; QUICK 10000)
#   PEERS_CONVSPARK_RUN=dir  reuse a finished `scripts/convspark train --config
#                            conf/fashion-mnist.conf` run (its summary.json) for part 3 instead
#                            of training one (about 10-15 minutes); QUICK without it trains 1
#                            epoch and says so
#   PEERS_LOSS_STEPS=n       steps of the loss sanity check (default 100; QUICK 20)
#   PEERS_SKIP="..."         leave out parts: any of kernel train torch dl4j dl4j-spark mllib
#                            convspark-default
#   PEERS_DOC=path           write somewhere other than docs/BENCHMARKS.md
#   PEERS_WORK=dir           logs and raw results (default target/bench-peers); emptied at
#                            start, so it must be new, empty, or an earlier PEERS_WORK of this
#                            script (it holds the file .convspark-bench-peers)
#   OMP_WAIT_POLICY          if set, reaches PyTorch and DL4J unchanged (and is shown in the
#                            report). Their 2-thread runs use OpenMP-style spinning thread pools,
#                            which collapse when another process holds a core (PyTorch 2 threads:
#                            ~180 images/s active vs ~1,250 PASSIVE on a loaded machine); leave it
#                            unset on an idle machine, where spinning is their default and best
#   OPENBLAS_CORETYPE        as in scripts/java-flags.sh (SkylakeX on AVX-512 Intel CPUs whose
#                            OpenBLAS 0.3.21 auto-detection falls back to Prescott); applied to
#                            every peer, so all run the same OpenBLAS kernel
set -euo pipefail
case $0 in */*) . "${0%/*}/bench-lib.sh" ;; *) . ./bench-lib.sh ;; esac # builtins only
takes_no_arguments 'QUICK=1' "$@"
cd "$(dirname "$0")/.."
ROOT=$(pwd)
QUICK=${QUICK:-0}
q() { [ "$QUICK" = 1 ] && echo "$1" || echo "$2"; }
SECONDS_RUN=${PEERS_SECONDS:-$(q 5 30)}
DIST_IMAGES=${PEERS_DIST_IMAGES:-$(q 10240 60000)}
DL4J_SPARK_IMAGES=${PEERS_DL4J_SPARK_IMAGES:-$(q 2048 20480)}
MLP_ITER=${PEERS_MLP_ITER:-$(q 5 100)}
MLP_IMAGES=${PEERS_MLP_IMAGES:-$(q 10000 0)}
LOSS_STEPS=${PEERS_LOSS_STEPS:-$(q 20 100)}
SKIP=" ${PEERS_SKIP:-} "
DOC=${PEERS_DOC:-docs/BENCHMARKS.md}
WORK=${PEERS_WORK:-target/bench-peers}
PY=/usr/bin/python3            # Debian's python3, the one python3-torch installs into
CONF=conf/fashion-mnist.conf

log() { echo "bench: $*" >&2; }
skipped() { [[ $SKIP == *" $1 "* ]]; }
# python3 runs the peers and writes every result and the report: needed before anything starts
if ! [ -x "$PY" ] && ! command -v python3 >/dev/null 2>&1; then
  log "python3 not found: it runs the PyTorch peer and writes the results and the report (Debian: apt-get install python3)"
  exit 2
fi

# --- set-up: JDK, Maven, OpenBLAS, data (scripts/setup.sh), PyTorch, builds ----------------
# WORK is deleted and made again: a PEERS_WORK that holds anything else than an earlier run of
# this script (its marker file) is refused, never deleted
MARKER=.convspark-bench-peers
if [ -n "${PEERS_WORK:-}" ] && [ -e "$WORK" ] && [ ! -f "$WORK/$MARKER" ] \
    && { [ ! -d "$WORK" ] || [ -n "$(ls -A "$WORK" 2>/dev/null)" ]; }; then
  log "PEERS_WORK=$WORK: not empty and not an earlier PEERS_WORK of scripts/bench.sh (no $MARKER in it): it would be deleted; give a new or empty directory"
  exit 2
fi
rm -rf "$WORK"
mkdir -p "$WORK"
echo "scripts/bench.sh work directory: deleted and made again by every run" > "$WORK/$MARKER"
scripts/setup.sh
command -v "$PY" >/dev/null || PY=$(command -v python3)
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
TORCH_ERROR=""
if ! skipped torch && ! "$PY" -c 'import torch' 2>/dev/null; then
  log "installing python3-torch (Debian package)"
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
          python3-torch >/dev/null; } 2>"$WORK/apt.log"; then
    TORCH_ERROR="apt-get install python3-torch failed: $(tail -1 "$WORK/apt.log" 2>/dev/null)"
  fi
  if [ -z "$TORCH_ERROR" ] && ! "$PY" -c 'import torch' 2>/dev/null; then
    TORCH_ERROR="python3-torch installed but 'import torch' fails: $("$PY" -c 'import torch' 2>&1 | tail -1)"
  fi
fi
scripts/build.sh

# --- 0. convspark alone: kernel (bench-kernel.sh) and step-time breakdown (bench-train.sh) ---
if ! skipped kernel; then
  log "kernel: scripts/bench-kernel.sh"
  BENCH_DOC="$DOC" BENCH_QUICK="$QUICK" scripts/bench-kernel.sh > "$WORK/bench-kernel.log" 2>&1 \
    || log "scripts/bench-kernel.sh failed: see $WORK/bench-kernel.log"
fi
if ! skipped train; then
  log "training throughput: scripts/bench-train.sh"
  BENCH_DOC="$DOC" scripts/bench-train.sh > "$WORK/bench-train.log" 2>&1 \
    || log "scripts/bench-train.sh failed: see $WORK/bench-train.log"
fi
. scripts/java-flags.sh
# the benchmark programs live in the bench module (not in the product jar)
mvn -q -B -o -pl bench -am compile >&2 || mvn -q -B -pl bench -am compile >&2
CP_DRIVER="$(pwd)/bench/target/classes:$(cat driver/target/classpath.txt)"

RESULTS="$WORK/results.jsonl"
: > "$RESULTS"

# The peers module (not in the parent's <modules>): DL4J, MLlib and convspark's loss check.
PEERS_ERROR=""
PEERS_CP_FILE=peers/target/classpath.txt
# It takes convspark-common (and the parent POM) from the local Maven repository: install them
# when missing or older than their sources (scripts/bench-kernel.sh installs them only when the
# bench module needs a rebuild, and PEERS_SKIP=kernel skips it)
M2_COMMON=~/.m2/repository/io/convspark/convspark-common_2.12/0.1.0-SNAPSHOT/convspark-common_2.12-0.1.0-SNAPSHOT.jar
if [ ! -f "$M2_COMMON" ] || [ -n "$(find pom.xml common/pom.xml common/src/main -newer "$M2_COMMON" -print -quit)" ]; then
  log "installing convspark-common for peers/ (mvn -pl common -am install -DskipTests)"
  if ! { mvn -q -B -o -pl common -am install -DskipTests > "$WORK/common-install.log" 2>&1 \
         || mvn -q -B -pl common -am install -DskipTests > "$WORK/common-install.log" 2>&1; }; then
    PEERS_ERROR="convspark-common could not be installed for peers/ (see $WORK/common-install.log): $(grep -m1 -E 'ERROR' "$WORK/common-install.log" | cut -c1-300)"
    log "$PEERS_ERROR"
  fi
fi
if [ -z "$PEERS_ERROR" ] && { [ ! -f "$PEERS_CP_FILE" ] \
    || [ -n "$(find peers/pom.xml peers/src -newer "$PEERS_CP_FILE" -print -quit)" ] \
    || [ "$M2_COMMON" -nt "$PEERS_CP_FILE" ]; }; then
  log "building peers/ (mvn -f peers/pom.xml package; downloads DL4J and Spark from Maven Central the first time)"
  if mvn -q -B -o -f peers/pom.xml package -DskipTests > "$WORK/peers-build.log" 2>&1 \
      || mvn -q -B -f peers/pom.xml package -DskipTests > "$WORK/peers-build.log" 2>&1; then
    echo "$ROOT/peers/target/classes:$(cat peers/target/deps.txt)" > "$PEERS_CP_FILE"
  else
    PEERS_ERROR="the peers module did not build: $(grep -m1 -E 'ERROR' "$WORK/peers-build.log" | cut -c1-300)"
    log "$PEERS_ERROR"
  fi
fi
CP_PEERS="$(cat "$PEERS_CP_FILE" 2>/dev/null || true)"

# --- machine load, as scripts/bench-kernel.sh measures it -----------------------------------
busy_jiffies() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }
children_cpu() { awk 'END{n=0; for(i=1;i<=2;i++){split($i,a,/[ms]/); n+=a[1]*60+a[2]} print n}' "$1"; }
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
times > "$WORK/times0"; BUSY0=$(busy_jiffies); START=$(date +%s)

# --- running one measurement ----------------------------------------------------------------
# run KEY LABEL ENV... -- CMD...: runs CMD with the ENV assignments, keeps its output in
# $WORK/KEY.log and appends {"key", "label", "cmd", "ok", "result" | "error"} to results.jsonl
# (result = the program's last "RESULT {json}" line, or for KernelThroughput its images/s line).
shown() {   # shell-quoted for display: plain words as they are, anything else in single quotes
  local a out=""
  for a in "$@"; do
    if [[ $a =~ ^[A-Za-z0-9_./=:,+@%-]+$ ]]; then out+="$a "; else out+="'${a//\'/\'\\\'\'}' "; fi
  done
  printf '%s' "${out% }"
}
run() {
  local key=$1 label=$2; shift 2
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  local display
  display="$(shown "${envs[@]}" "$@")"
  display="${display//$CP_DRIVER/bench/target/classes:\$(cat driver/target/classpath.txt)}"
  [ -n "$CP_PEERS" ] && display="${display//$CP_PEERS/\$(cat peers/target/classpath.txt)}"
  display="${display//$SPARK_JAVA17_FLAGS/\$SPARK_JAVA17_FLAGS}"
  log "$label: $display"
  local rc=0
  env "${envs[@]}" "$@" > "$WORK/$key.log" 2>&1 || rc=$?
  KEY="$key" LABEL="$label" CMD="$display" RC="$rc" LOGF="$WORK/$key.log" "$PY" - >> "$RESULTS" <<'PY'
import json, os, re
log = open(os.environ["LOGF"], errors="replace").read().splitlines()
res = None
for line in reversed(log):
    if line.startswith("RESULT {"):
        res = json.loads(line[len("RESULT "):]); break
    m = re.match(r"images/s ([0-9.]+) \((.*)\)$", line)
    if m:
        res = {"images_per_second": float(m.group(1)), "blas": m.group(2)}; break
rc = int(os.environ["RC"])
row = {"key": os.environ["KEY"], "label": os.environ["LABEL"], "cmd": os.environ["CMD"], "rc": rc}
if rc == 0 and res and "error" not in res:
    row.update(ok=True, result=res)
else:
    err = (res or {}).get("error")
    if not err:
        cand = [l for l in log if re.search(r"(Exception|Error|error|FAILED|Traceback)", l)
                and not l.lstrip().startswith("at ")]
        err = (cand[0] if cand else (log[-1] if log else "no output")).strip()
    row.update(ok=False, error=f"exit code {rc}: {err}"[:700], result=res)
print(json.dumps(row))
PY
  if [ "$rc" = 0 ]; then log "  -> $(grep -E '^(images/s|RESULT)' "$WORK/$key.log" | head -1 | cut -c1-160)"
  else log "  -> FAILED (exit $rc), see $WORK/$key.log"; fi
}
# a row saying why a peer was not run
missing() {
  KEY="$1" LABEL="$2" ERR="$3" "$PY" -c 'import json,os; print(json.dumps({"key": os.environ["KEY"], "label": os.environ["LABEL"], "ok": False, "error": os.environ["ERR"], "cmd": ""}))' >> "$RESULTS"
  log "$2: not run: $3"
}

JAVA_BLAS_PROP=-Ddev.ludovic.netlib.blas.nativeLib=libopenblas.so.0

# --- 1. single-process throughput -----------------------------------------------------------
for t in 1 2; do
  run "convspark-t$t" "convspark, $t thread(s)" OPENBLAS_NUM_THREADS=1 -- \
    java -Xms2g -Xmx2g $SPARK_JAVA17_FLAGS -cp "$CP_DRIVER" convspark.bench.KernelThroughput \
    "$CONF" 64 "$t" "$SECONDS_RUN"
done
run "convspark-t1-blas2" "convspark, 1 thread, OpenBLAS 2 threads" OPENBLAS_NUM_THREADS=2 -- \
  java -Xms2g -Xmx2g $SPARK_JAVA17_FLAGS -cp "$CP_DRIVER" convspark.bench.KernelThroughput \
  "$CONF" 64 1 "$SECONDS_RUN"

if skipped torch || [ -n "$TORCH_ERROR" ]; then
  for k in torch-t1 torch-t2 torch-p2; do missing "$k" "PyTorch" "${TORCH_ERROR:-skipped (PEERS_SKIP)}"; done
else
  for t in 1 2; do
    run "torch-t$t" "PyTorch, torch.set_num_threads($t)" OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t -- \
      "$PY" bench/peers/torch_peer.py throughput --threads "$t" --seconds "$SECONDS_RUN"
  done
  run "torch-p2" "PyTorch, 2 processes x 1 thread" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 -- \
    "$PY" bench/peers/torch_peer.py throughput --threads 1 --procs 2 --seconds "$SECONDS_RUN"
fi

if skipped dl4j || [ -n "$PEERS_ERROR" ]; then
  for k in dl4j-t1 dl4j-t2; do missing "$k" "DL4J" "${PEERS_ERROR:-skipped (PEERS_SKIP)}"; done
else
  for t in 1 2; do
    run "dl4j-t$t" "DL4J, $t thread(s)" OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t -- \
      java -Xms2g -Xmx2g $SPARK_JAVA17_FLAGS -cp "$CP_PEERS" convspark.peers.Dl4jPeer throughput \
      "$t" "$SECONDS_RUN"
  done
fi

# --- 2. distributed throughput in local[2], global batch 512 --------------------------------
DIST_DATA=()
if [ "$DIST_IMAGES" -lt 60000 ]; then   # a truncated copy of the training set
  mkdir -p "$WORK/data"
  "$PY" - "$DIST_IMAGES" "$WORK/data" <<'PY'
import gzip, struct, sys
n, out = int(sys.argv[1]), sys.argv[2]
src = "/usr/share/datasets/fashion-mnist/train-%s-idx%d-ubyte.gz"
for kind, dims, size in (("images", 3, 784), ("labels", 1, 1)):
    raw = gzip.open(src % (kind, dims)).read()
    head = 4 + 4 * dims
    hdr = bytearray(raw[:head]); hdr[4:8] = struct.pack(">i", n)
    with gzip.open(f"{out}/train-{kind}-idx{dims}-ubyte.gz", "wb", compresslevel=1) as f:
        f.write(bytes(hdr) + raw[head:head + n * size])
PY
  DIST_DATA=(--set "data.train.images=$ROOT/$WORK/data/train-images-idx3-ubyte.gz"
             --set "data.train.labels=$ROOT/$WORK/data/train-labels-idx1-ubyte.gz")
fi
run convspark-dist "convspark, local[2], global batch 512" -- \
  scripts/convspark train --config "$CONF" --out "$WORK/dist" --overwrite --master 'local[2]' \
  --set train.workers=2 --set train.global-batch=512 --set train.epochs=1 \
  --set data.validation-fraction=0 --set 'data.test.images=""' --set 'data.test.labels=""' \
  --set train.log-every-steps=0 "${DIST_DATA[@]}"
if [ -f "$WORK/dist/metrics.jsonl" ]; then   # its result is in metrics.jsonl, not on stdout
  "$PY" - "$RESULTS" "$WORK/dist" <<'PY'
import json, sys
path, run = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(path)]
m = json.loads(open(f"{run}/metrics.jsonl").readline())
s = json.load(open(f"{run}/summary.json"))
for r in rows:
    if r["key"] == "convspark-dist" and r.get("rc") == 0:
        r["ok"] = True
        r.pop("error", None)
        r["result"] = {"images_per_second": m["imagesPerSecond"], "steps": s["steps"],
                       "train_seconds": m["trainSeconds"], "compute_seconds": m["computeSeconds"],
                       "images": round(m["imagesPerSecond"] * m["trainSeconds"]),
                       "blas": s["blas"]}
open(path, "w").write("".join(json.dumps(r) + "\n" for r in rows))
PY
fi

if skipped dl4j-spark; then missing dl4j-spark "DL4J SparkDl4jMultiLayer" "skipped (PEERS_SKIP)"
elif [ -n "$PEERS_ERROR" ]; then missing dl4j-spark "DL4J SparkDl4jMultiLayer" "$PEERS_ERROR"
else
  run dl4j-spark "DL4J SparkDl4jMultiLayer, local[2], global batch 512" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 -- \
    java -Xms4g -Xmx4g $SPARK_JAVA17_FLAGS -cp "$CP_PEERS" convspark.peers.Dl4jSparkPeer 'local[2]' 2 512 \
    "$DL4J_SPARK_IMAGES"
fi

# --- 3. Spark MLlib MLP vs convspark's default config ---------------------------------------
if skipped mllib; then missing mllib "Spark MLlib MLP" "skipped (PEERS_SKIP)"
elif [ -n "$PEERS_ERROR" ]; then missing mllib "Spark MLlib MLP" "$PEERS_ERROR"
else
  run mllib "Spark MLlib MultilayerPerceptronClassifier, local[2]" OPENBLAS_NUM_THREADS=1 -- \
    java -Xms6g -Xmx6g $SPARK_JAVA17_FLAGS "$JAVA_BLAS_PROP" -cp "$CP_PEERS" convspark.peers.MllibMlpPeer \
    'local[2]' "$MLP_ITER" "$MLP_IMAGES"
fi
CONVSPARK_DEFAULT_NOTE=""
if skipped convspark-default; then missing convspark-default "convspark default config" "skipped (PEERS_SKIP)"
elif [ -n "${PEERS_CONVSPARK_RUN:-}" ]; then
  if [ -f "$PEERS_CONVSPARK_RUN/summary.json" ]; then
    CONVSPARK_DEFAULT_NOTE="reused run $PEERS_CONVSPARK_RUN (PEERS_CONVSPARK_RUN)"
    KEY=convspark-default RUN="$PEERS_CONVSPARK_RUN" "$PY" -c 'import json,os; print(json.dumps({"key": "convspark-default", "label": "convspark, conf/fashion-mnist.conf", "ok": True, "cmd": "reused " + os.environ["RUN"], "run": os.environ["RUN"]}))' >> "$RESULTS"
  else
    missing convspark-default "convspark default config" "PEERS_CONVSPARK_RUN=$PEERS_CONVSPARK_RUN has no summary.json"
  fi
else
  EPOCHS=()
  if [ "$QUICK" = 1 ]; then
    EPOCHS=(--set train.epochs=1)
    CONVSPARK_DEFAULT_NOTE="QUICK: 1 epoch instead of the config's $(sed -n 's/^ *epochs *= *\([0-9]*\).*/\1/p' "$CONF" | head -1)"
  fi
  run convspark-default "convspark, conf/fashion-mnist.conf, local[2]" -- \
    scripts/convspark train --config "$CONF" --out "$WORK/default" --overwrite --master 'local[2]' "${EPOCHS[@]}"
  "$PY" - "$RESULTS" "$WORK/default" <<'PY'
import json, sys
path, run = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(path)]
for r in rows:
    if r["key"] == "convspark-default":
        r["run"] = run
        try:
            json.load(open(f"{run}/summary.json"))
            if r.get("rc") == 0:
                r["ok"] = True
                r.pop("error", None)
        except Exception:
            pass
open(path, "w").write("".join(json.dumps(r) + "\n" for r in rows))
PY
fi

# --- 4. loss sanity check -------------------------------------------------------------------
if [ -n "$PEERS_ERROR" ]; then missing loss-convspark "convspark" "$PEERS_ERROR"
else
  run loss-convspark "convspark loss check" OPENBLAS_NUM_THREADS=1 -- \
    java -Xmx2g $SPARK_JAVA17_FLAGS "$JAVA_BLAS_PROP" -cp "$CP_PEERS" convspark.peers.ConvsparkLossPeer \
    "$CONF" "$LOSS_STEPS" 0.05 42
fi
if skipped torch || [ -n "$TORCH_ERROR" ]; then missing loss-torch "PyTorch" "${TORCH_ERROR:-skipped (PEERS_SKIP)}"
else
  run loss-torch "PyTorch loss check" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 -- \
    "$PY" bench/peers/torch_peer.py loss --steps "$LOSS_STEPS" --lr 0.05 --seed 42
fi
if skipped dl4j || [ -n "$PEERS_ERROR" ]; then missing loss-dl4j "DL4J" "${PEERS_ERROR:-skipped (PEERS_SKIP)}"
else
  run loss-dl4j "DL4J loss check" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 -- \
    java -Xmx2g $SPARK_JAVA17_FLAGS -cp "$CP_PEERS" convspark.peers.Dl4jPeer loss "$LOSS_STEPS" 0.05 42
fi

# --- machine load during the run ------------------------------------------------------------
ELAPSED=$(( $(date +%s) - START ))
BUSY1=$(busy_jiffies); times > "$WORK/times1"
OTHERS_CPU=$(awk -v b0="$BUSY0" -v b1="$BUSY1" -v o0="$(children_cpu "$WORK/times0")" \
  -v o1="$(children_cpu "$WORK/times1")" -v hz="$(getconf CLK_TCK)" \
  'BEGIN{x=(b1-b0)/hz-(o1-o0); if(x<0)x=0; printf "%.0f", x}')

# --- report ---------------------------------------------------------------------------------
export PB_RESULTS="$RESULTS" PB_DOC="$DOC" PB_QUICK="$QUICK" PB_SECONDS="$SECONDS_RUN" \
  PB_DIST_IMAGES="$DIST_IMAGES" PB_DL4J_SPARK_IMAGES="$DL4J_SPARK_IMAGES" PB_MLP_ITER="$MLP_ITER" \
  PB_MLP_IMAGES="$MLP_IMAGES" PB_LOSS_STEPS="$LOSS_STEPS" PB_ELAPSED="$ELAPSED" \
  PB_OTHERS="$OTHERS_CPU" PB_LOAD="$LOAD_BEFORE" PB_DEFAULT_NOTE="$CONVSPARK_DEFAULT_NOTE" \
  PB_ENV_CMD="$(env | grep -E '^(QUICK|PEERS_[A-Z_]+|OMP_WAIT_POLICY)=' | sort \
    | sed -E "s/^([A-Z_]+)=(.*[[:space:]].*)$/\1='\2'/" | tr '\n' ' ')" \
  PB_CORETYPE="${OPENBLAS_CORETYPE:-}" PB_JAVA="$(java -version 2>&1 | head -1)" \
  PB_TORCH="$("$PY" -c 'import torch; print(torch.__version__)' 2>/dev/null || echo 'not installed')" \
  PB_MAVEN="$(mvn -v 2>/dev/null | head -1 | sed 's/\x1b\[[0-9;]*m//g')"
"$PY" bench/peers/report.py
log "wrote the peers section of $DOC (logs and raw results in $WORK)"
