#!/usr/bin/env bash
# Quality runs on a GPU machine, all trained at once on one GPU by a `gan` built with
# `--features cuda`, then exported, scored with the project's digit classifier (IS and FID on
# 10,000 samples) and drawn from the same seeds. A quality run, not a test: minutes on an
# H100/H200 where the 2-core machine needs hours.
#
#     bash bench/gpu/quality.sh [path/to/gan]
#
# SET picks the runs:
#   recipes  (default) classic, stable and stable with two time-scale learning rates for the
#            DCGAN-32 (100 epochs) and the MLP (200 epochs) on the digits, and classic against
#            stable for the DCGAN-64 on the Pokémon (100 epochs, checkpoints drawn at 25/50/75/100).
#   spectral the DCGAN-32 on the digits at 100 epochs: classic, stable (spectral norm on D),
#            stable without spectral norm, and stable with the mode-seeking term; scored while
#            training (`--classifier`), so the best checkpoint by FID is scored too.
# ONLY: names of the set's runs to do (space-separated; default all of them).
# PHASE: all (default), train or score (bench/gpu/session.sh trains while other checks run).
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
set_name="${SET:-recipes}"
phase="${PHASE:-all}"
mkdir -p "$out" /tmp/gan-data
exec > >(tee -a "$out/quality.log") 2>&1
[ -d /tmp/gan-data/mnist ] || tar xzf "$repo/gpu-bundle/data.tar.gz" -C /tmp/gan-data
classifier="$repo/gpu-bundle/classifier.onnx"
digits=/tmp/gan-data/mnist

stable="--loss hinge --ema-decay 0.999 --instance-noise 0.1"
ttur="--lr-d 4e-4 --lr-g 1e-4"
d32="--model dcgan --image-size 32 --channels 1 --data mnist:$digits --epochs 100 --checkpoint-every 625"
scored="--classifier $classifier --eval-every 625 --eval-n 2000"
mlp="--model mlp --data mnist:$digits --epochs 200 --checkpoint-every 1250"
# 24 iterations per epoch: checkpoints at 25, 50, 75 and 100 epochs.
pokemon="--model dcgan --image-size 64 --data /tmp/gan-data/pokemon --flip --epochs 100 --checkpoint-every 600 --keep-checkpoints 4 --sample-every 600"

# NAME and FLAGS of each run, and which are digits runs (scored) or Pokémon runs (drawn).
case $set_name in
  recipes)
    runs=(
      d32-classic "$d32" d32-stable "$d32 $stable" d32-stable-ttur "$d32 $stable $ttur"
      mlp-classic "$mlp" mlp-stable "$mlp $stable" mlp-stable-ttur "$mlp $stable $ttur"
      pokemon-classic "$pokemon" pokemon-stable "$pokemon $stable"
    ) ;;
  spectral)
    runs=(
      d32-classic "$d32 $scored" d32-stable "$d32 $scored --recipe stable"
      d32-stable-no-sn "$d32 $scored --recipe stable --spectral-norm off"
      d32-stable-ms "$d32 $scored --recipe stable --mode-seeking 1"
    ) ;;
  *) echo "unknown SET $set_name (recipes or spectral)"; exit 2 ;;
esac
if [ -n "${ONLY:-}" ]; then
  kept=()
  for ((i = 0; i < ${#runs[@]}; i += 2)); do
    [[ " $ONLY " == *" ${runs[i]} "* ]] && kept+=("${runs[i]}" "${runs[i + 1]}")
  done
  runs=("${kept[@]}")
fi

train() {
  local name=$1
  shift
  local start=$SECONDS
  # shellcheck disable=SC2068
  timeout "$deadline" "$gan" train --device cuda --quiet --out "$out/$name" $@ \
    > "$out/$name.train.log" 2>&1
  echo "$name: exit $? after $((SECONDS - start)) s ($*)"
}

if [ "$phase" != score ]; then
  date -u; nvidia-smi --query-gpu=name --format=csv,noheader; "$gan" --version
  # The trainings share the CPU: two threads each.
  export RAYON_NUM_THREADS=2
  # Waiting on the trainings by name: a bare `wait` would also wait for the `tee` above.
  pids=()
  for ((i = 0; i < ${#runs[@]}; i += 2)); do
    train "${runs[i]}" "${runs[i + 1]}" &
    pids+=($!)
  done
  wait "${pids[@]}"
fi
[ "$phase" = train ] && exit 0

# Export RUN's generator (the flags after ONNX_DIR and PNG pick the checkpoint; default the
# newest) to ONNX_DIR and draw seeds 0-63 into PNG.
draw() {
  local run=$1 onnx=$2 png=$3
  shift 3
  "$gan" export --run "$run" "$@" --out "$onnx" --which generator > /dev/null &&
    "$gan" generate --model "$onnx/generator.onnx" --n 64 --cols 8 --out "$png" > /dev/null
}

# IS and FID on 10,000 samples of the newest checkpoint (and of the best by FID while training,
# where the run kept one).
score() {
  local name=$1 run=$out/$1 which
  for which in newest best; do
    local flags=() onnx=$run/onnx-$which checkpoint
    checkpoint=$(ls -d "$run"/checkpoints/step_* | tail -1)
    if [ "$which" = best ]; then
      [ -d "$run/checkpoints/best" ] || continue
      checkpoint=$run/checkpoints/best
      flags=(--checkpoint "$checkpoint")
    fi
    local at
    at=$($python -c 'import json,sys; print(json.load(open(sys.argv[1]))["step"])' "$checkpoint/state.json")
    draw "$run" "$onnx" "$run/grid-$which.png" "${flags[@]}" || continue
    local g=$onnx/generator.onnx is fid
    is=$("$gan" eval is --classifier "$classifier" --generator "$g" --n 10000 --json)
    fid=$("$gan" eval fid --classifier "$classifier" --real "mnist:$digits" --generator "$g" --n 10000 --json)
    echo "$name ($which checkpoint, step $at): IS $(echo "$is" | $python -c 'import json,sys; d=json.load(sys.stdin); print("%.2f ± %.2f" % (d["mean"], d["std"]))'), FID $(echo "$fid" | $python -c 'import json,sys; print("%.1f" % json.load(sys.stdin)["fid"])')"
  done
}

echo; echo "## scores (digit classifier, 10,000 samples)"
export RAYON_NUM_THREADS=4
pids=()
for ((i = 0; i < ${#runs[@]}; i += 2)); do
  name=${runs[i]}
  [[ $name == pokemon-* ]] && continue
  score "$name" > "$out/$name.score" 2>&1 &
  pids+=($!)
done
wait "${pids[@]}"
cat "$out"/*.score

for ((i = 0; i < ${#runs[@]}; i += 2)); do
  name=${runs[i]}
  [[ $name == pokemon-* ]] || continue
  for checkpoint in "$out/$name"/checkpoints/*/; do
    step=$(basename "$checkpoint")
    draw "$out/$name" "$out/$name/onnx-$step" "$out/$name-$step.png" --checkpoint "$checkpoint" &&
      echo "$out/$name-$step.png"
  done
done
date -u
# What comes back: logs, scores, pictures and metrics, not checkpoints or models.
mkdir -p "$(dirname "$archive")"
tar czf "$archive" -C "$out" --exclude '*.safetensors' --exclude '*.onnx' --exclude samples .
ls -la "$archive"
