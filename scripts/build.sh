#!/usr/bin/env bash
# Builds convspark (skipping tests) when a source is newer than the last build, and writes the
# driver's full runtime classpath (Spark included) to driver/target/classpath.txt.
# CONVSPARK_SPARK=4 builds the Spark 4 line instead (mvn -Pspark-4, into driver/target/spark-4/).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/java-flags.sh
b="$CONVSPARK_BUILD_DIR"
stamp="driver/$b/classpath.txt"
if [ -f "$stamp" ] && [ -z "$(find pom.xml common worker driver -path "*/target" -prune -o \( -name pom.xml -o -path "*/src/main/*" \) -newer "$stamp" -print -quit 2>/dev/null)" ]; then
  exit 0
fi
echo "build: compiling convspark (mvn install -DskipTests)" >&2
mvn -q -B $CONVSPARK_MVN_PROFILE -DskipTests install -pl common,worker,driver
mvn -q -B $CONVSPARK_MVN_PROFILE -pl driver dependency:build-classpath -Dmdep.outputFile="$b/deps.txt" >/dev/null
echo "$(pwd)/driver/$b/classes:$(cat "driver/$b/deps.txt")" > "$stamp"
