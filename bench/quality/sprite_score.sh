#!/usr/bin/env bash
# Validates a sprite score before anyone steers by it (a quality run, not a test): trains a
# feature network on half of the sprites (rotation or contrastive), then scores against the
# other half, in order, the first half itself, the first half blurred and recoloured, the
# generators given, and noise. A score that can be trusted ranks them in that order.
# Usage: bench/quality/sprite_score.sh TASK [GENERATOR.onnx ...]   (TASK: rotation|contrastive)
# Environment: GAN (binary, default target/release/gan), DATA (sprites, default
# ../shared/data/pokemon), OUT (runs/sprite-score), EPOCHS (30), PYTHON (python3 with numpy and
# pillow; default .venv/bin/python3).
set -euo pipefail
cd "$(dirname "$0")/../.."
GAN=${GAN:-target/release/gan}
DATA=${DATA:-../shared/data/pokemon}
OUT=${OUT:-runs/sprite-score}
EPOCHS=${EPOCHS:-30}
PYTHON=${PYTHON:-.venv/bin/python3}
task=$1
shift
[ -d "$OUT/sets/real_a" ] || "$PYTHON" bench/quality/sprite_score.py "$DATA" "$OUT/sets"
net="$OUT/features-$task"
if [ ! -f "$net/onnx/classifier.onnx" ]; then
    start=$(date +%s)
    "$GAN" train --model features --task "$task" --image-size 64 --data "$OUT/sets/real_a" \
        --epochs "$EPOCHS" --out "$net" --quiet
    echo "feature network ($task): trained in $(( $(date +%s) - start )) s"
    "$GAN" export --run "$net" --out "$net/onnx" > /dev/null
fi
field() { # JSON, FORMAT: the JSON object's fields formatted
    "$PYTHON" -c 'import json, sys; print(sys.argv[2].format(**json.loads(sys.argv[1])))' "$1" "$2"
}
score() { # NAME, then the images to score (--images DIR or --generator FILE --n N)
    local name=$1
    shift
    kid=$("$GAN" eval kid --classifier "$net/onnx/classifier.onnx" --real "$OUT/sets/real_b" \
        "$@" --subset-size 500 --json)
    fid=$("$GAN" eval fid --classifier "$net/onnx/classifier.onnx" --real "$OUT/sets/real_b" \
        "$@" --json)
    echo "| $name | $(field "$kid" '{kid:.2f} ± {kid_std:.2f}') | $(field "$fid" '{fid:.2f}') |"
}
echo "| set scored against real_b ($task features) | KID | FID |"
echo "|---|---:|---:|"
for set in real_a blurred recoloured; do
    score "$set" --images "$OUT/sets/$set"
done
for generator in "$@"; do
    score "$generator" --generator "$generator" --n 774
done
score noise --images "$OUT/sets/noise"
