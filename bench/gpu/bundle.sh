#!/usr/bin/env bash
# Pack a CUDA build of `gan` for a GPU machine that has no cargo: build with the `cuda` feature
# (toolchain from bench/gpu/cuda_toolchain.sh), strip, gzip into gpu-bundle/gan.gz (about 15 MB;
# such machines carry gzip but not zstd). Then, there: `bash bench/gpu/check.sh`.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
bash bench/gpu/cuda_toolchain.sh > /dev/null
# shellcheck disable=SC1091
source "${GAN_CUDA_HOME:-$HOME/.cache/gan-cuda}/env.sh"
cargo build --release -p gan-cli --features cuda
mkdir -p gpu-bundle
strip -o gpu-bundle/gan target/release/gan
gzip -f -9 gpu-bundle/gan
ls -l gpu-bundle
