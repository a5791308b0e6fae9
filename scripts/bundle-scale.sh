#!/usr/bin/env bash
# Builds the self-contained bundle that runs scripts/bench-scale.sh on a Linux x86-64 machine
# with no Java and no network (e.g. the 16-core machine of the device tool): a jlink runtime
# (DESIGN.md section 8), bench/target/benchmarks.jar (convspark + netlib with arpack + JMH + the
# bundled OpenBLAS 0.3.31 that convspark.common.blas.Blas loads, as in training),
# conf/fashion-mnist.conf, bench/peers/torch_peer.py and the script itself. Output: target/convspark-scale.tar.xz
# (must stay under 64 MiB, the most a device call carries). Unpack and run
# `convspark-scale/scripts/bench-scale.sh`.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
log() { echo "bundle-scale: $*" >&2; }
OUTDIR=target/scale-bundle
B=$OUTDIR/convspark-scale
TAR=target/convspark-scale.tar.xz
command -v jlink >/dev/null || { log "jlink (JDK 17) is required"; exit 2; }

log "building the bench module"
mvn -q -B -o -pl bench -am install -DskipTests >&2 || mvn -q -B -pl bench -am install -DskipTests >&2
rm -rf "$OUTDIR"; mkdir -p "$B"/{scripts,lib,conf,bench/peers}
log "jlink runtime"
jlink --add-modules java.base,java.logging,jdk.incubator.vector,jdk.unsupported,java.management \
  --strip-debug --no-header-files --no-man-pages --compress=2 --output "$B/runtime"
cp bench/target/benchmarks.jar "$B/lib/"
cp conf/fashion-mnist.conf "$B/conf/"
cp bench/peers/torch_peer.py "$B/bench/peers/"
cp scripts/bench-scale.sh scripts/bench-lib.sh "$B/scripts/"
log "smoke test of the bundled runtime (the BLAS it loads; a Java fallback fails the build)"
SMOKE=$(mktemp -d)
blas=$("$B/runtime/bin/java" --add-modules=jdk.incubator.vector -Dorg.bytedeco.javacpp.cachedir="$SMOKE" \
  -cp "$B/lib/benchmarks.jar" convspark.bench.KernelInfo 2>/dev/null | grep -o '"blas": "[^"]*"' || true)
rm -rf "$SMOKE"
log "${blas:-no BLAS line from convspark.bench.KernelInfo}"
case "$blas" in *"bundled OpenBLAS"*) ;; *) log "the bundled runtime did not load the bundled OpenBLAS"; exit 3 ;; esac
rm -f "$TAR"
XZ_OPT=${XZ_OPT:--6 -T0} tar -C "$OUTDIR" -cJf "$TAR" convspark-scale
size=$(stat -c %s "$TAR")
log "$TAR: $((size / 1024 / 1024)) MiB ($size bytes)"
[ "$size" -lt $((64 * 1024 * 1024)) ] || { log "bundle over 64 MiB"; exit 3; }
