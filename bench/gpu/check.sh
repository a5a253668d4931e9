#!/usr/bin/env bash
# GPU and many-core check for `gan` built with `--features cuda` on a machine without a GPU
# (bench/gpu/bundle.sh packs it). On a GPU machine: the first training steps on CUDA against the
# CPU from the same seed, ms per iteration on CUDA for DCGAN 64/128 px and the MLP GAN at batch
# 64 with PyTorch on the same GPU as the yardstick, a run moved between devices, and the CPU
# kernels at 2 threads and at every core against PyTorch on the CPU. Without a GPU it runs the
# CPU half. Everything it prints also lands in $OUT (default bench/gpu/out). PARTS (default
# "losses cuda moved ort cpu") picks sections; bench/gpu/session.sh runs them around quality
# trainings.
#
#     bash bench/gpu/check.sh [path/to/gan]
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
out="${OUT:-$here/out}"
mkdir -p "$out"
log="$out/check.log"
exec > >(tee -a "$log") 2>&1

source "$here/setup.sh"
cores=$(nproc)
parts=" ${PARTS:-losses cuda moved ort cpu} "
want() { [[ "$parts" == *" $1 "* ]]; }
step() { echo; echo "## $*"; }

step "machine"
date -u
lscpu | grep -E "Model name|^CPU\(s\)|Flags" | sed 's/Flags:.*\(avx512f\).*/Flags: ... avx512f .../'
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null \
  && gpu=1 || { gpu=0; echo "no NVIDIA GPU: the CPU half only"; }
ldd "$gan" | grep -E "cuda|cublas|curand|not found" || true
"$gan" --version

if [ "$gpu" = 1 ] && want losses; then
  step "first 5 steps from seed 0: CPU against CUDA, ours and PyTorch's (first step within 1e-5 relative, then within 1e-3 or PyTorch's own drift)"
  for model in dcgan64 mlp; do
    for device in cpu cuda; do
      timeout 120 "$gan" bench train --models "$model" --device "$device" --show-losses 5 --iters 1 \
        | grep "step " | sed "s/^/$model $device /" | tee "$out/losses-$model-$device.txt"
      timeout 120 $python "$repo/bench/yardsticks/pytorch_train.py" --models "$model" --device "$device" \
        --threads "$cores" --show-losses 5 | grep "step " | sed "s/^/pytorch $model $device /" \
        | tee "$out/losses-pytorch-$model-$device.txt"
    done
    # The first step must agree (same inputs, only summation order differs); after it Adam
    # amplifies rounding in near-zero gradients (m/√v is ±1 whatever their size), so the drift
    # over 5 steps is judged against 1e-3 or PyTorch's own CPU-against-CUDA drift, the larger.
    $python - "$model" "$out"/losses-{,pytorch-}"$model"-{cpu,cuda}.txt <<'PY'
import sys
model, paths = sys.argv[1], sys.argv[2:]
def values(path):
    words = open(path).read().split()
    return [float(words[i + 1]) for i, w in enumerate(words) if w in ("loss_d", "loss_g")]
def drift(cpu, cuda):
    a, b = values(cpu), values(cuda)
    if not a or len(a) != len(b):
        return float("inf"), float("inf")
    rel = [abs(x - y) / abs(x) for x, y in zip(a, b)]
    return max(rel[:2]), max(rel)
ours_first, ours = drift(paths[0], paths[1])
torch_first, torch = drift(paths[2], paths[3])
bound = max(1e-3, torch)
print(f"{model}: first step {ours_first:.1e} (PyTorch {torch_first:.1e}), worst over 5 steps "
      f"{ours:.2e} (PyTorch {torch:.2e}):",
      "ok" if ours_first <= 1e-5 and ours <= bound else "TOO LARGE")
PY
  done
fi

