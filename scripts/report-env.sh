# Sourced by the report scripts (bytes-saved.sh, paper-figures.sh): finds the `lag` binary and
# Debian's Python with matplotlib, stops with a one-line reason when either is missing, and makes
# OUTDIR ($1) absolute in $out. Sets: root, lag, py, out.
name=$(basename "$0" .sh)
out=${1:?usage: scripts/$name.sh OUTDIR}
root=$(cd "$(dirname "$0")/.." && pwd)
lag=${LAG:-$root/build/lag}
py=/usr/bin/python3  # Debian's, with python3-matplotlib (the python3 on PATH may lack it)
[ -x "$lag" ] || { echo "$name: no $lag (build first: scripts/build.sh)" >&2; exit 1; }
"$py" -c 'import matplotlib' 2>/dev/null ||
  { echo "$name: $py lacks matplotlib (scripts/install-deps.sh installs it)" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
