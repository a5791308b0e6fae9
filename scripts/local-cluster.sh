#!/usr/bin/env bash
# A Spark standalone cluster on this machine, from the Spark jars Maven already resolved for the
# build (no Spark download):  scripts/local-cluster.sh start | stop | status | home
#
#   start   a master and CONVSPARK_CLUSTER_WORKERS (2) workers on 127.0.0.1, each worker with
#           1 core and CONVSPARK_WORKER_MEMORY (1g); returns once every worker has registered.
#           Ports are chosen by the system (nothing fixed to collide with); the master's URL is
#           written to $CONVSPARK_CLUSTER_DIR/master-url and printed, what each worker offers
#           to $CONVSPARK_CLUSTER_DIR/cluster.conf (scripts/submit.sh checks requests against it).
#           Every start makes a new random secret in $CONVSPARK_CLUSTER_DIR/conf/spark-defaults.conf
#           (directory mode 700, file mode 600; spark.authenticate = true): master, workers,
#           executors and the drivers scripts/submit.sh starts authenticate with it, so other
#           users' processes cannot register applications or workers (nor run code as you).
#           While this directory's cluster runs: exit 0 if it is fully up and offers what the
#           variables set ask for, else 2 (another size or master port) or 1 (a daemon gone);
#           never a restart. A CONVSPARK_MASTER_PORT in use: exit 2 (Spark would take the next).
#   stop    stops the workers (they kill their executors), the master, and any executor left
#           behind in this cluster's work directories.
#   status  what runs; exit code 0 all running, 3 nothing running (naming files an earlier start
#           left, which stop removes), 1 partly running.
#   home    assembles the SPARK_HOME the cluster and scripts/submit.sh use and prints its path.
#
# CONVSPARK_SPARK picks the Spark line (3.5, the default, or 4; scripts/java-flags.sh): its
# build's outputs (driver/target/ or driver/target/spark-4/), and its own SPARK_HOME and default
# cluster directory (target/ or target/spark-4/), so the two lines never share a cluster.
#
# SPARK_HOME is target/spark-home: jars/ holds links to the jars of the driver's provided
# dependencies (Spark, Scala, Hadoop; listed by the build in driver/target/spark-classpath.txt),
# conf/ holds log4j2 configs. Workers launch executors with SPARK_HOME/conf and SPARK_HOME/jars/*
# as their class path, exactly as in a Spark installation.
#
# Environment: CONVSPARK_CLUSTER_DIR (default target/cluster, target/spark-4/cluster: master-url,
# cluster.conf, conf/, run/*.pid, logs/, work/, the mark .local-cluster; a directory holding
# anything else, unmarked, is refused), CONVSPARK_CLUSTER_WORKERS (2),
# CONVSPARK_WORKER_CORES (1), CONVSPARK_WORKER_MEMORY (1g), SPARK_DAEMON_MEMORY (512m, heap of
# master and workers), CONVSPARK_MASTER_PORT (0 = any free port), CONVSPARK_NO_BUILD=1 (do not
# run Maven; fail if the build outputs are missing). Counts must be positive integers, memory
# sizes a positive number with m or g (512m, 2g).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
. "$here/java-flags.sh"
# (any other value than 1 did build: a CONVSPARK_NO_BUILD=true meant to prevent one ran Maven)
case "${CONVSPARK_NO_BUILD:-}" in
  '' | 0 | 1) ;;
  *) echo "local-cluster: CONVSPARK_NO_BUILD='$CONVSPARK_NO_BUILD': expected 1 (never run" \
       "Maven) or 0 (build where a source is newer)" >&2
     exit 2 ;;
esac

