#!/usr/bin/env bash
# Speed of the residual network of conf/fashion-mnist-resnet.conf (issue 16), in one run:
#   1. every distinct conv shape of the net (stem, the 3x3 convs of each stage, the stride-2
#      3x3 convs and the 1x1 stride-2 projection shortcuts) at batch 64, 1 thread: the layer's
#      forward+backward GFLOP/s through the Layer API next to raw sgemm of exactly the same GEMM
#      shapes, and their ratio (JMH LayerBench with -Dconvspark.bench.conf, as
#      scripts/bench-kernel.sh does for the default net);
#   2. training images/s at batch 64 per thread on random data: convspark's kernel without
#      Spark (convspark.bench.KernelThroughput: forward, loss, backward) with 1 and 2
#      data-parallel threads, next to PyTorch on the same net built from the same spec
#      (bench/peers/torch_peer.py --spec: forward, loss, backward and the SGD step) with
#      torch.set_num_threads(1), (2), and 2 processes x 1 thread; the runs alternate, RESNET_REPS
#      rounds, and the report gives medians;
#   3. from the 2-thread rate, an estimate of one full training run of the config on this machine.
# Rewrites the part of docs/BENCHMARKS.md between <!-- resnet-speed:begin --> and
# <!-- resnet-speed:end --> (under "The two-block net's speed", where the markers sit); the rest of the file is kept.
#
# Usage: scripts/bench-resnet.sh        (about 4 minutes on 2 cores; run it on an idle machine)
#   RESNET_CONF=path     config whose model is measured (default conf/fashion-mnist-resnet.conf)
#   RESNET_SECONDS=s     measured seconds per throughput run, after a warm-up of 0.3 x s (default 5;
#                        convspark's runs also wait until their JIT compilers are quiet)
#   RESNET_REPS=n        rounds of the five throughput runs (default 3; medians over rounds)
#   RESNET_JMH="..."     JMH options of the layer runs (default "-f 1 -wi 1 -i 3": 1 fork,
#                        1 warm-up + 3 measured 1-second iterations per benchmark)
#   RESNET_SKIP="..."    leave out parts: layers, convspark, torch
#   RESNET_WAIT_IDLE=s   wait up to s seconds (default 120; 0: don't) for a 10-second window in
#                        which other processes use < 10% of a core; the report states how much
#                        CPU other processes used during the run either way
#   RESNET_TORCH_MALLOC=0  leave glibc's malloc as it is for PyTorch (default: keep it from
#                        returning memory to the OS, MALLOC_TRIM_THRESHOLD_/MALLOC_MMAP_THRESHOLD_
#                        = 1 GiB, as torch_peer.py ddp does: page faults otherwise cost PyTorch
#                        about 10-15% here)
#   RESNET_DOC=path      write somewhere other than docs/BENCHMARKS.md
#   BENCH_REBUILD=1      rebuild the bench module even if benchmarks.jar looks fresh
#   CONVSPARK_OPENBLAS_CORETYPE: as for every convspark JVM (scripts/openblas-coretype.sh)
#   CONVSPARK_BLAS, OPENBLAS_CORETYPE, OMP_WAIT_POLICY: passed through (see bench-kernel.sh
#                        and bench.sh); the report names the BLAS library and kernel of each side
set -euo pipefail
case $0 in */*) . "${0%/*}/bench-lib.sh" ;; *) . ./bench-lib.sh ;; esac # builtins only
takes_no_arguments 'RESNET_REPS=1' "$@"
cd "$(dirname "$0")/.."
. scripts/openblas-coretype.sh   # CONVSPARK_OPENBLAS_CORETYPE, as for every convspark JVM
ROOT=$(pwd)
JAR=bench/target/benchmarks.jar
OUT=bench/target/resnet-bench
DOC=${RESNET_DOC:-docs/BENCHMARKS.md}
CONF=${RESNET_CONF:-conf/fashion-mnist-resnet.conf}
SECS=${RESNET_SECONDS:-5}
REPS=${RESNET_REPS:-3}
read -r -a JMH_OPTS <<< "${RESNET_JMH:--f 1 -wi 1 -i 3}"
SKIP=" ${RESNET_SKIP:-} "
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
JVM_ARGS="--add-modules=jdk.incubator.vector -Xms1g -Xmx1g"
CONF_PROP="-Dconvspark.bench.conf=$ROOT/$CONF"
case "$CONF" in /*) CONF_PROP="-Dconvspark.bench.conf=$CONF" ;; esac

log() { echo "bench-resnet: $*" >&2; }
skipped() { [[ "$SKIP" == *" $1 "* ]]; }

[ -f "$CONF" ] || { log "$CONF: no such file (RESNET_CONF)"; exit 2; }
command -v java >/dev/null || { log "java (17+) is required"; exit 1; }
if ! skipped torch && ! "$PY" -c 'import torch' 2>/dev/null; then
  log "PyTorch is not importable by $PY (Debian: apt-get install python3-torch)"; exit 1
fi

# --- build -----------------------------------------------------------------------------------
if [ "${BENCH_REBUILD:-0}" = 1 ] || [ ! -f "$JAR" ] \
    || [ -n "$(find pom.xml common/pom.xml worker/pom.xml driver/pom.xml bench/pom.xml \
                 common/src/main worker/src/main driver/src/main bench/src/main \
                 -newer "$JAR" -print -quit 2>/dev/null)" ]; then
  log "building the bench module (mvn -pl bench -am install -DskipTests)"
  mvn -q -B -Dstyle.color=never -o -pl bench -am install -DskipTests >&2 \
    || mvn -q -B -Dstyle.color=never -pl bench -am install -DskipTests >&2
fi

rm -rf "$OUT"
mkdir -p "$OUT"
export OPENBLAS_NUM_THREADS=1

# The net's spec (JSON), its conv layers with their GEMMs and FLOPs, and which BLAS loads.
# shellcheck disable=SC2086
java $JVM_ARGS "$CONF_PROP" -cp "$JAR" convspark.bench.KernelInfo 2>/dev/null > "$OUT/info.json"
# The distinct conv shapes (same input, output, kernel and GEMMs: one benchmark for all).
LAYERS=$("$PY" - "$OUT/info.json" <<'PY'
import json, sys
seen, names = set(), []
for l in json.load(open(sys.argv[1]))["layers"]:
    key = (l["shape"], tuple(l["gemms"]))
    if l["name"].startswith("conv") and key not in seen:
        seen.add(key)
        names.append(l["name"])
print(",".join(names))
PY
)

# --- machine load accounting (as bench-kernel.sh) ---------------------------------------------
wait_idle "${RESNET_WAIT_IDLE:-120}"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
times > "$OUT/times0"; BUSY0=$(busy_jiffies)
START=$(date +%s)

# --- 1. conv layers vs raw sgemm ---------------------------------------------------------------
LAYER_CMD=(java -jar "$JAR" 'LayerBench\.(kernel|sgemm)$' -p "layer=$LAYERS" "${JMH_OPTS[@]}"
           -foe true -jvmArgsAppend "$JVM_ARGS $CONF_PROP" -rf json -rff "$OUT/jmh-layers.json")
if ! skipped layers; then
  log "layers $LAYERS: ${LAYER_CMD[*]}"
  "${LAYER_CMD[@]}" > "$OUT/jmh-layers.log" 2>&1 || { tail -40 "$OUT/jmh-layers.log" >&2; exit 1; }
fi

# --- 2. training throughput ----------------------------------------------------------------------
"$PY" -c 'import json,sys; json.dump(json.load(open(sys.argv[1]))["spec"], open(sys.argv[2], "w"))' \
  "$OUT/info.json" "$OUT/spec.json"
TORCH_ENV=()
if [ "${RESNET_TORCH_MALLOC:-1}" = 1 ]; then
  TORCH_ENV=(MALLOC_TRIM_THRESHOLD_=1073741824 MALLOC_MMAP_THRESHOLD_=1073741824)
fi
# key | label | environment | command
declare -a KEYS=() LABELS=() ENVS=() CMDS=()
add() { KEYS+=("$1"); LABELS+=("$2"); ENVS+=("$3"); CMDS+=("$4"); }
if ! skipped convspark; then
  for t in 1 2; do
    add "convspark-t$t" "convspark kernel, $t data-parallel thread(s)" "OPENBLAS_NUM_THREADS=1" \
      "java $JVM_ARGS -cp $JAR convspark.bench.KernelThroughput $CONF 64 $t $SECS"
  done
fi
if ! skipped torch; then
  for t in 1 2; do
    add "torch-t$t" "PyTorch, torch.set_num_threads($t)" \
      "${TORCH_ENV[*]} OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t" \
      "$PY bench/peers/torch_peer.py throughput --threads $t --seconds $SECS --spec $OUT/spec.json"
  done
  add "torch-p2" "PyTorch, 2 processes x 1 thread" \
    "${TORCH_ENV[*]} OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1" \
    "$PY bench/peers/torch_peer.py throughput --threads 1 --procs 2 --seconds $SECS --spec $OUT/spec.json"
fi
: > "$OUT/throughput.jsonl"
for ((r = 1; r <= REPS; r++)); do
  for i in "${!KEYS[@]}"; do
    log "round $r/$REPS, ${LABELS[$i]}: ${ENVS[$i]} ${CMDS[$i]}"
    # shellcheck disable=SC2086
    if ! line=$(env ${ENVS[$i]} ${CMDS[$i]} 2> "$OUT/${KEYS[$i]}-$r.err" | tee "$OUT/${KEYS[$i]}-$r.log" \
                | grep -E '^(images/s|RESULT) ' | tail -1); then
      tail -20 "$OUT/${KEYS[$i]}-$r.err" >&2
      log "${LABELS[$i]} failed"; exit 1
    fi
    K="${KEYS[$i]}" L="${LABELS[$i]}" E="${ENVS[$i]}" C="${CMDS[$i]}" R="$r" LINE="$line" "$PY" -c '
import json, os, re
line = os.environ["LINE"]
if line.startswith("RESULT "):
    d = json.loads(line[len("RESULT "):])
else:
    d = {"images_per_second": float(re.search(r"images/s ([0-9.]+)", line).group(1)), "line": line}
d.update({"key": os.environ["K"], "label": os.environ["L"], "env": os.environ["E"].strip(),
          "cmd": os.environ["C"], "round": int(os.environ["R"])})
print(json.dumps(d))' >> "$OUT/throughput.jsonl"
    log "  $line" 
  done
done
ELAPSED=$(( $(date +%s) - START ))
BUSY1=$(busy_jiffies); times > "$OUT/times1"
OTHERS_CPU=$(others_cpu "$BUSY0" "$BUSY1" "$OUT/times0" "$OUT/times1")

# --- report ---------------------------------------------------------------------------------------
ENV_PREFIX=""
[ -n "${CONVSPARK_BLAS:-}" ] && ENV_PREFIX+="CONVSPARK_BLAS=$CONVSPARK_BLAS "
[ -n "${CONVSPARK_OPENBLAS_CORETYPE:-}" ] && ENV_PREFIX+="CONVSPARK_OPENBLAS_CORETYPE=$CONVSPARK_OPENBLAS_CORETYPE "
[ -n "${OPENBLAS_CORETYPE:-}" ] && ENV_PREFIX+="OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE "
[ -n "${OMP_WAIT_POLICY:-}" ] && ENV_PREFIX+="OMP_WAIT_POLICY=$OMP_WAIT_POLICY "
SCRIPT_ENV=""
for v in RESNET_CONF RESNET_SECONDS RESNET_REPS RESNET_JMH RESNET_SKIP RESNET_TORCH_MALLOC; do
  [ -n "${!v:-}" ] && SCRIPT_ENV+="$v=$(q "${!v}") "
done
export RB_SCRIPT="${ENV_PREFIX}${SCRIPT_ENV}scripts/bench-resnet.sh"
export RB_LAYER_CMD="${ENV_PREFIX}OPENBLAS_NUM_THREADS=1 $(q "${LAYER_CMD[@]}")"
export RB_LAYERS_SKIPPED=$(skipped layers && echo 1 || echo 0)
export RB_CPU=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
export RB_CPU_ID="family $(grep -m1 '^cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' ') model $(grep -m1 '^model[[:space:]]*:' /proc/cpuinfo | cut -d: -f2 | tr -d ' '), $(nproc) cores"
export RB_JAVA=$(java -version 2>&1 | head -1)
export RB_OTHERS="$OTHERS_CPU" RB_LOAD="$LOAD_BEFORE" RB_ELAPSED="$ELAPSED" RB_OUT="$OUT" RB_DOC="$DOC"
export RB_CONF="$CONF" RB_SECS="$SECS" RB_REPS="$REPS" RB_JMH="${JMH_OPTS[*]}"

"$PY" - <<'PY'
import datetime, json, os, re, statistics

out = os.environ["RB_OUT"]
info = json.load(open(os.path.join(out, "info.json")))
conf = os.environ["RB_CONF"]
E = os.environ


def conv_places(spec):
    """'layers[i]' / 'layers[i].body[j]' / 'layers[i].shortcut[j]' of each conv, in the order
    ExampleNet.gemmLayers names them conv1, conv2, ... (a block's body, then its shortcut)."""
    out = []

    def walk(layers, where):
        for j, l in enumerate(layers):
            w = f"{where}[{j}]"
            if l["type"] == "residual":
                walk(l["layers"], w + ".body")
                walk(l.get("shortcut", []), w + ".shortcut")
            elif l["type"] == "conv":
                out.append((w, l))
    walk(spec["layers"], "layers")
    return out


places = conv_places(info["spec"])
convs = [l for l in info["layers"] if l["name"].startswith("conv")]
groups = {}   # first conv of a shape -> all convs with it
for l in convs:
    key = (l["shape"], tuple(l["gemms"]))
    groups.setdefault(key, []).append(l)


def median_ms(b):
    pm = b["primaryMetric"]
    vals = [v for fork in pm["rawData"] for v in fork]
    scale = {"us/op": 1e-3, "ms/op": 1.0, "ns/op": 1e-6, "s/op": 1e3}[pm["scoreUnit"]]
    return statistics.median(vals) * scale, min(vals) * scale, max(vals) * scale


jmh = {}
p = os.path.join(out, "jmh-layers.json")
if os.path.exists(p):
    for b in json.load(open(p)):
        jmh[(b["params"]["layer"], b["benchmark"].rsplit(".", 1)[-1])] = b

rows = [json.loads(l) for l in open(os.path.join(out, "throughput.jsonl"))]
by = {}
for r in rows:
    by.setdefault(r["key"], []).append(r)

L = ["<!-- resnet-speed:begin -->",
     "<!-- Generated by scripts/bench-resnet.sh: edits between these markers are overwritten. -->",
     ""]
others, elapsed = int(E["RB_OTHERS"]), max(1, int(E["RB_ELAPSED"]))
L.append(f"- Date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}")
L.append(f"- CPU: {E['RB_CPU']} ({E['RB_CPU_ID']})")
L.append(f"- convspark BLAS: {info['blas']}; {E['RB_JAVA']}, "
         "JVM args `--add-modules=jdk.incubator.vector -Xms1g -Xmx1g`")
t = next((r for r in rows if r["key"].startswith("torch")), None)
if t:
    L.append(f"- PyTorch {t.get('torch')}: conv through {', '.join(t.get('conv_ops', []))}, "
             f"BLAS {', '.join(os.path.basename(x) for x in t.get('libs', []))} "
             f"(OpenBLAS kernel `{t.get('openblas_core')}`)"
             + ("; glibc malloc kept from returning memory to the OS (`MALLOC_TRIM_THRESHOLD_`/`MALLOC_MMAP_THRESHOLD_` = 1 GiB)"
                if "MALLOC_TRIM" in t.get("env", "") else ""))
L.append(f"- Model: `model` block of `{conf}`, {info['params']:,} parameters, batch {info['batch']} per thread")
L.append(f"- Command: `{E['RB_SCRIPT']}` ({elapsed // 60} min {elapsed % 60} s)")
L.append(f"- Machine load: load average {E['RB_LOAD']} before the run; other processes used {others} "
         f"CPU-seconds during its {elapsed} s ({others / elapsed * 100:.0f}% of one core)"
         + (" -- **figures disturbed by concurrent work, rerun on an idle machine**"
            if others > elapsed / 20 + 5 else ""))
L.append("")

if jmh:
    L.append("#### Conv layers of the residual net, forward+backward, batch 64, 1 thread")
    L.append("")
    L.append(f"JMH 1.37, average time, options `{E['RB_JMH']}`; medians (min-max) of the measured iterations:")
    L.append("")
    L.append("```")
    L.append(E["RB_LAYER_CMD"])
    L.append("```")
    L.append("")
    L.append("As in the Kernel section: FLOPs = 2 x multiply-adds of the GEMMs; `raw sgemm` runs the same GEMMs "
             "batched over the whole mini-batch through the same `Blas.gemm`; ratio = layer rate / raw rate. "
             "conv1 (the stem) computes no input gradient. Each layer runs in the layout of its network's "
             "workspaces: channels-last for this net (docs/DESIGN-CHOICES.md; the 3x3 stride-1 convs by Winograd, "
             "the others as one GEMM of pixel rows per chunk of images); the GEMM shapes listed, and the raw "
             "`sgemm` reference, are the NCHW im2col ones, of the same FLOPs.")
    L.append("")
    L.append("| conv (where in the spec) | shape, kernel, stride | GEMMs (M x N x K) | GFLOP per call | layer ms | layer GFLOP/s | raw sgemm ms | raw sgemm GFLOP/s | ratio |")
    L.append("|---|---|---|---:|---:|---:|---:|---:|---:|")
    total_k = total_s = total_f = 0.0
    for key, ls in groups.items():
        l = ls[0]
        k, s = jmh.get((l["name"], "kernel")), jmh.get((l["name"], "sgemm"))
        if not k or not s:
            continue
        idx = [convs.index(x) for x in ls]
        where = ", ".join(f"{x['name']} `{places[i][0]}`" for x, i in zip(ls, idx))
        stride = places[idx[0]][1].get("stride", 1)
        km, kmin, kmax = median_ms(k)
        sm, smin, smax = median_ms(s)
        gf = l["flops"] / 1e9
        total_k += km * len(ls)
        total_s += sm * len(ls)
        total_f += gf * len(ls)
        shape = re.sub(r" k(\d+)", lambda m: f" k{m.group(1)} s{stride}", l["shape"], count=1)
        L.append(f"| {where} | {shape} | {'<br>'.join(l['gemms'])} | {gf:.3f} | "
                 f"{km:.2f} ({kmin:.2f}-{kmax:.2f}) | {gf / (km / 1e3):.1f} | {sm:.2f} ({smin:.2f}-{smax:.2f}) | "
                 f"{gf / (sm / 1e3):.1f} | **{(gf / (km / 1e3)) / (gf / (sm / 1e3)):.2f}** |")
    if total_k:
        L.append("")
        L.append(f"All {len(convs)} convs of one step (each shape counted as often as it occurs): {total_f:.2f} GFLOP in "
                 f"{total_k:.0f} ms through the layers ({total_f / (total_k / 1e3):.1f} GFLOP/s) against "
                 f"{total_s:.0f} ms of raw sgemm ({total_f / (total_s / 1e3):.1f} GFLOP/s): ratio "
                 f"**{total_s / total_k:.2f}**.")
    L.append("")

L.append("#### Training images/s, batch 64 per thread (1 thread each unless stated)")
L.append("")
L.append(f"{E['RB_REPS']} rounds of the runs below, alternating; each run {E['RB_SECS']} s measured after "
         f"{float(E['RB_SECS']) * 0.3:g} s of warm-up, random inputs. convspark: forward, loss, backward "
         "(`Workspace.trainStep`, no optimizer update); PyTorch: forward, loss, backward "
         f"and the SGD step ({info['params']:,} parameters: well under 1% of a step). Median (min-max) over rounds.")
L.append("")
L.append("| run | images/s | vs PyTorch, same threads | command |")
L.append("|---|---:|---:|---|")
med = {k: statistics.median(r["images_per_second"] for r in v) for k, v in by.items()}
peer = {"convspark-t1": "torch-t1", "convspark-t2": "torch-t2"}
for k, v in by.items():
    vals = [r["images_per_second"] for r in v]
    vs = ""
    if k in peer and peer[k] in med:
        vs = f"{med[k] / med[peer[k]]:.2f}x"
    if k == "convspark-t2" and "torch-p2" in med:
        vs += f" ({med[k] / med['torch-p2']:.2f}x 2 procs)"
    cmd = (v[0]["env"] + " " + v[0]["cmd"]).strip().replace(out + "/", "$OUT/")
    L.append(f"| {v[0]['label']} | **{med[k]:,.0f}** ({min(vals):,.0f}-{max(vals):,.0f}) | {vs} | `{cmd}` |")
L.append("")
L.append(f"(`$OUT` = `{out}`; `spec.json` there is the `spec` field of `KernelInfo`'s output, i.e. "
         "`ModelSpec.render()` of the config's model, from which `bench/peers/convspark_torch.py` builds the "
         "PyTorch `nn.Sequential` with `Residual` blocks.)")
L.append("")

# 3. one training run, estimated from the 2-thread kernel rate
if "convspark-t2" in med:
    text = open(conf).read()
    def num(key, default):
        m = re.search(r"^\s*" + re.escape(key) + r"\s*=\s*([0-9.eE+-]+)", text, re.M)
        return float(m.group(1)) if m else default
    epochs = int(num("epochs", 15))
    vf = num("validation-fraction", 0.1)
    train_n, val_n, test_n = round(60000 * (1 - vf)), round(60000 * vf), 10000
    ips = med["convspark-t2"]
    per_epoch = train_n / ips + val_n / (3 * ips)
    total = epochs * per_epoch + test_n / (3 * ips)
    L.append(f"**One training run of `{conf}`, estimated** from the 2-thread rate ({ips:,.0f} images/s): "
             f"{epochs} epochs x ({train_n:,} training images + {val_n:,} validation images evaluated at "
             f"a third of a training image's cost) + the 10,000 test images = **{total / 60:.0f} min** "
             f"({per_epoch:.0f} s per epoch) of kernel time in `local[2]`. Spark's step overhead comes on top "
             "(for the default net about 25 ms per step at global batch 128, the Training throughput section: "
             f"{train_n // 128} steps, +{train_n // 128 * 0.025:.0f} s per epoch), and early stopping can end the run sooner.")
    L.append("")
L.append("<!-- resnet-speed:end -->")
section = "\n".join(L) + "\n"

doc = E["RB_DOC"]
text = open(doc).read() if os.path.exists(doc) else "# Benchmarks\n"
begin, end = "<!-- resnet-speed:begin -->", "<!-- resnet-speed:end -->"
if begin in text and end in text:
    pre = text[: text.index(begin)]
    post = text[text.index(end) + len(end):]
    post = post[1:] if post.startswith("\n") else post
    text = pre + section + post
else:
    text = text.rstrip("\n") + "\n\n### Residual network speed\n\n" + section
open(doc, "w").write(text)
print(section)
PY
log "wrote the resnet-speed section of $DOC (raw results in $OUT)"
