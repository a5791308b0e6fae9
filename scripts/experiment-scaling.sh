#!/usr/bin/env bash
# The linear scaling rule, reproduced: trains conf/fashion-mnist.conf in local[2] with global
# batch 64*k for each k, once per scaling rule (linear and sqrt with gradual warmup, none
# without), the same number of epochs for all, and writes docs/SCALING.md (tables and plots;
# each run's metrics.jsonl and summary.json are kept under docs/scaling/<rule>-k<k>/).
#   KS="1 2 4 8 16" RULES="linear sqrt none" EPOCHS=8 scripts/experiment-scaling.sh
# Also: BASE_LR (0.025, the rate for batch 64), WARMUP (2 epochs; linear and sqrt only),
# WORK (target/scaling: the run directories), ENGINE (driver, the engine docs/SCALING.md's runs
# used; they were made before the ring engine, which conf/fashion-mnist.conf now chooses).
set -euo pipefail
case $0 in */*) . "${0%/*}/bench-lib.sh" ;; *) . ./bench-lib.sh ;; esac # builtins only
takes_no_arguments 'KS="1 2"' "$@"
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
ks="${KS:-1 2 4 8 16}"
rules="${RULES:-linear sqrt none}"
epochs="${EPOCHS:-8}"
base_lr="${BASE_LR:-0.025}"
warmup="${WARMUP:-2}"
work="${WORK:-target/scaling}"
engine="${ENGINE:-driver}"
mkdir -p "$work" docs/scaling
for rule in $rules; do
  for k in $ks; do
    run="$work/$rule-k$k"
    if [ -f "$run/summary.json" ]; then
      echo "== $rule k=$k: done already ($run)"
      continue
    fi
    # at k = 1 every rule gives the base rate (and warmup from base to base is none): one run
    # serves all three rules
    if [ "$k" = 1 ] && [ "$rule" != linear ] && [ -f "$work/linear-k1/summary.json" ]; then
      echo "== $rule k=1: the same run as linear k=1"
      mkdir -p "docs/scaling/$rule-k1"
      cp "$work/linear-k1/summary.json" "$work/linear-k1/metrics.jsonl" "docs/scaling/$rule-k1/"
      continue
    fi
    w="$warmup"
    [ "$rule" = none ] && w=0
    echo "== $rule k=$k: global batch $((64 * k))"
    # an interrupted run continues from its checkpoints; anything else in $run is replaced
    again=--overwrite
    if compgen -G "$run/checkpoints/ckpt-*.bin" > /dev/null; then
      again=--resume
      echo "== $rule k=$k: resuming the interrupted run in $run"
    fi
    scripts/convspark train --config conf/fashion-mnist.conf --out "$run" "$again" \
      --master 'local[2]' --set train.engine="$engine" \
      --set train.workers=2 --set train.global-batch=$((64 * k)) --set train.base-batch=64 \
      --set train.base-lr="$base_lr" --set train.scaling="$rule" --set train.warmup-epochs="$w" \
      --set train.epochs="$epochs" --set train.early-stopping.patience=0 \
      --set train.log-every-steps=0 | grep -E '^epoch|test accuracy|learning rate'
    mkdir -p "docs/scaling/$rule-k$k"
    cp "$run/summary.json" "$run/metrics.jsonl" "docs/scaling/$rule-k$k/"
  done
done
. scripts/java-flags.sh
# shellcheck disable=SC2086
# the benchmark programs live in the bench module (not in the product jar)
mvn -q -B -o -pl bench -am compile >&2 || mvn -q -B -pl bench -am compile >&2
java $SPARK_JAVA17_FLAGS -cp "bench/target/classes:$(cat driver/target/classpath.txt)" \
  convspark.bench.ScalingReport docs/scaling docs \
  "KS=\"$ks\" RULES=\"$rules\" EPOCHS=$epochs BASE_LR=$base_lr WARMUP=$warmup scripts/experiment-scaling.sh"
