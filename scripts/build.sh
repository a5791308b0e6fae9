#!/usr/bin/env bash
# Builds convspark (skipping tests) when a source is newer than the last build, and writes the
# driver's full runtime classpath (Spark included) to driver/target/classpath.txt, pointing at a
# snapshot of the build (below).
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
echo "build: compiling convspark (mvn ${CONVSPARK_MVN_PROFILE:+$CONVSPARK_MVN_PROFILE }package -DskipTests -pl driver -am)" >&2
mkdir -p target
log=target/build.log
# -q prints only warnings and errors; they go to the log and, on failure, to the terminal
rc=0
# the classpath of the commands: compile, runtime and provided (Spark) jars; JUnit, the one
# test-scoped dependency, left out (the plugin's scope filter cannot drop test alone)
mvn -q -B -ntp $CONVSPARK_MVN_PROFILE -DskipTests -pl driver -am package dependency:build-classpath \
  -Dmdep.outputFile="$b/deps.txt" \
  -DexcludeGroupIds=org.junit.jupiter,org.junit.platform,org.opentest4j,org.apiguardian \
  >"$log" 2>&1 || rc=$?
if [ "$rc" != 0 ]; then
  grep -E '^\[(ERROR|FATAL)\]' "$log" | grep -v -E '^\[ERROR\] *(-> \[Help|$|To see the full|Re-run Maven|For more information|\[Help)' \
    | head -40 >&2 || true
  [ -s "$log" ] && ! grep -q -E '^\[(ERROR|FATAL)\]' "$log" && tail -40 "$log" >&2
  echo "build: mvn failed (exit $rc); full output in $(pwd)/$log. Hint: a download error means" \
    "Maven Central is unreachable (check the network or proxy in ~/.m2/settings.xml); a" \
    "compile error means the sources are broken." >&2
  exit "$rc"
fi
# Commands run from a snapshot of this build (driver/$b/run/N: the driver's classes and the
# common and worker jars, 1-2 MB), not from target/classes: a later build, after an edit, must
# not change the classes under a JVM that is still running (a long training run), which would
# load a mix of old and new classes. Snapshots that no running process names are removed.
root="$(pwd)"
snap="driver/$b/run/$(date +%s%N)"
mkdir -p "$snap/lib"
cp -R "driver/$b/classes" "$snap/classes"
cp_line="$root/$snap/classes"
IFS=: read -r -a deps <<< "$(cat "driver/$b/deps.txt")"
for d in "${deps[@]}"; do
  case "$d" in
    "$root"/*) cp "$d" "$snap/lib/" && d="$root/$snap/lib/$(basename "$d")" ;;
  esac
  cp_line="$cp_line:$d"
done
for old in "driver/$b/run"/*; do
  [ "$old" = "$snap" ] && continue
  grep -qsaF "$root/$old/" /proc/[0-9]*/cmdline 2>/dev/null || rm -rf "$old"
done
echo "$cp_line" > "$stamp"