b="$CONVSPARK_BUILD_DIR"
cluster_dir="${CONVSPARK_CLUSTER_DIR:-$root/$b/cluster}"
# absolute and without symlinks: executors are found by their working directory, which /proc
# shows resolved (start resolves it again once the directory exists)
case "$cluster_dir" in /*) ;; *) cluster_dir="$PWD/$cluster_dir" ;; esac
if [ -d "$cluster_dir" ]; then cluster_dir="$(cd "$cluster_dir" && pwd -P)"; fi
spark_home="$root/$b/spark-home"
workers="${CONVSPARK_CLUSTER_WORKERS:-2}"
worker_cores="${CONVSPARK_WORKER_CORES:-1}"
worker_memory="${CONVSPARK_WORKER_MEMORY:-1g}"
daemon_memory="${SPARK_DAEMON_MEMORY:-512m}"
spark_cp_file="$root/driver/$b/spark-classpath.txt"
timeout_s=90

die() { echo "local-cluster: $*" >&2; exit 1; }
bad() { echo "local-cluster: $*" >&2; exit 2; }

# the environment start reads, checked before anything starts
check_settings() {
  [[ $workers =~ ^[1-9][0-9]*$ ]] \
    || bad "CONVSPARK_CLUSTER_WORKERS='$workers': expected a positive integer (workers to start)"
  [[ $worker_cores =~ ^[1-9][0-9]*$ ]] \
    || bad "CONVSPARK_WORKER_CORES='$worker_cores': expected a positive integer (cores per worker)"
  [[ $worker_memory =~ ^[1-9][0-9]*[mMgG]$ ]] \
    || bad "CONVSPARK_WORKER_MEMORY='$worker_memory': expected a size with unit m or g, e.g. 1g or 1536m"
  [[ $daemon_memory =~ ^[1-9][0-9]*[mMgG]$ ]] \
    || bad "SPARK_DAEMON_MEMORY='$daemon_memory': expected a size with unit m or g, e.g. 512m"
  local port="${CONVSPARK_MASTER_PORT:-0}"
  [[ $port =~ ^[0-9]+$ ]] && [ "${#port}" -le 5 ] && [ "$port" -le 65535 ] \
    || bad "CONVSPARK_MASTER_PORT='$port': expected a port number 0-65535 (0: any free port)"
}

# The build outputs the cluster and submit.sh need: the jar for spark-submit and the list of
# Spark's jars. Builds (skipping tests) when they are missing or older than a source.
ensure_built() {
  local jar
  jar="$(ls "$root/driver/$b/convspark-driver_$CONVSPARK_SCALA"-*-submit.jar 2>/dev/null | head -1 || true)"
  if [ "${CONVSPARK_NO_BUILD:-}" = 1 ]; then
    [ -n "$jar" ] && [ -f "$spark_cp_file" ] || die "driver/$b has no *-submit.jar or \
spark-classpath.txt: build with mvn $CONVSPARK_MVN_PROFILE -DskipTests install -pl common,worker,driver"
    return
  fi
  "$here/build.sh"
  if [ -z "$jar" ] || [ ! -f "$spark_cp_file" ] || [ -n "$(cd "$root" && find pom.xml */pom.xml \
      */src/main -newer "$jar" -print -quit 2>/dev/null)" ]; then
    echo "local-cluster: building the jar for spark-submit (mvn install -DskipTests)" >&2
    # Maven writes its errors to stdout: to stderr with them, stdout is for this script's answer
    local rc=0
    (cd "$root" && mvn -q -B $CONVSPARK_MVN_PROFILE -DskipTests install -pl common,worker,driver) >&2 \
      || rc=$?
    [ "$rc" = 0 ] || die "mvn $CONVSPARK_MVN_PROFILE -DskipTests install -pl common,worker,driver \
failed (exit $rc; its messages are above): a compile error means the sources are broken, a \
download error that Maven Central is unreachable"
  fi
}

