#!/usr/bin/env bash
# The test command: installs what is missing (JDK, Maven, OpenBLAS, Fashion-MNIST for the tests
# that use it), then runs every module's tests with Maven.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec mvn -B -ntp verify "$@"
