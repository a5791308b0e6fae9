#!/usr/bin/env bash
# Lists the package dependencies among convspark's own packages in common, worker and driver
# (jdeps over the built classes) and fails if any package cycle exists. Build first
# (scripts/build.sh or mvn -pl common,worker,driver compile).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v python3 >/dev/null 2>&1 || {
  echo "package-cycles: python3 not found: it finds the cycles (Debian: apt-get install python3)" >&2
  exit 2
}
command -v jdeps >/dev/null 2>&1 || {
  echo "package-cycles: jdeps not found: it comes with a JDK 17 (scripts/setup.sh installs one)" >&2
  exit 2
}
mkdir -p target
jdeps -verbose:package -e 'convspark\..*' \
  common/target/classes worker/target/classes driver/target/classes \
  | awk '$2 == "->" && $1 ~ /^convspark\./ && $3 ~ /^convspark\./ && $1 != $3 {print $1, $3}' \
  | sort -u > target/package-edges.txt
cat target/package-edges.txt
python3 - target/package-edges.txt <<'PY'
import sys
edges = {}
for line in open(sys.argv[1]):
    a, b = line.split()
    edges.setdefault(a, set()).add(b)
index, low, stack, on, sccs, n = {}, {}, [], set(), [], [0]
def visit(v):
    index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
    for w in edges.get(v, ()):
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        c = []
        while True:
            w = stack.pop(); on.discard(w); c.append(w)
            if w == v: break
        if len(c) > 1: sccs.append(sorted(c))
for v in list(edges):
    if v not in index: visit(v)
if sccs:
    print("package cycles:", sccs); sys.exit(1)
print("no package cycles among %d packages" % len({p for e in edges for p in [e, *edges[e]]}))
PY
rm -f target/package-edges.txt
