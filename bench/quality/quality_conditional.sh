#!/usr/bin/env bash
# Conditional GANs on the shared digits (a quality run, not a test): train with --conditional,
# export, draw one row per class, and score with the project's digit classifier: class accuracy
# per class and overall, IS and FID on 1,000 samples per class (10,000 in all).
# Usage: bench/quality/quality_conditional.sh NAME MODEL "TRAIN FLAGS"   (MODEL: mlp or dcgan)
# Environment: GAN (binary, default target/release/gan), DATA (MNIST IDX folder, default
# ../shared/data/mnist), EPOCHS (25), OUT (runs/conditional).
set -euo pipefail
cd "$(dirname "$0")/../.."
GAN=${GAN:-target/release/gan}
DATA=${DATA:-../shared/data/mnist}
EPOCHS=${EPOCHS:-25}
OUT=${OUT:-runs/conditional}
name=$1 model=$2 flags=${3:-}
mkdir -p "$OUT"
C="$OUT/classifier/onnx/classifier.onnx"
if [ ! -f "$C" ]; then
    "$GAN" train --model classifier --data "mnist:$DATA" --out "$OUT/classifier" --quiet
    "$GAN" export --run "$OUT/classifier" --out "$OUT/classifier/onnx"
fi
case $model in
    dcgan) shape="--image-size 32 --channels 1" ;;
    *) shape="" ;;
esac
run="$OUT/$name"
if [ ! -f "$run/config.json" ]; then
    start=$(date +%s)
    # shellcheck disable=SC2086
    "$GAN" train --model "$model" $shape --conditional --data "mnist:$DATA" \
        --epochs "$EPOCHS" --out "$run" --quiet $flags
    echo "$name: trained $EPOCHS epochs in $(( $(date +%s) - start )) s"
fi
"$GAN" export --run "$run" --out "$run/onnx" --which generator > /dev/null
"$GAN" generate --model "$run/onnx/generator.onnx" --per-class 10 --out "$run/per_class.png" > /dev/null
"$GAN" eval accuracy --classifier "$C" --generator "$run/onnx/generator.onnx" \
    --n-per-class 1000 --real "mnist:$DATA" | tee "$run/accuracy.txt"
echo "$name ($model $flags, $EPOCHS epochs): rows per class in $run/per_class.png"