write_conf() {
  local conf="$1/conf"
  mkdir -p "$conf"
  # driver (under submit.sh) and executors: warnings only, like convspark's own log4j2.properties
  cat > "$conf/log4j2.properties" <<'EOF'
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
logger.netlib.name = dev.ludovic.netlib
logger.netlib.level = error
logger.hadoopnative.name = org.apache.hadoop.util.NativeCodeLoader
logger.hadoopnative.level = error
# "Asked to remove block broadcast_N, which does not exist": a broadcast destroyed by a step and
# again by Spark's cleaner, harmless; the BlockManager's other warnings still show
logger.blockmanager.name = org.apache.spark.storage.BlockManager
logger.blockmanager.level = warn
logger.blockmanager.filter.gone.type = RegexFilter
logger.blockmanager.filter.gone.regex = Asked to remove block .*, which does not exist
logger.blockmanager.filter.gone.onMatch = DENY
logger.blockmanager.filter.gone.onMismatch = NEUTRAL
# A broadcast a step destroyed (without waiting) and Spark's ContextCleaner removed again once it
# was garbage collected: the two removals can meet in an executor's BlockManager, which fails
# one of them ("Block broadcast_N_piece0 does not exist"), and the driver logs that twice with
# stack traces in a run that goes on unharmed (the driver engine on a cluster, a few times an
# epoch). The cleaner's error names only the broadcast, so every failed cleaning of a broadcast
# is dropped: it never changes a result (an executor's blocks go with the executor).
logger.bmmaster.name = org.apache.spark.storage.BlockManagerMaster
logger.bmmaster.level = warn
logger.bmmaster.filter.gone.type = RegexFilter
logger.bmmaster.filter.gone.regex = Failed to remove broadcast [0-9]+ with removeFromMaster = \
  [a-z]+ - Block broadcast_[0-9]+(_piece[0-9]+)? does not exist
logger.bmmaster.filter.gone.onMatch = DENY
logger.bmmaster.filter.gone.onMismatch = NEUTRAL
logger.cleaner.name = org.apache.spark.ContextCleaner
logger.cleaner.level = warn
logger.cleaner.filter.gone.type = RegexFilter
logger.cleaner.filter.gone.regex = Error cleaning broadcast [0-9]+
logger.cleaner.filter.gone.onMatch = DENY
logger.cleaner.filter.gone.onMismatch = NEUTRAL
EOF
  # master and workers: INFO (registrations, executor launches and exits) into their log files
  cat > "$conf/log4j2-daemons.properties" <<'EOF'
rootLogger.level = info
rootLogger.appenderRef.stdout.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_OUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss.SSS} %p %c{1}: %m%n
logger.jetty.name = org.sparkproject.jetty
logger.jetty.level = warn
EOF
}

# The jars of target/spark-home/jars: the provided classpath, where the build's
# driver/target/spark-jars-override/ (slf4j-api as Spark ships it) replaces same-named jars.
spark_jars() {
  local override="$root/driver/$b/spark-jars-override" jar name
  local -A over=()
  for jar in "$override"/*.jar; do
    [ -f "$jar" ] || continue
    over["$(basename "$jar" | sed 's/-[0-9][^-]*\.jar$//')"]=1
    echo "$jar"
  done
  local -a cp=()
  IFS=: read -r -a cp < "$spark_cp_file" || true   # one line, maybe without a newline
  for jar in "${cp[@]}"; do
    [ -n "$jar" ] || continue
    name="$(basename "$jar" | sed 's/-[0-9][^-]*\.jar$//')"
    [ -z "${over[$name]:-}" ] && echo "$jar"
  done
  return 0
}

# (Re)builds target/spark-home when its list of jars changed; replaced atomically.
assemble_home() {
  ensure_built
  local list tmp="$spark_home.tmp.$$" jar f
  local -a jars=()
  list="$(spark_jars)"
  if [ -f "$spark_home/jars/.list" ] && [ "$list" = "$(cat "$spark_home/jars/.list")" ]; then
    # the configs are this script's: a changed one reaches a home assembled before the change
    # (each file replaced by a rename, never seen half-written by a JVM starting now)
    rm -rf "$tmp"
    write_conf "$tmp"
    for f in "$tmp"/conf/*; do
      cmp -s "$f" "$spark_home/conf/${f##*/}" || mv "$f" "$spark_home/conf/${f##*/}"
    done
    rm -rf "$tmp"
    return
  fi
  mapfile -t jars <<< "$list"
  rm -rf "$tmp"
  mkdir -p "$tmp/jars"
  for jar in "${jars[@]}"; do
    [ -n "$jar" ] || continue
    [ -f "$jar" ] || die "missing jar $jar (run mvn $CONVSPARK_MVN_PROFILE -DskipTests install -pl common,worker,driver)"
    ln -s "$jar" "$tmp/jars/$(basename "$jar")"
  done
  write_conf "$tmp"
  echo "$list" > "$tmp/jars/.list"
  rm -rf "$spark_home"
  mv "$tmp" "$spark_home"
}

