#!/usr/bin/env bash
# Installs what convspark needs on Debian/Ubuntu: a JDK 17 (or newer), Maven, native OpenBLAS
# and (unless --no-data) the Fashion-MNIST data set. Safe to run again; installs only what is
# missing. Installing needs root: it uses sudo when not root, and says so when there is none.
set -euo pipefail

# major version of `$1 -version` (javac 17.0.9 -> 17, java "1.8.0_392" -> 8); empty if absent
jdk_major() {
  local v
  command -v "$1" >/dev/null 2>&1 || return 0
  v="$("$1" -version 2>&1 | sed -n -E 's/^(javac|.* version) "?([0-9][0-9._]*).*/\2/p' | head -1)"
  case "$v" in 1.*) v="${v#1.}" ;; esac
  echo "${v%%[._]*}"
}

# javac and java both 17 or newer (java is what the scripts run, javac what Maven compiles with)
jdk_ok() {
  local c r
  c="$(jdk_major javac)"
  r="$(jdk_major java)"
  [[ $c =~ ^[0-9]+$ ]] && [[ $r =~ ^[0-9]+$ ]] && [ "$c" -ge 17 ] && [ "$r" -ge 17 ]
}

want=()
jdk_ok || want+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || want+=(maven)
[ -e /usr/lib/x86_64-linux-gnu/libopenblas.so.0 ] || [ -e /usr/lib/aarch64-linux-gnu/libopenblas.so.0 ] \
  || want+=(libopenblas0-pthread)
if [ "${1:-}" != "--no-data" ] && [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  want+=(dataset-fashion-mnist)
fi
if [ ${#want[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
      echo "setup: ${want[*]} must be installed and this user is not root and has no sudo: run scripts/setup.sh as root (or apt-get install ${want[*]})" >&2
      exit 1
    }
    sudo="sudo"
  fi
  echo "setup: installing ${want[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${want[@]}" >/dev/null
fi
if ! jdk_ok; then
  # installed, but an older JDK comes first (PATH, or alternatives set by hand)
  echo "setup: convspark needs a JDK 17 or newer; javac on PATH is version $(jdk_major javac), java" \
    "$(jdk_major java): put JDK 17's bin first on PATH or choose it with update-alternatives" \
    "--config java and --config javac" >&2
  exit 1
fi
