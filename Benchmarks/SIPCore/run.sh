#!/usr/bin/env bash
# Instruction counts (callgrind Ir) per SIP call through stagedoor's EdgeProxy, for judging small changes
# to Sources/SIP and Sources/SIPProxy of this repository (symlinked into this package: every run rebuilds them).
#
#   ./run.sh                      # 2000 measured calls after a 7000-call (35 s simulated) warm-up
#   CALLS=500 ./run.sh            # quicker
#   MODE=dialog ./run.sh          # ACK/BYE loose-routed via Route/Record-Route instead of sipp's built-in way
#   WARMUP=200 ./run.sh           # short warm-up: the proxy's tables are not yet at steady state (no 32 s expiries)
#   TOP=50 ./run.sh               # longer function lists
#   LABEL=before ./run.sh         # keep the output under results/before/ (default: results/latest/)
#
# Knobs: CALLS=2000 WARMUP=7000 RATE=200 HOLD_MS=100 MODE=sipp TOP=30 LABEL=latest STRIP=0
# Only the proxy's work is counted (EdgeProxy.receive, serializing what it sends, and the 25 ms timer
# tick); the simulated UAC/UAS, parsing on their side and the event queue are not (client requests
# CALLGRIND_START/STOP_INSTRUMENTATION around the measured window and CALLGRIND_TOGGLE_COLLECT around
# each proxy call; valgrind runs with --instr-atstart=no --collect-atstart=no).
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PATH:/opt/swift/usr/bin"
CALLS=${CALLS:-2000}
WARMUP=${WARMUP:-7000}
RATE=${RATE:-200}
HOLD_MS=${HOLD_MS:-100}
MODE=${MODE:-sipp}
TOP=${TOP:-30}
LABEL=${LABEL:-latest}
STRIP=${STRIP:-0}

# The sources are relative symlinks into the repository's Sources (committed as such).
for target in SIP SIPProxy; do
  [ -d "Sources/$target" ] || { echo "run.sh: Sources/$target should link to ../../../Sources/$target" >&2; exit 1; }
done
command -v valgrind >/dev/null || apt-get install -y -q valgrind >/dev/null

echo "== building (swift build -c release)" >&2
swift build -c release --product sipbench 2>&1 | grep -Ev '^\[[0-9]+/[0-9]+\]|^Building for|^Write|^Planning' >&2 || true
bin="$(swift build -c release --show-bin-path)/sipbench"
[ -x "$bin" ] || { echo "run.sh: build failed" >&2; exit 1; }

out="results/$LABEL"
mkdir -p "$out"
run_bin="$bin"
if [ "$STRIP" = 1 ]; then
  # For a valgrind that cannot read the toolchain's DWARF: no source lines then, function names remain.
  cp "$bin" "$out/sipbench" && objcopy --strip-debug "$out/sipbench" && run_bin="$out/sipbench"
fi

args=("$CALLS" "$WARMUP" --rate "$RATE" --hold-ms "$HOLD_MS" --mode "$MODE")

# A native run first: checks every call completes (and is quick) before the slow one.
echo "== native check: sipbench ${args[*]}" >&2
SWIFT_DETERMINISTIC_HASHING=1 "$run_bin" "${args[@]}" --quiet >&2 || { echo "run.sh: the benchmark failed natively" >&2; exit 1; }

echo "== callgrind: sipbench ${args[*]}" >&2
rm -f "$out/callgrind.out"
status=0
SWIFT_DETERMINISTIC_HASHING=1 valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no \
  --callgrind-out-file="$out/callgrind.out" "$run_bin" "${args[@]}" >"$out/sipbench.log" 2>"$out/valgrind.log" || status=$?
cat "$out/sipbench.log"
if [ "$status" != 0 ]; then
  echo "run.sh: sipbench under callgrind exited $status (see $out/valgrind.log)" >&2
  tail -5 "$out/valgrind.log" >&2
  exit 1
fi

demangle() { swift-demangle --simplified 2>/dev/null || cat; }
total=$(awk '/^totals:/ { print $2; exit }' "$out/callgrind.out")
[ -n "$total" ] && [ "$total" != 0 ] || total=$(awk '/^summary:/ { print $2; exit }' "$out/callgrind.out")
callgrind_annotate --auto=no --inclusive=yes --threshold=100 "$out/callgrind.out" 2>/dev/null | demangle >"$out/inclusive.txt"
callgrind_annotate --auto=no --threshold=100 "$out/callgrind.out" 2>/dev/null | demangle >"$out/self.txt"

# Function rows of callgrind_annotate: "  1,234 (12.34%)  file:function [object]".
rows() { grep -E '^ *[0-9,]+ +\([ 0-9.]+%\) +' "$1" | grep -v 'PROGRAM TOTALS'; }

{
echo
echo "== measured: $CALLS calls ($MODE mode, warm-up $WARMUP calls, $RATE calls/s, hold $HOLD_MS ms)"
awk -v t="$total" -v n="$CALLS" 'BEGIN { printf "total Ir %d, Ir per call %.0f\n", t, t / n }'
echo
echo "per message type (inclusive Ir of the feed function / CALLS; tick = nextDeadline + handleTimeout):"
for fn in feedINVITE feed180 feed200INVITE feedACK feedBYE feed200BYE tick; do
  row=$(rows "$out/inclusive.txt" | grep -E "ProxyHarness\.$fn\(" | head -1 || true)
  ir=$(awk '{ gsub(",", "", $1); print $1 }' <<<"${row:-0}")
  awk -v f="$fn" -v i="${ir:-0}" -v n="$CALLS" 'BEGIN { printf "  %-14s %10.0f Ir/call\n", f, i / n }'
done
} | tee "$out/summary.txt"
echo
echo "== top $TOP by inclusive cost, merged by function (Ir per call, Ir, share of the measured total)"
python3 top.py inclusive "$out/inclusive.txt" "$CALLS" "$total" "$TOP" \
  'sipbench_main|ProxyHarness\.|^advance\(to:\)|^main$|__libc_start|below main|^_start$|^0x[0-9a-f]+'
echo
echo "== top $TOP by self cost, merged by function (Ir per call, Ir, share of the measured total)"
python3 top.py self "$out/self.txt" "$CALLS" "$total" "$TOP"
echo
echo "full listings (per file:function, demangled): $out/inclusive.txt $out/self.txt"
echo "raw profile: callgrind_annotate $out/callgrind.out | swift-demangle --simplified (or kcachegrind)"
