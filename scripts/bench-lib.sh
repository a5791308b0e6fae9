# Shared by the benchmark scripts (sourced, not run): waiting for an idle machine and counting
# how much CPU other processes used during a run, refusing arguments. The caller defines log().

# Every setting of a benchmark script is an environment variable: an argument (a mistyped
# --help, QUICK=1 after the name) would otherwise be ignored and the whole run would start.
# `takes_no_arguments EXAMPLE "$@"`: --help prints the script's header (its comment lines up to
# `set -e`) and exits 0; any other argument exits 2 with one line naming it and EXAMPLE, a
# setting such as QUICK=1.
takes_no_arguments() {
  local example=$1 name
  shift
  [ $# -gt 0 ] || return 0
  name=${0##*/}; name=${name%.sh} # builtins: PATH may be empty
  case "$1" in -h|--help) sed -n '2,/^set -e/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
  echo "$name: unexpected argument '$1': this script takes none; its settings are" \
    "environment variables, as in $example scripts/$name.sh" \
    "(all of them: scripts/$name.sh --help)" >&2
  exit 2
}

# Busy jiffies of the whole machine (user, nice, system, irq, softirq).
busy_jiffies() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }

# CPU seconds of this shell's children, from the output of `times` saved in file $1 (run
# `times` in the calling shell itself: in a $( ) subshell it would not see its children).
children_cpu() { awk 'END{n=0; for(i=1;i<=2;i++){split($i,a,/[ms]/); n+=a[1]*60+a[2]} print n}' "$1"; }

# Waits up to $1 seconds (0: not at all) for a 10-second window in which the machine is busy
# for less than 1 CPU-second, logging every minute; runs anyway after that, with a warning.
wait_idle() {
  local limit=$1 waited=0 b0 b1
  [ "$limit" -gt 0 ] || return 0
  while :; do
    b0=$(busy_jiffies); sleep 10; b1=$(busy_jiffies)
    [ $(( (b1 - b0) * 100 / $(getconf CLK_TCK) )) -lt 100 ] && return 0
    waited=$(( waited + 10 ))
    if [ "$waited" -ge "$limit" ]; then
      log "WARNING: machine still busy after ${limit}s; running anyway"
      return 0
    fi
    [ $(( waited % 60 )) = 0 ] && log "waiting for an idle machine (${waited}s so far)"
  done
}

# CPU-seconds other processes used between two samples: busy jiffies $1 -> $2 of the machine
# minus this shell's children's CPU time from the `times` outputs saved in files $3 -> $4.
others_cpu() {
  awk -v b0="$1" -v b1="$2" -v o0="$(children_cpu "$3")" -v o1="$(children_cpu "$4")" \
    -v hz="$(getconf CLK_TCK)" 'BEGIN{x=(b1-b0)/hz-(o1-o0); if(x<0)x=0; printf "%.0f", x}'
}

# Shell-quotes its arguments for display: plain words as they are, anything else in single quotes.
q() {
  local a out=""
  for a in "$@"; do
    if [[ $a =~ ^[A-Za-z0-9_./=:,+-]+$ ]]; then out+="$a "; else out+="'${a//\'/\'\\\'\'}' "; fi
  done
  printf '%s' "${out% }"
}
