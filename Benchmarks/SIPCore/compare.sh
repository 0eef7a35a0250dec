#!/usr/bin/env bash
# Side by side Ir per call of two (or more) labelled runs:  LABEL=before ./run.sh; (edit); LABEL=after ./run.sh;
# ./compare.sh before after
set -euo pipefail
cd "$(dirname "$0")"
[ $# -ge 2 ] || { echo "usage: compare.sh LABEL LABEL..." >&2; exit 2; }
for label in "$@"; do [ -f "results/$label/summary.txt" ] || { echo "no results/$label/summary.txt" >&2; exit 1; }; done
python3 - "$@" <<'PY'
import re, sys
labels = sys.argv[1:]
def read(label):
    rows = {}
    for line in open(f"results/{label}/summary.txt"):
        m = re.search(r"Ir per call (\d+)", line)
        if m: rows["total per call"] = int(m.group(1))
        m = re.match(r"\s+(\S+)\s+(\d+) Ir/call", line)
        if m: rows[m.group(1)] = int(m.group(2))
    return rows
data = [read(l) for l in labels]
print(f"{'':16}" + "".join(f"{l:>14}" for l in labels) + "".join(f"{'Δ ' + l:>14}" for l in labels[1:]))
for key in data[0]:
    base = data[0].get(key, 0)
    line = f"{key:16}" + "".join(f"{d.get(key, 0):14d}" for d in data)
    for d in data[1:]:
        v = d.get(key, 0)
        line += f"{(100.0 * (v - base) / base if base else 0):+13.2f}%"
    print(line)
PY
