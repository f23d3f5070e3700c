#!/usr/bin/env bash
# Mutation testing: applies each small, realistic fault listed in scripts/mutants.txt, one at a
# time, to a copy of this tree, rebuilds, runs the tests the entry names, and reports whether the
# tests killed the mutant (some test failed) or it survived (every test passed). A survivor is a
# fault the suite cannot see: add a test, never drop the mutant. Exit status 1 if any survived.
#
#   scripts/mutants.sh [--only ID[,ID...]] [--keep] [WORKDIR]
#
# WORKDIR (default: a new temporary folder) holds the copy and its build; with the same WORKDIR a
# second run rebuilds only what changed. The build is CPU-only (the GPU kernels are not mutated
# here) and uses ccache when installed. About 4 minutes for the list on 2 cores once the copy is
# built (a cold build of the copy adds about 4).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
only=""
keep=0
work=""
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) work=$1; shift ;;
  esac
done
if [ -z "$work" ]; then
  work=$(mktemp -d "${TMPDIR:-/tmp}/lag-mutants.XXXXXX")
  [ "$keep" -eq 1 ] || trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
work=$(cd "$work" && pwd)
py=/usr/bin/python3
[ -x "$py" ] || py=python3
list="$root/scripts/mutants.txt"

# The copy: every file git tracks or would track (uncommitted changes included). Only files
# whose content differs from the last copy are rewritten (with a fresh time stamp), so the build
# recompiles exactly what changed, even when a file went back to older content.
mkdir -p "$work/tree"
(cd "$root" && git ls-files -z --cached --others --exclude-standard) |
  "$py" -c '
import os, sys
root, tree = sys.argv[1], sys.argv[2]
names = [n for n in sys.stdin.buffer.read().decode().split("\0") if n]
keep = set()
for n in names:
    src, dst = os.path.join(root, n), os.path.join(tree, n)
    if not os.path.isfile(src):
        continue
    keep.add(os.path.normpath(n))
    data = open(src, "rb").read()
    if os.path.isfile(dst) and open(dst, "rb").read() == data:
        continue
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    open(dst, "wb").write(data)
    os.chmod(dst, os.stat(src).st_mode)
for d, _, files in os.walk(tree):
    for f in files:
        rel = os.path.normpath(os.path.relpath(os.path.join(d, f), tree))
        if rel not in keep:
            os.remove(os.path.join(d, f))
' "$root" "$work/tree"

# ccache keys on paths relative to WORKDIR, so reruns (any WORKDIR) hit the cache.
export CCACHE_BASEDIR="$work"
cmake -S "$work/tree" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLAG_WITH_CUDA=OFF \
  -DLAG_BUILD_BENCH=OFF > "$work/configure.log"
build() { cmake --build "$work/build" --parallel "$(nproc)" > "$work/build.log" 2>&1; }

# Split the list into one JSON object per mutant (and check each fault applies exactly once).
"$py" - "$list" "$work/tree" "$only" > "$work/mutants.json" << 'PY'
import json, sys
path, tree, only = sys.argv[1], sys.argv[2], sys.argv[3]
wanted = set(filter(None, only.split(",")))
mutants, cur, key = [], {}, None
def flush():
    if cur:
        mutants.append(dict(cur))
        cur.clear()
for raw in open(path, encoding="utf-8"):
    line = raw.rstrip("\n")
    if line.startswith("#"):
        continue
    if not line.strip():
        flush(); key = None; continue
    if line.startswith("  ") and key:          # continuation of a multi-line find/replace
        cur[key] += "\n" + line[2:]
        continue
    key, _, value = line.partition(":")
    key = key.strip()
    cur[key] = value[1:] if value.startswith(" ") else value
flush()
errors = []
for m in mutants:
    for k in ("id", "file", "find", "replace", "tests", "why"):
        if k not in m:
            errors.append(f"{m.get('id', '?')}: no '{k}'")
    if "file" in m and "find" in m:
        text = open(f"{tree}/{m['file']}", encoding="utf-8").read()
        n = text.count(m["find"])
        if n != 1:
            errors.append(f"{m['id']}: '{m['find']}' occurs {n} times in {m['file']} (must be once)")
if errors:
    sys.exit("scripts/mutants.txt:\n  " + "\n  ".join(errors))
print(json.dumps([m for m in mutants if not wanted or m["id"] in wanted]))
PY

ids=$("$py" -c "import json,sys; print(' '.join(m['id'] for m in json.load(open(sys.argv[1]))))" \
  "$work/mutants.json")
field() { "$py" -c "import json,sys; print(next(m[sys.argv[3]] for m in json.load(open(sys.argv[1])) if m['id']==sys.argv[2]))" "$work/mutants.json" "$1" "$2"; }
all_tests=$("$py" -c "import json,sys; print('|'.join(sorted({t for m in json.load(open(sys.argv[1])) for t in m['tests'].split('|')})))" "$work/mutants.json")

run_tests() {  # $1: ctest regex; prints the first failing test, returns non-zero on a failure
  (cd "$work/build" && ctest -R "$1" -j "$(nproc)" --timeout 180 > "$work/ctest.log" 2>&1) && return 0
  grep -m1 -E "^\s+[0-9]+ - " "$work/ctest.log" | sed -E 's/^\s+[0-9]+ - //' || echo "(build or ctest error)"
  return 1
}

echo "building the unmutated copy in $work"
build || { echo "the unmutated tree does not build: $work/build.log"; exit 2; }
echo "baseline: every test a mutant names must pass unmutated"
if ! first=$(run_tests "$all_tests"); then
  echo "baseline failed ($first): fix the suite first; see $work/ctest.log"
  exit 2
fi

report="$work/report.txt"
printf "%-24s %-9s %6s  %s\n" "mutant" "result" "sec" "killed by (first failing test)" | tee "$report"
survivors=0
for id in $ids; do
  file=$(field "$id" file)
  tests=$(field "$id" tests)
  cp "$work/tree/$file" "$work/original"
  "$py" - "$work/mutants.json" "$id" "$work/tree/$file" << 'PY'
import json, sys
m = next(m for m in json.load(open(sys.argv[1])) if m["id"] == sys.argv[2])
text = open(sys.argv[3], encoding="utf-8").read()
open(sys.argv[3], "w", encoding="utf-8").write(text.replace(m["find"], m["replace"], 1))
PY
  t0=$(date +%s)
  if ! build; then
    result="killed"; by="(does not compile)"
  elif by=$(run_tests "$tests"); then
    result="SURVIVED"; by="-"; survivors=$((survivors + 1))
  else
    result="killed"
  fi
  cp "$work/original" "$work/tree/$file"
  printf "%-24s %-9s %6s  %s\n" "$id" "$result" "$(($(date +%s) - t0))" "$by" | tee -a "$report"
done
build || true  # leave the copy built unmutated for the next run
echo "$survivors survived of $(echo "$ids" | wc -w); report: $report"
[ "$survivors" -eq 0 ]
