#!/usr/bin/env bash
# Sample quality on the shared digits (a quality run, not a test): DCGAN 32 px (or the MLP GAN),
# the classic recipe against other settings at the same epochs, scored with the project's digit
# classifier (IS and FID on 10,000 samples). Usage: bench/quality/quality_digits.sh [NAME "TRAIN FLAGS"]...
# Environment: GAN (binary, default target/release/gan), DATA (MNIST IDX folder, default
# ../shared/data/mnist), EPOCHS (25), OUT (runs/quality), MODEL (dcgan or mlp).
set -euo pipefail
cd "$(dirname "$0")/../.."
GAN=${GAN:-target/release/gan}
DATA=${DATA:-../shared/data/mnist}
EPOCHS=${EPOCHS:-25}
MODEL=${MODEL:-dcgan}
case $MODEL in
    dcgan) shape="--image-size 32 --channels 1" ;;
    *) shape="" ;;
esac
OUT=${OUT:-runs/quality}
mkdir -p "$OUT"
C="$OUT/classifier/onnx/classifier.onnx"
if [ ! -f "$C" ]; then
    "$GAN" train --model classifier --data "mnist:$DATA" --out "$OUT/classifier" --quiet
    "$GAN" export --run "$OUT/classifier" --out "$OUT/classifier/onnx"
fi
if [ $# -eq 0 ]; then
    set -- classic "" hinge-ema "--loss hinge --ema-decay 0.999"
fi
while [ $# -ge 2 ]; do
    name=$1 flags=$2
    shift 2
    run="$OUT/$name"
    if [ ! -f "$run/config.json" ]; then
        start=$(date +%s)
        # shellcheck disable=SC2086
        "$GAN" train --model "$MODEL" $shape --data "mnist:$DATA" \
            --epochs "$EPOCHS" --out "$run" --quiet $flags
        echo "$name: trained $EPOCHS epochs in $(( $(date +%s) - start )) s"
    fi
    "$GAN" export --run "$run" --out "$run/onnx" --which generator > /dev/null
    "$GAN" generate --model "$run/onnx/generator.onnx" --n 64 --cols 8 --out "$run/grid.png" > /dev/null
    is=$("$GAN" eval is --classifier "$C" --generator "$run/onnx/generator.onnx" --n 10000 --json)
    fid=$("$GAN" eval fid --classifier "$C" --real "mnist:$DATA" --generator "$run/onnx/generator.onnx" --n 10000 --json)
    echo "$name ($flags): IS $(echo "$is" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.2f ± %.2f" % (d["mean"], d["std"]))'), FID $(echo "$fid" | python3 -c 'import json,sys; print("%.1f" % json.load(sys.stdin)["fid"])'), grid $run/grid.png"
done
