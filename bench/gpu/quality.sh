#!/usr/bin/env bash
# Quality runs on a GPU machine: the recipe comparisons of bench/quality_digits.sh at full
# length (100 DCGAN / 200 MLP epochs on the digits, 100 DCGAN-64 epochs on the Pokémon), all
# trained at once on one GPU by a `gan` built with `--features cuda`, then exported, scored with
# the project's digit classifier (IS and FID on 10,000 samples) and drawn from the same seeds.
# A quality run, not a test: minutes on an H100/H200 where the 2-core machine needs hours.
#
#     bash bench/gpu/quality.sh [path/to/gan]
# Expects gpu-bundle/data.tar.gz (mnist/ and pokemon/ as in ../shared/data) and
# gpu-bundle/classifier.onnx; DEADLINE (seconds, default 330) stops training that runs longer
# (the newest checkpoint is scored). Runs are trained in /tmp/gan-quality; the logs, scores,
# pictures and metrics come back as one archive, $OUT/quality.tar.gz (the device returns only a
# few files per call), default OUT bench/gpu/out.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/setup.sh"
out=/tmp/gan-quality
archive="${OUT:-$here/out}/quality.tar.gz"
deadline="${DEADLINE:-330}"
mkdir -p "$out" /tmp/gan-data
exec > >(tee -a "$out/quality.log") 2>&1
tar xzf "$repo/gpu-bundle/data.tar.gz" -C /tmp/gan-data
classifier="$repo/gpu-bundle/classifier.onnx"
digits=/tmp/gan-data/mnist
# Eight trainings share the CPU: two threads each.
export RAYON_NUM_THREADS=2
date -u; nvidia-smi --query-gpu=name --format=csv,noheader; "$gan" --version

train() {
  local name=$1
  shift
  local start=$SECONDS
  timeout "$deadline" "$gan" train --device cuda --quiet --out "$out/$name" "$@" \
    > "$out/$name.train.log" 2>&1
  echo "$name: exit $? after $((SECONDS - start)) s ($*)"
}

stable="--loss hinge --ema-decay 0.999 --instance-noise 0.1"
ttur="--lr-d 4e-4 --lr-g 1e-4"
d32="--model dcgan --image-size 32 --channels 1 --data mnist:$digits --epochs 100 --checkpoint-every 625"
mlp="--model mlp --data mnist:$digits --epochs 200 --checkpoint-every 1250"
# 24 iterations per epoch: checkpoints at 25, 50, 75 and 100 epochs.
pokemon="--model dcgan --image-size 64 --data /tmp/gan-data/pokemon --flip --epochs 100 --checkpoint-every 600 --keep-checkpoints 4 --sample-every 600"
# shellcheck disable=SC2086
{
  train d32-classic $d32 &
  train d32-stable $d32 $stable &
  train d32-stable-ttur $d32 $stable $ttur &
  train mlp-classic $mlp &
  train mlp-stable $mlp $stable &
  train mlp-stable-ttur $mlp $stable $ttur &
  train pokemon-classic $pokemon &
  train pokemon-stable $pokemon $stable &
  wait
}

score() {
  local run=$out/$1
  "$gan" export --run "$run" --out "$run/onnx" --which generator > /dev/null || return
  local g=$run/onnx/generator.onnx
  "$gan" generate --model "$g" --n 64 --cols 8 --out "$run/grid.png" > /dev/null
  local is fid
  is=$("$gan" eval is --classifier "$classifier" --generator "$g" --n 10000 --json)
  fid=$("$gan" eval fid --classifier "$classifier" --real "mnist:$digits" --generator "$g" --n 10000 --json)
  echo "$1: step $(ls "$run/checkpoints" | tail -1), IS $(echo "$is" | $python -c 'import json,sys; d=json.load(sys.stdin); print("%.2f ± %.2f" % (d["mean"], d["std"]))'), FID $(echo "$fid" | $python -c 'import json,sys; print("%.1f" % json.load(sys.stdin)["fid"])')"
}

echo; echo "## scores (digit classifier, 10,000 samples)"
export RAYON_NUM_THREADS=4
for name in d32-classic d32-stable d32-stable-ttur mlp-classic mlp-stable mlp-stable-ttur; do
  score "$name" > "$out/$name.score" 2>&1 &
done
wait
cat "$out"/*.score

echo; echo "## Pokémon: seeds 0-63 from each checkpoint"
for name in pokemon-classic pokemon-stable; do
  for checkpoint in "$out/$name"/checkpoints/*/; do
    step=$(basename "$checkpoint")
    "$gan" export --run "$out/$name" --checkpoint "$checkpoint" --out "$out/$name/onnx-$step" \
      --which generator > /dev/null &&
      "$gan" generate --model "$out/$name/onnx-$step/generator.onnx" --n 64 --cols 8 \
        --out "$out/$name-$step.png" > /dev/null && echo "$out/$name-$step.png"
  done
done
date -u
# What comes back: logs, scores, pictures and metrics, not checkpoints or models.
mkdir -p "$(dirname "$archive")"
tar czf "$archive" -C "$out" --exclude '*.safetensors' --exclude '*.onnx' --exclude samples .
ls -la "$archive"
