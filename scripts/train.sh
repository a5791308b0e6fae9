#!/usr/bin/env bash
# The main job: installs what is missing (JDK, Maven, OpenBLAS, Fashion-MNIST), builds, and
# trains conf/fashion-mnist.conf in local[*], writing to runs/fashion-mnist-<time> (or $OUT).
# Extra arguments go to `convspark train`, e.g. --set train.epochs=1
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
out="${OUT:-runs/fashion-mnist-$(date +%Y%m%d-%H%M%S)}"
exec scripts/convspark train --config conf/fashion-mnist.conf --out "$out" "$@"
