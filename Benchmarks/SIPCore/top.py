#!/usr/bin/env python3
"""Top functions from a demangled callgrind_annotate listing, merged by function name.

callgrind_annotate lists a function once per source file its instructions came from (inlined code keeps
its own file), so the same function shows up several times. Self cost: the entries are summed.
Inclusive cost: the largest entry is kept (the entries overlap). Prints Ir per call, Ir, share.
usage: top.py self|inclusive LISTING CALLS TOTAL TOP [EXCLUDE_REGEX]
"""
import re
import sys

mode, path, calls, total, top = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
exclude = re.compile(sys.argv[6]) if len(sys.argv) > 6 and sys.argv[6] else None
row = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*?)(?:\s+\[([^\]]*)\])?\s*$")
file_prefix = re.compile(r"^(\?\?\?|[^ ]*?<compiler-generated>|[^ ]*?\.(?:swift|c|S|cc|cpp|h|hpp|inc)):")
costs = {}
for line in open(path, errors="replace"):
    match = row.match(line)
    if not match or "PROGRAM TOTALS" in line:
        continue
    ir = int(match.group(1).replace(",", ""))
    name = file_prefix.sub("", match.group(2), count=1)
    obj = (match.group(3) or "").rsplit("/", 1)[-1]
    if obj and not obj.startswith("sipbench"):
        name += f"  [{obj}]"
    if exclude and exclude.search(name):
        continue
    costs[name] = costs.get(name, 0) + ir if mode == "self" else max(costs.get(name, 0), ir)
for name, ir in sorted(costs.items(), key=lambda item: -item[1])[:top]:
    share = 100.0 * ir / total if total else 0.0
    print(f"{ir / calls:10.0f} Ir/call {ir:13,d} {share:6.2f}%  {name[:200]}")