if [ "$gpu" = 1 ] && want cuda; then
  step "CUDA: ms per iteration, batch 64 (ours; each model in its own process)"
  for model in dcgan64 dcgan128 mlp; do
    timeout 120 "$gan" bench train --models "$model" --device cuda --iters 30 | tee -a "$out/ours-cuda.md"
  done
  step "CUDA: where the time goes (GAN_PROFILE=1: phases of an iteration, each synchronised)"
  GAN_PROFILE=1 timeout 120 "$gan" bench train --models dcgan64 --device cuda --iters 10 | tee "$out/ours-cuda-profile.md"
  step "CUDA: PyTorch eager on the same GPU, float32 (no TF32), then with TF32 (its default for convolutions)"
  timeout 180 $python "$repo/bench/yardsticks/pytorch_train.py" --device cuda --models dcgan64,dcgan128,mlp --iters 30 | tee "$out/pytorch-cuda.md"
  timeout 180 $python "$repo/bench/yardsticks/pytorch_train.py" --device cuda --tf32 --models dcgan64,dcgan128 --iters 30 | tee "$out/pytorch-cuda-tf32.md"
fi

if [ "$gpu" = 1 ] && want moved; then
  step "a run moved between devices: 4 steps on the CPU, on CUDA, and 2 on CUDA then 2 resumed on the CPU"
  runs=$(mktemp -d)
  common=(--model dcgan --data shapes --image-size 32 --channels 1 --batch-size 32 --quiet --checkpoint-every 2)
  timeout 120 "$gan" train "${common[@]}" --out "$runs/cpu" --max-steps 4 --device cpu > /dev/null
  timeout 120 "$gan" train "${common[@]}" --out "$runs/cuda" --max-steps 4 --device cuda > /dev/null
  timeout 120 "$gan" train "${common[@]}" --out "$runs/moved" --max-steps 2 --device cuda > /dev/null
  timeout 120 "$gan" train --resume "$runs/moved" --max-steps 4 --device cpu --quiet > /dev/null
  for run in cpu cuda moved; do echo "$run:"; cut -d, -f1-4 "$runs/$run/metrics.csv"; done | tee "$out/moved.txt"
fi

if [ "$gpu" = 1 ] && want ort; then
  step "ONNX Runtime on CUDA: generator inference without PNG writing (gan bench generate --device cuda)"
  ort_lib=$($python -c "import onnxruntime as o, glob, os; \
print(next(iter(sorted(glob.glob(os.path.join(os.path.dirname(o.__file__), 'capi', 'libonnxruntime.so*')))), '') \
if 'CUDAExecutionProvider' in o.get_available_providers() else '')" 2>/dev/null)
  model="${GAN_BENCH_GENERATOR:-$repo/gpu-bundle/generator.onnx}"
  if [ -n "$ort_lib" ] && [ -f "$model" ]; then
    for device in cuda cpu; do
      timeout 120 "$gan" bench generate --model "$model" --backend ort --device "$device" --threads "$cores" \
        --ort-library "$ort_lib" --batches 1,64,1024 --iters 20 | tee "$out/generate-ort-$device.md"
    done
  else
    echo "skipped: no onnxruntime with the CUDA provider in $python, or no generator at $model"
  fi
fi

want cpu || exit 0
step "CPU: ours and PyTorch at 2 threads and at $cores threads, batch 64 (per kernel: GAN_PROFILE=1)"
# Alternating, and at every core twice: these machines are shared and their speed moves.
for threads in "$cores" 2 "$cores"; do
  RAYON_NUM_THREADS=$threads GAN_PROFILE=1 timeout 200 "$gan" bench train --models dcgan64,mlp --iters 5 \
    | tee -a "$out/ours-cpu-$threads.md"
  timeout 200 $python "$repo/bench/yardsticks/pytorch_train.py" --models dcgan64,mlp --threads "$threads" --iters 5 \
    | tee -a "$out/pytorch-cpu-$threads.md"
done
step "CPU: ours at half the threads ($((cores / 2))), for comparison"
RAYON_NUM_THREADS=$((cores / 2)) timeout 100 "$gan" bench train --models dcgan64,mlp --iters 5 | tee "$out/ours-cpu-half.md"
echo; echo "done $(date -u)"