# A fresh secret for this start: conf/ (mode 700) holding spark-defaults.conf (mode 600) with
# spark.authenticate = true and a random spark.authenticate.secret. Master and workers read it
# as their SPARK_CONF_DIR; a worker hands the secret to its executors in their environment
# (Spark never puts it on a command line); scripts/submit.sh gives this directory to the driver.
# conf/ also holds the executors' log4j2 config (a worker puts SPARK_CONF_DIR on their class path).
write_cluster_conf() {
  local conf="$cluster_dir/conf" secret
  secret="$(od -An -v -tx1 -N32 /dev/urandom | tr -d ' \n')"
  [ "${#secret}" = 64 ] || die "could not read 32 random bytes from /dev/urandom for the secret"
  rm -rf "$conf"
  (
    umask 077
    mkdir "$conf"
    printf '%s\n' "# written by scripts/local-cluster.sh start: this cluster's shared secret" \
      "spark.authenticate true" "spark.authenticate.secret $secret" > "$conf/spark-defaults.conf"
  )
  chmod 700 "$conf"
  chmod 600 "$conf/spark-defaults.conf"
  cp "$spark_home/conf/log4j2.properties" "$conf/log4j2.properties"
}

# pid from a pid file if that process is alive and still the daemon we started: a Spark daemon
# of this cluster directory (its SPARK_CONF_DIR), not one of another cluster that got the pid
# of a daemon killed with its pid file left behind (pids come round again: pid_max is often
# 32768), which stop would otherwise kill
alive_pid() {
  local f="$1" pid
  [ -f "$f" ] || return 1
  pid="$(cat "$f")"
  [[ $pid =~ ^[0-9]+$ ]] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q 'org\.apache\.spark\.deploy\.' || return 1
  tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null \
    | grep -qxF "SPARK_CONF_DIR=$cluster_dir/conf" || return 1
  echo "$pid"
}

