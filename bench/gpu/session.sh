#!/usr/bin/env bash
# One GPU-machine session in the few device minutes a session gets: every check of
# bench/gpu/check.sh and the quality runs of bench/gpu/quality.sh (SET, default spectral),
# ordered so that nothing timed shares the machine:
#   1. CUDA timings, ours and PyTorch's, with the GPU to itself;
#   2. the quality trainings on the GPU (pinned to the upper half of the cores) while the
#      CPU-against-CUDA loss checks run on the lower half (their numbers do not depend on speed);
#   3. the CPU timings at 2 threads and every core with the machine otherwise idle;
#   4. the scores of the quality runs.
# Everything comes back as two files in $OUT: check.log and quality.tar.gz.
#
#     bash bench/gpu/session.sh [path/to/gan]      # DEADLINE: training seconds (default 240)
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/setup.sh"
export OUT="${OUT:-$here/out}"
mkdir -p "$OUT"
cores=$(nproc)
half=$((cores / 2))
# Run on the given cores where taskset exists (else unpinned).
pin() {
  local cpus=$1
  shift
  if command -v taskset > /dev/null; then taskset -c "$cpus" "$@"; else "$@"; fi
}
echo "session start $(date -u)"

PARTS="cuda ort" bash "$here/check.sh" "$gan"

SET="${SET:-spectral}" PHASE=train DEADLINE="${DEADLINE:-240}" \
  pin "$half-$((cores - 1))" bash "$here/quality.sh" "$gan" > "$OUT/quality-train.log" 2>&1 &
trainings=$!
PARTS="losses" pin "0-$((half - 1))" bash "$here/check.sh" "$gan"
wait "$trainings"
cat "$OUT/quality-train.log"

PARTS="cpu" bash "$here/check.sh" "$gan"

SET="${SET:-spectral}" PHASE=score bash "$here/quality.sh" "$gan" > "$OUT/quality-score.log" 2>&1
tail -n 20 "$OUT/quality-score.log"
rm -f "$OUT"/*.md "$OUT"/*.txt
echo "session end $(date -u)"
