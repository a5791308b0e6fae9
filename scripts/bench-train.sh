#!/usr/bin/env bash
# Distributed training throughput and where step time goes: trains conf/fashion-mnist.conf
# for EPOCHS epochs (default 3) in local[2] (2 workers) at a few global batch sizes with each
# step engine, and reports the last epoch (steady state: the first carries workspace allocation
# and JIT warm-up, and on the cluster, whose executors are fresh JVMs, so does the second: there
# each executor's C2 compiler still took 0.9-1.0 s of CPU in epoch 2 and 0.05-0.07 s in epoch 3,
# and the tasks 19.5-21.0 s of CPU against 15.3-15.7 s for the same steps; docs/BENCHMARKS.md). The
# table also gives each row's second epoch. Measures in the same run two references: the single-process kernel with 2
# data-parallel threads (no Spark, convspark.bench.KernelThroughput), and PyTorch
# DistributedDataParallel (gloo, 2 processes x 1 thread, the same network, global batch = the
# row's batch: bench/peers/torch_peer.py ddp, with /usr/bin/python3). With a ring engine, also
# the ring's replicas without Spark (convspark.bench.ReplicaThroughput: the same real samples,
# shuffle, gather, update and in-JVM sums as the ring engine under local[2]), so the gap to the
# kernel-only reference splits into the replicas' own work and Spark. Rewrites the "Training
# throughput" section of docs/BENCHMARKS.md.
#   BATCHES="128 512" ENGINES="driver ring" MASTERS="local[2] cluster" scripts/bench-train.sh
#   (defaults as shown; ENGINES may also name ring-tcp: the ring engine with
#    train.ring.transport = tcp, i.e. TCP between the replicas under local[2], where ring sums
#    through memory, and on the cluster, where ring's two executors of one host carry their
#    data through shared memory; DDP_SECONDS=20: seconds each DDP measurement runs, 0 skips DDP;
#    ring-full: the ring engine with train.ring.shard-update = false, every replica applying
#    the whole optimizer update instead of its own share; ring-sleep: the ring engine with
#    train.ring.spin-micros = 0, a replica that waits for its peer sleeping at once; EPOCHS=3: epochs per row (>= 2), the
#    last one measured; REF_SECONDS=10: seconds of the kernel-only reference run again right before and after
#    each training row, whose mean that row's ratio uses, 0 skips them; REPEATS=1: runs of
#    each row, alternating (run 1 of every master and engine, then run 2, ...), each bracketed
#    by its own references, and the median of their ratios per row; BENCH_DOC=path: write
#    somewhere else). MASTERS: local[2] trains in this JVM; cluster
#    submits the submit jar with scripts/submit.sh to a standalone cluster of
#    scripts/local-cluster.sh of its own (2 workers x 1 core, 2g executors, in
#    target/bench-train-cluster: never a cluster of another size you started; started here and
#    stopped at the end), so gradients and weights cross process boundaries.
# Needs python3 (the report; Debian package python3).
set -euo pipefail
case $0 in */*) . "${0%/*}/bench-lib.sh" ;; *) . ./bench-lib.sh ;; esac # builtins only
takes_no_arguments 'BATCHES=512' "$@"
cd "$(dirname "$0")/.."
command -v python3 >/dev/null 2>&1 || {
  echo "bench-train: python3 not found: it writes the report (Debian: apt-get install python3)" >&2
  exit 2
}
batches="${BATCHES:-128 512}"
engines="${ENGINES:-driver ring}"
masters="${MASTERS:-local[2] cluster}"
ddp_seconds="${DDP_SECONDS:-20}"
repeats="${REPEATS:-1}"
epochs="${EPOCHS:-3}"
case "$epochs" in ''|*[!0-9]*|0|1) echo "bench-train: EPOCHS: '$epochs' is not a number >= 2" >&2; exit 2 ;; esac
case "$repeats" in ''|*[!0-9]*|0) echo "bench-train: REPEATS: '$repeats' is not a positive number" >&2; exit 2 ;; esac
py=/usr/bin/python3
for e in $engines; do
  case "$e" in driver|ring|ring-tcp|ring-full|ring-sleep) ;; *) echo "bench-train: ENGINES: unknown engine '$e' (driver, ring, ring-tcp, ring-full, ring-sleep)" >&2; exit 2 ;; esac
done
for m in $masters; do
  case "$m" in 'local[2]'|cluster) ;; *) echo "bench-train: MASTERS: unknown master '$m' (local[2], cluster)" >&2; exit 2 ;; esac
done
for b in $batches; do
  # no leading zero: bash arithmetic would read 09 as a bad octal number (and 010 as 8)
  case "$b" in ''|0*|*[!0-9]*) echo "bench-train: BATCHES: '$b' is not a positive even number" >&2; exit 2 ;; esac
  if [ "$b" -le 0 ] || [ $((b % 2)) != 0 ]; then
    echo "bench-train: BATCHES: '$b' is not a positive even number (2 workers)" >&2; exit 2
  fi
done
# the variables are checked above, before anything installs or builds
scripts/setup.sh
scripts/build.sh
. scripts/java-flags.sh
work=target/bench-train
rm -rf "$work"
mkdir -p "$work"
started_cluster=0
# its own cluster, of the size the rows say (2 x 1 core, 2g executors), for local-cluster.sh and
# submit.sh alike: a cluster of other workers (the 1g ones of a plain local-cluster.sh start)
# would never launch the 2g executors
export CONVSPARK_CLUSTER_DIR="$PWD/target/bench-train-cluster"
case " $masters " in *" cluster "*)
  scripts/local-cluster.sh stop >&2   # what an interrupted run left
  started_cluster=1
  CONVSPARK_CLUSTER_WORKERS=2 CONVSPARK_WORKER_CORES=1 CONVSPARK_WORKER_MEMORY=2g \
    scripts/local-cluster.sh start >&2 ;;
esac
stop_cluster() { if [ "$started_cluster" = 1 ]; then scripts/local-cluster.sh stop >&2 || true; fi; }
trap stop_cluster EXIT
# the benchmark programs live in the bench module (not in the product jar)
mvn -q -B -o -pl bench -am compile >&2 || mvn -q -B -pl bench -am compile >&2
cp="bench/target/classes:$(cat driver/target/classpath.txt)"
# shellcheck disable=SC2086
ref=$(java -Xms2g -Xmx2g $SPARK_JAVA17_FLAGS -cp "$cp" convspark.bench.KernelThroughput \
  conf/fashion-mnist.conf 64 2 30 | tail -1)
echo "reference (no Spark, 2 threads x batch 64): $ref"
# The same reference again, REF_SECONDS long, right before and after every training row: each
# row's ratio is taken against the mean of the two that bracket it, so a host that drifts within
# the run (these 2-core machines do, by 10-25% over minutes) does not bias it. 0: only the
# reference above.
ref_seconds="${REF_SECONDS:-10}"
export REF_SECONDS="$ref_seconds"
bracket() {
  if [ "$ref_seconds" != 0 ]; then
    # shellcheck disable=SC2086
    java -Xms2g -Xmx2g $SPARK_JAVA17_FLAGS -cp "$cp" convspark.bench.KernelThroughput \
      conf/fashion-mnist.conf 64 2 "$ref_seconds" | tail -1 > "$1"
    echo "reference: $(cat "$1")"
  fi
}
# the ring engine's replicas without Spark (real samples, shuffle, gather, update, in-JVM sums):
# splits the gap between the kernel-only reference and the ring rows into replica work and Spark
case " $engines " in *" ring "*|*" ring-tcp "*|*" ring-full "*|*" ring-sleep "*)
  for b in $batches; do
    # shellcheck disable=SC2086
    java -Xms2g -Xmx2g $SPARK_JAVA17_FLAGS -cp "$cp" convspark.bench.ReplicaThroughput \
      conf/fashion-mnist.conf 2 "$b" "$epochs" | tail -1 > "$work/replica-b$b.txt"
    echo "replicas without Spark, global batch $b: $(cat "$work/replica-b$b.txt")"
  done ;;
esac
for b in $batches; do
  for rep in $(seq 1 "$repeats"); do
  for m in $masters; do
    for e in $engines; do
      tag="${m%%[*}-$e-b$b"
      if [ "$repeats" -gt 1 ]; then tag="$tag-r$rep"; fi
      echo "== $m, engine $e, global batch $b${repeats:+, run $rep of $repeats}"
      args=(train --config conf/fashion-mnist.conf --out "$work/$tag"
        --set train.engine="${e%-*}" --set train.workers=2 --set train.global-batch="$b"
        --set train.epochs="$epochs" --set data.validation-fraction=0 --set data.test.images='""'
        --set data.test.labels='""' --set train.log-every-steps=0)
      if [ "$e" = ring-tcp ]; then args+=(--set train.ring.transport=tcp); fi
      if [ "$e" = ring-full ]; then args+=(--set train.ring.shard-update=false); fi
      if [ "$e" = ring-sleep ]; then args+=(--set train.ring.spin-micros=0); fi
      bracket "$work/$tag.ref-before"
      if [ "$m" = cluster ]; then
        CONVSPARK_EXECUTOR_MEMORY=2g scripts/submit.sh -- "${args[@]}" | grep -E '^epoch'
      else
        scripts/convspark "${args[@]}" --master 'local[2]' | grep -E '^epoch'
      fi
      bracket "$work/$tag.ref-after"
    done
  done
  done
  if [ "$ddp_seconds" != 0 ]; then
    echo "== PyTorch DDP, gloo, 2 processes x 1 thread x batch $((b / 2)), ${ddp_seconds}s"
    if OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$py" bench/peers/torch_peer.py ddp --procs 2 \
         --threads 1 --batch $((b / 2)) --seconds "$ddp_seconds" > "$work/ddp-b$b.log" 2>&1; then
      grep '^images/s' "$work/ddp-b$b.log" || true
      grep '^RESULT ' "$work/ddp-b$b.log" | tail -1 | cut -c8- > "$work/ddp-b$b.json"
    else
      echo "bench-train: PyTorch DDP at batch $b failed (see $work/ddp-b$b.log); its ratio is left out" >&2
      tail -5 "$work/ddp-b$b.log" >&2 || true
    fi
  fi
done
python3 - "$work" "$ref" "$batches" "$engines" "$ddp_seconds" "$masters" "$repeats" "$epochs" <<'PY'
import json, re, sys, datetime, os
work, ref, batches, engines, ddp_seconds = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4].split(), sys.argv[5]
masters = sys.argv[6].split()
repeats = int(sys.argv[7])
epochs = int(sys.argv[8])
ordinal = {2: 'second', 3: 'third', 4: 'fourth'}.get(epochs, f'{epochs}th')
ref_ips = float(re.search(r'images/s ([0-9.]+)', ref).group(1))
replica = {}
for b in batches:
    p = f'{work}/replica-b{b}.txt'
    if os.path.exists(p) and os.path.getsize(p) > 0:
        replica[b] = open(p).read().strip()
def replica_ips(b):
    return float(re.search(r'images/s ([0-9.]+)', replica[b]).group(1)) if b in replica else None
cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), '?')
ddp = {}
for b in batches:
    p = f'{work}/ddp-b{b}.json'
    if os.path.exists(p) and os.path.getsize(p) > 0:
        ddp[b] = json.load(open(p))
rows, rings, brackets = [], [], []
ratios = {}  # (batch, master, engine) -> every run's ratio to its references
for b, rep, mst, e in [(b, rep, mst, e) for b in batches for rep in range(1, repeats + 1)
                       for mst in masters for e in engines]:
        where = 'local[2]' if mst == 'local[2]' else 'cluster (2 executors)'
        tag = f'{mst.split("[")[0]}-{e}-b{b}' + (f'-r{rep}' if repeats > 1 else '')
        ep = [json.loads(l) for l in open(f'{work}/{tag}/metrics.jsonl')]
        m = ep[-1]
        step = m['trainSeconds']
        steps = m['step'] - ep[-2]['step']
        ips = m['imagesPerSecond']
        ips2 = ep[1]['imagesPerSecond']
        parts = {k: m.get(k + 'Seconds', 0.0) for k in
                 ('compute', 'broadcast', 'fetch', 'launch', 'taskOther', 'straggler', 'result',
                  'merge', 'allreduce', 'update')}
        # the ring's straggler wait is spent inside its allreduce: count it once
        counted = sum(v for k, v in parts.items() if not (e.startswith('ring') and k == 'straggler'))
        other = step - counted
        vs_ddp = '{:.2f}x'.format(ips / ddp[b]['images_per_second']) if b in ddp else 'n/a'
        vs_rep = '{:.2f}x'.format(ips / replica_ips(b)) if e.startswith('ring') and b in replica else 'n/a'
        around = [f'{work}/{tag}.ref-{w}' for w in ('before', 'after')]
        around = [float(re.search(r'images/s ([0-9.]+)', open(f).read()).group(1))
                  for f in around if os.path.exists(f) and os.path.getsize(f) > 0]
        row_ref = sum(around) / len(around) if len(around) == 2 else ref_ips
        brackets.append('{:,.0f} / {:,.0f}'.format(*around) if len(around) == 2 else 'n/a')
        ratios.setdefault((b, where, e), []).append((ips / row_ref, ips))
        label = e + (f' (run {rep})' if repeats > 1 else '')
        rows.append((where, label, b, ips, ips2, ips / row_ref, vs_rep, vs_ddp, steps, 1000 * step / steps,
                     m.get('driverResultBytesPerStep', float('nan')))
                    + tuple(v / step for v in parts.values())
                    + (other / step, (step - parts['compute']) / step))
        if m.get('allreduceSeconds', 0) > 0:
            rings.append((where, label, b, m['allreduceSeconds'], 1000 * m['allreduceSeconds'] / steps,
                          m['allreduceBytes'] / 1e6, m['allreduceBytes'] / steps / 1e6,
                          m['allreduceGigabytesPerSecond']))
cmd = (f'BATCHES="{" ".join(batches)}" ENGINES="{" ".join(engines)}" MASTERS="{" ".join(masters)}" '
       + (f'REPEATS={repeats} ' if repeats > 1 else '') + (f'EPOCHS={epochs} ' if epochs != 3 else '')
       + 'scripts/bench-train.sh')
lines = ['<!-- train:begin -->',
         '<!-- Generated by scripts/bench-train.sh: edits between these markers are overwritten. -->', '',
         f'- Date: {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC; CPU: {cpu}; {os.cpu_count()} cores',
         f'- Command: `{cmd}` (the last of {epochs} epochs of the 60,000 Fashion-MNIST '
         'training images per batch size, master and engine, `conf/fashion-mnist.conf`, 2 workers, no validation; '
         '`cluster` = the standalone cluster of `scripts/local-cluster.sh` on this machine, 2 workers x 1 core, 2g executors, '
         'submitted with `scripts/submit.sh`, the driver a third JVM on the same 2 cores)',
         f'- Reference, same run: the kernel without Spark, 2 data-parallel threads x batch 64 '
         f'(`convspark.bench.KernelThroughput`, 30 s at the start): **{ref_ips:,.0f} images/s** ({ref.split("(",1)[1].rstrip(")")}); '
         + (f'again for {os.environ.get("REF_SECONDS", "10")} s right before and right after each training row, and each row\'s '
            '"vs no-Spark" ratio is against the mean of those two (the replicas rows below against the 30 s figure)'
            if any(b != 'n/a' for b in brackets) else 'every ratio is against this figure (REF_SECONDS=0)')]
for b in batches:
    if b in replica:
        lines.append(f'- The ring engine\'s replicas without Spark, same run, global batch {b} '
                     '(`convspark.bench.ReplicaThroughput conf/fashion-mnist.conf 2 ' + b + f' {epochs}`: two replica threads '
                     f'running `ReplicaRound` on the real samples, summing through `LocalRing`; the {ordinal} epoch): '
                     f'**{replica_ips(b):,.0f} images/s**, {replica_ips(b) / ref_ips:.2f}x the reference '
                     f'({replica[b].split("(",1)[1].rstrip(")")})')
if ddp:
    d0 = next(iter(ddp.values()))
    blas = ', '.join(sorted(set(os.path.basename(l) for l in d0.get('libs', []) if l))) or '?'
    lines.append('- PyTorch DDP, same run: `bench/peers/torch_peer.py ddp --procs 2 --threads 1 --batch B/2 '
                 f'--seconds {ddp_seconds}` with `/usr/bin/python3` (gloo on loopback, 2 processes x 1 thread, '
                 'the same network, loss and optimizer, global batch B; random inputs of Fashion-MNIST\'s shape; '
                 'images/s of the group after a warm-up): '
                 + ', '.join(f'**{ddp[b]["images_per_second"]:,.0f} images/s** at {b}' for b in batches if b in ddp)
                 + f' (PyTorch {d0.get("torch", "?")}, BLAS {blas}, OpenBLAS kernel {d0.get("openblas_core", "?")}, '
                 f'{d0.get("threads", "?")} thread(s) per process)')
elif ddp_seconds == '0':
    lines.append('- PyTorch DDP: skipped (DDP_SECONDS=0)')
else:
    lines.append('- PyTorch DDP: failed in this run (see target/bench-train/ddp-b*.log)')
lines += ['',
         '| master | engine | global batch | images/s | images/s in epoch 2 | no-Spark reference just before / after | vs no-Spark 2 threads (mean of before and after) | vs replicas without Spark | vs DDP | steps | ms/step | driver bytes/step | compute | broadcast (driver) | broadcast fetch (tasks) | task launch | task, other | straggler wait | results to driver | sum (driver: allreduce; ring: local) | ring allreduce | optimizer update | unaccounted | overhead (step - compute) / step |',
         '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
for r, br in zip(rows, brackets):
    r = r[:5] + (br,) + r[5:]
    lines.append('| {} | {} | {} | {:,.0f} | {:,.0f} | {} | {:.2f}x | {} | {} | {} | {:.1f} | {:,.0f} | {:.0%} | {:.1%} | {:.1%} | {:.1%} | {:.1%} | {:.1%} | {:.1%} | {:.1%} | {:.1%} | {:.1%} | {:.1%} | **{:.0%}** |'.format(*r))
if repeats > 1:
    lines += ['', f'Medians over the {repeats} runs of each row (each run against its own references):', '',
              '| master | engine | global batch | images/s, median (range) | vs no-Spark 2 threads, median (range) |',
              '|---|---|---:|---:|---:|']
    for (b, where, e), rs in ratios.items():
        rr = sorted(r for r, _ in rs)
        ii = sorted(i for _, i in rs)
        med = lambda v: v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2
        lines.append(f'| {where} | {e} | {b} | {med(ii):,.0f} ({ii[0]:,.0f}-{ii[-1]:,.0f}) | '
                     f'**{med(rr):.2f}x** ({rr[0]:.2f}-{rr[-1]:.2f}x) |')
if rings:
    lines += ['', '| master | engine | global batch | allreduce s/epoch | ms/step | MB sent per epoch (rank 0) | MB per step | GB/s |',
              '|---|---|---:|---:|---:|---:|---:|---:|']
    for r in rings:
        lines.append('| {} | {} | {} | {:.2f} | {:.2f} | {:,.1f} | {:.2f} | {:.2f} |'.format(*r))
lines += ['', 'Shares of the step wall time (`metrics.jsonl` fields `*Seconds`). Compute is the mean per '
          'partition of the forward/backward time; task launch is the mean time from the driver '
          'submitting the step to a task starting (scheduling, task serialisation and '
          'deserialisation); "task, other" is the rest of the task (reading the cached block, '
          'building the result; for the ring, the barrier stage\'s time outside its steps: '
          'forming the ring, returning the state); straggler wait is the latest task end minus the mean task end '
          '(ring: the slowest rank\'s compute minus the mean, spent inside the ring allreduce and not counted twice); '
          'results to driver is the time from the last task end to the driver holding every '
          'result (result serialisation, transfer, deserialisation); the ring allreduce is rank 0\'s wall time '
          'inside the peer-to-peer allreduce; unaccounted is what is left '
          '(driver loop, metrics, GC). Driver bytes/step is `driverResultBytesPerStep`: the task result '
          'bytes the driver received for the epoch\'s training jobs (Spark\'s `TaskMetrics.resultSize`, '
          'measured by a listener), divided by the steps. Engine `ring` sums through memory under local[2] '
          '(`LocalRing`, `train.ring.transport = auto`) and on the cluster over TCP connections whose data goes '
          'through shared memory (`SharedMemoryLink`: both executors run on this host); `ring-tcp` is the ring '
          'engine with `train.ring.transport = tcp`, all data over TCP; `ring-full` is the ring engine with '
          '`train.ring.shard-update = false`, every replica applying the whole optimizer update (the ring '
          'engine shards it by default); `ring-sleep` is the ring engine with `train.ring.spin-micros = 0`, '
          'a replica that waits for its peer sleeping at once instead of spinning first. The ring table: bytes rank 0 sent to its '
          'neighbour (through memory: copied into the peer\'s vector, half what TCP sends) and its wall '
          'time in the allreduce, per epoch and per step.', '<!-- train:end -->']
doc = os.environ.get('BENCH_DOC') or 'docs/BENCHMARKS.md'
text = open(doc).read() if os.path.exists(doc) else '# Benchmarks\n'
if '<!-- train:begin -->' not in text:
    text += '\n## Training throughput in local[2]\n\n<!-- train:begin -->\n<!-- train:end -->\n'
a = text.index('<!-- train:begin -->'); z = text.index('<!-- train:end -->') + len('<!-- train:end -->')
text = text[:a] + '\n'.join(lines) + text[z:]
open(doc, 'w').write(text)
print('\n'.join(lines))
PY