# executor JVMs whose working directory is inside this cluster's work directory
executor_pids() {
  local p cwd
  for p in /proc/[0-9]*; do
    cwd="$(readlink "$p/cwd" 2>/dev/null)" || continue
    case "$cwd" in "$cluster_dir"/work/*) ;; *) continue ;; esac
    tr '\0' ' ' 2>/dev/null < "$p/cmdline" | grep -q CoarseGrainedExecutorBackend \
      && echo "${p#/proc/}"
  done
  return 0
}

# starts a daemon in its own session with output to a log; its pid goes to a pid file
daemon() {
  local name="$1"; shift
  SPARK_HOME="$spark_home" SPARK_SCALA_VERSION="$CONVSPARK_SCALA" SPARK_LOCAL_IP=127.0.0.1 \
  SPARK_CONF_DIR="$cluster_dir/conf" \
    setsid sh -c 'echo $$ > "$1"; shift; exec "$@"' sh "$cluster_dir/run/$name.pid" \
    java -Xms"$daemon_memory" -Xmx"$daemon_memory" $SPARK_JAVA17_FLAGS \
      -Dlog4j2.configurationFile="$spark_home/conf/log4j2-daemons.properties" \
      -cp "$spark_home/conf:$spark_home/jars/*" "$@" \
    < /dev/null > "$cluster_dir/logs/$name.log" 2>&1 9>&- &
  local i
  for i in $(seq 50); do
    [ -s "$cluster_dir/run/$name.pid" ] && return 0
    sleep 0.1
  done
  die "$name did not start"
}

# waits until grep -q PATTERN FILE succeeds while the daemon of pid file NAME lives
wait_for() {
  local name="$1" pattern="$2" file="$3" deadline=$((SECONDS + timeout_s))
  while ! grep -q "$pattern" "$file" 2>/dev/null; do
    if ! alive_pid "$cluster_dir/run/$name.pid" > /dev/null; then
      tail -20 "$cluster_dir/logs/$name.log" >&2
      die "$name exited; log: $cluster_dir/logs/$name.log"
    fi
    [ "$SECONDS" -lt "$deadline" ] \
      || die "timed out waiting for $name ($pattern); log: $cluster_dir/logs/$name.log"
    sleep 0.2
  done
}

# a size with unit m or g in MiB (sizes here passed check_settings, or were written by a start)
mib() {
  case "$1" in
    *[mM]) echo "$((10#${1%?}))" ;;
    *[gG]) echo "$((10#${1%?} * 1024))" ;;
  esac
}

# CONVSPARK_MASTER_PORT as a number (0: any free port)
master_port() { echo "$((10#${CONVSPARK_MASTER_PORT:-0}))"; }

# start and stop delete conf/, run/, logs/ and work/ in the cluster directory: they refuse one
# that is not a cluster directory of this script (CONVSPARK_CLUSTER_DIR=. in the repository
# would take its conf/ with it, $HOME its work/). Ours: new, empty, marked by an earlier start
# (.local-cluster), or holding only what a start writes (a directory of an older start, which
# wrote no mark; the tests put the jar they submit there too).
marker=.local-cluster
check_cluster_dir() {
  local e
  [ -e "$cluster_dir" ] || return 0
  [ -d "$cluster_dir" ] || bad "CONVSPARK_CLUSTER_DIR='$cluster_dir': not a directory"
  [ -e "$cluster_dir/$marker" ] && return 0
  for e in "$cluster_dir"/* "$cluster_dir"/.[!.]* "$cluster_dir"/conf/* "$cluster_dir"/conf/.[!.]*
  do
    [ -e "$e" ] || [ -L "$e" ] || continue
    case "${e#"$cluster_dir"/}" in
      master-url | cluster.conf | conf | run | logs | work | .lock | *-submit.jar) ;;
      conf/spark-defaults.conf | conf/log4j2.properties) ;;
      *) bad "CONVSPARK_CLUSTER_DIR='$cluster_dir' holds ${e#"$cluster_dir"/}, which no cluster \
of this script writes: give a new or empty directory (start and stop delete its conf/, run/, \
logs/ and work/)" ;;
    esac
  done
}

# One start or stop of a cluster directory at a time: two starts at once each started a master,
# and the one that failed (conf/ taken) stopped the other's, deleting its secret. The lock is
# fd 9 on .lock, which the daemons must not inherit (they would hold it while they run).
lock_cluster_dir() {
  mkdir -p "$cluster_dir"
  command -v flock > /dev/null || return 0
  exec 9> "$cluster_dir/.lock"
  flock -w 300 9 || die "another start or stop of the cluster in $cluster_dir has held \
$cluster_dir/.lock for 300 s: wait for it to end"
}

# A start while this directory's cluster runs: fine when it is fully up and offers what the
# variables set ask for; otherwise stop it first (nothing is restarted behind a user's back)
already_running() {
  local conf="$cluster_dir/cluster.conf" rc=0 item var key have want url
  status || rc=$?
  [ "$rc" = 0 ] || die "already running, but not fully (above): scripts/local-cluster.sh stop, \
then start again"
  [ -r "$conf" ] || die "already running, but without $conf (an older start): \
scripts/local-cluster.sh stop, then start again"
  for item in CONVSPARK_CLUSTER_WORKERS:workers CONVSPARK_WORKER_CORES:worker_cores \
      CONVSPARK_WORKER_MEMORY:worker_memory; do
    var="${item%%:*}" key="${item#*:}"
    [ -n "${!var:-}" ] || continue
    have="$(sed -n "s/^$key=//p" "$conf")"
    want="${!var}"
    if [ "$key" = worker_memory ]; then
      [ "$(mib "$have")" = "$(mib "$want")" ] && continue
    elif [ "$have" = "$want" ]; then
      continue
    fi
    bad "already running with $key=$have (cluster.conf), not the $var='$want' asked for: \
scripts/local-cluster.sh stop, then start again"
  done
  url="$(cat "$cluster_dir/master-url")"
  if [ "$(master_port)" != 0 ] && [ "${url##*:}" != "$(master_port)" ]; then
    bad "already running at $url, not on the CONVSPARK_MASTER_PORT='$CONVSPARK_MASTER_PORT' \
asked for: scripts/local-cluster.sh stop, then start again"
  fi
  echo "local-cluster: already running"
}

start() {
  check_cluster_dir
  check_settings
  lock_cluster_dir
  if alive_pid "$cluster_dir/run/master.pid" > /dev/null; then
    already_running
    return
  fi
  stop_quiet > /dev/null
  assemble_home
  mkdir -p "$cluster_dir"
  cluster_dir="$(cd "$cluster_dir" && pwd -P)"
  echo "a cluster directory of scripts/local-cluster.sh: start and stop delete conf/, run/, \
logs/ and work/ here" > "$cluster_dir/$marker"
  # a start that fails half-way stops what it started (the logs stay for reading)
  trap 'rc=$?; [ "$rc" -eq 0 ] || stop_quiet > /dev/null; exit "$rc"' EXIT
  rm -rf "$cluster_dir/run" "$cluster_dir/logs" "$cluster_dir/work" "$cluster_dir/master-url" \
    "$cluster_dir/cluster.conf"
  mkdir -p "$cluster_dir/run" "$cluster_dir/logs" "$cluster_dir/work"
  write_cluster_conf
  local t0=$SECONDS url i
  daemon master org.apache.spark.deploy.master.Master --host 127.0.0.1 \
    --port "${CONVSPARK_MASTER_PORT:-0}" --webui-port 0
  wait_for master 'Starting Spark master at spark://' "$cluster_dir/logs/master.log"
  url="$(grep -o 'Starting Spark master at spark://[^ ]*' "$cluster_dir/logs/master.log" \
    | head -1 | sed 's/.* at //')"
  # Spark moves on to the next port when the one asked for is taken: a master on another port
  # than CONVSPARK_MASTER_PORT names would be one nobody looks for
  if [ "$(master_port)" != 0 ] && [ "${url##*:}" != "$(master_port)" ]; then
    bad "CONVSPARK_MASTER_PORT='$CONVSPARK_MASTER_PORT': port in use on 127.0.0.1 (the master \
would have taken ${url##*:} instead; stopped): free it, or choose another (0: any free port)"
  fi
  for i in $(seq "$workers"); do
    daemon "worker-$i" org.apache.spark.deploy.worker.Worker --host 127.0.0.1 --port 0 \
      --webui-port 0 --cores "$worker_cores" --memory "$worker_memory" \
      --work-dir "$cluster_dir/work/worker-$i" "$url"
  done
  for i in $(seq "$workers"); do
    wait_for "worker-$i" 'Successfully registered with master' "$cluster_dir/logs/worker-$i.log"
  done
  # what each worker offers: scripts/submit.sh refuses executors larger than that
  printf '%s\n' "workers=$workers" "worker_cores=$worker_cores" "worker_memory=$worker_memory" \
    > "$cluster_dir/cluster.conf"
  echo "$url" > "$cluster_dir/master-url"
  trap - EXIT
  echo "local-cluster: $url: $workers workers x $worker_cores core, $worker_memory, started in \
$((SECONDS - t0)) s (authenticated: secret in $cluster_dir/conf); logs in $cluster_dir/logs, \
executors' in $cluster_dir/work"
}

# sends TERM, waits up to 20 s, then KILL
stop_pid() {
  local pid="$1" i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  kill -KILL "$pid" 2>/dev/null || true
}

stop_quiet() {
  local f pid n=0
  for f in "$cluster_dir"/run/worker-*.pid "$cluster_dir/run/master.pid"; do
    if pid="$(alive_pid "$f")"; then
      stop_pid "$pid"
      n=$((n + 1))
    fi
    rm -f "$f"
  done
  for pid in $(executor_pids); do
    kill -KILL "$pid" 2>/dev/null && n=$((n + 1))
  done
  # the secret and the offer belong to the cluster that ran
  rm -rf "$cluster_dir/master-url" "$cluster_dir/cluster.conf" "$cluster_dir/conf"
  echo "$n"
}

stop() {
  check_cluster_dir
  if [ -d "$cluster_dir" ]; then lock_cluster_dir; fi
  local n
  n="$(stop_quiet)"
  echo "local-cluster: stopped $n processes"
}

status() {
  local f pid name up=0 total=0 want=0 cwd daemons=""
  for f in "$cluster_dir/run/master.pid" "$cluster_dir"/run/worker-*.pid; do
    [ -e "$f" ] || continue
    name="$(basename "$f" .pid)"
    total=$((total + 1))
    if pid="$(alive_pid "$f")"; then
      up=$((up + 1))
      daemons+="$name: running, pid $pid, log $cluster_dir/logs/$name.log"$'\n'
    else
      daemons+="$name: not running"$'\n'
    fi
  done
  if [ -f "$cluster_dir/cluster.conf" ]; then
    want="$(sed -n 's/^workers=//p' "$cluster_dir/cluster.conf")"
  fi
  # the master's URL and the workers' size describe a cluster that runs: after a crash, a
  # reboot or a kill they are what an earlier start left, and are not printed as if it ran
  if [ "$up" -gt 0 ]; then
    if [ -f "$cluster_dir/master-url" ]; then
      echo "master url: $(cat "$cluster_dir/master-url")"
    fi
    if [ -f "$cluster_dir/cluster.conf" ]; then
      echo "workers: $want x $(sed -n 's/^worker_cores=//p' "$cluster_dir/cluster.conf") \
core(s), $(sed -n 's/^worker_memory=//p' "$cluster_dir/cluster.conf")"
    fi
  fi
  printf '%s' "$daemons"
  for pid in $(executor_pids); do
    cwd="$(readlink "/proc/$pid/cwd" 2>/dev/null)" || continue
    echo "executor: pid $pid, ${cwd#"$cluster_dir/work/"}"
  done
  if [ "$total" -eq 0 ] || [ "$up" -eq 0 ]; then
    if [ -e "$cluster_dir/master-url" ] || [ "$total" -gt 0 ]; then
      echo "local-cluster: not running ($cluster_dir; files of an earlier start that was not" \
        "stopped remain: scripts/local-cluster.sh stop removes them)"
    else
      echo "local-cluster: not running ($cluster_dir)"
    fi
    return 3
  fi
  [ "$up" -eq "$total" ] || return 1
  if [[ $want =~ ^[1-9][0-9]*$ ]] && [ $((total - 1)) -lt "$want" ]; then
    echo "local-cluster: $((total - 1)) of $want workers have pid files"
    return 1
  fi
  [ -s "$cluster_dir/master-url" ] && [ -s "$cluster_dir/conf/spark-defaults.conf" ] || {
    echo "local-cluster: running, but master-url or conf/spark-defaults.conf is missing (a start \
still under way, or an older start): restart it"
    return 1
  }
}

if [ $# -ne 1 ]; then
  echo "usage: $0 start|stop|status|home (one command, settings in CONVSPARK_* variables)" >&2
  exit 2
fi
case "$1" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  home) assemble_home; echo "$spark_home" ;;
  *) echo "usage: $0 start|stop|status|home" >&2; exit 2 ;;
esac
