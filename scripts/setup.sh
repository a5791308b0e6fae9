#!/usr/bin/env bash
# Installs what convspark needs on Debian/Ubuntu: a JDK 17, Maven, native OpenBLAS and (unless
# --no-data) the Fashion-MNIST data set. Safe to run again; installs only what is missing.
set -euo pipefail
want=()
command -v javac >/dev/null 2>&1 || want+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || want+=(maven)
[ -e /usr/lib/x86_64-linux-gnu/libopenblas.so.0 ] || [ -e /usr/lib/aarch64-linux-gnu/libopenblas.so.0 ] \
  || want+=(libopenblas0-pthread)
if [ "${1:-}" != "--no-data" ] && [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  want+=(dataset-fashion-mnist)
fi
if [ ${#want[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "setup: installing ${want[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${want[@]}" >/dev/null
fi
