#!/usr/bin/env bash
# Builds convspark (skipping tests) when a source is newer than the last build, and writes the
# driver's full runtime classpath (Spark included) to driver/target/classpath.txt.
# CONVSPARK_SPARK=4 builds the Spark 4 line instead (mvn -Pspark-4, into driver/target/spark-4/).
#
# One reactor build (the parent POM and common, worker, driver): the classpath of driver is
# resolved inside the reactor, so nothing of convspark has to be installed in the local Maven
# repository first (a fresh clone on a new machine builds the same as a developer's checkout).
# On failure Maven's own messages are shown, with a one-line hint, and the exit code is Maven's.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/java-flags.sh
b="$CONVSPARK_BUILD_DIR"
stamp="driver/$b/classpath.txt"
if [ -f "$stamp" ] && [ -z "$(find pom.xml common worker driver -path "*/target" -prune -o \( -name pom.xml -o -path "*/src/main/*" \) -newer "$stamp" -print -quit 2>/dev/null)" ]; then
  exit 0
fi
command -v mvn >/dev/null 2>&1 || {
  echo "build: mvn not found; install Maven and a JDK 17 (scripts/setup.sh does both)" >&2
  exit 1
}
echo "build: compiling convspark (mvn $CONVSPARK_MVN_PROFILE package -DskipTests -pl driver -am)" >&2
mkdir -p target
log=target/build.log
# -q prints only warnings and errors; they go to the log and, on failure, to the terminal
rc=0
mvn -q -B -ntp $CONVSPARK_MVN_PROFILE -DskipTests -pl driver -am package dependency:build-classpath \
  -Dmdep.outputFile="$b/deps.txt" >"$log" 2>&1 || rc=$?
if [ "$rc" != 0 ]; then
  grep -E '^\[(ERROR|FATAL)\]' "$log" | grep -v -E '^\[ERROR\] *(-> \[Help|$|To see the full|Re-run Maven|For more information|\[Help)' \
    | head -40 >&2 || true
  [ -s "$log" ] && ! grep -q -E '^\[(ERROR|FATAL)\]' "$log" && tail -40 "$log" >&2
  echo "build: mvn failed (exit $rc); full output in $(pwd)/$log. Hint: a download error means" \
    "Maven Central is unreachable (check the network or proxy in ~/.m2/settings.xml); a" \
    "compile error means the sources are broken." >&2
  exit "$rc"
fi
echo "$(pwd)/driver/$b/classes:$(cat "driver/$b/deps.txt")" > "$stamp"
