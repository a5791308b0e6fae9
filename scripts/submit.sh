#!/usr/bin/env bash
# Submits a convspark command to Spark in client mode, as spark-submit would:
#
#   scripts/submit.sh [spark-submit options] -- train --config conf/x.conf --out DIR [...]
#
# Runs org.apache.spark.deploy.SparkSubmit from target/spark-home (the Spark jars Maven resolved;
# see scripts/local-cluster.sh; no Spark installation needed) with the jar for spark-submit,
# driver/target/convspark-driver_2.12-<version>-submit.jar (Spark 4:
# driver/target/spark-4/convspark-driver_2.13-<version>-submit.jar), main class
# convspark.driver.cli.Main.
# Without --master it submits to the cluster of scripts/local-cluster.sh (which must run) with
# one 1-core executor per worker (CONVSPARK_EXECUTOR_MEMORY, default 1g; CONVSPARK_CLUSTER_WORKERS
# executors, default 2); --master local[2], spark://..., yarn... also work.
# A --config file is also shipped to the executors with --files.
#
# The driver is this JVM (client mode): its heap is --driver-memory (default
# CONVSPARK_DRIVER_MEMORY, 1g) and --driver-java-options are added to it; it and the executors
# (spark.executor.extraJavaOptions) get the flags Spark needs on Java 17 (scripts/java-flags.sh).
# CONVSPARK_SPARK picks the Spark line (3.5, the default, or 4; scripts/java-flags.sh): its
# SPARK_HOME, jar (convspark-driver_2.12-... or _2.13-...) and default cluster.
# Exit code: the command's (0 ok, 2 bad input, 3 training failed). CONVSPARK_SUBMIT_JAR submits
# another jar; CONVSPARK_CLUSTER_DIR and CONVSPARK_NO_BUILD as for scripts/local-cluster.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
. "$here/java-flags.sh"
cluster_dir="${CONVSPARK_CLUSTER_DIR:-$root/$CONVSPARK_BUILD_DIR/cluster}"

spark_args=()
app_args=()
seen_sep=0
for a in "$@"; do
  if [ "$seen_sep" = 0 ] && [ "$a" = "--" ]; then
    seen_sep=1
  elif [ "$seen_sep" = 0 ]; then
    spark_args+=("$a")
  else
    app_args+=("$a")
  fi
done
if [ "$seen_sep" = 0 ] || [ "${#app_args[@]}" -eq 0 ]; then
  echo "usage: $0 [spark-submit options] -- <train|evaluate|predict|export> [options]" >&2
  exit 2
fi

spark_home="$(bash "$here/local-cluster.sh" home | tail -1)"
jar="${CONVSPARK_SUBMIT_JAR:-$(ls "$root/driver/$CONVSPARK_BUILD_DIR/convspark-driver_$CONVSPARK_SCALA"-*-submit.jar | head -1)}"

# what spark-submit's launcher would take from these options for the driver JVM itself
driver_memory="${CONVSPARK_DRIVER_MEMORY:-1g}"
driver_opts=""
master=""
has_files=0
for ((i = 0; i < ${#spark_args[@]}; i++)); do
  case "${spark_args[$i]}" in
    --driver-memory) driver_memory="${spark_args[$((i + 1))]}" ;;
    --driver-memory=*) driver_memory="${spark_args[$i]#*=}" ;;
    --driver-java-options) driver_opts="${spark_args[$((i + 1))]}" ;;
    --driver-java-options=*) driver_opts="${spark_args[$i]#*=}" ;;
    --master) master="${spark_args[$((i + 1))]}" ;;
    --master=*) master="${spark_args[$i]#*=}" ;;
    --files|--files=*) has_files=1 ;;
  esac
done

defaults=()
if [ -z "$master" ]; then
  [ -s "$cluster_dir/master-url" ] || { echo "submit: no --master given and no local cluster \
runs ($cluster_dir); start one with scripts/local-cluster.sh start" >&2; exit 2; }
  master="$(cat "$cluster_dir/master-url")"
  # one executor per 1-core worker; the driver on the loopback interface like the workers
  defaults+=(--master "$master" --executor-memory "${CONVSPARK_EXECUTOR_MEMORY:-1g}"
    --executor-cores 1 --total-executor-cores "${CONVSPARK_CLUSTER_WORKERS:-2}")
  export SPARK_LOCAL_IP=127.0.0.1
fi
if [ "$has_files" = 0 ]; then
  for ((i = 0; i + 1 < ${#app_args[@]}; i++)); do
    if [ "${app_args[$i]}" = --config ] && [ -f "${app_args[$((i + 1))]}" ]; then
      defaults+=(--files "${app_args[$((i + 1))]}")
    fi
  done
fi

export SPARK_HOME="$spark_home" SPARK_CONF_DIR="$spark_home/conf" SPARK_SCALA_VERSION="$CONVSPARK_SCALA"
# shellcheck disable=SC2086
exec java -Xms"$driver_memory" -Xmx"$driver_memory" $SPARK_JAVA17_FLAGS $driver_opts \
  -cp "$spark_home/conf:$spark_home/jars/*" org.apache.spark.deploy.SparkSubmit \
  --deploy-mode client --class convspark.driver.cli.Main \
  --conf "spark.driver.extraJavaOptions=$SPARK_JAVA17_FLAGS" \
  --conf "spark.executor.extraJavaOptions=$SPARK_JAVA17_FLAGS" \
  ${defaults[@]+"${defaults[@]}"} ${spark_args[@]+"${spark_args[@]}"} "$jar" "${app_args[@]}"
