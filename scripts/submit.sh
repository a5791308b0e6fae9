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
# one 1-core executor per worker (CONVSPARK_EXECUTOR_MEMORY, default 1g; as many executors as the
# cluster has workers); --master local[2], spark://..., yarn... also work.
# On that cluster (no --master, or --master its URL) it first checks that the master and every
# worker run (local-cluster.sh status), that an executor's memory (CONVSPARK_EXECUTOR_MEMORY or
# --executor-memory) and cores (--executor-cores) fit in what a worker offers, and gives the
# driver the cluster's secret (SPARK_CONF_DIR=$CONVSPARK_CLUSTER_DIR/conf: the cluster only
# accepts applications that authenticate with it) and SPARK_LOCAL_IP=127.0.0.1.
# A --config file is also shipped to the executors with --files (by its absolute path; not one
# whose path holds a comma or a '#', which --files would split or cut: the driver reads it).
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
case "$cluster_dir" in /*) ;; *) cluster_dir="$PWD/$cluster_dir" ;; esac
die() { echo "submit: $*" >&2; exit 2; }

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
  echo "usage: $0 [spark-submit options] -- <train|evaluate|predict|export|config> [options]" >&2
  exit 2
fi

# a jar that is not there would end in Spark's "Failed to load class convspark.driver.cli.Main"
if [ -n "${CONVSPARK_SUBMIT_JAR:-}" ] && [ ! -f "$CONVSPARK_SUBMIT_JAR" ]; then
  die "CONVSPARK_SUBMIT_JAR='$CONVSPARK_SUBMIT_JAR': no such file (expected the jar for \
spark-submit, such as \
driver/$CONVSPARK_BUILD_DIR/convspark-driver_$CONVSPARK_SCALA-<version>-submit.jar)"
fi

# what spark-submit's launcher would take from these options for the driver JVM itself
driver_memory="${CONVSPARK_DRIVER_MEMORY:-1g}"
driver_opts=""
master=""
has_files=0
executor_memory=""
executor_cores=""
conf_memory=""
conf_cores=""
for ((i = 0; i < ${#spark_args[@]}; i++)); do
  case "${spark_args[$i]}" in
    --driver-memory|--driver-java-options|--master|--executor-memory|--executor-cores)
      if [ $((i + 1)) -ge ${#spark_args[@]} ]; then
        echo "submit: ${spark_args[$i]} needs a value (before --)" >&2
        exit 2
      fi ;;
  esac
  case "${spark_args[$i]}" in
    --driver-memory) driver_memory="${spark_args[$((i + 1))]}" ;;
    --driver-memory=*) driver_memory="${spark_args[$i]#*=}" ;;
    --driver-java-options) driver_opts="${spark_args[$((i + 1))]}" ;;
    --driver-java-options=*) driver_opts="${spark_args[$i]#*=}" ;;
    --master) master="${spark_args[$((i + 1))]}" ;;
    --master=*) master="${spark_args[$i]#*=}" ;;
    --files|--files=*) has_files=1 ;;
    --executor-memory) executor_memory="${spark_args[$((i + 1))]:-}" ;;
    --executor-memory=*) executor_memory="${spark_args[$i]#*=}" ;;
    --executor-cores) executor_cores="${spark_args[$((i + 1))]:-}" ;;
    --executor-cores=*) executor_cores="${spark_args[$i]#*=}" ;;
    --conf|-c)
      case "${spark_args[$((i + 1))]:-}" in
        spark.executor.memory=*) conf_memory="${spark_args[$((i + 1))]#*=}" ;;
        spark.executor.cores=*) conf_cores="${spark_args[$((i + 1))]#*=}" ;;
      esac ;;
    --conf=spark.executor.memory=*) conf_memory="${spark_args[$i]#*=*=}" ;;
    --conf=spark.executor.cores=*) conf_cores="${spark_args[$i]#*=*=}" ;;
  esac
done

# the --config files to ship with --files (unless the command line gives --files itself), which
# takes a comma-separated list: a path with a comma in it would be read as two files that do not
# exist and fail the application; such a file stays with the driver, which is what reads it
ship=()
if [ "$has_files" = 0 ]; then
  for ((i = 0; i < ${#app_args[@]}; i++)); do
    f=""
    case "${app_args[$i]}" in
      --config) f="${app_args[$((i + 1))]:-}" ;;
      --config=*) f="${app_args[$i]#--config=}" ;;
    esac
    [ -n "$f" ] && [ -f "$f" ] || continue
    case "$f" in
      *,*) echo "submit: --config '$f' is not shipped to the executors with --files (Spark" \
        "reads a comma there as a separator); the driver reads it, the executors do not need" \
        "it" >&2 ;;
      *'#'*) echo "submit: --config '$f' is not shipped to the executors with --files (Spark" \
        "reads a '#' there as the start of a URI fragment); the driver reads it, the executors" \
        "do not need it" >&2 ;;
      # absolute: a relative name with a colon (v1:x.conf) would read as a URI scheme
      /*) ship+=("$f") ;;
      *) ship+=("$PWD/$f") ;;
    esac
  done
fi

# the driver JVM is started here, with -Xms/-Xmx: a size it cannot read would end it with the
# JVM's own words, naming neither the option nor the variable
if ! [[ $driver_memory =~ ^[1-9][0-9]*[mMgG]$ ]]; then
  echo "submit: driver memory '$driver_memory' (--driver-memory, else CONVSPARK_DRIVER_MEMORY):" \
    "expected a size with unit m or g, e.g. 1g or 768m" >&2
  exit 2
fi

# a size with unit m or g (512m, 2g) in MiB; nothing for any other form (Spark judges those)
mib() {
  case "$1" in
    *[mM]) [[ ${1%?} =~ ^[0-9]+$ ]] && echo "$((10#${1%?}))" ;;
    *[gG]) [[ ${1%?} =~ ^[0-9]+$ ]] && echo "$((10#${1%?} * 1024))" ;;
  esac
  return 0
}

# a heap the machine cannot commit ends the JVM at start with a crash report (hs_err_pid*.log
# in the current directory), naming neither the option nor the variable; the bound is
# scripts/convspark's: 7/8 of MemTotal, or of the cgroup's memory.max when lower
avail_kb="$(awk '/^MemTotal:/ {print $2}' /proc/meminfo 2>/dev/null || true)"
limit="$(cat /sys/fs/cgroup/memory.max 2>/dev/null || true)"
if [[ $limit =~ ^[0-9]+$ ]] && [[ $avail_kb =~ ^[0-9]+$ ]] && [ $((limit / 1024)) -lt "$avail_kb" ]
then
  avail_kb=$((limit / 1024))
fi
# (more than 9 characters, 100000000m: beyond any machine, and beyond bash's arithmetic)
if [[ $avail_kb =~ ^[0-9]+$ ]] && { [ "${#driver_memory}" -gt 9 ] \
    || [ "$(mib "$driver_memory")" -gt $((avail_kb * 7 / 8 / 1024)) ]; }; then
  echo "submit: driver memory '$driver_memory' (--driver-memory, else CONVSPARK_DRIVER_MEMORY):" \
    "more than 7/8 of the $((avail_kb / 1024)) MiB of memory here (the JVM needs some beside" \
    "its heap); expected at most $((avail_kb * 7 / 8 / 1024))m" >&2
  exit 2
fi

# local-cluster.sh home prints only the path on stdout (Maven's messages go to stderr)
# (exit 2: a setting it refused, in one line of its own)
rc=0
spark_home="$(bash "$here/local-cluster.sh" home)" || rc=$?
[ "$rc" != 2 ] || exit 2
if [ "$rc" != 0 ]; then
  echo "submit: could not assemble target/spark-home (scripts/local-cluster.sh home failed;" \
    "see above)" >&2
  exit 1
fi
spark_home="$(printf '%s\n' "$spark_home" | tail -1)"
jar="${CONVSPARK_SUBMIT_JAR:-$(ls "$root/driver/$CONVSPARK_BUILD_DIR/convspark-driver_$CONVSPARK_SCALA"-*-submit.jar | head -1)}"

# The cluster of scripts/local-cluster.sh: it must be fully up, and an executor must fit in
# what one of its workers offers (else the driver would wait for executors that never come).
# $1 = 1 when this script sets the executor size itself (no --master given).
check_local_cluster() {
  local ours="$1" rc=0 conf="$cluster_dir/cluster.conf" workers cores memory want want_mib
  local have_mib want_cores="" cores_from=""
  bash "$here/local-cluster.sh" status > /dev/null 2>&1 || rc=$?
  [ "$rc" = 0 ] || die "the local cluster in $cluster_dir is not fully up (scripts/local-cluster.sh \
status: exit $rc; a master or worker is not running): restart it with scripts/local-cluster.sh stop \
and scripts/local-cluster.sh start"
  [ -r "$conf" ] && [ -r "$cluster_dir/conf/spark-defaults.conf" ] || die "$cluster_dir has no \
cluster.conf or conf/spark-defaults.conf (started by an older scripts/local-cluster.sh?): restart it"
  workers="$(sed -n 's/^workers=//p' "$conf")"
  cores="$(sed -n 's/^worker_cores=//p' "$conf")"
  memory="$(sed -n 's/^worker_memory=//p' "$conf")"
  cluster_workers="$workers"
  have_mib="$(mib "$memory")"
  # the executor size Spark will ask for: --executor-memory/--executor-cores win over --conf
  if [ -n "$executor_memory" ]; then
    want="--executor-memory $executor_memory"
    want_mib="$(mib "$executor_memory")"
  elif [ "$ours" = 1 ]; then
    want="CONVSPARK_EXECUTOR_MEMORY=${CONVSPARK_EXECUTOR_MEMORY:-1g}"
    [[ ${CONVSPARK_EXECUTOR_MEMORY:-1g} =~ ^[1-9][0-9]*[mMgG]$ ]] || die "CONVSPARK_EXECUTOR_MEMORY=\
'${CONVSPARK_EXECUTOR_MEMORY}': expected a size with unit m or g, e.g. 1g or 768m"
    want_mib="$(mib "${CONVSPARK_EXECUTOR_MEMORY:-1g}")"
  elif [ -n "$conf_memory" ]; then
    want="--conf spark.executor.memory=$conf_memory"
    want_mib="$(mib "$conf_memory")"
  else
    want="spark.executor.memory (Spark's default, 1g)"
    want_mib=1024
  fi
  if [ -n "$executor_cores" ]; then
    want_cores="$executor_cores" cores_from="--executor-cores $executor_cores"
  elif [ "$ours" = 1 ]; then
    want_cores=1
  elif [ -n "$conf_cores" ]; then
    want_cores="$conf_cores" cores_from="--conf spark.executor.cores=$conf_cores"
  fi
  if [ -n "$want_mib" ] && [ -n "$have_mib" ] && [ "$want_mib" -gt "$have_mib" ]; then
    die "$want: an executor needs more memory than a worker of the local cluster offers \
($memory; CONVSPARK_WORKER_MEMORY at its start): no executor would ever start; ask for at most \
$memory, or restart the cluster with more"
  fi
  if [[ $want_cores =~ ^[0-9]+$ ]] && [[ $cores =~ ^[0-9]+$ ]] && [ "$want_cores" -gt "$cores" ]; then
    die "$cores_from: more cores than a worker of the local cluster offers ($cores; \
CONVSPARK_WORKER_CORES at its start): no executor would ever start"
  fi
}

defaults=()
conf_dir="$spark_home/conf"
cluster_workers=""
if [ -z "$master" ]; then
  [ -s "$cluster_dir/master-url" ] || die "no --master given and no local cluster runs \
($cluster_dir); start one with scripts/local-cluster.sh start"
  check_local_cluster 1
  master="$(cat "$cluster_dir/master-url")"
  # one 1-core executor per worker
  defaults+=(--master "$master" --executor-memory "${CONVSPARK_EXECUTOR_MEMORY:-1g}"
    --executor-cores 1 --total-executor-cores "$cluster_workers")
  local_cluster=1
elif [ -s "$cluster_dir/master-url" ] && [ "$master" = "$(cat "$cluster_dir/master-url")" ]; then
  check_local_cluster 0
  local_cluster=1
else
  local_cluster=0
fi
if [ "$local_cluster" = 1 ]; then
  # the driver on the loopback interface like the workers, with the cluster's secret
  export SPARK_LOCAL_IP=127.0.0.1
  conf_dir="$cluster_dir/conf"
fi
if [ ${#ship[@]} -gt 0 ]; then
  defaults+=(--files "$(IFS=,; echo "${ship[*]}")")
fi

# SparkSubmit reads SPARK_CONF_DIR/spark-defaults.conf (the local cluster's secret: in a file of
# mode 600, not on this command line); log4j2.properties comes from SPARK_HOME/conf on the class path
export SPARK_HOME="$spark_home" SPARK_CONF_DIR="$conf_dir" SPARK_SCALA_VERSION="$CONVSPARK_SCALA"
# shellcheck disable=SC2086
exec java -Xms"$driver_memory" -Xmx"$driver_memory" $SPARK_JAVA17_FLAGS $driver_opts \
  -cp "$spark_home/conf:$spark_home/jars/*" org.apache.spark.deploy.SparkSubmit \
  --deploy-mode client --class convspark.driver.cli.Main \
  --conf "spark.driver.extraJavaOptions=$SPARK_JAVA17_FLAGS" \
  --conf "spark.executor.extraJavaOptions=$SPARK_JAVA17_FLAGS" \
  ${defaults[@]+"${defaults[@]}"} ${spark_args[@]+"${spark_args[@]}"} "$jar" "${app_args[@]}"
