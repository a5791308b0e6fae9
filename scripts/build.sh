#!/usr/bin/env bash
# Builds convspark (skipping tests) when a source is newer than the last build, and writes the
# driver's full runtime classpath (Spark included) to driver/target/classpath.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=driver/target/classpath.txt
if [ -f "$stamp" ] && [ -z "$(find pom.xml common worker driver -path "*/target" -prune -o \( -name pom.xml -o -path "*/src/main/*" \) -newer "$stamp" -print -quit 2>/dev/null)" ]; then
  exit 0
fi
echo "build: compiling convspark (mvn install -DskipTests)" >&2
mvn -q -B -DskipTests install -pl common,worker,driver
mvn -q -B -pl driver dependency:build-classpath -Dmdep.outputFile=target/deps.txt >/dev/null
echo "$(pwd)/driver/target/classes:$(cat driver/target/deps.txt)" > "$stamp"
