#!/usr/bin/env bash
# The main job: installs what is missing (JDK, Maven, OpenBLAS, Fashion-MNIST), builds, and
# trains conf/fashion-mnist.conf in local[*], writing to runs/fashion-mnist-<time> in the
# repository (or $OUT). Extra arguments go to `convspark train`, e.g. --set train.epochs=1
# A relative OUT, and relative paths in the extra arguments, are taken from the directory the
# script is started in, as for any command (it does not cd). An extra --config FILE or --out DIR
# takes the place of the script's (conf/fashion-mnist.conf; OUT).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
config=(--config "$root/conf/fashion-mnist.conf")
out=(--out "${OUT:-$root/runs/fashion-mnist-$(date +%Y%m%d-%H%M%S)}")
for a in "$@"; do
  case "$a" in
    --) break ;;
    --config|--config=*) config=() ;;
    --out|--out=*) out=() ;;
  esac
done
"$root/scripts/setup.sh"
exec "$root/scripts/convspark" train "${config[@]}" "${out[@]}" "$@"
