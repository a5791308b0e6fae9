#!/usr/bin/env bash
# The main job: installs what is missing (JDK, Maven, OpenBLAS, Fashion-MNIST), builds, and
# trains conf/fashion-mnist.conf in local[*], writing to runs/fashion-mnist-<time> in the
# repository (or $OUT). Extra arguments go to `convspark train`, e.g. --set train.epochs=1
# A relative OUT, and relative paths in the extra arguments, are taken from the directory the
# script is started in, as for any command (it does not cd).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh"
out="${OUT:-$root/runs/fashion-mnist-$(date +%Y%m%d-%H%M%S)}"
exec "$root/scripts/convspark" train --config "$root/conf/fashion-mnist.conf" --out "$out" "$@"
